package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// t0 is the instant test clocks start at.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// manualClock is a clock tests move by hand.
type manualClock struct{ ns atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.ns.Store(t0.UnixNano())
	return c
}

func (c *manualClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testLogger routes logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testServer is a real server on 127.0.0.1, a real store and a manual clock.
type testServer struct {
	t       *testing.T
	srv     *Server
	store   *window.Store
	clock   *manualClock
	cluster Cluster
	addr    string
	client  *http.Client
}

type serverOpt func(*Config, *window.Config)

func startServer(t *testing.T, opts ...serverOpt) *testServer {
	return startServerWith(t, nil, opts...)
}

// startServerWith starts a server with cluster cl (nil: a Standalone over
// the store).
func startServerWith(t *testing.T, cl Cluster, opts ...serverOpt) *testServer {
	t.Helper()
	clock := newManualClock()
	cfg := Config{Logger: testLogger(t), Now: clock.Now}
	wcfg := window.Config{DefaultLimit: 100, DefaultWindow: time.Minute}
	for _, o := range opts {
		o(&cfg, &wcfg)
	}
	store := window.New(wcfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cl == nil {
		cl = NewStandalone(store, "node-1", ln.Addr().String(), clock.Now)
	}
	srv, err := New(cfg, store, cl)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	ts := &testServer{
		t: t, srv: srv, store: store, clock: clock, cluster: cl,
		addr:   ln.Addr().String(),
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}},
	}
	t.Cleanup(func() {
		ts.client.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

// response is an answer, body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request whose path and query are sent exactly as given.
func (ts *testServer) do(method, pathAndQuery string, body []byte, header ...string) response {
	ts.t.Helper()
	path, query, _ := strings.Cut(pathAndQuery, "?")
	u := &url.URL{Scheme: "http", Host: ts.addr, Opaque: path, RawQuery: query}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+ts.addr+"/", rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.URL = u
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, pathAndQuery, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (ts *testServer) post(path, body string, header ...string) response {
	ts.t.Helper()
	return ts.do(http.MethodPost, path, []byte(body), header...)
}

func (ts *testServer) get(path string, header ...string) response {
	ts.t.Helper()
	return ts.do(http.MethodGet, path, nil, header...)
}

// snapshot is every counter of the store and its stats, to show that a
// request changed nothing.
type snapshot struct {
	counters []window.Counter
	keys     int
	created  uint64
}

func (ts *testServer) snapshot() snapshot {
	now := ts.clock.Now()
	return snapshot{
		counters: ts.store.List("", "", 1<<20, now),
		keys:     ts.store.Stats().Keys,
		created:  ts.store.Stats().Created,
	}
}

func (ts *testServer) requireUnchanged(before snapshot, what string) {
	ts.t.Helper()
	if after := ts.snapshot(); !reflect.DeepEqual(before, after) {
		ts.t.Errorf("%s changed the store:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// decisionJSON is the JSON of a decision.
type decisionJSON struct {
	Key          string `json:"key"`
	Allowed      bool   `json:"allowed"`
	Limit        int64  `json:"limit"`
	Remaining    int64  `json:"remaining"`
	Count        int64  `json:"count"`
	WindowMS     int64  `json:"window_ms"`
	ResetAfterMS int64  `json:"reset_after_ms"`
	RetryAfterMS int64  `json:"retry_after_ms"`
}

type counterJSON struct {
	Key          string `json:"key"`
	Count        int64  `json:"count"`
	Limit        int64  `json:"limit"`
	Remaining    int64  `json:"remaining"`
	WindowMS     int64  `json:"window_ms"`
	ResetAfterMS int64  `json:"reset_after_ms"`
}

type countersJSON struct {
	Counters   []counterJSON `json:"counters"`
	NextCursor *string       `json:"next_cursor"`
}

// errorJSON is the shape of every error; decodeError insists on it.
type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// decodeStrict decodes b into v, refusing unknown fields and trailing data.
func decodeStrict(t testing.TB, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if dec.More() {
		t.Fatalf("trailing data in %s", b)
	}
}

// requireError checks that r is a JSON error with status and code.
func requireError(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e errorJSON
	decodeStrict(t, r.body, &e)
	if e.Error.Code != code {
		t.Errorf("code %q, want %q (body %s)", e.Error.Code, code, r.body)
	}
	if e.Error.Message == "" {
		t.Errorf("empty message in %s", r.body)
	}
}
