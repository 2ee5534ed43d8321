package store

import (
	"context"
	"testing"

	"github.com/pixie-boot/pixie/daemon/events"
)

// TestEventsCarryInstance opens one database as two instances, as two
// pixies sharing a store would: each boot event says which instance wrote
// it, through every path that reads events back.
func TestEventsCarryInstance(t *testing.T) { forEachBackend(t, testEventsCarryInstance) }

func testEventsCarryInstance(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	a, err := OpenWith(ctx, loc, Options{Instance: "boot-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bb, err := OpenWith(ctx, loc, Options{Instance: "boot-b"})
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	const mac = "52:54:00:00:00:21"
	if e, err := a.AddEvent(ctx, events.Event{MAC: mac, Stage: events.StageDHCP}); err != nil || e.Instance != "boot-a" {
		t.Fatalf("AddEvent on a = %+v, %v; want instance boot-a", e, err)
	}
	stored, err := bb.AddEvents(ctx, []events.Event{{MAC: mac, Stage: events.StageScript}, {MAC: mac, Stage: events.StageIgnition, Instance: "relayed"}})
	if err != nil || stored[0].Instance != "boot-b" || stored[1].Instance != "relayed" {
		t.Fatalf("AddEvents on b = %+v, %v", stored, err)
	}
	tl, err := a.Timeline(ctx, mac, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tl {
		got = append(got, string(e.Stage)+"@"+e.Instance)
	}
	want := []string{"dhcp@boot-a", "script@boot-b", "ignition@relayed"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("timeline read by a = %v, want %v", got, want)
	}
	since, err := bb.EventsSince(ctx, 0, 10)
	if err != nil || len(since) != 3 || since[0].Instance != "boot-a" {
		t.Errorf("EventsSince read by b = %+v, %v", since, err)
	}
	boots, err := a.RecentBoots(ctx, 10)
	if err != nil || len(boots) != 1 || boots[0].Last.Instance != "relayed" {
		t.Errorf("RecentBoots = %+v, %v; want the last step's instance", boots, err)
	}
}
