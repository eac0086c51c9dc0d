package window_test

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// hitKey identifies the hits of one key at one stamp; a store may hand out
// several hits at the same stamp as one.
type hitKey struct {
	key    string
	stamp  int64 // Unix nanoseconds
	limit  int64
	window time.Duration
}

func sumHits(hits []window.Hit) map[hitKey]int64 {
	m := make(map[hitKey]int64)
	for _, h := range hits {
		m[hitKey{h.Key, h.Stamp.UnixNano(), h.Limit, h.Window}] += h.Cost
	}
	return m
}

func TestDrainHits(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	s := window.New(window.Config{RecordHits: true, Shards: 4})
	want := make(map[hitKey]int64)
	var got []window.Hit
	now := t0
	for i := 0; i < 5000; i++ {
		now = now.Add(time.Duration(rng.IntN(3)) * time.Millisecond)
		// Each key keeps its limit (exact or slots) and window.
		j := rng.IntN(20)
		key := "k" + strconv.Itoa(j)
		limit := int64(1 + j)
		win := time.Duration(1+j%3) * 100 * time.Millisecond
		switch op := rng.IntN(10); {
		case op < 6:
			cost := rng.Int64N(limit + 2) // 0 peeks, limit+1 is denied
			d := mustCheck(t, s, key, cost, limit, win, now)
			if d.Allowed && cost > 0 {
				want[hitKey{key, now.UnixNano(), limit, win}] += cost
			}
		case op < 8:
			// Merged hits are a peer's: they are not drained again.
			mustMerge(t, s, key, now.Add(-time.Millisecond), 1+rng.Int64N(3), limit, win)
		case op < 9:
			// Stamped before now, so that later local hits keep their
			// stamp (hits at or before a floor are stamped after it).
			s.Reset(key, now.Add(-time.Duration(1+rng.IntN(50))*time.Millisecond))
		default:
			got = s.DrainHits(got)
		}
	}
	got = s.DrainHits(got)
	if m := sumHits(got); !mapsEqual(m, want) {
		t.Fatalf("seed %d: drained %d hits (%d stamps), admitted %d stamps; first difference: %s",
			seed, len(got), len(m), len(want), firstDiff(m, want))
	}
	// Nothing comes out twice.
	if again := s.DrainHits(nil); len(again) != 0 {
		t.Fatalf("second drain returned %d hits", len(again))
	}
}

func TestDrainHitsOff(t *testing.T) {
	s := window.New(window.Config{})
	mustCheck(t, s, "k", 1, 10, time.Second, t0)
	dst := []window.Hit{{Key: "mine"}}
	got := s.DrainHits(dst)
	if len(got) != 1 || got[0].Key != "mine" {
		t.Fatalf("DrainHits without RecordHits: %+v", got)
	}
}

func TestDrainHitsAppends(t *testing.T) {
	s := window.New(window.Config{RecordHits: true})
	mustCheck(t, s, "k", 2, 10, time.Second, t0)
	got := s.DrainHits([]window.Hit{{Key: "mine"}})
	want := []window.Hit{{Key: "mine"}, {Key: "k", Stamp: t0, Cost: 2, Limit: 10, Window: time.Second}}
	if len(got) != 2 || got[0] != want[0] || !got[1].Stamp.Equal(t0) || got[1].Key != "k" || got[1].Cost != 2 || got[1].Limit != 10 || got[1].Window != time.Second {
		t.Fatalf("DrainHits: %+v, want %+v", got, want)
	}
	// The drained hit merged into a peer counts there the same.
	peer := window.New(window.Config{})
	h := got[1]
	mustMerge(t, peer, h.Key, h.Stamp, h.Cost, h.Limit, h.Window)
	if a, b := count(s, "k", t0), count(peer, "k", t0); a != b || a != 2 {
		t.Fatalf("origin counts %d, peer %d", a, b)
	}
}

func mapsEqual(a, b map[hitKey]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func firstDiff(got, want map[hitKey]int64) string {
	for k, v := range want {
		if got[k] != v {
			return k.key + " at t0+" + time.Duration(k.stamp-t0.UnixNano()).String() + ": drained cost " + strconv.FormatInt(got[k], 10) + ", admitted " + strconv.FormatInt(v, 10)
		}
	}
	for k, v := range got {
		if want[k] != v {
			return k.key + " at t0+" + time.Duration(k.stamp-t0.UnixNano()).String() + ": drained cost " + strconv.FormatInt(v, 10) + ", admitted " + strconv.FormatInt(want[k], 10)
		}
	}
	return "none"
}
