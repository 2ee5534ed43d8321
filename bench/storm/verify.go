package storm

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pixie-boot/pixie/daemon/api"
)

// The boot events pixie must have recorded for every client that got its
// Ignition config: the firmware's and iPXE's DHCP, the 4011 answer, the
// TFTP download, the script, kernel, initrd and Ignition config.
var wantEvents = map[string]int{"dhcp": 2, "pxe": 1, "tftp": 1, "script": 1, "kernel": 1, "initrd": 1, "ignition": 1}

// httpOrder is the order the HTTP stages must have been recorded in (the
// UDP stages are recorded by different goroutines of pixie and may
// interleave: a 4011 ACK's event can land after the next DISCOVER's).
var httpOrder = []string{"dhcp", "script", "kernel", "initrd", "ignition"}

// CheckTimeline says what is wrong with a client's recorded stages ("" when
// every stage is there: dhcp twice, pxe, tftp, script, kernel, initrd,
// ignition, and no error event).
func CheckTimeline(stages []string) string {
	count := map[string]int{}
	for _, s := range stages {
		count[s]++
	}
	var problems []string
	for _, s := range []string{"dhcp", "pxe", "tftp", "script", "kernel", "initrd", "ignition"} {
		if count[s] < wantEvents[s] {
			problems = append(problems, fmt.Sprintf("%d %s (want %d)", count[s], s, wantEvents[s]))
		}
	}
	if count["error"] > 0 {
		problems = append(problems, fmt.Sprintf("%d error events", count["error"]))
	}
	i := 0
	for _, s := range stages {
		if i < len(httpOrder) && s == httpOrder[i] {
			i++
		}
	}
	if i < len(httpOrder) {
		problems = append(problems, fmt.Sprintf("not in the order %v", httpOrder))
	}
	return strings.Join(problems, ", ")
}

// CheckTimelines fetches each MAC's timeline from pixie and returns the
// problems found, by MAC (empty when every MAC has every stage).
func CheckTimelines(ctx context.Context, c *api.Client, macs []string) (map[string]string, error) {
	problems := map[string]string{}
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, mac := range macs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			es, err := c.Timeline(ctx, mac, 1000)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("timeline %s: %w", mac, err)
				}
				return
			}
			stages := make([]string, len(es))
			for i, e := range es {
				stages[i] = e.Stage
			}
			if p := CheckTimeline(stages); p != "" {
				problems[mac] = p + " (stages " + strings.Join(stages, " ") + ")"
			}
		}()
	}
	wg.Wait()
	return problems, firstErr
}
