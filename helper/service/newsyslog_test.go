package service

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// newsyslogEntry is one line of a newsyslog.conf(5) file, read the way
// newsyslog reads it: whitespace-separated fields, owner:group optional,
// then mode, count, size, when, and optionally flags, pid file, signal.
type newsyslogEntry struct {
	path, owner, group string
	mode               uint64
	count              int
	size               string // KB, or "*"
	when               string
	flags              string
	pidFile            string
	signal             int
}

// parseNewsyslogLine checks a line against newsyslog.conf(5) as macOS
// documents it (the flags it knows are B C D G J N U W Z).
func parseNewsyslogLine(line string) (newsyslogEntry, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	f := strings.Fields(line)
	if len(f) < 5 {
		return newsyslogEntry{}, []string{fmt.Sprintf("%q: %d fields, newsyslog needs at least the log file, mode, count, size and when", line, len(f))}
	}
	var e newsyslogEntry
	e.path, f = f[0], f[1:]
	if !path.IsAbs(e.path) {
		bad("%q: the log file must be an absolute path", line)
	}
	if owner, group, ok := strings.Cut(f[0], ":"); ok {
		e.owner, e.group, f = owner, group, f[1:]
	}
	var err error
	if e.mode, err = strconv.ParseUint(f[0], 8, 32); err != nil || len(f[0]) != 3 {
		bad("%q: mode %q is not three octal digits", line, f[0])
	}
	if e.count, err = strconv.Atoi(f[1]); err != nil || e.count < 1 {
		bad("%q: count %q is not a positive number", line, f[1])
	}
	e.size = f[2]
	if n, err := strconv.Atoi(e.size); e.size != "*" && (err != nil || n <= 0) {
		bad("%q: size %q is neither KB nor *", line, e.size)
	}
	e.when = f[3]
	if e.when != "*" && !strings.HasPrefix(e.when, "@") && !strings.HasPrefix(e.when, "$") {
		if _, err := strconv.Atoi(e.when); err != nil {
			bad("%q: when %q is neither *, hours, @ISO nor $ time", line, e.when)
		}
	}
	f = f[4:]
	if len(f) > 0 && !strings.HasPrefix(f[0], "/") {
		e.flags, f = f[0], f[1:]
		for _, c := range e.flags {
			if !strings.ContainsRune("BCDGJNUWZ-", c) {
				bad("%q: flag %q is not one macOS's newsyslog knows", line, c)
			}
		}
	}
	if len(f) > 0 {
		e.pidFile, f = f[0], f[1:]
		if !path.IsAbs(e.pidFile) {
			bad("%q: pid file %q must be absolute", line, e.pidFile)
		}
	}
	if len(f) > 0 {
		if e.signal, err = strconv.Atoi(f[0]); err != nil || e.signal < 1 || e.signal > 31 {
			bad("%q: signal %q is not a signal number", line, f[0])
		}
		f = f[1:]
	}
	if len(f) > 0 {
		bad("%q: extra fields %q", line, f)
	}
	return e, problems
}

func TestNewsyslogConf(t *testing.T) {
	entries := map[string]newsyslogEntry{}
	for line := range strings.Lines(NewsyslogConf()) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, problems := parseNewsyslogLine(line)
		for _, p := range problems {
			t.Error(p)
		}
		entries[e.path] = e
	}
	log, ok := entries[LaunchdLogFile]
	if !ok {
		t.Fatalf("no rule for %s:\n%s", LaunchdLogFile, NewsyslogConf())
	}
	// newsyslog signals the pid in the pid file the daemon is started
	// with, with the signal `pixie serve --log-file` reopens on.
	spec, err := Settings{}.Spec("darwin", "/Applications/Pixie.app/Contents/MacOS/pixie")
	if err != nil {
		t.Fatal(err)
	}
	flagValue := func(name string) string {
		i := slices.Index(spec.Args, name)
		if i < 0 || i+1 >= len(spec.Args) {
			t.Fatalf("the LaunchDaemon's command line has no %s: %q", name, spec.Args)
		}
		return spec.Args[i+1]
	}
	if got := flagValue("--pid-file"); log.pidFile != got {
		t.Errorf("newsyslog signals the pid in %q, the daemon writes %q", log.pidFile, got)
	}
	if got := flagValue("--log-file"); log.path != got {
		t.Errorf("newsyslog rotates %q, the daemon writes %q", log.path, got)
	}
	if log.signal != int(syscall.SIGHUP) || strings.Contains(log.flags, "N") {
		t.Errorf("log rule signal %d flags %q: want SIGHUP (%d), what serve reopens on", log.signal, log.flags, syscall.SIGHUP)
	}
	if log.owner != "root" || log.group != "admin" || log.mode != 0o644 || log.size == "*" {
		t.Errorf("log rule %+v: want root:admin 644 with a size limit", log)
	}
	out, ok := entries[LaunchdOutputFile]
	if !ok {
		t.Fatalf("no rule for %s", LaunchdOutputFile)
	}
	// No pid file and no N would make newsyslog signal syslogd.
	if !strings.Contains(out.flags, "N") || out.pidFile != "" {
		t.Errorf("stderr rule %+v: want N (no signal) and no pid file", out)
	}
	job, err := spec.Job()
	if err != nil {
		t.Fatal(err)
	}
	if job.StandardOutPath != LaunchdOutputFile || job.StandardErrorPath != LaunchdOutputFile {
		t.Errorf("launchd writes stdout %q, stderr %q; want both in %s, the file rotated without a signal", job.StandardOutPath, job.StandardErrorPath, LaunchdOutputFile)
	}
}

func TestParseNewsyslogLineRejects(t *testing.T) {
	// The checker itself must catch what newsyslog would refuse.
	for _, line := range []string{
		"/a.log 644 7",
		"relative.log 644 7 100 *",
		"/a.log root:admin 64 7 100 *",
		"/a.log 644 seven 100 *",
		"/a.log 644 7 big *",
		"/a.log 644 7 100 * Q",
		"/a.log 644 7 100 * J relative.pid",
		"/a.log 644 7 100 * J /a.pid HUP",
	} {
		if _, problems := parseNewsyslogLine(line); len(problems) == 0 {
			t.Errorf("%q passed the newsyslog.conf check", line)
		}
	}
}
