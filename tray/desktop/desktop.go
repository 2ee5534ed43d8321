// Package desktop does what the tray's menu asks of the user's desktop
// session — clipboard, file manager, a text viewer, an administrator
// prompt — with the commands each OS provides: open, pbcopy and osascript
// on macOS; xdg-open, wl-copy or xclip, journalctl and pkexec on Linux.
//
// Every command goes through a Runner, so tests check which commands would
// run without running any.
package desktop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Command is a program to run, with its arguments and standard input.
type Command struct {
	Name  string
	Args  []string
	Stdin string
	// Background: the program may keep running (an editor opened on a
	// file); do not wait for it beyond a quick check that it started.
	Background bool
}

func (c Command) String() string {
	return strings.Join(append([]string{c.Name}, c.Args...), " ")
}

// Runner runs a command and returns its combined output.
type Runner func(ctx context.Context, c Command) ([]byte, error)

// Desktop implements menu.Desktop for one OS.
type Desktop struct {
	GOOS     string
	Run      Runner
	LookPath func(file string) (string, error)
	Getenv   func(key string) string
	// TextDir is where ShowText writes its files (created 0700).
	TextDir string
	// Pixie is the pixie binary InstallService runs as root.
	Pixie string
	// LogFile is the service's log on macOS, opened in Console; on Linux
	// (empty) the logs are read from the journal for Unit.
	LogFile string
	Unit    string
}

// systemdUnit is the service's unit name on Linux, whose journal "Show
// logs" reads.
const systemdUnit = "pixie.service"

// DataDir is the service's data folder on goos, for when the daemon
// cannot be asked.
func DataDir(goos string) string { return api.OSDataDir(goos) }

// New returns the desktop of the running OS. pixie is the path of the
// pixie binary; empty finds it next to the running executable (as in the
// macOS app bundle) or on $PATH.
func New(pixie string) *Desktop {
	if pixie == "" {
		pixie = findPixie()
	}
	d := &Desktop{
		GOOS:     runtime.GOOS,
		Run:      ExecRunner,
		LookPath: exec.LookPath,
		Getenv:   os.Getenv,
		TextDir:  filepath.Join(os.TempDir(), "pixie-tray-"+strconv.Itoa(os.Getuid())),
		Pixie:    pixie,
		Unit:     systemdUnit,
	}
	if d.GOOS == "darwin" {
		d.LogFile = api.DarwinLogFile
	}
	return d
}

func findPixie() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "pixie")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("pixie"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return "pixie"
}

// CopyText puts text on the clipboard.
func (d *Desktop) CopyText(ctx context.Context, text string) error {
	c, err := d.copyCommand(text)
	if err != nil {
		return err
	}
	return d.run(ctx, c)
}

func (d *Desktop) copyCommand(text string) (Command, error) {
	if d.GOOS == "darwin" {
		return Command{Name: "pbcopy", Stdin: text}, nil
	}
	var tools []Command
	if d.Getenv("WAYLAND_DISPLAY") != "" {
		tools = append(tools, Command{Name: "wl-copy", Stdin: text})
	}
	tools = append(tools,
		Command{Name: "xclip", Args: []string{"-selection", "clipboard"}, Stdin: text},
		Command{Name: "xsel", Args: []string{"--clipboard", "--input"}, Stdin: text})
	for _, c := range tools {
		if _, err := d.LookPath(c.Name); err == nil {
			return c, nil
		}
	}
	return Command{}, errors.New("no clipboard tool found: install wl-clipboard (Wayland) or xclip (X11)")
}

// Open shows a folder or file in the desktop's default application.
func (d *Desktop) Open(ctx context.Context, path string) error {
	if path == "" {
		return errors.New("no path to open")
	}
	name := "xdg-open"
	if d.GOOS == "darwin" {
		name = "open"
	}
	return d.run(ctx, Command{Name: name, Args: []string{path}, Background: true})
}

// ShowText writes text to <TextDir>/<name>.txt, readable only by the user,
// and opens it. The same name overwrites the previous file, so repeated
// clicks leave one file per machine, not a pile.
func (d *Desktop) ShowText(ctx context.Context, name, text string) error {
	if err := os.MkdirAll(d.TextDir, 0o700); err != nil {
		return err
	}
	// The directory is shared by name in a world-writable /tmp: use it
	// only if it is ours and private.
	if err := checkPrivate(d.TextDir); err != nil {
		return err
	}
	file := filepath.Join(d.TextDir, filepath.Base(name)+".txt")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		return err
	}
	return d.Open(ctx, file)
}

// ShowLogs opens the service's log file in Console on macOS; on Linux it
// reads the service's journal into a text file and opens that.
func (d *Desktop) ShowLogs(ctx context.Context) error {
	if d.LogFile != "" {
		return d.run(ctx, Command{Name: "open", Args: []string{"-a", "Console", d.LogFile}, Background: true})
	}
	c := Command{Name: "journalctl", Args: []string{"--unit", d.Unit, "--lines", "1000", "--no-pager", "--output", "short-iso"}}
	out, err := d.Run(ctx, c)
	if err != nil {
		return fmt.Errorf("%s: %w%s", c, err, detail(out))
	}
	return d.ShowText(ctx, "pixie-log", string(out))
}

// InstallService runs `pixie install service` as root: through osascript
// on macOS, which shows the standard administrator password prompt, and
// through pkexec (polkit's prompt) on Linux.
func (d *Desktop) InstallService(ctx context.Context) error {
	return d.run(ctx, d.installCommand())
}

func (d *Desktop) installCommand() Command {
	if d.GOOS == "darwin" {
		script := fmt.Sprintf("do shell script %s with administrator privileges",
			appleScriptString(shellQuote(d.Pixie)+" install service"))
		return Command{Name: "osascript", Args: []string{"-e", script}}
	}
	return Command{Name: "pkexec", Args: []string{d.Pixie, "install", "service"}}
}

// run runs c, folding its output into the error when it fails.
func (d *Desktop) run(ctx context.Context, c Command) error {
	out, err := d.Run(ctx, c)
	if err != nil {
		return fmt.Errorf("%s: %w%s", c.Name, err, detail(out))
	}
	return nil
}

func detail(out []byte) string {
	s := strings.TrimSpace(string(out))
	if s == "" {
		return ""
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return ": " + s
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// appleScriptString quotes s as an AppleScript string literal.
func appleScriptString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

// ExecRunner runs commands with os/exec. Background commands get two
// seconds to fail (a missing xdg-open handler, say) and are then left
// running and reaped when they end.
func ExecRunner(ctx context.Context, c Command) ([]byte, error) {
	if c.Background {
		return startBackground(c)
	}
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Clipboard tools fork a child that keeps serving the selection and
	// holds our pipes open: do not wait for it.
	cmd.WaitDelay = 500 * time.Millisecond
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	return out.Bytes(), err
}

func startBackground(c Command) ([]byte, error) {
	// Not bound to a context: the opened application outlives the click.
	cmd := exec.Command(c.Name, c.Args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 500 * time.Millisecond
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if errors.Is(err, exec.ErrWaitDelay) {
			err = nil
		}
		return out.Bytes(), err
	case <-time.After(2 * time.Second):
		return nil, nil // still running: it started
	}
}
