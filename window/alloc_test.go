//go:build !race

package window_test

import (
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// TestCheckAllocatesNothing: a check on an existing key allocates nothing
// (W3), in both modes, allowed or denied.
func TestCheckAllocatesNothing(t *testing.T) {
	for _, c := range []struct {
		name  string
		limit int64
		cost  int64
	}{
		{"exact allowed", window.ExactThreshold, 0},
		{"exact denied", 1, 1},
		{"slots allowed", 1_000_000_000, 1},
		{"slots denied", 100, 1},
		{"peek", 100, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := window.New(window.Config{})
			key := "existing"
			mustCheck(t, s, key, 1, c.limit, time.Minute, t0)
			if c.name == "slots denied" {
				mustCheck(t, s, key, c.limit-1, c.limit, time.Minute, t0)
			}
			i := 0
			allocs := testing.AllocsPerRun(1000, func() {
				i++
				// Time moves, so slots turn and stamps expire.
				_, _ = s.Check(key, c.cost, c.limit, time.Minute, t0.Add(time.Duration(i)*time.Millisecond))
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per check", allocs)
			}
		})
	}
}
