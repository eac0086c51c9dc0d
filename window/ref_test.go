package window_test

import (
	"flag"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// t0 is the first instant of every step table; later instants are offsets
// from it, so that a failure names a readable time.
var t0 = time.Unix(1_700_000_000, 0)

// at returns t0+d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// seedFlag fixes the seed of the randomized tests; 0 picks one from the
// clock. Failures print the seed, so `go test -run X -window.seed=N`
// replays them.
var seedFlag = flag.Uint64("window.seed", 0, "seed of the randomized window tests (0: from the clock)")

// testSeed returns the seed for a randomized test and logs it.
func testSeed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -window.seed=%d)", seed, seed)
	return seed
}

// refHit is one hit of the reference log, at a time in nanoseconds.
type refHit struct{ stamp, cost int64 }

// refLog is the plain, exact sliding log that the store is measured
// against: every hit ever counted, sorted by stamp, and the reset floor.
// Hits at or before the floor stay in the log (so the slot-mode upper bound
// can see them) but the exact count ignores them. cum[i] is the cost of
// hits[0..i], so that counts are binary searches.
type refLog struct {
	hits  []refHit
	cum   []int64
	floor int64
}

func newRef() *refLog { return &refLog{floor: math.MinInt64} }

// add records cost at stamp, keeping the log sorted.
func (r *refLog) add(stamp, cost int64) {
	i := r.after(stamp)
	r.hits = append(r.hits, refHit{})
	copy(r.hits[i+1:], r.hits[i:])
	r.hits[i] = refHit{stamp, cost}
	r.cum = append(r.cum, 0)
	for j := i; j < len(r.hits); j++ {
		r.cum[j] = r.costBefore(j) + r.hits[j].cost
	}
}

// after returns the index of the first hit stamped after lo.
func (r *refLog) after(lo int64) int {
	return sort.Search(len(r.hits), func(i int) bool { return r.hits[i].stamp > lo })
}

// costBefore returns the cost of hits[:i].
func (r *refLog) costBefore(i int) int64 {
	if i == 0 {
		return 0
	}
	return r.cum[i-1]
}

// since returns the cost of the hits stamped after lo.
func (r *refLog) since(lo int64) int64 {
	return r.costBefore(len(r.hits)) - r.costBefore(r.after(lo))
}

// count is the exact count at now: hits in (now-window, now] after the
// floor. The tests never stamp a hit after the now they evaluate at.
func (r *refLog) count(now, window int64) int64 {
	return r.since(max(now-window, r.floor))
}

// slotWidth is an upper bound of a slot's width in nanoseconds, with room
// for the rounding of slot bounds to whole nanoseconds.
func slotWidth(win int64) int64 { return (win+window.Slots-1)/window.Slots + 1 }

// upperLo is the bound after which slot mode may still count hits at now:
// one slot before the window, and one slot before the floor (a reset keeps
// the slot holding the floor when that slot also holds later hits).
func (r *refLog) upperLo(now, window int64) int64 {
	w := slotWidth(window)
	lo := now - window - w
	if r.floor != math.MinInt64 {
		lo = max(lo, r.floor-w)
	}
	return lo
}

// upper is the largest count slot mode may report at now.
func (r *refLog) upper(now, window int64) int64 { return r.since(r.upperLo(now, window)) }

// latest returns the stamp of the newest hit after lo, and false when
// there is none.
func (r *refLog) latest(lo int64) (int64, bool) {
	if n := len(r.hits); n > 0 && r.hits[n-1].stamp > lo {
		return r.hits[n-1].stamp, true
	}
	return 0, false
}

// resetAfter is the exact reset-after at now.
func (r *refLog) resetAfter(now, window int64) int64 {
	s, ok := r.latest(max(now-window, r.floor))
	if !ok {
		return 0
	}
	return s + window - now
}

// retryAfter is the exact retry-after of a check of cost at now: 0 when
// it fits, -1 when it never can, else how long until enough of the oldest
// counted hits have left.
func (r *refLog) retryAfter(now, window, limit, cost int64) int64 {
	if cost > limit {
		return -1
	}
	need := r.count(now, window) + cost - limit
	if need <= 0 {
		return 0
	}
	start := r.after(max(now-window, r.floor))
	target := r.costBefore(start) + need
	j := start + sort.Search(len(r.hits)-start, func(i int) bool { return r.cum[start+i] >= target })
	return r.hits[j].stamp + window - now
}

// reset applies a reset at at: raises the floor.
func (r *refLog) reset(at int64) { r.floor = max(r.floor, at) }

// maxInWindow returns the largest cost admitted in any interval
// (e-window, e] of an admitted log sorted by stamp, and where it ends: the
// left side of W1.
func maxInWindow(log []refHit, window int64) (worst, end int64) {
	sum, j := int64(0), 0
	for i, h := range log {
		sum += h.cost
		for log[j].stamp <= h.stamp-window {
			sum -= log[j].cost
			j++
		}
		if sum > worst && (i+1 == len(log) || log[i+1].stamp != h.stamp) {
			worst, end = sum, h.stamp
		}
	}
	return worst, end
}

// ns converts a time of the store to nanoseconds after t0.
func ns(t time.Time) int64 { return int64(t.Sub(t0)) }

// tm converts nanoseconds after t0 to a time of the store.
func tm(n int64) time.Time { return t0.Add(time.Duration(n)) }

// mustCheck runs a check that must not fail.
func mustCheck(t testing.TB, s *window.Store, key string, cost, limit int64, win time.Duration, now time.Time) window.Decision {
	t.Helper()
	d, err := s.Check(key, cost, limit, win, now)
	if err != nil {
		t.Fatalf("Check(%q, cost %d, limit %d, window %v, %v): %v", key, cost, limit, win, now.Sub(t0), err)
	}
	return d
}

// mustMerge runs a merge that must not fail.
func mustMerge(t testing.TB, s *window.Store, key string, stamp time.Time, cost, limit int64, win time.Duration) {
	t.Helper()
	if err := s.Merge(key, stamp, cost, limit, win); err != nil {
		t.Fatalf("Merge(%q, %v, cost %d, limit %d, window %v): %v", key, stamp.Sub(t0), cost, limit, win, err)
	}
}

// count returns key's count at now through Get (0 when it has none).
func count(s *window.Store, key string, now time.Time) int64 {
	c, ok := s.Get(key, now)
	if !ok {
		return 0
	}
	return c.Count
}
