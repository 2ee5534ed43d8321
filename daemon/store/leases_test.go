package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLeasesSurviveReopen: a restart hands each MAC the same address, so
// the rows written before it must come back as they were.
func TestLeasesSurviveReopen(t *testing.T) { forEachBackend(t, testLeasesSurviveReopen) }

func testLeasesSurviveReopen(t *testing.T, b backend) {
	path := b.fresh(t)
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, l := range []Lease{
		{IP: "10.0.0.10", MAC: "52-54-00-00-00-01", State: "bound", Expires: exp, Hostname: "n1"},
		{IP: "10.0.0.9", MAC: "52:54:00:00:00:02", State: "bound", Expires: exp},
		{IP: "10.0.0.9", MAC: "52:54:00:00:00:03", State: "bound", Expires: exp.Add(time.Hour)}, // the address moved on
		{IP: "10.0.0.11", State: "held", Expires: exp},
	} {
		if err := s.PutLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ls, err := s.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls {
		got = append(got, l.IP+"="+l.MAC+":"+l.State+"@"+l.Expires.Format("15:04"))
	}
	want := "10.0.0.9=52:54:00:00:00:03:bound@10:00 10.0.0.10=52:54:00:00:00:01:bound@09:00 10.0.0.11=:held@09:00"
	if strings.Join(got, " ") != want {
		t.Fatalf("leases after reopen:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestPutLeaseRefusesBadInput(t *testing.T) { forEachBackend(t, testPutLeaseRefusesBadInput) }

func testPutLeaseRefusesBadInput(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	for _, l := range []Lease{
		{IP: "fe80::1", State: "bound"},
		{IP: "10.0.0.1", MAC: "nope", State: "bound"},
		{IP: "10.0.0.1", State: "lost"},
	} {
		if err := s.PutLease(ctx, l); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid", l, err)
		}
	}
	if ls, _ := s.Leases(ctx); len(ls) != 0 {
		t.Errorf("refused leases were stored: %+v", ls)
	}
}

func TestMachineReservation(t *testing.T) { forEachBackend(t, testMachineReservation) }

func testMachineReservation(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	m, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:01", IP: " 10.0.0.20/24", Gateway: "10.0.0.1", DNS: []string{"10.0.0.53", "1.1.1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.IP != "10.0.0.20/24" || m.Gateway != "10.0.0.1" || strings.Join(m.DNS, ",") != "10.0.0.53,1.1.1.1" {
		t.Fatalf("stored reservation %q %q %v", m.IP, m.Gateway, m.DNS)
	}
	// The same address for another MAC, even with another prefix: refused,
	// naming the owner.
	_, err = s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:02", IP: "10.0.0.20"})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "52:54:00:00:00:01") {
		t.Fatalf("duplicate reservation: %v", err)
	}
	if owner, _ := s.ReservedBy(ctx, "10.0.0.20"); owner != "52:54:00:00:00:01" {
		t.Fatalf("owner %q", owner)
	}
	// The owner may keep or change it; clearing it frees the address.
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:01", IP: "10.0.0.20"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:02", IP: "10.0.0.20"}); err != nil {
		t.Fatalf("after the owner let go: %v", err)
	}
	for _, bad := range []Machine{
		{IP: "10.0.0.300"},
		{IP: "fd00::5"},
		{IP: "10.0.0.0/24"},
		{IP: "127.0.0.1"},
		{IP: "10.0.0.21", Gateway: "10.0.0.21"},
		{IP: "10.0.0.21", Gateway: "router"},
		{IP: "10.0.0.21", DNS: []string{"dns.example"}},
		{Gateway: "10.0.0.1"},
	} {
		bad.MAC = "52:54:00:00:00:09"
		if _, err := s.PutMachine(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err %v, want ErrInvalid", bad, err)
		}
	}
}
