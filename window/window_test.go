package window_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// step is one check of a step table and the decision it must get.
type step struct {
	at     time.Duration // offset from t0
	key    string        // "k" when empty
	cost   int64
	limit  int64
	window time.Duration

	allowed    bool
	count      int64
	remaining  int64
	resetAfter time.Duration
	retryAfter time.Duration
	// wantLimit and wantWindow are the limit and window the decision must
	// report; the step's own when zero.
	wantLimit  int64
	wantWindow time.Duration
}

// dontCare in a step's resetAfter or retryAfter skips that comparison
// (slot-mode values that depend on the slot geometry; other tests bound
// them).
const dontCare = time.Duration(math.MinInt64)

// runSteps feeds the steps to s in order and compares every decision.
func runSteps(t *testing.T, s *window.Store, steps []step) {
	t.Helper()
	for i, st := range steps {
		key := st.key
		if key == "" {
			key = "k"
		}
		d, err := s.Check(key, st.cost, st.limit, st.window, at(st.at))
		if err != nil {
			t.Fatalf("step %d (t0+%v): Check: %v", i, st.at, err)
		}
		want := window.Decision{
			Allowed:    st.allowed,
			Limit:      st.limit,
			Window:     st.window,
			Count:      st.count,
			Remaining:  st.remaining,
			ResetAfter: st.resetAfter,
			RetryAfter: st.retryAfter,
		}
		if st.wantLimit != 0 {
			want.Limit = st.wantLimit
		}
		if st.wantWindow != 0 {
			want.Window = st.wantWindow
		}
		if st.resetAfter == dontCare {
			want.ResetAfter = d.ResetAfter
		}
		if st.retryAfter == dontCare {
			want.RetryAfter = d.RetryAfter
		}
		if d != want {
			t.Errorf("step %d (t0+%v, key %q, cost %d, limit %d, window %v):\n got %+v\nwant %+v",
				i, st.at, key, st.cost, st.limit, st.window, d, want)
		}
	}
}

func TestCheckExactSteps(t *testing.T) {
	const l, w = 3, 10 * time.Second
	s := window.New(window.Config{})
	runSteps(t, s, []step{
		{at: 0, cost: 1, limit: l, window: w, allowed: true, count: 1, remaining: 2, resetAfter: w},
		{at: time.Second, cost: 1, limit: l, window: w, allowed: true, count: 2, remaining: 1, resetAfter: w},
		// cost 0 peeks: allowed, counts nothing.
		{at: 2 * time.Second, cost: 0, limit: l, window: w, allowed: true, count: 2, remaining: 1, resetAfter: 9 * time.Second},
		// 2+2 > 3: the oldest unit (t0) must leave first, at t0+10s.
		{at: 2 * time.Second, cost: 2, limit: l, window: w, count: 2, remaining: 1, resetAfter: 9 * time.Second, retryAfter: 8 * time.Second},
		{at: 2 * time.Second, cost: 1, limit: l, window: w, allowed: true, count: 3, remaining: 0, resetAfter: w},
		{at: 3 * time.Second, cost: 1, limit: l, window: w, count: 3, remaining: 0, resetAfter: 9 * time.Second, retryAfter: 7 * time.Second},
		// cost > limit can never be allowed.
		{at: 3 * time.Second, cost: 4, limit: l, window: w, count: 3, remaining: 0, resetAfter: 9 * time.Second, retryAfter: -1},
		// The hit at t0 leaves the window at t0+10s exactly.
		{at: 10 * time.Second, cost: 1, limit: l, window: w, allowed: true, count: 3, remaining: 0, resetAfter: w},
		{at: 10 * time.Second, cost: 1, limit: l, window: w, count: 3, remaining: 0, resetAfter: w, retryAfter: time.Second},
		{at: 11 * time.Second, cost: 1, limit: l, window: w, allowed: true, count: 3, remaining: 0, resetAfter: w},
		{at: 25 * time.Second, cost: 0, limit: l, window: w, allowed: true, count: 0, remaining: 3},
		{at: 25 * time.Second, cost: 3, limit: l, window: w, allowed: true, count: 3, remaining: 0, resetAfter: w},
		{at: 34999 * time.Millisecond, cost: 1, limit: l, window: w, count: 3, remaining: 0, resetAfter: time.Millisecond, retryAfter: time.Millisecond},
		{at: 35 * time.Second, cost: 1, limit: l, window: w, allowed: true, count: 1, remaining: 2, resetAfter: w},
	})
}

func TestCheckSlotSteps(t *testing.T) {
	// A window of Slots seconds: slot k is [t0+k s, t0+(k+1) s). The ring
	// counts Slots+1 slots, so a hit in slot k counts until t0+(k+S+1)s.
	const l, S = 30, window.Slots
	const sec = time.Second
	w := S * sec
	s := window.New(window.Config{})
	runSteps(t, s, []step{
		{at: 0, cost: 10, limit: l, window: w, allowed: true, count: 10, remaining: 20, resetAfter: (S + 1) * sec},
		{at: 500 * time.Millisecond, cost: 10, limit: l, window: w, allowed: true, count: 20, remaining: 10, resetAfter: (S+1)*sec - 500*time.Millisecond},
		{at: sec, cost: 10, limit: l, window: w, allowed: true, count: 30, remaining: 0, resetAfter: (S + 1) * sec},
		// Slot 0 (20 hits) leaves at t0+(S+1)s.
		{at: 2 * sec, cost: 1, limit: l, window: w, count: 30, remaining: 0, resetAfter: S * sec, retryAfter: (S - 1) * sec},
		{at: 2 * sec, cost: 31, limit: l, window: w, count: 30, remaining: 0, resetAfter: S * sec, retryAfter: -1},
		// A peek at the limit is allowed: it spends nothing.
		{at: 2 * sec, cost: 0, limit: l, window: w, allowed: true, count: 30, remaining: 0, resetAfter: S * sec},
		// Slot 0 is partly outside (t0, t0+S s] and still counts.
		{at: S * sec, cost: 1, limit: l, window: w, count: 30, remaining: 0, resetAfter: 2 * sec, retryAfter: sec},
		{at: (S + 1) * sec, cost: 20, limit: l, window: w, allowed: true, count: 30, remaining: 0, resetAfter: (S + 1) * sec},
		{at: (S + 2) * sec, cost: 1, limit: l, window: w, allowed: true, count: 21, remaining: 9, resetAfter: (S + 1) * sec},
		{at: (2*S + 3) * sec, cost: 0, limit: l, window: w, allowed: true, count: 0, remaining: 30},
		{at: (3*S + 1) * sec, cost: 30, limit: l, window: w, allowed: true, count: 30, remaining: 0, resetAfter: (S + 1) * sec},
	})
}

func TestCheckDefaults(t *testing.T) {
	t.Run("zero config", func(t *testing.T) {
		s := window.New(window.Config{})
		d := mustCheck(t, s, "k", 1, 0, 0, t0)
		// 100 is in slot mode: reset-after is up to one slot more.
		want := window.Decision{Allowed: true, Limit: 100, Window: time.Minute, Count: 1, Remaining: 99, ResetAfter: d.ResetAfter}
		if d != want || d.ResetAfter < time.Minute || d.ResetAfter > time.Minute+time.Minute/window.Slots+1 {
			t.Fatalf("got %+v, want %+v with reset-after in [1m, 1m+1m/Slots]", d, want)
		}
	})
	t.Run("configured", func(t *testing.T) {
		s := window.New(window.Config{DefaultLimit: 2, DefaultWindow: 5 * time.Second})
		runSteps(t, s, []step{
			{at: 0, cost: 1, allowed: true, count: 1, remaining: 1, resetAfter: 5 * time.Second, wantLimit: 2, wantWindow: 5 * time.Second},
			{at: time.Second, cost: 1, allowed: true, count: 2, remaining: 0, resetAfter: 5 * time.Second, wantLimit: 2, wantWindow: 5 * time.Second},
			{at: 2 * time.Second, cost: 1, count: 2, remaining: 0, resetAfter: 4 * time.Second, retryAfter: 3 * time.Second, wantLimit: 2, wantWindow: 5 * time.Second},
			{at: 2 * time.Second, cost: 3, count: 2, remaining: 0, resetAfter: 4 * time.Second, retryAfter: -1, wantLimit: 2, wantWindow: 5 * time.Second},
			// Only the zero one of limit and window takes the default.
			{key: "other", at: 2 * time.Second, cost: 1, limit: 4, allowed: true, count: 1, remaining: 3, resetAfter: 5 * time.Second, wantWindow: 5 * time.Second},
			{key: "third", at: 2 * time.Second, cost: 1, window: time.Second, allowed: true, count: 1, remaining: 1, resetAfter: time.Second, wantLimit: 2},
		})
	})
}

func TestCheckPeekCreatesNothing(t *testing.T) {
	s := window.New(window.Config{})
	d := mustCheck(t, s, "peek", 0, 5, time.Second, t0)
	want := window.Decision{Allowed: true, Limit: 5, Window: time.Second, Count: 0, Remaining: 5}
	if d != want {
		t.Fatalf("peek of a new key: got %+v, want %+v", d, want)
	}
	if st := s.Stats(); st.Keys != 0 || st.Created != 0 {
		t.Fatalf("a peek created a key: %+v", st)
	}
	if c, ok := s.Get("peek", t0); ok {
		t.Fatalf("Get after a peek: %+v, true", c)
	}
	if l := s.List("", "", 10, t0); len(l) != 0 {
		t.Fatalf("List after a peek: %+v", l)
	}
	// A peek of a live key changes nothing either.
	for _, limit := range []int64{5, 500} {
		key := "live" + string(rune('0'+limit%10))
		mustCheck(t, s, key, 2, limit, time.Second, t0)
		for i := 0; i < 3; i++ {
			d := mustCheck(t, s, key, 0, limit, time.Second, at(time.Millisecond))
			if !d.Allowed || d.Count != 2 || d.Remaining != limit-2 || d.RetryAfter != 0 {
				t.Fatalf("limit %d: peek %d of a live key: %+v", limit, i, d)
			}
		}
		if n := count(s, key, at(time.Millisecond)); n != 2 {
			t.Fatalf("limit %d: count after peeks = %d, want 2", limit, n)
		}
	}
}

func TestCheckCostAboveLimit(t *testing.T) {
	for _, limit := range []int64{1, window.ExactThreshold, window.ExactThreshold + 1, 1000} {
		s := window.New(window.Config{})
		d := mustCheck(t, s, "k", limit+1, limit, time.Second, t0)
		want := window.Decision{Limit: limit, Window: time.Second, Remaining: limit, RetryAfter: -1}
		if d != want {
			t.Errorf("limit %d, new key: got %+v, want %+v", limit, d, want)
		}
		if c, ok := s.Get("k", t0); ok {
			t.Errorf("limit %d: a denied check counted: %+v", limit, c)
		}
		mustCheck(t, s, "k", 1, limit, time.Second, t0)
		d = mustCheck(t, s, "k", limit+1, limit, time.Second, t0)
		if d.Allowed || d.RetryAfter != -1 || d.Count != 1 {
			t.Errorf("limit %d, live key: got %+v, want denied, RetryAfter -1, Count 1", limit, d)
		}
		if n := count(s, "k", t0); n != 1 {
			t.Errorf("limit %d: count after a denied check = %d, want 1", limit, n)
		}
	}
}

func TestCheckInvalid(t *testing.T) {
	s := window.New(window.Config{})
	cases := []struct {
		name   string
		key    string
		cost   int64
		limit  int64
		window time.Duration
	}{
		{"empty key", "", 1, 10, time.Second},
		{"negative cost", "k", -1, 10, time.Second},
		{"negative limit", "k", 1, -1, time.Second},
		{"negative window", "k", 1, 10, -time.Second},
		{"limit too large", "k", 1, window.MaxLimit + 1, time.Second},
		{"window too large", "k", 1, 10, window.MaxWindow + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Check(c.key, c.cost, c.limit, c.window, t0); !errors.Is(err, window.ErrInvalid) {
				t.Errorf("Check: err = %v, want ErrInvalid", err)
			}
			if err := s.Merge(c.key, t0, c.cost, c.limit, c.window); !errors.Is(err, window.ErrInvalid) {
				t.Errorf("Merge: err = %v, want ErrInvalid", err)
			}
		})
	}
	if st := s.Stats(); st.Keys != 0 || st.Created != 0 {
		t.Fatalf("invalid calls created keys: %+v", st)
	}
	// The largest valid arguments are accepted.
	d := mustCheck(t, s, "big", 1, window.MaxLimit, window.MaxWindow, t0)
	if !d.Allowed || d.Count != 1 || d.Limit != window.MaxLimit || d.Window != window.MaxWindow {
		t.Fatalf("largest limit and window: %+v", d)
	}
	long := strings.Repeat("x", 4096)
	if d := mustCheck(t, s, long, 1, 1, time.Second, t0); !d.Allowed {
		t.Fatalf("long key: %+v", d)
	}
}

func TestCheckLimitChange(t *testing.T) {
	const w = 10 * time.Second
	s := window.New(window.Config{})
	runSteps(t, s, []step{
		{at: 0, cost: 4, limit: 5, window: w, allowed: true, count: 4, remaining: 1, resetAfter: w},
		// A lower limit applies to the hits already counted.
		{at: time.Second, cost: 1, limit: 3, window: w, count: 4, remaining: 0, resetAfter: 9 * time.Second, retryAfter: 9 * time.Second},
		{at: time.Second, cost: 1, limit: window.ExactThreshold, window: w, allowed: true, count: 5, remaining: window.ExactThreshold - 5, resetAfter: w},
		// Exact to slots: the hits are kept.
		{at: 2 * time.Second, cost: 1, limit: 100, window: w, allowed: true, count: 6, remaining: 94, resetAfter: dontCare},
		{at: 3 * time.Second, cost: 20, limit: 100, window: w, allowed: true, count: 26, remaining: 74, resetAfter: dontCare},
		// Slots to a small limit: still every hit counted, so denied.
		{at: 4 * time.Second, cost: 1, limit: 5, window: w, count: 26, remaining: 0, resetAfter: dontCare, retryAfter: dontCare},
	})
	// Slot-mode reset-after and retry-after depend on the slot geometry:
	// check the bounds instead (hits at t0..t0+3s, window 10s).
	d := mustCheck(t, s, "k", 1, 5, w, at(4*time.Second))
	if d.Allowed || d.Count != 26 || d.ResetAfter < 9*time.Second || d.ResetAfter > 9*time.Second+w/window.Slots+1 {
		t.Fatalf("slot key at a small limit: %+v", d)
	}
	// Once every hit has left, a small limit is exact again: retry-after
	// has sub-slot precision.
	runSteps(t, s, []step{
		{at: 30 * time.Second, cost: 1, limit: 2, window: w, allowed: true, count: 1, remaining: 1, resetAfter: w},
		{at: 30500 * time.Millisecond, cost: 1, limit: 2, window: w, allowed: true, count: 2, remaining: 0, resetAfter: w},
		{at: 30700 * time.Millisecond, cost: 1, limit: 2, window: w, count: 2, remaining: 0, resetAfter: 9800 * time.Millisecond, retryAfter: 9300 * time.Millisecond},
		{at: 40 * time.Second, cost: 1, limit: 2, window: w, allowed: true, count: 2, remaining: 0, resetAfter: w},
	})
}

// TestCheckBackToExact: a key whose limit fell to ExactThreshold or below
// while it counted hits in slot mode moves to exact mode once its count
// is 0, even when the checks keep passing that same small limit.
func TestCheckBackToExact(t *testing.T) {
	const w = 10 * time.Second
	s := window.New(window.Config{})
	mustCheck(t, s, "k", 20, 100, w, t0)
	if d := mustCheck(t, s, "k", 1, 2, w, at(time.Second)); d.Allowed || d.Count != 20 {
		t.Fatalf("limit 2 over 20 slot-mode hits: %+v", d)
	}
	// Every hit has left by t0+30s: from there on the key is exact, with
	// sub-slot precision (a slot is 10s/Slots wide).
	runSteps(t, s, []step{
		{at: 30 * time.Second, cost: 1, limit: 2, window: w, allowed: true, count: 1, remaining: 1, resetAfter: w},
		{at: 30500 * time.Millisecond, cost: 1, limit: 2, window: w, allowed: true, count: 2, remaining: 0, resetAfter: w},
		{at: 30700 * time.Millisecond, cost: 1, limit: 2, window: w, count: 2, remaining: 0, resetAfter: 9800 * time.Millisecond, retryAfter: 9300 * time.Millisecond},
		{at: 40 * time.Second, cost: 1, limit: 2, window: w, allowed: true, count: 2, remaining: 0, resetAfter: w},
		{at: 40100 * time.Millisecond, cost: 1, limit: 2, window: w, count: 2, remaining: 0, resetAfter: 9900 * time.Millisecond, retryAfter: 400 * time.Millisecond},
	})
}

func TestCheckWindowChange(t *testing.T) {
	s := window.New(window.Config{})
	t.Run("grow", func(t *testing.T) {
		runSteps(t, s, []step{
			{key: "grow", at: 0, cost: 1, limit: 5, window: 10 * time.Second, allowed: true, count: 1, remaining: 4, resetAfter: 10 * time.Second},
			{key: "grow", at: 2 * time.Second, cost: 1, limit: 5, window: 10 * time.Second, allowed: true, count: 2, remaining: 3, resetAfter: 10 * time.Second},
			{key: "grow", at: 4 * time.Second, cost: 1, limit: 5, window: 10 * time.Second, allowed: true, count: 3, remaining: 2, resetAfter: 10 * time.Second},
			// The count is kept as if all three hits were at t0+4s.
			{key: "grow", at: 5 * time.Second, cost: 1, limit: 5, window: 20 * time.Second, allowed: true, count: 4, remaining: 1, resetAfter: 20 * time.Second},
			{key: "grow", at: 23 * time.Second, cost: 0, limit: 5, window: 20 * time.Second, allowed: true, count: 4, remaining: 1, resetAfter: 2 * time.Second},
			{key: "grow", at: 24 * time.Second, cost: 0, limit: 5, window: 20 * time.Second, allowed: true, count: 1, remaining: 4, resetAfter: time.Second},
			{key: "grow", at: 25 * time.Second, cost: 0, limit: 5, window: 20 * time.Second, allowed: true, count: 0, remaining: 5},
		})
	})
	t.Run("shrink", func(t *testing.T) {
		runSteps(t, s, []step{
			{key: "shrink", at: 0, cost: 1, limit: 5, window: 10 * time.Second, allowed: true, count: 1, remaining: 4, resetAfter: 10 * time.Second},
			{key: "shrink", at: time.Second, cost: 1, limit: 5, window: 10 * time.Second, allowed: true, count: 2, remaining: 3, resetAfter: 10 * time.Second},
			{key: "shrink", at: 3 * time.Second, cost: 1, limit: 5, window: 10 * time.Second, allowed: true, count: 3, remaining: 2, resetAfter: 10 * time.Second},
			{key: "shrink", at: 3500 * time.Millisecond, cost: 1, limit: 5, window: 2 * time.Second, allowed: true, count: 4, remaining: 1, resetAfter: 2 * time.Second},
			{key: "shrink", at: 4900 * time.Millisecond, cost: 0, limit: 5, window: 2 * time.Second, allowed: true, count: 4, remaining: 1, resetAfter: 600 * time.Millisecond},
			{key: "shrink", at: 5 * time.Second, cost: 0, limit: 5, window: 2 * time.Second, allowed: true, count: 1, remaining: 4, resetAfter: 500 * time.Millisecond},
			{key: "shrink", at: 5500 * time.Millisecond, cost: 0, limit: 5, window: 2 * time.Second, allowed: true, count: 0, remaining: 5},
		})
	})
	t.Run("slots", func(t *testing.T) {
		const l = 100
		mustCheck(t, s, "slots", 10, l, 15*time.Second, t0)
		mustCheck(t, s, "slots", 10, l, 15*time.Second, at(5*time.Second))
		// Grow to 30s at t0+6s: the 20 hits count as if at t0+5s.
		d := mustCheck(t, s, "slots", 1, l, 30*time.Second, at(6*time.Second))
		if !d.Allowed || d.Count != 21 || d.Window != 30*time.Second {
			t.Fatalf("grow: %+v, want allowed, count 21, window 30s", d)
		}
		// At t0+34.999s the exact count is still 21 (hits at 5s and 6s).
		if n := count(s, "slots", at(34999*time.Millisecond)); n < 21 {
			t.Fatalf("count at t0+34.999s = %d, want at least 21", n)
		}
		// Everything has left by t0+6s+30s+one slot.
		end := at(36*time.Second + 30*time.Second/window.Slots + time.Millisecond)
		if c, ok := s.Get("slots", end); ok {
			t.Fatalf("count after the window: %+v", c)
		}
	})
}

func TestKeysAreIndependent(t *testing.T) {
	s := window.New(window.Config{Shards: 1})
	for i := 0; i < 3; i++ {
		mustCheck(t, s, "a", 1, 3, time.Second, t0)
	}
	if d := mustCheck(t, s, "a", 1, 3, time.Second, t0); d.Allowed {
		t.Fatalf("a: fourth hit allowed: %+v", d)
	}
	for _, k := range []string{"b", "A", "a ", "\x00", "a\x00"} {
		if d := mustCheck(t, s, k, 1, 3, time.Second, t0); !d.Allowed || d.Count != 1 {
			t.Fatalf("key %q shares a's window: %+v", k, d)
		}
	}
	if st := s.Stats(); st.Keys != 6 || st.Created != 6 {
		t.Fatalf("stats: %+v, want 6 keys created", st)
	}
}

func TestShardsRounding(t *testing.T) {
	// Any shard count works, including ones that are not powers of two.
	for _, n := range []int{1, 2, 3, 7, 100, 1000} {
		s := window.New(window.Config{Shards: n})
		for i := 0; i < 50; i++ {
			mustCheck(t, s, string(rune('a'+i%26))+string(rune('a'+i/26)), 1, 1, time.Second, t0)
		}
		if st := s.Stats(); st.Keys != 50 {
			t.Fatalf("shards %d: Keys = %d, want 50", n, st.Keys)
		}
		if l := s.List("", "", 100, t0); len(l) != 50 {
			t.Fatalf("shards %d: List returned %d keys, want 50", n, len(l))
		}
	}
}
