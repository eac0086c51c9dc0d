package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/window"
)

// TestSlowClient shows the read timeout: a client that sends half a
// request and stalls gets 408 request_timeout and is disconnected, and
// the node keeps serving.
func TestSlowClient(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *window.Config) { c.ReadTimeout = 300 * time.Millisecond })
	before := ts.snapshot()
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
	fmt.Fprint(conn, "POST /check HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"key\":")
	start := time.Now()
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		t.Fatalf("no answer to a stalled request: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("answered after %v with a 300 ms read timeout", d)
	}
	if resp.StatusCode() != 408 || !resp.ConnectionClose() {
		t.Errorf("stalled request: %d close=%v %s", resp.StatusCode(), resp.ConnectionClose(), resp.Body())
	}
	var e errorJSON
	if err := json.Unmarshal(resp.Body(), &e); err != nil || e.Error.Code != "request_timeout" {
		t.Errorf("body %s", resp.Body())
	}
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("connection still open after the timeout: %d %v", n, err)
	}
	ts.requireUnchanged(before, "a stalled request")
	if r := ts.get("/healthz"); r.status != 200 {
		t.Errorf("healthz after a slow client: %d", r.status)
	}
}

// TestConnectionCap shows MaxConns: past it a connection is answered 503
// (fasthttp's plain-text answer; it writes it before any handler runs) and
// closed, and a slot frees when a connection closes.
func TestConnectionCap(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *window.Config) { c.MaxConns = 1 })
	hold, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	hold.SetDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
	// Make sure the server serves hold before the next connection comes.
	fmt.Fprint(hold, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(hold)
	var resp fasthttp.Response
	if err := resp.Read(br); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("first connection: %v %d", err, resp.StatusCode())
	}

	over, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
	fmt.Fprint(over, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	var resp2 fasthttp.Response
	if err := resp2.Read(bufio.NewReader(over)); err != nil {
		t.Fatalf("second connection: %v", err)
	}
	if resp2.StatusCode() != 503 || !strings.Contains(string(resp2.Body()), "Concurrency") {
		t.Errorf("over the cap: %d %s", resp2.StatusCode(), resp2.Body())
	}

	hold.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ts.client.CloseIdleConnections()
		// Until the server has noticed the close, a new connection is
		// over the cap and answered 503 and closed, which the client
		// may see as an error: both mean "not yet".
		if resp, err := ts.client.Get("http://" + ts.addr + "/healthz"); err == nil {
			io.Copy(io.Discard, resp.Body) //nolint:errcheck
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no slot freed after the first connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
