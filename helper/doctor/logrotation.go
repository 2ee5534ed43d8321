package doctor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pixie-boot/pixie/helper/service"
)

// LogRotation is what doctor found of pixie's log rotation on macOS.
type LogRotation struct {
	// Rule is the content of /etc/newsyslog.d/pixie.conf ("" when
	// missing); Err says why it could not be read otherwise.
	Rule string
	Err  error
}

// gatherLogRotation reads pixie's newsyslog rule.
func gatherLogRotation(root string) *LogRotation {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(service.NewsyslogConfPath)))
	if errors.Is(err, fs.ErrNotExist) {
		return &LogRotation{}
	}
	if err != nil {
		return &LogRotation{Err: err}
	}
	return &LogRotation{Rule: string(b)}
}

// checkLogRotation says whether /Library/Logs/Pixie/pixie.log is rotated:
// it needs newsyslog's rule and a LaunchDaemon that runs pixie with its
// own log file (one installed by an older pixie lets launchd write the
// log, and launchd keeps writing to the renamed file).
func checkLogRotation(f Facts) Check {
	lr := f.LogRotation
	if lr == nil || !f.Service.Installed {
		return Check{}
	}
	c := Check{Name: "log rotation"}
	reinstall := "sudo pixie install service --keep-flags (installs it again for this pixie, with the flags it has)"
	switch {
	case lr.Err != nil:
		c.Status, c.Message = Warn, "could not read "+service.NewsyslogConfPath+": "+pathProblemText(lr.Err)
		c.Fix = "run `sudo pixie doctor`"
	case lr.Rule == "":
		c.Status, c.Message = Warn, "no newsyslog rule ("+service.NewsyslogConfPath+" is missing): "+service.LaunchdLogFile+" grows without end"
		c.Fix = reinstall
	case f.Service.CommandLine != "" && !strings.Contains(f.Service.CommandLine, "--log-file"):
		c.Status = Warn
		c.Message = "the LaunchDaemon was installed by an older pixie: launchd writes the log, and keeps writing to " + service.LaunchdLogFile + ".0 after newsyslog renames it"
		c.Fix = reinstall
	case !strings.Contains(lr.Rule, service.LaunchdPidFile):
		c.Status, c.Message = Warn, service.NewsyslogConfPath+" does not signal pixie ("+service.LaunchdPidFile+"): after a rotation pixie keeps writing to the renamed file"
		c.Fix = reinstall
	default:
		c.Status, c.Message = OK, "newsyslog rotates "+service.LaunchdLogFile+" at 10 MB ("+service.NewsyslogConfPath+")"
	}
	return c
}

// pathProblemText is a file error without Go's "open PATH:" prefix.
func pathProblemText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, fs.ErrPermission) {
			return "permission denied"
		}
		return pe.Err.Error()
	}
	return err.Error()
}
