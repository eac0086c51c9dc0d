package window_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

func keysOf(cs []window.Counter) []string {
	ks := make([]string, len(cs))
	for i, c := range cs {
		ks[i] = c.Key
	}
	return ks
}

func TestGet(t *testing.T) {
	s := window.New(window.Config{})
	if c, ok := s.Get("none", t0); ok {
		t.Fatalf("Get of an unknown key: %+v", c)
	}
	mustCheck(t, s, "k", 2, 5, 10*time.Second, t0)
	d := mustCheck(t, s, "k", 1, 5, 10*time.Second, at(time.Second))
	c, ok := s.Get("k", at(time.Second))
	want := window.Counter{Key: "k", Count: d.Count, Limit: d.Limit, Remaining: d.Remaining, Window: d.Window, ResetAfter: d.ResetAfter}
	if !ok || c != want {
		t.Fatalf("Get: %+v %v, want %+v", c, ok, want)
	}
	c, ok = s.Get("k", at(4*time.Second))
	want = window.Counter{Key: "k", Count: 3, Limit: 5, Remaining: 2, Window: 10 * time.Second, ResetAfter: 7 * time.Second}
	if !ok || c != want {
		t.Fatalf("Get later: %+v %v, want %+v", c, ok, want)
	}
	// Get only looks.
	if n := count(s, "k", at(4*time.Second)); n != 3 {
		t.Fatalf("count changed by Get: %d", n)
	}
	if c, ok := s.Get("k", at(11*time.Second)); ok {
		t.Fatalf("Get after the window: %+v", c)
	}
}

func TestListPrefixAndOrder(t *testing.T) {
	s := window.New(window.Config{Shards: 16})
	live := []string{"user:1", "user:10", "user:2", "user:", "admin:1", "use", "user;", "ü", "user:ü", "a/b%20c"}
	for _, k := range live {
		mustCheck(t, s, k, 1, 10, time.Hour, t0)
	}
	mustCheck(t, s, "user:expired", 1, 10, time.Second, t0)
	mustCheck(t, s, "user:reset", 1, 10, time.Hour, t0)
	s.Reset("user:reset", t0)
	mustCheck(t, s, "user:peeked", 0, 10, time.Hour, t0)
	now := at(5 * time.Second)

	sorted := slices.Clone(live)
	slices.Sort(sorted)
	if got := keysOf(s.List("", "", 100, now)); !slices.Equal(got, sorted) {
		t.Fatalf("List all:\n got %q\nwant %q", got, sorted)
	}
	var users []string
	for _, k := range sorted {
		if strings.HasPrefix(k, "user:") {
			users = append(users, k)
		}
	}
	if got := keysOf(s.List("user:", "", 100, now)); !slices.Equal(got, users) {
		t.Fatalf("List user::\n got %q\nwant %q", got, users)
	}
	if got := keysOf(s.List("user:", "user:10", 100, now)); !slices.Equal(got, []string{"user:2", "user:ü"}) {
		t.Fatalf("List after user:10: %q", got)
	}
	// after need not be a key.
	if got := keysOf(s.List("user:", "user:15", 100, now)); !slices.Equal(got, []string{"user:2", "user:ü"}) {
		t.Fatalf("List after user:15: %q", got)
	}
	if got := keysOf(s.List("user:", "", 2, now)); !slices.Equal(got, users[:2]) {
		t.Fatalf("List max 2: %q", got)
	}
	if got := s.List("nobody", "", 100, now); len(got) != 0 {
		t.Fatalf("List of an unused prefix: %+v", got)
	}
	// Counters carry the same values as Get.
	for _, c := range s.List("", "", 100, now) {
		g, ok := s.Get(c.Key, now)
		if !ok || g != c {
			t.Fatalf("List %+v, Get %+v %v", c, g, ok)
		}
	}
}

func TestListPages(t *testing.T) {
	const n = 1000
	s := window.New(window.Config{Shards: 8})
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("p:%x", i*7919)
		mustCheck(t, s, want[i], 1, 10, time.Hour, t0)
	}
	slices.Sort(want)
	for _, size := range []int{1, 7, 100, n, n + 1} {
		var got []string
		after := ""
		for pages := 0; pages <= n; pages++ {
			page := s.List("p:", after, size, t0)
			if len(page) > size {
				t.Fatalf("size %d: page of %d", size, len(page))
			}
			if len(page) == 0 {
				break
			}
			got = append(got, keysOf(page)...)
			after = page[len(page)-1].Key
		}
		if !slices.Equal(got, want) {
			t.Fatalf("size %d: paging returned %d keys, want %d, in order", size, len(got), n)
		}
	}
}

func TestListPagesWhileKeysChurn(t *testing.T) {
	// Stable keys live throughout while other goroutines create keys and
	// let them expire. Each full pass of paging must see every stable key
	// exactly once, in strictly increasing order.
	stable := 2000
	passes := 20
	if testing.Short() {
		stable, passes = 500, 8
	}
	s := window.New(window.Config{Shards: 8})
	var clock atomic.Int64 // ns after t0
	want := make([]string, stable)
	for i := range want {
		want[i] = "s:" + strconv.Itoa(i)
		mustCheck(t, s, want[i], 1, 10, time.Hour, t0)
	}
	slices.Sort(want)

	var stop atomic.Bool
	var wg sync.WaitGroup
	seed := testSeed(t)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for i := 0; i < 1_000_000 && !stop.Load(); i++ {
				now := clock.Add(int64(time.Millisecond))
				// Churn keys interleave with the stable ones in key order.
				k := "s:" + strconv.Itoa(rng.IntN(stable)) + "-" + strconv.Itoa(g)
				if _, err := s.Check(k, 1, 10, 50*time.Millisecond, tm(now)); err != nil {
					t.Error(err)
					return
				}
				if i%64 == 0 {
					s.Sweep(tm(now), 16)
				}
			}
		}(g)
	}
	for p := 0; p < passes; p++ {
		seen := make(map[string]int, stable)
		after, prev := "", ""
		for pages := 0; pages <= 4*stable; pages++ {
			page := s.List("s:", after, 1+p*13%97, tm(clock.Load()))
			if len(page) == 0 {
				break
			}
			for _, c := range page {
				if c.Key <= prev {
					t.Fatalf("pass %d: %q after %q: not in increasing order", p, c.Key, prev)
				}
				prev = c.Key
				seen[c.Key]++
			}
			after = page[len(page)-1].Key
		}
		for _, k := range want {
			if seen[k] != 1 {
				t.Fatalf("pass %d: stable key %q seen %d times", p, k, seen[k])
			}
		}
	}
	stop.Store(true)
	wg.Wait()
}
