package window_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// sane reports what is wrong with a decision whatever the history, or "".
// ahead is how far the newest hit may be stamped after the check's time.
func sane(d window.Decision, ahead time.Duration) string {
	switch {
	case d.Count < 0:
		return "negative count"
	case d.Remaining != max(0, d.Limit-d.Count):
		return "remaining is not limit-count"
	case d.ResetAfter < 0 || d.ResetAfter > ahead+d.Window+d.Window/window.Slots+1 && d.Count > 0:
		return "reset-after outside [0, ahead+window+slot]"
	case d.Count == 0 && d.ResetAfter != 0:
		return "reset-after without a count"
	case d.Allowed && d.RetryAfter != 0:
		return "allowed with a retry-after"
	case !d.Allowed && d.RetryAfter == 0:
		return "denied without a retry-after"
	case d.RetryAfter < -1:
		return "retry-after below -1"
	}
	return ""
}

// TestCheckOutOfOrderTimes: callers that read a coarse clock before taking
// the shard's lock hand in slightly out-of-order times. Nothing is
// specified about the decisions but they stay sane, and a key fed only by
// local checks never counts more than its limit.
func TestCheckOutOfOrderTimes(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := 0; round < 200; round++ {
		s := window.New(window.Config{Shards: 1})
		limit := int64(1 + rng.IntN(40))
		win := time.Duration(1+rng.IntN(500)) * time.Millisecond
		now := int64(0)
		for i := 0; i < 300; i++ {
			now += rng.Int64N(int64(win) / 8)
			jitter := rng.Int64N(int64(win)/4 + 1) // up to a quarter window back
			d := mustCheck(t, s, "k", rng.Int64N(limit+1), limit, win, tm(now-jitter))
			if msg := sane(d, time.Duration(jitter)); msg != "" || d.Count > limit {
				t.Fatalf("seed %d round %d check %d (limit %d, window %v): %s: %+v", seed, round, i, limit, win, msg, d)
			}
		}
	}
}

// TestFarTimes: years between two checks, times before 1970, the largest
// window and a peer stamp from the future.
func TestFarTimes(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := window.New(window.Config{})
			for _, when := range []time.Time{
				time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
				t0,
				t0.Add(100 * 365 * 24 * time.Hour),
				time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
			} {
				d := mustCheck(t, s, "k", 1, m.limit, time.Second, when)
				if msg := sane(d, 0); msg != "" || !d.Allowed || d.Count != 1 {
					t.Fatalf("check at %v: %s: %+v", when, msg, d)
				}
			}
			// The largest window, years apart.
			mustCheck(t, s, "long", 1, m.limit, window.MaxWindow, t0)
			d := mustCheck(t, s, "long", 1, m.limit, window.MaxWindow, t0.Add(window.MaxWindow-time.Second))
			if !d.Allowed || d.Count != 2 {
				t.Fatalf("second check inside the largest window: %+v", d)
			}
			d = mustCheck(t, s, "long", 1, m.limit, window.MaxWindow, t0.Add(3*window.MaxWindow))
			if !d.Allowed || d.Count != 1 {
				t.Fatalf("check three windows later: %+v", d)
			}
			// A peer ahead of us: its hit counts (a stricter decision).
			mustMerge(t, s, "ahead", t0.Add(time.Second), 1, m.limit, time.Minute)
			if d := mustCheck(t, s, "ahead", 0, m.limit, time.Minute, t0); d.Count != 1 {
				t.Fatalf("a hit stamped a second ahead: %+v", d)
			}
		})
	}
}

// TestResetUnknownKeyThenCheck: the floor a reset leaves for a key it did
// not know does not change how the key counts afterwards.
func TestResetUnknownKeyThenCheck(t *testing.T) {
	s := window.New(window.Config{})
	s.Reset("new", at(5*time.Second))
	runSteps(t, s, []step{
		{key: "new", at: 6 * time.Second, cost: 1, limit: 3, window: time.Second, allowed: true, count: 1, remaining: 2, resetAfter: time.Second},
		{key: "new", at: 6001 * time.Millisecond, cost: 1, limit: 3, window: time.Second, allowed: true, count: 2, remaining: 1, resetAfter: time.Second},
		{key: "new", at: 6002 * time.Millisecond, cost: 1, limit: 3, window: time.Second, allowed: true, count: 3, remaining: 0, resetAfter: time.Second},
		{key: "new", at: 6003 * time.Millisecond, cost: 1, limit: 3, window: time.Second, count: 3, remaining: 0, resetAfter: 999 * time.Millisecond, retryAfter: 997 * time.Millisecond},
		{key: "new", at: 7 * time.Second, cost: 1, limit: 3, window: time.Second, allowed: true, count: 3, remaining: 0, resetAfter: time.Second},
	})
}

// TestDrainHitsBounded: when nobody drains, the pending hits stay bounded
// and those left out are counted: drained + dropped = admitted.
func TestDrainHitsBounded(t *testing.T) {
	const n = 100_000
	s := window.New(window.Config{Shards: 1, RecordHits: true})
	for i := 0; i < n; i++ {
		mustCheck(t, s, "k", 1, window.MaxLimit, time.Hour, at(time.Duration(i)*time.Microsecond))
	}
	got := len(s.DrainHits(nil))
	dropped := s.Stats().DroppedHits
	if got == 0 || got+int(dropped) != n {
		t.Fatalf("drained %d, dropped %d, admitted %d", got, dropped, n)
	}
	// Draining makes room again.
	mustCheck(t, s, "k", 1, window.MaxLimit, time.Hour, at(time.Second))
	if hits := s.DrainHits(nil); len(hits) != 1 {
		t.Fatalf("after a drain, one more hit drained as %d", len(hits))
	}
}

func TestListMaxZero(t *testing.T) {
	s := window.New(window.Config{})
	mustCheck(t, s, "k", 1, 5, time.Second, t0)
	if l := s.List("", "", 0, t0); len(l) != 0 {
		t.Fatalf("List with max 0: %+v", l)
	}
}
