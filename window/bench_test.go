package window_test

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// The benchmarks check keys against a limit nothing reaches (1e9 a
// minute), so every check is allowed and counted. Their names match those
// of bench/compare, which runs the same shapes through other libraries.

const (
	benchLimit  = 1_000_000_000
	benchWindow = time.Minute
	benchKeyLen = 16 // one allocation size class: a copy costs exactly 16 B
)

var benchSizes = []int{1, 10_000, 1_000_000}

var benchKeysCache sync.Map // int → []string

// benchKeys returns n distinct uniform random keys of benchKeyLen bytes,
// the same on every call for the same n and salt.
func benchKeys(n int, salt uint64) []string {
	ck := uint64(n)<<8 | salt
	if v, ok := benchKeysCache.Load(ck); ok {
		return v.([]string)
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	rng := rand.New(rand.NewPCG(uint64(n), salt))
	seen := make(map[string]struct{}, n)
	keys := make([]string, 0, n)
	buf := make([]byte, benchKeyLen)
	for len(keys) < n {
		for i := range buf {
			buf[i] = alphabet[rng.IntN(len(alphabet))]
		}
		k := string(buf)
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		keys = append(keys, k)
	}
	benchKeysCache.Store(ck, keys)
	return keys
}

// benchFixture is a store holding n keys, built once per process, and the
// instant its next benchmark starts at (time only moves forward).
type benchFixture struct {
	s    *window.Store
	keys []string
	now  atomic.Int64 // ns after t0
}

var benchFixtures sync.Map // int → *benchFixture

func fixture(b *testing.B, n int) *benchFixture {
	if v, ok := benchFixtures.Load(n); ok {
		return v.(*benchFixture)
	}
	f := &benchFixture{s: window.New(window.Config{}), keys: benchKeys(n, 0)}
	for _, k := range f.keys {
		if _, err := f.s.Check(k, 1, benchLimit, benchWindow, t0); err != nil {
			b.Fatal(err)
		}
	}
	benchFixtures.Store(n, f)
	return f
}

// clock is a benchmark's coarse clock: it moves 1ms every 1024 operations,
// like a server's millisecond clock under load.
type clock struct {
	now time.Time
	i   int
}

func (c *clock) tick() time.Time {
	if c.i++; c.i&1023 == 0 {
		c.now = c.now.Add(time.Millisecond)
	}
	return c.now
}

// BenchmarkCheck: a check on an existing key with 1, 10 000 and 1 000 000
// live keys, visited in a random order.
func BenchmarkCheck(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			f := fixture(b, n)
			c := clock{now: tm(f.now.Load())}
			keys, j := f.keys, 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.s.Check(keys[j], 1, benchLimit, benchWindow, c.tick()); err != nil {
					b.Fatal(err)
				}
				if j++; j == len(keys) {
					j = 0
				}
			}
			b.StopTimer()
			f.now.Store(ns(c.now) + int64(time.Millisecond))
		})
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			f := fixture(b, n)
			start := tm(f.now.Load())
			var latest atomic.Int64
			var g atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := clock{now: start}
				keys := f.keys
				j := int(g.Add(7919)) % len(keys) // goroutines start apart
				for pb.Next() {
					if _, err := f.s.Check(keys[j], 1, benchLimit, benchWindow, c.tick()); err != nil {
						b.Error(err)
						return
					}
					if j++; j == len(keys) {
						j = 0
					}
				}
				for t := ns(c.now); t > latest.Load(); {
					if latest.CompareAndSwap(latest.Load(), t) {
						break
					}
				}
			})
			b.StopTimer()
			f.now.Store(max(latest.Load(), ns(start)) + int64(time.Millisecond))
		})
	}
}

// dropFixtures lets the garbage collector have the fixtures of the other
// benchmarks: a benchmark that allocates would otherwise pay for scanning
// them (hundreds of MB at 1M keys) on every collection.
func dropFixtures() {
	benchFixtures.Clear()
	runtime.GC()
}

// newKeyPool is how many fresh keys a new-key benchmark uses per store.
const newKeyPool = 1 << 20

// BenchmarkCheckNewKey: the first check of a key the store has not seen
// (the store grows as it goes; a new store every newKeyPool keys).
func BenchmarkCheckNewKey(b *testing.B) {
	dropFixtures()
	keys := benchKeys(newKeyPool, 1)
	s := window.New(window.Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i++ {
		if j == len(keys) {
			b.StopTimer()
			s, j = window.New(window.Config{}), 0
			runtime.GC()
			b.StartTimer()
		}
		if _, err := s.Check(keys[j], 1, benchLimit, benchWindow, t0); err != nil {
			b.Fatal(err)
		}
		j++
	}
}

func BenchmarkCheckNewKeyParallel(b *testing.B) {
	dropFixtures()
	keys := benchKeys(newKeyPool, 1)
	// Enough stores that every operation finds a key new to its store.
	stores := make([]*window.Store, b.N/len(keys)+2*runtime.GOMAXPROCS(0)+1)
	for i := range stores {
		stores[i] = window.New(window.Config{})
	}
	var next atomic.Int64
	const block = 1024 // indices a goroutine takes at once
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var i, end int64
		for pb.Next() {
			if i == end {
				i = next.Add(block) - block
				end = i + block
			}
			s := stores[i/int64(len(keys))]
			if _, err := s.Check(keys[i%int64(len(keys))], 1, benchLimit, benchWindow, t0); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkMerge: a peer's hit merged into an existing key.
func BenchmarkMerge(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			f := fixture(b, n)
			c := clock{now: tm(f.now.Load())}
			keys, j := f.keys, 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := f.s.Merge(keys[j], c.tick(), 1, benchLimit, benchWindow); err != nil {
					b.Fatal(err)
				}
				if j++; j == len(keys) {
					j = 0
				}
			}
			b.StopTimer()
			f.now.Store(ns(c.now) + int64(time.Millisecond))
		})
	}
}

func BenchmarkMergeParallel(b *testing.B) {
	for _, n := range benchSizes {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			f := fixture(b, n)
			start := tm(f.now.Load())
			var g atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := clock{now: start}
				keys := f.keys
				j := int(g.Add(7919)) % len(keys)
				for pb.Next() {
					if err := f.s.Merge(keys[j], c.tick(), 1, benchLimit, benchWindow); err != nil {
						b.Error(err)
						return
					}
					if j++; j == len(keys) {
						j = 0
					}
				}
			})
			b.StopTimer()
			// Each goroutine's clock moved at most b.N/1024 ms.
			f.now.Store(ns(start) + int64(b.N/1024+1)*int64(time.Millisecond))
		})
	}
}

// BenchmarkBytesPerKey inserts 1 000 000 keys into a new store at default
// settings (slot mode) and with an exact-mode limit, and reports the heap
// each live key costs, the key's own bytes excluded. ns/op is the time to
// insert them all.
func BenchmarkBytesPerKey(b *testing.B) {
	const n = 1_000_000
	keys := benchKeys(n, 2)
	keyBytes := uint64(n * benchKeyLen) // the store's copies of the keys
	for _, m := range []struct {
		name  string
		limit int64
	}{{"slots", 0}, {"exact", window.ExactThreshold}} {
		b.Run("mode="+m.name, func(b *testing.B) {
			dropFixtures()
			b.ReportAllocs()
			var perKey float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				b.StartTimer()
				s := window.New(window.Config{})
				for _, k := range keys {
					if _, err := s.Check(k, 1, m.limit, 0, t0); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				if st := s.Stats(); st.Keys != n {
					b.Fatalf("%d keys held, want %d", st.Keys, n)
				}
				runtime.KeepAlive(s)
				perKey = (float64(m1.HeapAlloc) - float64(m0.HeapAlloc) - float64(keyBytes)) / n
				b.StartTimer()
			}
			b.ReportMetric(perKey, "B/key")
		})
	}
}
