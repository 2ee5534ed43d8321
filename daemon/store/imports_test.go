package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestApplyImport(t *testing.T) {
	ctx := context.Background()
	good := Profile{Name: "imp", Kernel: "imported/k", Initrds: []string{"imported/i"}, Args: "console=ttyS0"}
	for _, tc := range []struct {
		name   string
		batch  ImportBatch
		before func() error
		want   string // "" for success
	}{
		{name: "applies", batch: ImportBatch{Profiles: []Profile{good}, Machines: []Machine{{MAC: "52:54:00:00:00:01", Profile: "imp", Vars: map[string]string{"a": "b"}}}, DefaultProfile: "imp"}},
		{name: "before-commit fails", batch: ImportBatch{Profiles: []Profile{good}, DefaultProfile: "imp"}, before: func() error { return errors.New("disk says no") }, want: "disk says no"},
		{name: "machine of an unknown profile", batch: ImportBatch{Profiles: []Profile{good}, Machines: []Machine{{MAC: "52:54:00:00:00:01", Profile: "nope"}}}, want: `profile "nope" does not exist`},
		{name: "unknown default", batch: ImportBatch{Profiles: []Profile{good}, DefaultProfile: "nope"}, want: `default profile "nope" does not exist`},
		{name: "invalid profile", batch: ImportBatch{Profiles: []Profile{good, {Name: "Bad Name", Kernel: "k"}}}, want: "profile name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t)
			err := s.ApplyImport(ctx, tc.batch, tc.before)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				m, err := s.Machine(ctx, "52:54:00:00:00:01")
				if err != nil || m.Profile != "imp" || m.Vars["a"] != "b" || m.Loader != LoaderAuto {
					t.Errorf("machine %+v %v", m, err)
				}
				if def, _ := s.Setting(ctx, SettingDefaultProfile); def != "imp" {
					t.Errorf("default %q", def)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			// Nothing of the batch is left.
			if _, err := s.Profile(ctx, "imp"); !errors.Is(err, ErrNotFound) {
				t.Errorf("profile imp after a failed import: %v", err)
			}
			if ms, _ := s.Machines(ctx); len(ms) != 0 {
				t.Errorf("machines after a failed import: %+v", ms)
			}
			if def, _ := s.Setting(ctx, SettingDefaultProfile); def != DefaultProfileName {
				t.Errorf("default after a failed import: %q", def)
			}
		})
	}
}

func TestApplyImportReplacesKeepingMachineFields(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:02", Loader: "ipxe", IP: "10.0.0.20/24", Hostname: "old"}); err != nil {
		t.Fatal(err)
	}
	seed, _ := s.Profile(ctx, DefaultProfileName)
	if !IsSeedProfile(seed) {
		t.Errorf("a new database's %s profile is not recognized as the seed", DefaultProfileName)
	}
	p := seed
	p.Args = "console=ttyS0"
	err := s.ApplyImport(ctx, ImportBatch{Profiles: []Profile{p}, Machines: []Machine{{MAC: "52:54:00:00:00:02", Profile: DefaultProfileName, Hostname: "new"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := s.Machine(ctx, "52:54:00:00:00:02")
	if m.Hostname != "new" || m.Profile != DefaultProfileName || m.Loader != "ipxe" || m.IP != "10.0.0.20/24" {
		t.Errorf("machine after import: %+v (want hostname and profile set, loader and address kept)", m)
	}
	got, _ := s.Profile(ctx, DefaultProfileName)
	if got.Args != "console=ttyS0" || IsSeedProfile(got) {
		t.Errorf("replaced profile: %+v", got)
	}
}
