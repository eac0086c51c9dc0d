package compare

import (
	"context"
	"hash/maphash"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
	"github.com/sethvargo/go-limiter"
	"github.com/sethvargo/go-limiter/memorystore"
	"golang.org/x/time/rate"
)

// Every library gets the same limit, 1e9 a minute, so nothing is denied
// and every check does its full work.
const (
	perMinute = 1_000_000_000
	interval  = time.Minute
	keyLen    = 16
)

var (
	sizes = []int{1, 10_000, 1_000_000}
	t0    = time.Unix(1_700_000_000, 0)
)

// A lib is one library behind the same small interface. take spends one
// unit of key's budget at now and reports whether it was allowed.
// go-limiter reads the clock itself and ignores now.
type lib struct {
	name string
	new  func() taker
}

type taker interface {
	take(key string, now time.Time) bool
	close()
}

var libs = []lib{
	{"ringlimit", func() taker { return ringlimit{window.New(window.Config{})} }},
	{"xtime-rate", func() taker { return newRateMap() }},
	{"go-limiter", func() taker { return newGoLimiter() }},
}

// ringlimit: window.Store.
type ringlimit struct{ s *window.Store }

func (r ringlimit) take(key string, now time.Time) bool {
	d, err := r.s.Check(key, 1, perMinute, interval, now)
	return err == nil && d.Allowed
}

func (ringlimit) close() {}

// rateMap: one *rate.Limiter per key behind a sharded map: 256 shards of
// mutex+map, the shard picked by maphash.
type rateMap struct {
	seed   maphash.Seed
	shards [256]rateShard
}

type rateShard struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
	_  [40]byte // one shard per cache line
}

func newRateMap() *rateMap {
	r := &rateMap{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*rate.Limiter)
	}
	return r
}

func (r *rateMap) take(key string, now time.Time) bool {
	sh := &r.shards[maphash.String(r.seed, key)&255]
	sh.mu.Lock()
	l := sh.m[key]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(float64(perMinute)/interval.Seconds()), perMinute)
		sh.m[strings.Clone(key)] = l
	}
	sh.mu.Unlock()
	return l.AllowN(now, 1)
}

func (*rateMap) close() {}

// goLimiter: github.com/sethvargo/go-limiter/memorystore.
type goLimiter struct{ s limiter.Store }

func newGoLimiter() goLimiter {
	s, err := memorystore.New(&memorystore.Config{Tokens: perMinute, Interval: interval})
	if err != nil {
		panic(err)
	}
	return goLimiter{s}
}

func (g goLimiter) take(key string, _ time.Time) bool {
	_, _, _, ok, err := g.s.Take(context.Background(), key)
	return err == nil && ok
}

func (g goLimiter) close() { _ = g.s.Close(context.Background()) }

var keysCache sync.Map // n<<8|salt → []string

// keys returns n distinct uniform random keys of keyLen bytes.
func keys(n int, salt uint64) []string {
	ck := uint64(n)<<8 | salt
	if v, ok := keysCache.Load(ck); ok {
		return v.([]string)
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	rng := rand.New(rand.NewPCG(uint64(n), salt))
	seen := make(map[string]struct{}, n)
	ks := make([]string, 0, n)
	buf := make([]byte, keyLen)
	for len(ks) < n {
		for i := range buf {
			buf[i] = alphabet[rng.IntN(len(alphabet))]
		}
		k := string(buf)
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			ks = append(ks, k)
		}
	}
	keysCache.Store(ck, ks)
	return ks
}

// A fixture is a library holding n keys, built once per process, and the
// instant its next benchmark starts at.
type fixture struct {
	t    taker
	keys []string
	now  atomic.Int64 // ns after t0
}

var fixtures sync.Map // name/n → *fixture

func getFixture(b *testing.B, l lib, n int) *fixture {
	id := l.name + "/" + strconv.Itoa(n)
	if v, ok := fixtures.Load(id); ok {
		return v.(*fixture)
	}
	f := &fixture{t: l.new(), keys: keys(n, 0)}
	for _, k := range f.keys {
		if !f.t.take(k, t0) {
			b.Fatalf("%s: first take of %q denied", l.name, k)
		}
	}
	fixtures.Store(id, f)
	return f
}

// clock moves 1ms every 1024 operations, like a coarse server clock.
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
	for _, l := range libs {
		for _, n := range sizes {
			b.Run("lib="+l.name+"/keys="+strconv.Itoa(n), func(b *testing.B) {
				f := getFixture(b, l, n)
				c := clock{now: t0.Add(time.Duration(f.now.Load()))}
				ks, j := f.keys, 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if !f.t.take(ks[j], c.tick()) {
						b.Fatal("denied")
					}
					if j++; j == len(ks) {
						j = 0
					}
				}
				b.StopTimer()
				f.now.Store(int64(c.now.Sub(t0) + time.Millisecond))
			})
		}
	}
}

func BenchmarkCheckParallel(b *testing.B) {
	for _, l := range libs {
		for _, n := range sizes {
			b.Run("lib="+l.name+"/keys="+strconv.Itoa(n), func(b *testing.B) {
				f := getFixture(b, l, n)
				start := t0.Add(time.Duration(f.now.Load()))
				var g atomic.Int64
				var denied atomic.Bool
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					c := clock{now: start}
					ks := f.keys
					j := int(g.Add(7919)) % len(ks)
					for pb.Next() {
						if !f.t.take(ks[j], c.tick()) {
							denied.Store(true)
						}
						if j++; j == len(ks) {
							j = 0
						}
					}
				})
				b.StopTimer()
				if denied.Load() {
					b.Fatal("denied")
				}
				f.now.Store(int64(start.Sub(t0)) + int64(b.N/1024+1)*int64(time.Millisecond))
			})
		}
	}
}

const newKeyPool = 1 << 20

// dropFixtures lets the garbage collector have the fixtures of the other
// benchmarks: a benchmark that allocates would otherwise pay for scanning
// them (hundreds of MB at 1M keys) on every collection.
func dropFixtures() {
	fixtures.Clear()
	runtime.GC()
}

// BenchmarkCheckNewKey: the first check of a key the library has not seen
// (a new instance every newKeyPool keys).
func BenchmarkCheckNewKey(b *testing.B) {
	for _, l := range libs {
		b.Run("lib="+l.name, func(b *testing.B) {
			dropFixtures()
			ks := keys(newKeyPool, 1)
			t := l.new()
			b.ReportAllocs()
			b.ResetTimer()
			for i, j := 0, 0; i < b.N; i++ {
				if j == len(ks) {
					b.StopTimer()
					t.close()
					t, j = l.new(), 0
					runtime.GC()
					b.StartTimer()
				}
				if !t.take(ks[j], t0) {
					b.Fatal("denied")
				}
				j++
			}
			b.StopTimer()
			t.close()
		})
	}
}

func BenchmarkCheckNewKeyParallel(b *testing.B) {
	for _, l := range libs {
		b.Run("lib="+l.name, func(b *testing.B) {
			dropFixtures()
			ks := keys(newKeyPool, 1)
			ts := make([]taker, b.N/len(ks)+2*runtime.GOMAXPROCS(0)+1)
			for i := range ts {
				ts[i] = l.new()
			}
			var next atomic.Int64
			var denied atomic.Bool
			const block = 1024
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var i, end int64
				for pb.Next() {
					if i == end {
						i = next.Add(block) - block
						end = i + block
					}
					if !ts[i/int64(len(ks))].take(ks[i%int64(len(ks))], t0) {
						denied.Store(true)
					}
					i++
				}
			})
			b.StopTimer()
			for _, t := range ts {
				t.close()
			}
			if denied.Load() {
				b.Fatal("denied")
			}
		})
	}
}

// BenchmarkBytesPerKey inserts 1 000 000 keys and reports the heap each
// live key costs, the key's own bytes excluded. The keys are made fresh
// for the measured instance, so a library that keeps the caller's string
// and one that copies it are charged alike: the key bytes are subtracted
// from both.
func BenchmarkBytesPerKey(b *testing.B) {
	const n = 1_000_000
	src := keys(n, 2)
	for _, l := range libs {
		b.Run("lib="+l.name, func(b *testing.B) {
			dropFixtures()
			b.ReportAllocs()
			var perKey float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				fresh := make([][]byte, n)
				for j, k := range src {
					fresh[j] = []byte(k)
				}
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				b.StartTimer()
				t := l.new()
				for j := range fresh {
					if !t.take(string(fresh[j]), t0) {
						b.Fatal("denied")
					}
				}
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				runtime.KeepAlive(fresh)
				runtime.KeepAlive(t)
				perKey = (float64(m1.HeapAlloc) - float64(m0.HeapAlloc) - n*keyLen) / n
				t.close()
				b.StartTimer()
			}
			b.ReportMetric(perKey, "B/key")
		})
	}
}
