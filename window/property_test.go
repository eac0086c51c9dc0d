package window_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// stream is one random request stream for one key: the key's limit and
// window, and checks at non-decreasing instants. In a stream with a second
// limit, checks pass one limit or the other.
type stream struct {
	limit  int64
	limit2 int64 // 0: none
	window int64 // ns
	ops    []streamOp
}

type streamOp struct{ now, cost, limit int64 } // now in ns after t0

func (s stream) String() string {
	if s.limit2 != 0 {
		return fmt.Sprintf("limits %d and %d, window %v, %d checks", s.limit, s.limit2, time.Duration(s.window), len(s.ops))
	}
	return fmt.Sprintf("limit %d, window %v, %d checks", s.limit, time.Duration(s.window), len(s.ops))
}

// drawLimit draws a limit on either side of ExactThreshold.
func drawLimit(rng *rand.Rand) int64 {
	switch rng.IntN(4) {
	case 0, 1:
		return 1 + rng.Int64N(window.ExactThreshold)
	case 2:
		return window.ExactThreshold + 1 + rng.Int64N(60)
	default:
		return 100 + rng.Int64N(5000)
	}
}

// genStream draws a stream: limits on both sides of ExactThreshold, windows
// from a millisecond to ten seconds, gaps from none to several windows,
// costs from 0 (peek) to above the limit. Times are whole milliseconds.
func genStream(rng *rand.Rand, twoLimits bool) stream {
	var s stream
	s.limit = drawLimit(rng)
	if twoLimits {
		s.limit2 = drawLimit(rng)
	}
	ms := int64(time.Millisecond)
	switch rng.IntN(4) {
	case 0:
		s.window = (1 + rng.Int64N(20)) * ms
	case 1:
		s.window = (1 + rng.Int64N(100)) * window.Slots * ms
	default:
		s.window = (1 + rng.Int64N(10_000)) * ms
	}
	now, cur := int64(0), 0
	n := 20 + rng.IntN(300)
	// A typical cost, so that big limits fill up within a stream too.
	typical := max(1, s.limit/int64(1+rng.IntN(20)))
	for i := 0; i < n; i++ {
		switch g := rng.IntN(20); {
		case g < 5: // same instant
		case g < 17: // dense
			now += rng.Int64N(s.window/ms/int64(1+rng.IntN(30))+1) * ms
		case g < 19:
			now += rng.Int64N(s.window/ms+1) * ms
		default:
			now += rng.Int64N(3*s.window/ms+1) * ms
		}
		if s.limit2 != 0 && rng.IntN(15) == 0 {
			cur = 1 - cur
		}
		limit := [2]int64{s.limit, s.limit2}[cur]
		var cost int64
		switch c := rng.IntN(25); {
		case c == 0:
			cost = 0
		case c == 1:
			cost = limit + 1 + rng.Int64N(3)
		case c < 5:
			cost = 1 + rng.Int64N(limit)
		default:
			cost = 1 + rng.Int64N(min(typical, limit))
		}
		s.ops = append(s.ops, streamOp{now, cost, limit})
	}
	return s
}

// TestPropertyAgainstReference feeds thousands of random streams to the
// store and to an exact sliding log, and checks after every step:
//
//   - exact mode (limit ≤ ExactThreshold): the decision equals the
//     reference's, field by field;
//   - slot mode: the count is at least the exact count and at most the
//     exact count over a window one slot longer (W2); the decision follows
//     from the count; reset-after and retry-after lie between the exact
//     values and one slot more, and (sampled, on a replica) are exact for
//     the store's own count;
//   - Get agrees with the decision;
//   - W1 on the admitted log: no interval of length window holds more
//     admitted cost than the limit.
func TestPropertyAgainstReference(t *testing.T) {
	seed := testSeed(t)
	streams := 3000
	if testing.Short() {
		streams = 1000
	}
	for i := 0; i < streams; i++ {
		st := genStream(rand.New(rand.NewPCG(seed, uint64(i))), false)
		checkStream(t, st, fmt.Sprintf("seed %d stream %d (%v)", seed, i, st))
		if t.Failed() {
			return
		}
	}
}

// TestPropertyLimitChanges is TestPropertyAgainstReference with streams
// whose checks switch between two limits, which moves the key between the
// modes as Check documents: to slot mode when the limit rises above
// ExactThreshold, back to exact mode once the count is 0.
func TestPropertyLimitChanges(t *testing.T) {
	seed := testSeed(t)
	streams := 1000
	if testing.Short() {
		streams = 300
	}
	for i := 0; i < streams; i++ {
		st := genStream(rand.New(rand.NewPCG(seed, uint64(i))), true)
		checkStream(t, st, fmt.Sprintf("seed %d stream %d (%v)", seed, i, st))
		if t.Failed() {
			return
		}
	}
}

func checkStream(t *testing.T, st stream, name string) {
	t.Helper()
	const key = "prop"
	s := window.New(window.Config{Shards: 1})
	ref := newRef()
	var admitted []refHit
	win := time.Duration(st.window)
	w := slotWidth(st.window)
	probes := 0
	exactMode := len(st.ops) > 0 && st.ops[0].limit <= window.ExactThreshold
	for j, op := range st.ops {
		now := tm(op.now)
		d := mustCheck(t, s, key, op.cost, op.limit, win, now)
		exactCount := ref.count(op.now, st.window)
		// The mode this check runs in, as Check documents it.
		before := d.Count
		if d.Allowed {
			before -= op.cost
		}
		if op.limit > window.ExactThreshold {
			exactMode = false
		} else if !exactMode && before == 0 {
			exactMode = true
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("%s: check %d (t0+%v, cost %d, exact count %d, upper %d): %s\n  got %+v",
				name, j, time.Duration(op.now), op.cost, exactCount, ref.upper(op.now, st.window),
				fmt.Sprintf(format, args...), d)
		}
		if d.Limit != op.limit || d.Window != win {
			fail("limit or window differ")
			return
		}
		if d.Remaining != max(0, d.Limit-d.Count) {
			fail("remaining is not limit-count")
			return
		}
		if exactMode {
			allowed := op.cost <= op.limit && exactCount+op.cost <= op.limit
			want := window.Decision{Allowed: allowed, Limit: op.limit, Window: win, Count: exactCount}
			if allowed {
				want.Count += op.cost
			} else {
				want.RetryAfter = time.Duration(ref.retryAfter(op.now, st.window, op.limit, op.cost))
			}
			want.Remaining = max(0, op.limit-want.Count)
			if allowed && op.cost > 0 {
				want.ResetAfter = win
			} else {
				want.ResetAfter = time.Duration(ref.resetAfter(op.now, st.window))
			}
			if d != want {
				fail("exact mode differs from the reference\n want %+v", want)
				return
			}
		} else {
			up := ref.upper(op.now, st.window)
			if before < exactCount || before > up {
				fail("count before the check %d outside [exact %d, upper %d]", before, exactCount, up)
				return
			}
			if d.Allowed != (op.cost <= op.limit && before+op.cost <= op.limit) {
				fail("decision does not follow from the count")
				return
			}
			switch {
			case d.Allowed && d.RetryAfter != 0:
				fail("allowed with a retry-after")
				return
			case !d.Allowed && op.cost > op.limit && d.RetryAfter != -1:
				fail("cost above the limit without retry-after -1")
				return
			case !d.Allowed && op.cost <= op.limit:
				lo := ref.retryAfter(op.now, st.window, op.limit, op.cost)
				if int64(d.RetryAfter) < max(lo, 1) || int64(d.RetryAfter) > lo+w {
					fail("retry-after outside [exact %v, +one slot %v]", time.Duration(lo), time.Duration(w))
					return
				}
			}
		}
		if d.Allowed && op.cost > 0 {
			ref.add(op.now, op.cost)
			admitted = append(admitted, refHit{op.now, op.cost})
			// W1 under the limit in force: the window holds no more.
			if n := ref.count(op.now, st.window); n > op.limit {
				fail("W1: %d admitted in the window, limit %d", n, op.limit)
				return
			}
		}
		if !exactMode {
			if d.Count == 0 && d.ResetAfter != 0 || d.Count > 0 && d.ResetAfter <= 0 {
				fail("reset-after and count disagree")
				return
			}
			if d.Count > 0 {
				lo := ref.resetAfter(op.now, st.window)
				hi := int64(0)
				if last, ok := ref.latest(ref.upperLo(op.now, st.window)); ok {
					hi = last + st.window + w - op.now
				}
				if int64(d.ResetAfter) < lo || int64(d.ResetAfter) > hi {
					fail("reset-after outside [exact %v, newest counted hit + window + slot %v]", time.Duration(lo), time.Duration(hi))
					return
				}
			}
			// Sampled: reset-after and retry-after are exact for the
			// store's own count, checked on a replica fed the same steps.
			if probes < 2 && (d.Count > 0 || d.RetryAfter > 0) && j%7 == 3 {
				probes++
				probeReplica(t, st, j, d, name)
			}
		}
		c, ok := s.Get(key, now)
		if ok != (d.Count > 0) || ok && (c.Count != d.Count || c.ResetAfter != d.ResetAfter || c.Remaining != d.Remaining || c.Limit != d.Limit || c.Window != d.Window || c.Key != key) {
			fail("Get disagrees: %+v %v", c, ok)
			return
		}
	}
	if worst, end := maxInWindow(admitted, st.window); st.limit2 == 0 && worst > st.limit {
		t.Errorf("%s: W1: admitted %d in (t0+%v-window, t0+%v], limit %d", name, worst, time.Duration(end), time.Duration(end), st.limit)
	}
}

// probeReplica replays st.ops[:j+1] on a new store and looks just before
// and at the reset-after and the retry-after of decision d, the one of
// step j.
func probeReplica(t *testing.T, st stream, j int, d window.Decision, name string) {
	t.Helper()
	const key = "prop"
	win := time.Duration(st.window)
	r := window.New(window.Config{Shards: 1})
	for _, op := range st.ops[:j+1] {
		mustCheck(t, r, key, op.cost, op.limit, win, tm(op.now))
	}
	now, limit := tm(st.ops[j].now), st.ops[j].limit
	if d.RetryAfter > 0 {
		cost := st.ops[j].cost
		early := mustCheck(t, r, key, 0, limit, win, now.Add(d.RetryAfter-1))
		on := mustCheck(t, r, key, 0, limit, win, now.Add(d.RetryAfter))
		if early.Count+cost <= limit || on.Count+cost > limit {
			t.Errorf("%s: check %d: retry-after %v is not when cost %d first fits: count %d just before, %d then",
				name, j, d.RetryAfter, cost, early.Count, on.Count)
		}
		return
	}
	if _, ok := r.Get(key, now.Add(d.ResetAfter-1)); !ok {
		t.Errorf("%s: check %d: no count just before reset-after %v", name, j, d.ResetAfter)
	}
	if c, ok := r.Get(key, now.Add(d.ResetAfter)); ok {
		t.Errorf("%s: check %d: count %d left at reset-after %v", name, j, c.Count, d.ResetAfter)
	}
}
