package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLoaderStepSurvivesAndResets(t *testing.T) {
	forEachBackend(t, testLoaderStepSurvivesAndResets)
}

func testLoaderStepSurvivesAndResets(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

	// A machine pixie never had a record of gets one with its rung.
	if err := s.SetLoaderStep(ctx, "52-54-00-00-00-01", "ipxe", "firmware did not run snponly.efi: stepping to ipxe.efi", at); err != nil {
		t.Fatal(err)
	}
	m, err := s.Machine(ctx, "52:54:00:00:00:01")
	if err != nil {
		t.Fatal(err)
	}
	if m.Loader != LoaderAuto || m.LoaderStep != "ipxe" || !m.LoaderStepAt.Equal(at) || m.LoaderReason == "" || m.Profile != "" {
		t.Fatalf("after SetLoaderStep: %+v", m)
	}
	plan, err := s.PlanBoot(ctx, m.MAC)
	if err != nil || !plan.Default {
		t.Fatalf("a machine created by the ladder boots the default profile: %+v, %v", plan, err)
	}

	// A PUT that sends the step back keeps it (read-modify-write of other fields).
	m.Hostname = "node1"
	if m, err = s.PutMachine(ctx, m); err != nil || m.LoaderStep != "ipxe" {
		t.Fatalf("PUT with the step kept: %+v, %v", m, err)
	}
	// A PUT that clears it resets the ladder, and can pin.
	m.LoaderStep, m.Loader = "", "grub"
	if m, err = s.PutMachine(ctx, m); err != nil || m.LoaderStep != "" || m.LoaderReason != "" || !m.LoaderStepAt.IsZero() || m.Loader != "grub" {
		t.Fatalf("PUT clearing the step: %+v, %v", m, err)
	}
	// The step written later for an existing machine leaves its fields alone.
	if err := s.SetLoaderStep(ctx, m.MAC, "grub", "why", at); err != nil {
		t.Fatal(err)
	}
	if m, _ = s.Machine(ctx, m.MAC); m.Hostname != "node1" || m.Loader != "grub" || m.LoaderStep != "grub" {
		t.Fatalf("after a second step: %+v", m)
	}
}

func TestLoaderValidation(t *testing.T) { forEachBackend(t, testLoaderValidation) }

func testLoaderValidation(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	for _, m := range []Machine{
		{MAC: "52:54:00:00:00:02", Loader: "pxelinux"},
		{MAC: "52:54:00:00:00:02", LoaderStep: "auto"},
	} {
		if _, err := s.PutMachine(ctx, m); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutMachine(%+v) = %v, want ErrInvalid", m, err)
		}
	}
	if err := s.SetLoaderStep(ctx, "52:54:00:00:00:02", "bogus", "", time.Now()); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetLoaderStep(bogus) = %v, want ErrInvalid", err)
	}
	if _, err := s.Machine(ctx, "52:54:00:00:00:02"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a refused write left a record: %v", err)
	}
}
