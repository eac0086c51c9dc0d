package window_test

import (
	"fmt"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// A limiter of 100 requests a minute per key, holding at most a million
// keys. Time is an argument: pass the request's time.
func Example() {
	limiter := window.New(window.Config{DefaultLimit: 100, DefaultWindow: time.Minute, MaxKeys: 1_000_000})
	d, err := limiter.Check("user:123", 1, 0, 0, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Allowed, d.Limit, d.Remaining, d.Window)
	// Output: true 100 99 1m0s
}

func ExampleStore_Check() {
	s := window.New(window.Config{DefaultLimit: 3, DefaultWindow: time.Minute})
	start := time.Unix(1_700_000_000, 0)
	for i := 0; i < 4; i++ {
		d, _ := s.Check("user:42", 1, 0, 0, start.Add(time.Duration(i)*time.Second))
		fmt.Printf("allowed=%v count=%d remaining=%d retry-after=%v\n", d.Allowed, d.Count, d.Remaining, d.RetryAfter)
	}
	// A cost of 0 only looks.
	d, _ := s.Check("user:42", 0, 0, 0, start.Add(4*time.Second))
	fmt.Printf("peek: count=%d reset-after=%v\n", d.Count, d.ResetAfter)
	// A cost above the limit can never be allowed.
	d, _ = s.Check("user:42", 4, 0, 0, start.Add(4*time.Second))
	fmt.Printf("cost 4: allowed=%v retry-after=%v\n", d.Allowed, d.RetryAfter)
	// Output:
	// allowed=true count=1 remaining=2 retry-after=0s
	// allowed=true count=2 remaining=1 retry-after=0s
	// allowed=true count=3 remaining=0 retry-after=0s
	// allowed=false count=3 remaining=0 retry-after=57s
	// peek: count=3 reset-after=58s
	// cost 4: allowed=false retry-after=-1ns
}

func ExampleStore_Reset() {
	s := window.New(window.Config{})
	now := time.Unix(1_700_000_000, 0)
	s.Check("user:42", 5, 5, time.Minute, now)
	d, _ := s.Check("user:42", 1, 5, time.Minute, now)
	fmt.Println("before the reset, allowed:", d.Allowed)
	fmt.Println("the reset cleared a live count:", s.Reset("user:42", now))
	// A hit stamped before the reset that arrives late from a peer is
	// ignored.
	_ = s.Merge("user:42", now.Add(-time.Second), 1, 5, time.Minute)
	d, _ = s.Check("user:42", 1, 5, time.Minute, now.Add(time.Second))
	fmt.Println("after the reset, allowed:", d.Allowed, "count:", d.Count)
	fmt.Println("a reset of an unknown key cleared a live count:", s.Reset("nobody", now))
	// Output:
	// before the reset, allowed: false
	// the reset cleared a live count: true
	// after the reset, allowed: true count: 1
	// a reset of an unknown key cleared a live count: false
}

// Two nodes share their hits: the first records its admitted hits, the
// second merges them at their own time stamps.
func ExampleStore_Merge() {
	a := window.New(window.Config{RecordHits: true})
	b := window.New(window.Config{})
	now := time.Unix(1_700_000_000, 0)
	_, _ = a.Check("api-key:7", 2, 5, time.Minute, now)
	for _, h := range a.DrainHits(nil) {
		_ = b.Merge(h.Key, h.Stamp, h.Cost, h.Limit, h.Window)
	}
	c, _ := b.Get("api-key:7", now.Add(time.Second))
	fmt.Println(c.Count, c.Remaining, c.ResetAfter)
	// Output: 2 3 59s
}

func ExampleStore_Get() {
	s := window.New(window.Config{})
	now := time.Unix(1_700_000_000, 0)
	_, _ = s.Check("user:42", 1, 5, 10*time.Second, now)
	c, ok := s.Get("user:42", now.Add(4*time.Second))
	fmt.Printf("%v %+v\n", ok, c)
	_, ok = s.Get("user:42", now.Add(10*time.Second))
	fmt.Println(ok)
	// Output:
	// true {Key:user:42 Count:1 Limit:5 Remaining:4 Window:10s ResetAfter:6s}
	// false
}

// List pages through the live keys with a prefix, in key order.
func ExampleStore_List() {
	s := window.New(window.Config{})
	now := time.Unix(1_700_000_000, 0)
	for _, k := range []string{"user:3", "user:1", "admin:1", "user:2"} {
		_, _ = s.Check(k, 1, 5, time.Minute, now)
	}
	after := ""
	for {
		page := s.List("user:", after, 2, now)
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			fmt.Println(c.Key, c.Count)
		}
		after = page[len(page)-1].Key
	}
	// Output:
	// user:1 1
	// user:2 1
	// user:3 1
}

// Sweep drops windows idle for a whole window; call it now and then.
func ExampleStore_Sweep() {
	s := window.New(window.Config{})
	now := time.Unix(1_700_000_000, 0)
	_, _ = s.Check("k", 1, 5, time.Second, now)
	fmt.Println(s.Sweep(now.Add(500*time.Millisecond), 100), s.Stats().Keys)
	fmt.Println(s.Sweep(now.Add(2*time.Second), 100), s.Stats().Keys, s.Stats().Expired)
	// Output:
	// 0 1
	// 1 0 1
}
