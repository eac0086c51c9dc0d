package window_test

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

func TestSweepDropsIdleWindows(t *testing.T) {
	const n = 1000
	s := window.New(window.Config{Shards: 8})
	for i := 0; i < n; i++ {
		limit := int64(5) // half exact, half slots
		if i%2 == 1 {
			limit = 100
		}
		mustCheck(t, s, "idle:"+strconv.Itoa(i), 1, limit, time.Second, t0)
	}
	for i := 0; i < 10; i++ {
		mustCheck(t, s, "busy:"+strconv.Itoa(i), 1, 100, time.Hour, t0)
	}
	if got := s.Sweep(at(500*time.Millisecond), 1<<20); got != 0 {
		t.Fatalf("Sweep within the window dropped %d windows", got)
	}
	if st := s.Stats(); st.Keys != n+10 || st.Expired != 0 {
		t.Fatalf("stats before expiry: %+v", st)
	}
	// Two windows later every idle key has left, whatever the mode.
	if got := s.Sweep(at(2*time.Second), 1<<20); got != n {
		t.Fatalf("Sweep after the window dropped %d windows, want %d", got, n)
	}
	st := s.Stats()
	if st.Keys != 10 || st.Expired != n || st.Created != n+10 {
		t.Fatalf("stats after the sweep: %+v, want 10 keys, %d expired", st, n)
	}
	for i := 0; i < 10; i++ {
		if n := count(s, "busy:"+strconv.Itoa(i), at(2*time.Second)); n != 1 {
			t.Fatalf("a live key lost its count: %d", n)
		}
	}
	// A swept key starts again from zero.
	d := mustCheck(t, s, "idle:0", 1, 5, time.Second, at(2*time.Second))
	if !d.Allowed || d.Count != 1 {
		t.Fatalf("check of a swept key: %+v", d)
	}
}

func TestSweepIsIncremental(t *testing.T) {
	const n, shards = 500, 4
	s := window.New(window.Config{Shards: shards})
	for i := 0; i < n; i++ {
		mustCheck(t, s, strconv.Itoa(i), 1, 10, time.Second, t0)
	}
	now := at(time.Minute)
	total, calls := 0, 0
	for s.Stats().Keys > 0 && calls < 2*n {
		got := s.Sweep(now, 1)
		if got > shards {
			t.Fatalf("Sweep(perShard 1) over %d shards dropped %d windows", shards, got)
		}
		total += got
		calls++
	}
	if total != n || s.Stats().Keys != 0 || s.Stats().Expired != n {
		t.Fatalf("after %d calls of Sweep(perShard 1): dropped %d of %d, stats %+v", calls, total, n, s.Stats())
	}
}

func TestSweepDropsResetFloors(t *testing.T) {
	// A reset of an unknown key may keep its floor for a while, but not
	// for ever.
	s := window.New(window.Config{})
	s.Reset("ghost", t0)
	mustCheck(t, s, "k", 1, 5, time.Second, t0)
	s.Reset("k", at(time.Second))
	s.Sweep(at(time.Hour), 1<<20)
	if st := s.Stats(); st.Keys != 0 {
		t.Fatalf("reset floors outlived an hour of sweeps: %+v", st)
	}
}

func TestSweepReturnsMemory(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 50_000
	}
	s := window.New(window.Config{})
	var m0, m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	buf := make([]byte, 0, 32)
	for i := 0; i < n; i++ {
		buf = strconv.AppendInt(append(buf[:0], "mem:"...), int64(i), 10)
		limit := int64(100)
		if i%4 == 0 {
			limit = 3
		}
		mustCheck(t, s, string(buf), 1, limit, time.Second, t0)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	// Sweep until every window is gone (TestSweepDropsIdleWindows checks
	// that one call suffices); the memory is what this test measures.
	dropped := 0
	for i := 0; i < 100 && s.Stats().Keys > 0; i++ {
		dropped += s.Sweep(at(time.Minute), 1<<30)
	}
	if dropped != n || s.Stats().Keys != 0 {
		t.Fatalf("100 sweeps dropped %d of %d windows, %d left", dropped, n, s.Stats().Keys)
	}
	runtime.GC()
	runtime.ReadMemStats(&m2)
	runtime.KeepAlive(s)
	rise := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	fall := int64(m1.HeapAlloc) - int64(m2.HeapAlloc)
	t.Logf("%d keys: heap rose %d B (%d B/key), the sweep gave back %d B", n, rise, rise/int64(n), fall)
	if rise <= 0 {
		t.Fatalf("heap did not grow with %d keys (rose %d B)", n, rise)
	}
	if fall < rise/2 {
		t.Fatalf("after sweeping all %d keys the heap gave back %d of the %d B it grew by", n, fall, rise)
	}
}

func TestMaxKeysEvicts(t *testing.T) {
	for _, c := range []struct{ maxKeys, shards int }{{100, 4}, {1, 1}, {64, 1}, {1000, 16}, {10, 3}} {
		s := window.New(window.Config{MaxKeys: c.maxKeys, Shards: c.shards})
		// New documents a per-shard quota of MaxKeys/shards, rounded
		// down: never more than MaxKeys in all.
		bound := c.maxKeys
		const n = 3000
		for i := 0; i < n; i++ {
			d := mustCheck(t, s, "k"+strconv.Itoa(i), 1, 10, time.Hour, at(time.Duration(i)*time.Millisecond))
			if !d.Allowed || d.Count != 1 {
				t.Fatalf("%+v: check of new key %d: %+v", c, i, d)
			}
			if st := s.Stats(); st.Keys > bound {
				t.Fatalf("%+v: %d keys after %d inserts, cap %d", c, st.Keys, i+1, bound)
			}
		}
		st := s.Stats()
		if st.Created != n || st.Expired != 0 || st.Evictions != uint64(n-st.Keys) {
			t.Fatalf("%+v: stats %+v: want %d created, evictions = created - keys", c, st, n)
		}
		if st.Keys < min(c.maxKeys, n)/2 {
			t.Fatalf("%+v: only %d keys held", c, st.Keys)
		}
		if l := s.List("", "", n, at(n*time.Millisecond)); len(l) != st.Keys {
			t.Fatalf("%+v: List shows %d keys, Stats %d", c, len(l), st.Keys)
		}
	}
}

func TestMaxKeysDropsExpiredFirst(t *testing.T) {
	const max = 64
	s := window.New(window.Config{MaxKeys: max, Shards: 1})
	for i := 0; i < max; i++ {
		mustCheck(t, s, "old"+strconv.Itoa(i), 1, 10, time.Second, t0)
	}
	// Every old window is idle for a whole window: new keys replace them
	// without evicting a live one.
	now := at(5 * time.Second)
	for i := 0; i < max; i++ {
		mustCheck(t, s, "new"+strconv.Itoa(i), 1, 10, time.Hour, now)
	}
	if st := s.Stats(); st.Evictions != 0 || st.Keys > max {
		t.Fatalf("stats: %+v, want no evictions and at most %d keys", st, max)
	}
	for i := 0; i < max; i++ {
		if _, ok := s.Get("new"+strconv.Itoa(i), now); !ok {
			t.Fatalf("new%d lost", i)
		}
	}
	// Now the shard is full of live windows: the next new key evicts.
	mustCheck(t, s, "one-more", 1, 10, time.Hour, now)
	if st := s.Stats(); st.Evictions != 1 || st.Keys != max {
		t.Fatalf("stats after one more key: %+v, want 1 eviction, %d keys", st, max)
	}
}

func TestMaxKeysEvictedKeyStartsFromZero(t *testing.T) {
	s := window.New(window.Config{MaxKeys: 1, Shards: 1})
	mustCheck(t, s, "a", 3, 3, time.Hour, t0)
	if d := mustCheck(t, s, "a", 1, 3, time.Hour, t0); d.Allowed {
		t.Fatalf("a over its limit: %+v", d)
	}
	mustCheck(t, s, "b", 1, 3, time.Hour, at(time.Second))
	if _, ok := s.Get("a", at(time.Second)); ok {
		t.Fatal("a still held beside b with MaxKeys 1")
	}
	d := mustCheck(t, s, "a", 1, 3, time.Hour, at(2*time.Second))
	if !d.Allowed || d.Count != 1 {
		t.Fatalf("a after its eviction: %+v", d)
	}
	if st := s.Stats(); st.Evictions != 2 || st.Keys != 1 {
		t.Fatalf("stats: %+v, want 2 evictions, 1 key", st)
	}
}

func TestMaxKeysEvictsLeastRecentlyHit(t *testing.T) {
	s := window.New(window.Config{MaxKeys: 2, Shards: 1})
	mustCheck(t, s, "a", 1, 10, time.Hour, t0)
	mustCheck(t, s, "b", 1, 10, time.Hour, at(time.Second))
	mustCheck(t, s, "a", 1, 10, time.Hour, at(2*time.Second))
	mustCheck(t, s, "c", 1, 10, time.Hour, at(3*time.Second))
	now := at(3 * time.Second)
	if _, ok := s.Get("b", now); ok {
		t.Fatal("b, the least recently hit, was kept")
	}
	if n := count(s, "a", now); n != 2 {
		t.Fatalf("a: count %d, want 2", n)
	}
	if n := count(s, "c", now); n != 1 {
		t.Fatalf("c: count %d, want 1", n)
	}
}

func TestMaxKeysConcurrent(t *testing.T) {
	const maxKeys, goroutines, perG = 100, 4, 3000
	s := window.New(window.Config{MaxKeys: maxKeys, Shards: 8})
	var wg sync.WaitGroup
	var over atomic.Int64
	done := make(chan struct{})
	go func() { // a reader watching the bound while keys pour in
		defer close(done)
		for i := 0; i < 100_000; i++ {
			if k := s.Stats().Keys; k > maxKeys {
				over.Store(int64(k))
				return
			}
			if s.Stats().Created == goroutines*perG {
				return
			}
		}
	}()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				if _, err := s.Check("g"+strconv.Itoa(g)+":"+strconv.Itoa(i), 1, 10, time.Hour, t0); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	<-done
	st := s.Stats()
	if k := over.Load(); k > 0 || st.Keys > maxKeys {
		t.Fatalf("%d keys seen while filling, %d at the end, cap %d", k, st.Keys, maxKeys)
	}
	if st.Created != goroutines*perG || st.Evictions != st.Created-uint64(st.Keys) {
		t.Fatalf("stats %+v", st)
	}
}
