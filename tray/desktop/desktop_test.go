package desktop

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fake is a desktop whose commands are written down, not run.
type fake struct {
	*Desktop
	ran []Command
}

func newFake(t *testing.T, goos string, tools ...string) *fake {
	f := &fake{}
	f.Desktop = &Desktop{
		GOOS: goos,
		Run: func(_ context.Context, c Command) ([]byte, error) {
			f.ran = append(f.ran, c)
			if c.Name == "journalctl" {
				return []byte("Mar 04 pixie[1]: serving\n"), nil
			}
			return nil, nil
		},
		LookPath: func(file string) (string, error) {
			for _, t := range tools {
				if t == file {
					return "/usr/bin/" + file, nil
				}
			}
			return "", exec.ErrNotFound
		},
		Getenv:  func(string) string { return "" },
		TextDir: filepath.Join(t.TempDir(), "texts"),
		Pixie:   "/Applications/Pixie.app/Contents/MacOS/pixie",
		Unit:    "pixie.service",
	}
	if goos == "darwin" {
		f.LogFile = "/Library/Logs/Pixie/pixie.log"
	}
	return f
}

func TestCommands(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		goos  string
		tools []string
		env   map[string]string
		do    func(d *Desktop) error
		want  []Command
	}{
		{name: "copy on macOS", goos: "darwin", do: func(d *Desktop) error { return d.CopyText(ctx, "90:2b:34:14:f6:6a") },
			want: []Command{{Name: "pbcopy", Stdin: "90:2b:34:14:f6:6a"}}},
		{name: "copy on X11", goos: "linux", tools: []string{"xclip", "wl-copy"}, do: func(d *Desktop) error { return d.CopyText(ctx, "m") },
			want: []Command{{Name: "xclip", Args: []string{"-selection", "clipboard"}, Stdin: "m"}}},
		{name: "copy on Wayland", goos: "linux", tools: []string{"xclip", "wl-copy"}, env: map[string]string{"WAYLAND_DISPLAY": "wayland-0"},
			do: func(d *Desktop) error { return d.CopyText(ctx, "m") }, want: []Command{{Name: "wl-copy", Stdin: "m"}}},
		{name: "copy with xsel only", goos: "linux", tools: []string{"xsel"}, do: func(d *Desktop) error { return d.CopyText(ctx, "m") },
			want: []Command{{Name: "xsel", Args: []string{"--clipboard", "--input"}, Stdin: "m"}}},
		{name: "open on macOS", goos: "darwin", do: func(d *Desktop) error { return d.Open(ctx, "/Library/Application Support/Pixie") },
			want: []Command{{Name: "open", Args: []string{"/Library/Application Support/Pixie"}, Background: true}}},
		{name: "open on Linux", goos: "linux", do: func(d *Desktop) error { return d.Open(ctx, "/var/lib/pixie") },
			want: []Command{{Name: "xdg-open", Args: []string{"/var/lib/pixie"}, Background: true}}},
		{name: "logs on macOS", goos: "darwin", do: func(d *Desktop) error { return d.ShowLogs(ctx) },
			want: []Command{{Name: "open", Args: []string{"-a", "Console", "/Library/Logs/Pixie/pixie.log"}, Background: true}}},
		{name: "install on macOS", goos: "darwin", do: func(d *Desktop) error { return d.InstallService(ctx) },
			want: []Command{{Name: "osascript", Args: []string{"-e",
				`do shell script "'/Applications/Pixie.app/Contents/MacOS/pixie' install service" with administrator privileges`}}}},
		{name: "install on Linux", goos: "linux", do: func(d *Desktop) error { return d.InstallService(ctx) },
			want: []Command{{Name: "pkexec", Args: []string{"/Applications/Pixie.app/Contents/MacOS/pixie", "install", "service"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.goos, tt.tools...)
			f.Getenv = func(k string) string { return tt.env[k] }
			if err := tt.do(f.Desktop); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, f.ran); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoClipboardTool(t *testing.T) {
	f := newFake(t, "linux")
	err := f.CopyText(context.Background(), "m")
	if err == nil || !strings.Contains(err.Error(), "install wl-clipboard (Wayland) or xclip (X11)") {
		t.Errorf("err = %v", err)
	}
	if len(f.ran) != 0 {
		t.Errorf("ran %v", f.ran)
	}
}

func TestShowText(t *testing.T) {
	f := newFake(t, "linux")
	if err := f.ShowText(context.Background(), "timeline-902b3414f66a", "hello\n"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(f.TextDir, "timeline-902b3414f66a.txt")
	if b, err := os.ReadFile(file); err != nil || string(b) != "hello\n" {
		t.Errorf("file = %q, %v", b, err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	want := []Command{{Name: "xdg-open", Args: []string{file}, Background: true}}
	if diff := cmp.Diff(want, f.ran); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}

	// A name cannot climb out of the text folder.
	f.ran = nil
	if err := f.ShowText(context.Background(), "../../escape", "x"); err != nil {
		t.Fatal(err)
	}
	if got := f.ran[0].Args[0]; got != filepath.Join(f.TextDir, "escape.txt") {
		t.Errorf("opened %s", got)
	}

	// A folder open to others is not used.
	if err := os.Chmod(f.TextDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := f.ShowText(context.Background(), "x", "x"); err == nil {
		t.Error("ShowText used a world-writable folder")
	}
}

func TestLogsOnLinuxFromTheJournal(t *testing.T) {
	f := newFake(t, "linux")
	if err := f.ShowLogs(context.Background()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(f.TextDir, "pixie-log.txt")
	want := []Command{
		{Name: "journalctl", Args: []string{"--unit", "pixie.service", "--lines", "1000", "--no-pager", "--output", "short-iso"}},
		{Name: "xdg-open", Args: []string{file}, Background: true},
	}
	if diff := cmp.Diff(want, f.ran); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

func TestFailureSaysWhy(t *testing.T) {
	f := newFake(t, "linux")
	f.Run = func(context.Context, Command) ([]byte, error) {
		return []byte("Error executing command as another user: Request dismissed\n"), errors.New("exit status 126")
	}
	err := f.InstallService(context.Background())
	if err == nil || err.Error() != "pkexec: exit status 126: Error executing command as another user: Request dismissed" {
		t.Errorf("err = %v", err)
	}
}

func TestAppleScriptQuoting(t *testing.T) {
	f := newFake(t, "darwin")
	f.Pixie = `/Users/o'brien/My "Apps"/pixie`
	got := f.installCommand().Args[1]
	want := `do shell script "'/Users/o'\\''brien/My \"Apps\"/pixie' install service" with administrator privileges`
	if got != want {
		t.Errorf("script\n got %s\nwant %s", got, want)
	}
}

func TestServiceInstalled(t *testing.T) {
	glob := func(files ...string) func(string) ([]string, error) {
		return func(pattern string) ([]string, error) {
			var out []string
			for _, f := range files {
				if ok, _ := filepath.Match(pattern, f); ok {
					out = append(out, f)
				}
			}
			return out, nil
		}
	}
	tests := []struct {
		goos  string
		files []string
		want  bool
	}{
		{"darwin", []string{"/Library/LaunchDaemons/dev.pixie.daemon.plist"}, true},
		{"darwin", []string{"/Library/LaunchDaemons/com.example.other.plist"}, false},
		{"linux", []string{"/etc/systemd/system/pixie.service"}, true},
		{"linux", []string{"/usr/lib/systemd/system/pixie.service"}, true},
		{"linux", []string{"/etc/systemd/system/nginx.service"}, false},
		{"linux", nil, false},
	}
	for _, tt := range tests {
		if got := ServiceInstalled(tt.goos, glob(tt.files...)); got != tt.want {
			t.Errorf("%s %v: installed = %v, want %v", tt.goos, tt.files, got, tt.want)
		}
	}
}

func TestExecRunner(t *testing.T) {
	out, err := ExecRunner(context.Background(), Command{Name: "cat", Stdin: "hi"})
	if err != nil || string(out) != "hi" {
		t.Errorf("cat: %q, %v", out, err)
	}
	if _, err := ExecRunner(context.Background(), Command{Name: "false"}); err == nil {
		t.Error("false: no error")
	}
	if _, err := ExecRunner(context.Background(), Command{Name: "false", Background: true}); err == nil {
		t.Error("false in the background: no error")
	}
	if _, err := ExecRunner(context.Background(), Command{Name: "pixie-no-such-program", Background: true}); err == nil {
		t.Error("missing program: no error")
	}
}
