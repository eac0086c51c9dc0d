package window_test

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// TestConcurrentHammer runs many goroutines over shared keys with every
// operation of the Store. Time moves in phases two windows apart, all
// goroutines of a phase at the same instant, so the outcome is exact:
//
//   - on the clean keys (checks only, cost 1), each phase admits exactly
//     the limit, and no decision ever shows a count above the limit;
//   - every locally admitted hit is drained exactly once (RecordHits);
//   - the dirty keys (checks, merges, resets) and the readers (Get, List,
//     Sweep, Stats) must only not race or panic.
func TestConcurrentHammer(t *testing.T) {
	const win = time.Second
	goroutines, phases, opsPerPhase := 8, 12, 400
	if testing.Short() {
		phases, opsPerPhase = 5, 200
	}
	clean := []struct {
		key   string
		limit int64
	}{{"clean:a", 5}, {"clean:b", window.ExactThreshold}, {"clean:c", 50}, {"clean:d", 150}}
	dirty := []string{"dirty:a", "dirty:b", "dirty:c"}

	s := window.New(window.Config{Shards: 4, RecordHits: true})
	seed := testSeed(t)

	var (
		admitted  [4]atomic.Int64 // per clean key, this phase
		attempts  [4]atomic.Int64 // per clean key, this phase
		localCost atomic.Int64    // every locally admitted cost
		drained   atomic.Int64    // cost seen by DrainHits
		drainMu   sync.Mutex      // one drainer at a time keeps the sum simple
	)
	drain := func() {
		drainMu.Lock()
		defer drainMu.Unlock()
		for _, h := range s.DrainHits(nil) {
			drained.Add(h.Cost)
		}
	}

	for p := 0; p < phases; p++ {
		now := at(time.Duration(p) * 2 * win)
		for i := range admitted {
			admitted[i].Store(0)
			attempts[i].Store(0)
		}
		var wg sync.WaitGroup
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(seed, uint64(p*goroutines+g)))
				for i := 0; i < opsPerPhase; i++ {
					switch op := rng.IntN(20); {
					case op < 8:
						c := rng.IntN(len(clean))
						d, err := s.Check(clean[c].key, 1, clean[c].limit, win, now)
						if err != nil {
							t.Error(err)
							return
						}
						if d.Count > d.Limit || d.Limit != clean[c].limit {
							t.Errorf("phase %d: %s: decision %+v", p, clean[c].key, d)
							return
						}
						attempts[c].Add(1)
						if d.Allowed {
							admitted[c].Add(1)
							localCost.Add(1)
						}
					case op < 11:
						cost := rng.Int64N(4)
						d, err := s.Check(dirty[rng.IntN(len(dirty))], cost, 1+rng.Int64N(20), win, now)
						if err != nil {
							t.Error(err)
							return
						}
						if d.Allowed && cost > 0 {
							localCost.Add(cost)
						}
					case op < 13:
						stamp := now.Add(-time.Duration(rng.IntN(1500)) * time.Millisecond)
						if err := s.Merge(dirty[rng.IntN(len(dirty))], stamp, 1+rng.Int64N(3), 1+rng.Int64N(20), win); err != nil {
							t.Error(err)
							return
						}
					case op < 14:
						s.Reset(dirty[rng.IntN(len(dirty))], now.Add(-time.Duration(1+rng.IntN(1000))*time.Millisecond))
					case op < 16:
						k := dirty[rng.IntN(len(dirty))]
						if rng.IntN(2) == 0 {
							k = clean[rng.IntN(len(clean))].key
						}
						if c, ok := s.Get(k, now); ok && (c.Key != k || c.Count <= 0) {
							t.Errorf("Get(%q): %+v", k, c)
							return
						}
					case op < 18:
						prev := ""
						for _, c := range s.List("", "", 3, now) {
							if c.Key <= prev || c.Count <= 0 {
								t.Errorf("List: %+v after %q", c, prev)
								return
							}
							prev = c.Key
						}
					case op < 19:
						s.Sweep(now, 2)
						_ = s.Stats()
					default:
						drain()
					}
				}
			}(g)
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for i, c := range clean {
			// All at one instant: exactly min(attempts, limit) pass.
			want := min(attempts[i].Load(), c.limit)
			if got := admitted[i].Load(); got != want {
				t.Fatalf("seed %d phase %d: %s (limit %d, %d checks) admitted %d in one window, want %d",
					seed, p, c.key, c.limit, attempts[i].Load(), got, want)
			}
			if n := count(s, c.key, now); n != want {
				t.Fatalf("seed %d phase %d: %s counts %d, want %d", seed, p, c.key, n, want)
			}
		}
	}
	drain()
	if d, l := drained.Load(), localCost.Load(); d != l {
		t.Fatalf("seed %d: drained cost %d, locally admitted cost %d", seed, d, l)
	}
}

// TestConcurrentNewKeys creates keys from many goroutines at once: every
// key is created once and counts every hit.
func TestConcurrentNewKeys(t *testing.T) {
	const goroutines, keys, rounds = 8, 512, 4 // keys: a power of two, so each walk below is a permutation
	s := window.New(window.Config{Shards: 2})
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				for i := 0; i < keys; i++ {
					// Every goroutine walks the keys in its own order.
					k := "n" + strconv.Itoa((i*(2*g+1)+g*31)%keys)
					d, err := s.Check(k, 1, 1000, time.Hour, t0)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if got, want := allowed.Load(), int64(goroutines*keys*rounds); got != want {
		t.Fatalf("allowed %d of %d", got, want)
	}
	if st := s.Stats(); st.Keys != keys || st.Created != keys {
		t.Fatalf("stats %+v, want %d keys created once", st, keys)
	}
	for i := 0; i < keys; i++ {
		if n := count(s, "n"+strconv.Itoa(i), t0); n != goroutines*rounds {
			t.Fatalf("key n%d counts %d, want %d", i, n, goroutines*rounds)
		}
	}
}
