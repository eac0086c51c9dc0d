package refserver

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestServerAnswersCheck(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}()
	c := &fasthttp.HostClient{Addr: s.Addr()}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)

	req.SetRequestURI("http://" + s.Addr() + "/check")
	req.Header.SetMethod("POST")
	req.SetBodyString(`{"key":"user:1","cost":1}`)
	if err := c.Do(req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 200 || string(resp.Body()) != Decision {
		t.Fatalf("POST /check = %d %q", resp.StatusCode(), resp.Body())
	}
	if got := string(resp.Header.ContentType()); got != "application/json" {
		t.Errorf("Content-Type %q", got)
	}
	if got := string(resp.Header.Peek("RateLimit-Policy")); got != `"default";q=100;w=60` {
		t.Errorf("RateLimit-Policy %q", got)
	}
	if got := string(resp.Header.Peek("RateLimit")); got != `"default";r=99;t=60` {
		t.Errorf("RateLimit %q", got)
	}
	var d struct {
		Key                                                           string
		Allowed                                                       bool
		Limit, Remaining, Count, WindowMS, ResetAfterMS, RetryAfterMS int64
	}
	if err := json.Unmarshal(resp.Body(), &d); err != nil || !d.Allowed || d.Limit != 100 || d.Remaining != 99 {
		t.Fatalf("decision %+v: %v", d, err)
	}

	for _, tt := range []struct{ method, path string }{{"GET", "/check"}, {"POST", "/other"}, {"POST", "/check/x"}} {
		req.Header.SetMethod(tt.method)
		req.SetRequestURI("http://" + s.Addr() + tt.path)
		if err := c.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != 404 {
			t.Errorf("%s %s = %d, want 404", tt.method, tt.path, resp.StatusCode())
		}
	}
}

func TestCloseRightAfterStart(t *testing.T) {
	for range 20 {
		s, err := Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case <-s.Done():
		default:
			t.Fatal("Done not closed after Close")
		}
	}
}

func TestStartBadAddr(t *testing.T) {
	if _, err := Start("127.0.0.1:-1"); err == nil {
		t.Fatal("Start on a bad address succeeded")
	}
}
