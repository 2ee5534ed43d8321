package packaging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"
	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/helper/service"
)

var update = flag.Bool("update", false, "rewrite the generated files in packaging/")

// golden compares a checked-in file with its generator's output, or
// rewrites it with -update.
func golden(t *testing.T, path string, want []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with `go test ./packaging -update`)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is stale; run `go test ./packaging -update` (-generated +file):\n%s", path, diff)
	}
}

func TestGenerated(t *testing.T) {
	unit, err := SystemdUnit(LinuxBinary)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "systemd/pixie.service", []byte(unit))
	plist, err := LaunchdPlist()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "launchd/dev.pixie.daemon.plist", plist)
	golden(t, "launchd/pixie.newsyslog.conf", []byte(service.NewsyslogConf()))
	for _, v := range []string{"fcos", "flatcar"} {
		bu, err := ButaneConfig(v)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "coreos/pixie."+v+".bu", []byte(bu))
	}
}

// ignition is the part of an Ignition config the test reads.
type ignition struct {
	Ignition struct{ Version string }
	Passwd   struct {
		Groups []struct {
			Name   string
			System bool
		}
	}
	Storage struct {
		Files []struct {
			Path     string
			Mode     int
			Contents struct{ Source string }
		}
	}
	Systemd struct {
		Units []struct {
			Name     string
			Enabled  bool
			Contents string
		}
	}
}

// TestButane translates the checked-in Butane configs with Butane's
// library, strictly (any warning fails), and reads the Ignition config
// back.
func TestButane(t *testing.T) {
	filesDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(filesDir, "pixie"), []byte("#!/bin/sh\necho pixie\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ variant, binary, ignVersion string }{
		{"fcos", LinuxBinary, "3.4.0"},
		{"flatcar", FlatcarBinary, "3.3.0"},
	} {
		t.Run(tt.variant, func(t *testing.T) {
			in, err := os.ReadFile("coreos/pixie." + tt.variant + ".bu")
			if err != nil {
				t.Fatal(err)
			}
			out, report, err := config.TranslateBytes(in, common.TranslateBytesOptions{
				TranslateOptions: common.TranslateOptions{FilesDir: filesDir},
			})
			if err != nil {
				t.Fatalf("butane: %v\n%s", err, report)
			}
			if len(report.Entries) > 0 {
				t.Fatalf("butane --strict would fail:\n%s", report)
			}
			var ign ignition
			if err := json.Unmarshal(out, &ign); err != nil {
				t.Fatal(err)
			}
			if ign.Ignition.Version != tt.ignVersion {
				t.Errorf("Ignition version %s, want %s", ign.Ignition.Version, tt.ignVersion)
			}
			if len(ign.Passwd.Groups) != 1 || ign.Passwd.Groups[0].Name != "pixie" || !ign.Passwd.Groups[0].System {
				t.Errorf("groups: %+v", ign.Passwd.Groups)
			}
			if len(ign.Storage.Files) != 1 || ign.Storage.Files[0].Path != tt.binary || ign.Storage.Files[0].Mode != 0o755 ||
				!strings.HasPrefix(ign.Storage.Files[0].Contents.Source, "data:") {
				t.Errorf("files: %+v", ign.Storage.Files)
			}
			unit, _ := SystemdUnit(tt.binary)
			if len(ign.Systemd.Units) != 1 || ign.Systemd.Units[0].Name != "pixie.service" || !ign.Systemd.Units[0].Enabled {
				t.Fatalf("units: %+v", ign.Systemd.Units)
			}
			if diff := cmp.Diff(unit, ign.Systemd.Units[0].Contents); diff != "" {
				t.Errorf("the unit differs from `pixie install service`'s (-install +butane):\n%s", diff)
			}
		})
	}
}

// instruction is one Containerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string
	args string
}

func parseContainerfile(t *testing.T, text string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatal("the Containerfile ends in a continuation line")
	}
	return out
}

func TestContainerfile(t *testing.T) {
	data, err := os.ReadFile("container/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	ins := parseContainerfile(t, string(data))
	known := []string{"FROM", "RUN", "COPY", "ADD", "ARG", "ENV", "WORKDIR", "VOLUME", "ENTRYPOINT", "CMD", "LABEL", "EXPOSE", "USER"}
	var froms []string
	var entrypoint string
	copiedFromBuild := false
	for _, in := range ins {
		if !slices.Contains(known, in.cmd) {
			t.Errorf("unknown instruction %s %s", in.cmd, in.args)
		}
		if in.args == "" {
			t.Errorf("%s without arguments", in.cmd)
		}
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
		case "COPY":
			copiedFromBuild = copiedFromBuild || strings.HasPrefix(in.args, "--from=build ")
		case "ENTRYPOINT":
			entrypoint = in.args
		}
	}
	if len(ins) == 0 || ins[0].cmd != "FROM" {
		t.Fatal("the Containerfile does not start with FROM")
	}
	if len(froms) != 2 || !strings.HasSuffix(froms[0], " AS build") || !strings.Contains(froms[0], "golang:") {
		t.Errorf("want a Go build stage and a runtime stage, got FROM %q", froms)
	}
	if !copiedFromBuild {
		t.Error("the runtime stage does not copy the binary from the build stage")
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil {
		t.Fatalf("ENTRYPOINT %q is not an exec-form JSON array: %v", entrypoint, err)
	}
	if diff := cmp.Diff([]string{"/usr/local/bin/pixie", "serve"}, ep); diff != "" {
		t.Errorf("ENTRYPOINT (-want +got):\n%s", diff)
	}
	if !bytes.Contains(data, []byte("--network host")) {
		t.Error("the usage notes do not say to run with host networking")
	}
}
