package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/window"
)

// fakeCluster answers resets and readiness as told, and records calls.
type fakeCluster struct {
	mu        sync.Mutex
	resetErr  error
	readyErr  error
	result    ResetResult
	block     bool // Reset waits for its context to end
	keys      []string
	forwarded []bool
}

func (c *fakeCluster) Reset(ctx context.Context, key string, forwarded bool) (ResetResult, error) {
	c.mu.Lock()
	c.keys = append(c.keys, key)
	c.forwarded = append(c.forwarded, forwarded)
	res, err, block := c.result, c.resetErr, c.block
	c.mu.Unlock()
	if block {
		<-ctx.Done()
		return ResetResult{}, fmt.Errorf("waiting for the leader: %w", ctx.Err())
	}
	return res, err
}

func (c *fakeCluster) Status() ClusterStatus { return ClusterStatus{Node: "fake"} }

func (c *fakeCluster) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readyErr
}

func (c *fakeCluster) set(f func(*fakeCluster)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

func TestClusterErrors(t *testing.T) {
	fc := &fakeCluster{}
	ts := startServerWith(t, fc, func(c *Config, _ *window.Config) { c.ResetTimeout = 200 * time.Millisecond })

	t.Run("result, index and forwarding", func(t *testing.T) {
		fc.set(func(c *fakeCluster) { c.result = ResetResult{Reset: true, Index: 42} })
		r := ts.post("/api/counters/k1/reset", "")
		if r.status != 200 || string(r.body) != `{"key":"k1","reset":true}` || r.header.Get(IndexHeader) != "42" {
			t.Errorf("reset: %d %s %q", r.status, r.body, r.header.Get(IndexHeader))
		}
		ts.post("/api/counters/k2/reset", "", ForwardedHeader, "1")
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if fmt.Sprint(fc.keys, fc.forwarded) != "[k1 k2] [false true]" {
			t.Errorf("calls %v %v", fc.keys, fc.forwarded)
		}
	})
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("no quorum: %w", ErrNoLeader), 503, "no_leader"},
		{fmt.Errorf("forwarded to a follower: %w", ErrNotLeader), 503, "not_leader"},
		{ErrStopped, 503, "stopping"},
		{fmt.Errorf("apply: %w", context.DeadlineExceeded), 503, "no_leader"},
		{fmt.Errorf("bad key: %w", window.ErrInvalid), 400, "invalid_argument"},
		{errors.New("disk on fire"), 500, "internal"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			fc.set(func(c *fakeCluster) { c.resetErr = tc.err })
			requireError(t, ts.post("/api/counters/k/reset", ""), tc.status, tc.code)
			fc.set(func(c *fakeCluster) { c.readyErr = tc.err })
			r := ts.get("/readyz")
			want := tc.code
			if tc.status != 503 {
				want = "not_ready" // readiness is always a 503
			}
			requireError(t, r, 503, want)
		})
	}
	t.Run("reset timeout", func(t *testing.T) {
		fc.set(func(c *fakeCluster) { c.resetErr, c.block = nil, true })
		start := time.Now()
		requireError(t, ts.post("/api/counters/k/reset", ""), 503, "no_leader")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v with a 200 ms reset timeout", d)
		}
	})
	t.Run("members is an array", func(t *testing.T) {
		r := ts.get("/api/cluster")
		if !strings.Contains(string(r.body), `"members":[]`) {
			t.Errorf("status: %s", r.body)
		}
	})
}

// TestShutdownDrains starts a request, shuts the server down while the
// request's body is still on its way, and checks that the request is
// answered, that new connections are refused and that Shutdown returns.
func TestShutdownDrains(t *testing.T) {
	clock := newManualClock()
	store := window.New(window.Config{})
	srv, err := New(Config{Now: clock.Now, Logger: testLogger(t)}, store, NewStandalone(store, "n", "a", clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
	body := `{"key":"inflight","cost":2}`
	fmt.Fprintf(conn, "POST /check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
	// Let the server start reading this request before it shuts down.
	deadline := time.Now().Add(10 * time.Second)
	for !inFlight(srv) {
		if time.Now().After(deadline) {
			t.Fatal("the server never picked up the connection")
		}
		time.Sleep(5 * time.Millisecond)
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// New connections are refused once the listener is closed.
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener is still open")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}

	if _, err := conn.Write([]byte(body[5:])); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"count":2`) || !resp.ConnectionClose() {
		t.Errorf("in-flight answer: %d close=%v %s", resp.StatusCode(), resp.ConnectionClose(), resp.Body())
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Once shutting down, the node says it is not ready.
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/readyz")
	srv.Handler(&ctx)
	if ctx.Response.StatusCode() != 503 || !strings.Contains(string(ctx.Response.Body()), `"stopping"`) {
		t.Errorf("readyz after shutdown: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// inFlight reports whether the server has an open connection.
func inFlight(s *Server) bool { return s.srv.GetOpenConnectionsCount() > 0 }

// TestShutdownBeforeServe: a Shutdown that comes before Serve has got
// going (a stop right after the start) still stops it: Serve returns nil
// at once instead of serving forever.
func TestShutdownBeforeServe(t *testing.T) {
	for _, order := range []string{"shutdown first", "racing"} {
		t.Run(order, func(t *testing.T) {
			clock := newManualClock()
			store := window.New(window.Config{})
			srv, err := New(Config{Now: clock.Now, Logger: testLogger(t)}, store, NewStandalone(store, "n", "a", clock.Now))
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			if order == "racing" {
				go func() { done <- srv.Serve(ln) }()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			if order != "racing" {
				go func() { done <- srv.Serve(ln) }()
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve still running 10s after Shutdown")
			}
			if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
				c.Close()
				t.Fatal("the listener still accepts connections")
			}
		})
	}
}
