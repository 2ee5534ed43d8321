package netif

import (
	"bufio"
	"fmt"
	"strings"
)

// parseRouteTable picks the default route's interface, lowest metric
// first, from Linux's /proc/net/route.
func parseRouteTable(sc *bufio.Scanner) string {
	best, bestMetric := "", -1
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		var metric int
		fmt.Sscan(f[6], &metric)
		if bestMetric < 0 || metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	return best
}
