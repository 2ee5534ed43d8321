package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/pixie-boot/pixie/helper/logfile"
)

// serveLog is where `pixie serve` writes its log and banner: stderr and
// stdout, or with --log-file a file of its own that follows rotation.
type serveLog struct {
	out    io.Writer // the log lines
	banner io.Writer // the few lines saying what is served
	file   *logfile.File
	pidRm  func()
	hup    chan os.Signal // SIGHUP, taken from the moment the log is open
}

// openServeLog opens --log-file and writes --pid-file (either may be
// empty). SIGHUP reopens the log file from then on, as newsyslog expects
// after renaming it; call follow once the logger exists so each reopen is
// logged.
func openServeLog(logPath, pidPath string, stdout io.Writer) (*serveLog, error) {
	s := &serveLog{out: os.Stderr, banner: stdout}
	if logPath != "" {
		f, err := logfile.Open(logPath)
		if err != nil {
			return nil, err
		}
		s.file, s.out, s.banner = f, f, f
		// Before the pid file exists: a rotator that finds the pid
		// must not kill the daemon with SIGHUP's default action.
		s.hup = make(chan os.Signal, 1)
		signal.Notify(s.hup, syscall.SIGHUP)
	}
	if pidPath != "" {
		rm, err := logfile.WritePid(pidPath)
		if err != nil {
			s.close()
			return nil, err
		}
		s.pidRm = rm
	}
	return s, nil
}

// follow reopens the log file on SIGHUP until ctx ends, saying so in the
// log (the first line of the new file, or a warning in the old one).
func (s *serveLog) follow(ctx context.Context, log *slog.Logger) {
	if s.file == nil {
		return
	}
	logfile.Follow(ctx, s.file, s.hup, func(err error) {
		if err != nil {
			log.Warn("could not open the log file again after SIGHUP; still writing to the old one", "err", err)
			return
		}
		log.Info("log file opened again (SIGHUP, after rotation)", "path", s.file.Path())
	})
}

// close removes the pid file and closes the log file.
func (s *serveLog) close() {
	if s.pidRm != nil {
		s.pidRm()
	}
	if s.hup != nil {
		signal.Stop(s.hup)
	}
	if s.file != nil {
		s.file.Close()
	}
}
