package window_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// modes are the two window kinds, chosen by the limit.
var modes = []struct {
	name  string
	limit int64
}{
	{"exact", window.ExactThreshold},
	{"slots", 1000},
}

func TestResetClears(t *testing.T) {
	const w = 15 * time.Second
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := window.New(window.Config{})
			if s.Reset("k", t0) {
				t.Fatal("Reset of an unknown key reported a live count")
			}
			for i := 0; i < 3; i++ {
				mustCheck(t, s, "k", 1, m.limit, w, at(time.Duration(i)*time.Second))
			}
			if !s.Reset("k", at(3*time.Second)) {
				t.Fatal("Reset of a live key reported no live count")
			}
			if c, ok := s.Get("k", at(3*time.Second)); ok {
				t.Fatalf("Get after Reset: %+v", c)
			}
			if s.Reset("k", at(3*time.Second)) {
				t.Fatal("a second Reset at the same instant reported a live count")
			}
			d := mustCheck(t, s, "k", 1, m.limit, w, at(4*time.Second))
			if !d.Allowed || d.Count != 1 || d.Remaining != m.limit-1 {
				t.Fatalf("first check after Reset: %+v", d)
			}
			// A key whose hits have all left the window has no live count.
			mustCheck(t, s, "old", 1, m.limit, time.Second, t0)
			if s.Reset("old", at(10*time.Second)) {
				t.Fatal("Reset of an expired key reported a live count")
			}
		})
	}
}

func TestResetFull(t *testing.T) {
	// A key at its limit is usable again right after a reset at now.
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := window.New(window.Config{})
			mustCheck(t, s, "k", m.limit, m.limit, time.Minute, t0)
			if d := mustCheck(t, s, "k", 1, m.limit, time.Minute, at(time.Second)); d.Allowed {
				t.Fatalf("over the limit: %+v", d)
			}
			if !s.Reset("k", at(time.Second)) {
				t.Fatal("Reset reported no live count")
			}
			d := mustCheck(t, s, "k", m.limit, m.limit, time.Minute, at(2*time.Second))
			if !d.Allowed || d.Count != m.limit {
				t.Fatalf("after Reset, the whole limit: %+v", d)
			}
		})
	}
}

func TestResetIgnoresLateMerges(t *testing.T) {
	const w = 15 * time.Second
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			for _, existed := range []bool{true, false} {
				s := window.New(window.Config{})
				if existed {
					mustCheck(t, s, "k", 1, m.limit, w, at(time.Second))
				}
				if got := s.Reset("k", at(5*time.Second)); got != existed {
					t.Fatalf("existed %v: Reset = %v", existed, got)
				}
				// Hits at or before the floor that arrive late are ignored.
				mustMerge(t, s, "k", at(4*time.Second), 2, m.limit, w)
				mustMerge(t, s, "k", at(5*time.Second), 2, m.limit, w)
				if c, ok := s.Get("k", at(6*time.Second)); ok {
					t.Fatalf("existed %v: late merges counted: %+v", existed, c)
				}
				// Hits after it are kept.
				mustMerge(t, s, "k", at(5*time.Second+time.Millisecond), 3, m.limit, w)
				if n := count(s, "k", at(6*time.Second)); n != 3 {
					t.Fatalf("existed %v: count after a merge past the floor = %d, want 3", existed, n)
				}
			}
		})
	}
}

func TestResetKeepsLaterHits(t *testing.T) {
	// A window of Slots seconds, one second a slot: a reset at t0+4s falls
	// in a slot with no hit, so slot mode is as exact as exact mode here.
	const sec = time.Second
	const w = window.Slots * sec
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := window.New(window.Config{})
			for _, n := range []time.Duration{1, 2, 5, 6} {
				mustCheck(t, s, "k", 1, m.limit, w, at(n*sec))
			}
			// The reset stamped t0+4s is applied only now, at t0+6s.
			if !s.Reset("k", at(4*sec)) {
				t.Fatal("Reset reported no live count at t0+4s")
			}
			if n := count(s, "k", at(6*sec)); n != 2 {
				t.Fatalf("count after Reset = %d, want 2 (the hits at t0+5s and t0+6s)", n)
			}
			// Replaying the reset, or an older one, clears nothing newer.
			s.Reset("k", at(4*sec))
			s.Reset("k", at(2*sec))
			if n := count(s, "k", at(6*sec)); n != 2 {
				t.Fatalf("count after replayed resets = %d, want 2", n)
			}
			// A merge older than the floor stays out.
			mustMerge(t, s, "k", at(3*sec), 1, m.limit, w)
			if n := count(s, "k", at(6*sec)); n != 2 {
				t.Fatalf("count after a merge older than the floor = %d, want 2", n)
			}
			// The hits after the floor leave at their own time: exactly
			// at t0+5s+w and t0+6s+w, or up to one slot later in slot mode.
			n := count(s, "k", at(5*sec+w+sec/2))
			if m.name == "exact" && n != 1 || n < 1 || n > 2 {
				t.Fatalf("count at t0+5.5s+window = %d, want 1 (exact) or 1..2 (slots)", n)
			}
			if c, ok := s.Get("k", at(8*sec+w)); ok {
				t.Fatalf("count at t0+8s+window: %+v, want none", c)
			}
		})
	}
}

func TestResetAheadOfLocalClock(t *testing.T) {
	// A reset stamped by a node whose clock is ahead: local hits made
	// before the local clock reaches the floor are stamped after it, so
	// replaying the reset does not clear them.
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := window.New(window.Config{})
			mustCheck(t, s, "k", 2, m.limit, time.Minute, t0)
			if !s.Reset("k", at(10*time.Second)) {
				t.Fatal("Reset reported no live count")
			}
			d := mustCheck(t, s, "k", 1, m.limit, time.Minute, at(8*time.Second))
			if !d.Allowed {
				t.Fatalf("check after a reset ahead of the clock: %+v", d)
			}
			mustMerge(t, s, "k", at(9*time.Second), 5, m.limit, time.Minute)
			s.Reset("k", at(10*time.Second))
			if n := count(s, "k", at(11*time.Second)); n != 1 {
				t.Fatalf("count after replaying the reset = %d, want 1 (the local hit)", n)
			}
		})
	}
}

func TestMergeAtPeerStamp(t *testing.T) {
	const w = 10 * time.Second
	s := window.New(window.Config{})
	mustMerge(t, s, "k", t0, 2, 5, w)
	if st := s.Stats(); st.Keys != 1 || st.Created != 1 {
		t.Fatalf("Merge of a new key: stats %+v", st)
	}
	c, ok := s.Get("k", t0)
	if want := (window.Counter{Key: "k", Count: 2, Limit: 5, Remaining: 3, Window: w, ResetAfter: w}); !ok || c != want {
		t.Fatalf("Get after Merge: %+v %v, want %+v", c, ok, want)
	}
	d := mustCheck(t, s, "k", 1, 5, w, at(5*time.Second))
	if !d.Allowed || d.Count != 3 || d.ResetAfter != w {
		t.Fatalf("check after Merge: %+v", d)
	}
	// The merged hits leave the window ten seconds after their own stamp.
	if n := count(s, "k", at(w)); n != 1 {
		t.Fatalf("count at t0+10s = %d, want 1", n)
	}
	// A merge older than the whole window is ignored.
	mustMerge(t, s, "k", at(-time.Second), 4, 5, w)
	if n := count(s, "k", at(w)); n != 1 {
		t.Fatalf("count after a merge older than the window = %d, want 1", n)
	}
	// Defaults apply to a merge of a new key.
	mustMerge(t, s, "d", t0, 1, 0, 0)
	if c, ok := s.Get("d", t0); !ok || c.Limit != 100 || c.Window != time.Minute || c.Count != 1 {
		t.Fatalf("merge with defaults: %+v %v", c, ok)
	}
}

func TestMergeNeverDenies(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := window.New(window.Config{})
			over := 2*m.limit + 3
			for i := int64(0); i < over; i++ {
				mustMerge(t, s, "k", at(time.Duration(i)*time.Millisecond), 1, m.limit, time.Minute)
			}
			now := at(time.Second)
			c, ok := s.Get("k", now)
			if !ok || c.Count != over || c.Remaining != 0 {
				t.Fatalf("Get after %d merged hits: %+v %v, want count %d, remaining 0", over, c, ok, over)
			}
			d := mustCheck(t, s, "k", 1, m.limit, time.Minute, now)
			if d.Allowed || d.Count != over || d.Remaining != 0 || d.RetryAfter <= 0 {
				t.Fatalf("check over a merged count: %+v", d)
			}
		})
	}
}

func TestMergeConverges(t *testing.T) {
	// Three replicas see the same hits: one as local checks in time order,
	// two as merges in two random orders. At any later time they agree.
	seed := testSeed(t)
	rounds := 200
	if testing.Short() {
		rounds = 50
	}
	for round := 0; round < rounds; round++ {
		rng := rand.New(rand.NewPCG(seed, uint64(round)))
		exact := round%2 == 0
		win := time.Duration(1+rng.IntN(20_000)) * time.Millisecond
		limit := int64(window.ExactThreshold)
		if !exact {
			limit = int64(window.ExactThreshold + 1 + rng.IntN(1000))
		}
		type hit struct {
			stamp time.Time
			cost  int64
		}
		var hits []hit
		total, now := int64(0), t0
		for i := rng.IntN(40); i >= 0; i-- {
			now = now.Add(time.Duration(rng.Int64N(int64(win)/10+1)) / time.Millisecond * time.Millisecond)
			cost := 1 + rng.Int64N(limit/4+1)
			if total+cost > limit {
				break
			}
			total += cost
			hits = append(hits, hit{now, cost})
		}
		local := window.New(window.Config{})
		for _, h := range hits {
			if d := mustCheck(t, local, "k", h.cost, limit, win, h.stamp); !d.Allowed {
				t.Fatalf("seed %d round %d: local check denied within the limit: %+v", seed, round, d)
			}
		}
		replicas := []*window.Store{window.New(window.Config{}), window.New(window.Config{})}
		for _, r := range replicas {
			order := rng.Perm(len(hits))
			for _, i := range order {
				mustMerge(t, r, "k", hits[i].stamp, hits[i].cost, limit, win)
			}
		}
		// Compare from the last hit until every hit has left.
		for k := 0; k <= 40; k++ {
			when := now.Add(time.Duration(k) * (win + win/window.Slots) / 36)
			want := count(local, "k", when)
			for i, r := range replicas {
				if got := count(r, "k", when); got != want {
					t.Fatalf("seed %d round %d (limit %d, window %v, %d hits): at last hit+%v replica %d counts %d, the local store %d",
						seed, round, limit, win, len(hits), when.Sub(now), i, got, want)
				}
			}
		}
	}
}

func TestMergeRejectsInvalid(t *testing.T) {
	s := window.New(window.Config{})
	for _, c := range []struct {
		cost, limit int64
		win         time.Duration
	}{{-1, 1, time.Second}, {1, -1, time.Second}, {1, 1, -1}, {1, window.MaxLimit + 1, time.Second}} {
		if err := s.Merge("k", t0, c.cost, c.limit, c.win); err == nil {
			t.Errorf("Merge(cost %d, limit %d, window %v) accepted", c.cost, c.limit, c.win)
		}
	}
	if _, ok := s.Get("k", t0); ok {
		t.Fatal("invalid merges counted")
	}
}
