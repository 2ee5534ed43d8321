package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

// BenchmarkHotPaths measures, on each engine, the store calls one boot
// makes on its way: the plan of a script request (PlanBoot), the token it
// issues (IssueBootToken), the config fetch's check (CheckBootToken), and
// a batch of 32 events (what the DHCP event queue commits under load).
// PostgreSQL runs on the test cluster's unix socket, durability off: the
// figures are the engine's and the driver's cost, not a disk's.
func BenchmarkHotPaths(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			loc := filepath.Join(b.TempDir(), "pixie.db")
			if engine == "postgres" {
				loc = testPG.NewDatabase(b)
			}
			ctx := context.Background()
			s, err := OpenWith(ctx, loc, Options{Instance: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.CreateProfile(ctx, Profile{Name: "worker", Kernel: "w/vmlinuz"}); err != nil {
				b.Fatal(err)
			}
			for i := range 200 {
				if _, err := s.PutMachine(ctx, Machine{MAC: fmt.Sprintf("52:54:00:00:%02x:%02x", i/256, i%256), Profile: "worker"}); err != nil {
					b.Fatal(err)
				}
			}
			mac := func(i int) string { return fmt.Sprintf("52:54:00:00:%02x:%02x", (i%400)/256, (i%400)%256) }
			b.Run("PlanBoot", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, err := s.PlanBoot(ctx, mac(i)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("IssueBootToken", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, err := s.IssueBootToken(ctx, mac(i), time.Hour); err != nil {
						b.Fatal(err)
					}
				}
			})
			tok, err := s.IssueBootToken(ctx, mac(1), time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			b.Run("CheckBootToken", func(b *testing.B) {
				for b.Loop() {
					if _, err := s.CheckBootToken(ctx, tok, mac(1), time.Now()); err != nil {
						b.Fatal(err)
					}
				}
			})
			batch := make([]events.Event, 32)
			b.Run("AddEvents32", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					for j := range batch {
						batch[j] = events.Event{MAC: mac(i*32 + j), Stage: events.StageDHCP, Detail: "offer undionly.kpxe"}
					}
					if _, err := s.AddEvents(ctx, batch); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
