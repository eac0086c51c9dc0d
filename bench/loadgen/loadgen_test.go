package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/bench/refserver"
	"github.com/valyala/fasthttp"
)

// fakeLimiter is a tiny ringlimit stand-in: it admits at most limit cost
// per key for the life of the server (no window), answers single and
// batched POST /check and GET /check, and injects faults on request.
type fakeLimiter struct {
	defaultLimit int64
	failEvery    int64 // every n-th request answers 503
	badEvery     int64 // every n-th request answers 200 with a bad body

	mu     sync.Mutex
	counts map[string]int64
	seq    atomic.Int64
	hits   atomic.Int64
}

type fakeCheck struct {
	Key   string `json:"key"`
	Cost  int64  `json:"cost"`
	Limit int64  `json:"limit"`
}

func (f *fakeLimiter) decide(c fakeCheck) (allowed bool, limit, count int64) {
	limit = c.Limit
	if limit == 0 {
		limit = f.defaultLimit
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.counts[c.Key]
	if n+c.Cost <= limit {
		n += c.Cost
		f.counts[c.Key] = n
		return true, limit, n
	}
	return false, limit, n
}

func (f *fakeLimiter) handle(ctx *fasthttp.RequestCtx) {
	f.hits.Add(1)
	n := f.seq.Add(1)
	if f.failEvery > 0 && n%f.failEvery == 0 {
		ctx.Error(`{"error":{"code":"unavailable","message":"injected"}}`, fasthttp.StatusServiceUnavailable)
		return
	}
	if f.badEvery > 0 && n%f.badEvery == 0 {
		ctx.SetBodyString(`{"results":[]}`)
		return
	}
	if string(ctx.Path()) != "/check" {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	if ctx.IsGet() {
		c := fakeCheck{Key: string(ctx.QueryArgs().Peek("key"))}
		c.Cost, _ = strconv.ParseInt(string(ctx.QueryArgs().Peek("cost")), 10, 64)
		c.Limit, _ = strconv.ParseInt(string(ctx.QueryArgs().Peek("limit")), 10, 64)
		if ok, _, _ := f.decide(c); ok {
			ctx.SetStatusCode(fasthttp.StatusNoContent)
		} else {
			ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
		}
		return
	}
	var body struct {
		fakeCheck
		Checks []fakeCheck `json:"checks"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &body); err != nil {
		ctx.Error(err.Error(), fasthttp.StatusBadRequest)
		return
	}
	type result struct {
		Key     string `json:"key"`
		Allowed bool   `json:"allowed"`
		Limit   int64  `json:"limit"`
		Count   int64  `json:"count"`
	}
	var out []byte
	if body.Checks != nil {
		var res struct {
			Results []result `json:"results"`
		}
		for _, c := range body.Checks {
			ok, l, n := f.decide(c)
			res.Results = append(res.Results, result{c.Key, ok, l, n})
		}
		out, _ = json.Marshal(res)
	} else {
		ok, l, n := f.decide(body.fakeCheck)
		out, _ = json.Marshal(result{body.Key, ok, l, n})
	}
	ctx.SetContentType("application/json")
	ctx.SetBody(out)
}

// serve starts h on a free 127.0.0.1 port and stops it when the test ends.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Shutdown()
		// Shutdown does nothing when Serve has not registered the
		// listener yet; closing it ends such a Serve too.
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func newFake(t *testing.T, f *fakeLimiter) string {
	f.counts = map[string]int64{}
	return serve(t, f.handle)
}

func startRef(t *testing.T) string {
	t.Helper()
	s, err := refserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("refserver: %v", err)
		}
	})
	return s.Addr()
}

// checkSums asserts the invariant every summary keeps.
func checkSums(t *testing.T, s *Summary) {
	t.Helper()
	b := uint64(s.Batch)
	if s.Allowed+s.Denied+s.Errors*b != s.Requests*b {
		t.Errorf("allowed %d + denied %d + errors %d×%d != requests %d×%d", s.Allowed, s.Denied, s.Errors, b, s.Requests, b)
	}
	var kinds uint64
	for _, n := range s.ErrorsByKind {
		kinds += n
	}
	if kinds != s.Errors {
		t.Errorf("errors by kind %v add up to %d, errors %d", s.ErrorsByKind, kinds, s.Errors)
	}
}

func TestRunAgainstReference(t *testing.T) {
	addr := startRef(t)
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 8, Requests: 2000, Label: "reference"})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	if s.Requests != 2000 || s.Allowed != 2000 || s.Errors != 0 || s.Stopped != "requests" {
		t.Fatalf("requests %d allowed %d errors %d (%v) stopped %q; want 2000 2000 0 requests",
			s.Requests, s.Allowed, s.Errors, s.ErrorsByKind, s.Stopped)
	}
	if s.Latency.Count != 2000 || s.Latency.P50 <= 0 || s.Latency.P50 > s.Latency.P99 || s.Latency.P99 > s.Latency.Max {
		t.Fatalf("latency %+v", s.Latency)
	}
	if s.RequestsPerS <= 0 || s.Label != "reference" {
		t.Fatalf("requests/s %v label %q", s.RequestsPerS, s.Label)
	}
}

func TestRunHonoursLimitExactly(t *testing.T) {
	// 5 keys with a limit of 7 each: exactly 35 checks are admitted, however
	// the requests are spread, in every mode.
	const keys, limit = 5, 7
	tests := []struct {
		name string
		o    Options
	}{
		{"post", Options{Requests: 300}},
		{"get", Options{Requests: 300, Method: "get"}},
		{"batch", Options{Requests: 30, Batch: 10}},
		{"open loop", Options{Requests: 300, Rate: 5000}},
		{"zipf", Options{Requests: 300, Dist: "zipf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeLimiter{defaultLimit: 1000}
			o := tt.o
			o.Addrs = []string{newFake(t, f)}
			o.Connections = 8
			o.Keys = keys
			o.Limit = limit
			s, err := Run(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			checkSums(t, s)
			if s.Errors != 0 {
				t.Fatalf("errors %v", s.ErrorsByKind)
			}
			if s.Allowed != keys*limit {
				t.Fatalf("allowed %d, want exactly %d", s.Allowed, keys*limit)
			}
			if got := uint64(f.hits.Load()); got != s.Requests {
				t.Fatalf("server saw %d requests, summary says %d", got, s.Requests)
			}
		})
	}
}

func TestRunCountsErrorsByKind(t *testing.T) {
	f := &fakeLimiter{defaultLimit: 1 << 40, failEvery: 10, badEvery: 7}
	addr := newFake(t, f)
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 4, Requests: 700, Keys: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	// Requests 1..700: multiples of 10 fail first, other multiples of 7
	// get a bad body.
	want503, wantBad := uint64(70), uint64(100-10)
	if s.ErrorsByKind["http_503"] != want503 || s.ErrorsByKind["bad_body"] != wantBad {
		t.Fatalf("errors by kind %v, want http_503 %d bad_body %d", s.ErrorsByKind, want503, wantBad)
	}
	if s.Allowed != 700-want503-wantBad || s.Denied != 0 {
		t.Fatalf("allowed %d denied %d", s.Allowed, s.Denied)
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "http 503 70") || !strings.Contains(text.String(), "bad body 90") {
		t.Fatalf("text summary lacks the error kinds:\n%s", text.String())
	}
}

func TestRunConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 2, Requests: 20, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	if s.Errors != 20 || s.ErrorsByKind["connect"] != 20 || s.Latency.Count != 0 {
		t.Fatalf("errors %d %v latency samples %d; want 20 connect errors and no samples", s.Errors, s.ErrorsByKind, s.Latency.Count)
	}
}

func TestRunTimeouts(t *testing.T) {
	release := make(chan struct{})
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	})
	defer close(release)
	start := time.Now()
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 2, Requests: 4, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	if s.ErrorsByKind["timeout"] != 4 {
		t.Fatalf("errors %v, want 4 timeouts", s.ErrorsByKind)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("run took %v with a 100ms timeout", el)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	addr := startRef(t)
	start := time.Now()
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 4, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	if s.Stopped != "duration" || s.ElapsedS < 0.3 || s.ElapsedS > 3 || s.Requests == 0 {
		t.Fatalf("stopped %q after %.3fs with %d requests", s.Stopped, s.ElapsedS, s.Requests)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Fatalf("warm-up plus duration took only %v", el)
	}
}

func TestOpenLoopKeepsSchedule(t *testing.T) {
	// 400 requests at 2000/s take at least 399/2000 s: never sent early.
	addr := startRef(t)
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 4, Requests: 400, Rate: 2000})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	if s.Requests != 400 || s.Errors != 0 || s.Loop != "open" {
		t.Fatalf("requests %d errors %v loop %s", s.Requests, s.ErrorsByKind, s.Loop)
	}
	if s.ElapsedS < 399.0/2000 {
		t.Fatalf("400 requests at 2000/s took %.3fs: sent ahead of schedule", s.ElapsedS)
	}
}

func TestOpenLoopChargesStalls(t *testing.T) {
	// One connection, a server that answers in 20ms, 200 requests/s for
	// 20 requests: requests queue behind each other, and latency counted
	// from the intended send time grows well past the 20ms service time.
	// A closed loop (coordinated omission) would report about 20ms.
	addr := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(20 * time.Millisecond)
		ctx.SetBodyString(`{"allowed":true}`)
	})
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 1, Requests: 20, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	// The 20th request is due at 95ms but cannot start before 19×20ms =
	// 380ms, so the worst latency is at least 380+20-95 ms.
	if s.Latency.Max < 300e3 {
		t.Fatalf("max latency %.0fµs, want ≥ 300ms of queueing charged", s.Latency.Max)
	}
}

func TestRunCanceled(t *testing.T) {
	addr := startRef(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	s, err := Run(ctx, Options{Addrs: []string{addr}, Connections: 2, Duration: time.Minute, Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	if s.Stopped != "canceled" || time.Since(start) > 10*time.Second {
		t.Fatalf("stopped %q after %v", s.Stopped, time.Since(start))
	}
	checkSums(t, s)
}

func TestRunTimeCap(t *testing.T) {
	addr := startRef(t)
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 2, Requests: MaxRequests, Rate: 100, MaxTime: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.Stopped != "time cap" || s.Requests > 100 {
		t.Fatalf("stopped %q with %d requests", s.Stopped, s.Requests)
	}
}

func TestRunSpreadsOverTargets(t *testing.T) {
	for _, pick := range []string{"roundrobin", "random"} {
		t.Run(pick, func(t *testing.T) {
			a, b := &fakeLimiter{defaultLimit: 1 << 40}, &fakeLimiter{defaultLimit: 1 << 40}
			addrs := []string{newFake(t, a), newFake(t, b)}
			s, err := Run(t.Context(), Options{Addrs: addrs, Pick: pick, Connections: 4, Requests: 1000})
			if err != nil {
				t.Fatal(err)
			}
			checkSums(t, s)
			ha, hb := a.hits.Load(), b.hits.Load()
			if ha+hb != 1000 || ha < 300 || hb < 300 {
				t.Fatalf("targets got %d and %d of 1000", ha, hb)
			}
			if pick == "roundrobin" && (ha-hb > 4 || hb-ha > 4) {
				t.Fatalf("round robin split %d/%d", ha, hb)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	addr := startRef(t)
	var buf syncBuffer
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 2, Duration: 600 * time.Millisecond,
		Rate: 1000, Progress: &buf, ProgressInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	out := buf.String()
	if strings.Count(out, "\r") < 2 || !strings.Contains(out, "req/s") || !strings.Contains(out, "p99") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("progress output %q", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8001", true},
		{"127.255.0.9:1", true},
		{"localhost:8001", true},
		{"LOCALHOST:8001", true},
		{"[::1]:8001", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"10.0.0.1:8001", false},
		{"192.168.1.1:80", false},
		{"0.0.0.0:8001", false},
		{"[::]:8001", false},
		{"[fe80::1%lo]:80", false},
		{"example.com:80", false},
		{"localhost.example.com:80", false},
		{"128.0.0.1:80", false},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
		if !tt.ok && !errors.Is(err, ErrRemote) {
			t.Errorf("CheckLoopback(%q) = %v, want ErrRemote", tt.addr, err)
		}
	}
}

func TestRunRefusesRemoteTargets(t *testing.T) {
	// The second target is remote: nothing may be sent, not even to the
	// loopback one.
	f := &fakeLimiter{defaultLimit: 10}
	local := newFake(t, f)
	for _, remote := range []string{"10.1.2.3:80", "http://192.168.0.1:8001", "example.com:80"} {
		_, err := Run(t.Context(), Options{Addrs: []string{local, remote}, Requests: 10})
		if !errors.Is(err, ErrRemote) {
			t.Errorf("Run with target %s: err %v, want ErrRemote", remote, err)
		}
	}
	if n := f.hits.Load(); n != 0 {
		t.Fatalf("the loopback target got %d requests from refused runs", n)
	}
	// With AllowRemote the options validate (no run: nothing is sent).
	o, err := Options{Addrs: []string{"http://10.1.2.3:80/"}, Requests: 1, AllowRemote: true}.withDefaults()
	if err != nil || o.Addrs[0] != "10.1.2.3:80" {
		t.Fatalf("AllowRemote: %v %v", o.Addrs, err)
	}
}

func TestOptionsValidation(t *testing.T) {
	base := Options{Addrs: []string{"127.0.0.1:1"}, Requests: 1}
	bad := map[string]func(o *Options){
		"no addr":           func(o *Options) { o.Addrs = nil },
		"addr without port": func(o *Options) { o.Addrs = []string{"127.0.0.1"} },
		"https":             func(o *Options) { o.Addrs = []string{"https://127.0.0.1:1"} },
		"unbounded":         func(o *Options) { o.Requests = 0 },
		"too long":          func(o *Options) { o.Duration = 2 * MaxDuration },
		"negative conns":    func(o *Options) { o.Connections = -1 },
		"dist":              func(o *Options) { o.Dist = "pareto" },
		"zipf s":            func(o *Options) { o.ZipfS = 0.5 },
		"batch":             func(o *Options) { o.Batch = MaxBatch + 1 },
		"get batch":         func(o *Options) { o.Method, o.Batch = "get", 10 },
		"method":            func(o *Options) { o.Method = "put" },
		"pick":              func(o *Options) { o.Pick = "fastest" },
		"prefix":            func(o *Options) { o.KeyPrefix = `a"b` },
		"path":              func(o *Options) { o.Path = "check" },
		"negative cost":     func(o *Options) { o.Cost = -1 },
		"negative rate":     func(o *Options) { o.Rate = -1 },
	}
	for name, mod := range bad {
		o := base
		mod(&o)
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	o, err := base.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Connections != 64 || o.Keys != 10000 || o.Dist != "uniform" || o.Cost != 1 || o.Batch != 1 ||
		o.Method != "post" || o.Path != "/check" || o.Timeout != 5*time.Second || o.MaxTime != DefaultMaxTime {
		t.Fatalf("defaults %+v", o)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{fasthttp.ErrDialTimeout, kindConnect},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, kindConnect},
		{fasthttp.ErrTimeout, kindTimeout},
		{fasthttp.ErrConnectionClosed, kindClosed},
		{errors.New("odd"), kindOther},
	}
	for _, tt := range tests {
		if got := classify(tt.err); got != tt.want {
			t.Errorf("classify(%v) = %s, want %s", tt.err, kindNames[got], kindNames[tt.want])
		}
	}
}

func TestCountsMerge(t *testing.T) {
	var a, b, m counts
	a.requests, a.allowed, a.denied = 10, 6, 3
	a.kinds[kindTimeout] = 1
	a.hist.Record(time.Millisecond)
	b.requests, b.allowed = 5, 2
	b.kinds[kindConnect] = 1
	b.status[500] = 2
	m.merge(&a)
	m.merge(&b)
	if m.requests != 15 || m.allowed != 8 || m.denied != 3 || m.errors() != 4 || m.hist.Count() != 1 {
		t.Fatalf("merged %d %d %d %d %d", m.requests, m.allowed, m.denied, m.errors(), m.hist.Count())
	}
	got := errorsByKind(&m)
	want := map[string]uint64{"timeout": 1, "connect": 1, "http_500": 2}
	if len(got) != len(want) {
		t.Fatalf("errorsByKind %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("errorsByKind %v, want %v", got, want)
		}
	}
}
