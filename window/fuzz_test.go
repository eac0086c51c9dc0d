package window_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// fuzzKey is one key of FuzzOps with its reference.
type fuzzKey struct {
	name   string
	limit  int64
	window int64
	ref    *refLog // every hit counted: local and merged
	local  *refLog // locally admitted hits only, for W1
	// loose is set once an exact key may have held more hits than an
	// exact ring keeps (merges never deny); it is then held to the
	// slot-mode bounds.
	loose bool
}

// FuzzOps decodes its input into a sequence of checks, merges, resets and
// time steps over two keys (one exact, one in slot mode), runs it against
// the store and an exact sliding log, and asserts:
//
//   - W1: the locally admitted cost after the reset floor in any window is
//     at most the limit;
//   - the count is the exact count (exact mode), or between the exact
//     count and the count over one more slot (slot mode, and the floor's
//     slot after a reset);
//   - allowed exactly when the count leaves room for the cost; retry-after
//     0 when allowed, -1 when the cost exceeds the limit, positive else;
//   - Get agrees with the decision; Reset reports a live count when one
//     is certain and no live count when none is possible.
//
// Input: byte 0 picks the limits, byte 1 the window; then two bytes per
// operation: op = b0%5 (0,1 check, 2 advance time, 3 merge, 4 reset),
// key = b0/5%2, and b1 the cost or the distance in time.
func FuzzOps(f *testing.F) {
	f.Add([]byte{3, 10, 0, 1, 0, 1, 0, 1, 0, 1, 2, 200, 0, 1})
	f.Add([]byte{200, 0, 5, 50, 5, 50, 3, 10, 8, 100, 5, 9, 9, 40, 5, 50})
	f.Add([]byte{7, 255, 3, 3, 3, 3, 3, 3, 0, 1, 4, 10, 0, 1, 8, 2, 5, 255})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		b := make([]byte, 2+2*(1+rng.IntN(150)))
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		win := (1 + int64(data[1])) * int64(10*time.Millisecond)
		keys := [2]*fuzzKey{
			{name: "exact", limit: 1 + int64(data[0]%window.ExactThreshold), window: win},
			{name: "slots", limit: window.ExactThreshold + 1 + 7*int64(data[0]/8), window: win},
		}
		for _, k := range keys {
			k.ref, k.local = newRef(), newRef()
		}
		s := window.New(window.Config{Shards: 2})
		now := int64(0)
		for i := 2; i+1 < len(data); i += 2 {
			op, k, b := data[i]%5, keys[data[i]/5%2], int64(data[i+1])
			step := fmt.Sprintf("op %d at byte %d (t0+%v, key %s, limit %d, window %v)",
				op, i, time.Duration(now), k.name, k.limit, time.Duration(win))
			switch op {
			case 0, 1:
				fuzzCheck(t, s, k, b%(k.limit+2), now, step)
			case 2:
				now += b * win / 64 / int64(time.Millisecond) * int64(time.Millisecond)
			case 3:
				stamp := now - b*win/128
				cost := 1 + int64(data[i]/10%4)
				if err := s.Merge(k.name, tm(stamp), cost, k.limit, time.Duration(k.window)); err != nil {
					t.Fatalf("%s: Merge: %v", step, err)
				}
				if stamp <= k.ref.floor {
					break
				}
				if k.limit <= window.ExactThreshold && k.ref.since(k.ref.floor)+cost > window.ExactThreshold {
					k.loose = true
				}
				k.ref.add(stamp, cost)
			case 4:
				at := now - 1 - b*win/256
				// A live count is certain when a hit that the store has
				// not yet let go of lies in (at-window, at]; impossible
				// when no hit could count at at, even a later one.
				lo := max(now-win, k.ref.floor)
				certain := at > lo && k.ref.since(lo)-k.ref.since(at) > 0
				possible := k.ref.since(k.ref.upperLo(at, win)) > 0
				got := s.Reset(k.name, tm(at))
				if certain && !got || !possible && got {
					t.Fatalf("%s: Reset(t0+%v) = %v, want %v", step, time.Duration(at), got, certain)
				}
				k.ref.reset(at)
				k.local.reset(at)
			}
			if t.Failed() {
				return
			}
		}
	})
}

func fuzzCheck(t *testing.T, s *window.Store, k *fuzzKey, cost, now int64, step string) {
	t.Helper()
	d, err := s.Check(k.name, cost, k.limit, time.Duration(k.window), tm(now))
	if err != nil {
		t.Fatalf("%s: Check: %v", step, err)
	}
	exact, up := k.ref.count(now, k.window), k.ref.upper(now, k.window)
	before := d.Count
	if d.Allowed {
		before -= cost
	}
	bad := ""
	switch {
	case k.limit <= window.ExactThreshold && !k.loose && before != exact:
		bad = fmt.Sprintf("exact mode counted %d, the reference %d", before, exact)
	case before < exact || before > up:
		bad = fmt.Sprintf("count %d outside [exact %d, upper %d]", before, exact, up)
	case d.Allowed != (cost <= k.limit && before+cost <= k.limit):
		bad = "the decision does not follow from the count"
	case d.Allowed && d.RetryAfter != 0,
		!d.Allowed && cost > k.limit && d.RetryAfter != -1,
		!d.Allowed && cost <= k.limit && d.RetryAfter <= 0:
		bad = "retry-after"
	case d.Remaining != max(0, k.limit-d.Count) || d.Limit != k.limit || d.Window != time.Duration(k.window):
		bad = "remaining, limit or window"
	}
	if bad != "" {
		t.Fatalf("%s: check of cost %d: %s\n  got %+v", step, cost, bad, d)
	}
	if d.Allowed && cost > 0 {
		k.ref.add(now, cost)
		k.local.add(now, cost)
		if n := k.local.count(now, k.window); n > k.limit {
			t.Fatalf("%s: W1: %d admitted locally in the window since the floor, limit %d", step, n, k.limit)
		}
	}
	c, ok := s.Get(k.name, tm(now))
	if ok != (d.Count > 0) || ok && (c.Count != d.Count || c.ResetAfter != d.ResetAfter) {
		t.Fatalf("%s: Get %+v %v disagrees with the check %+v", step, c, ok, d)
	}
}
