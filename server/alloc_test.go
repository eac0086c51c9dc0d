//go:build !race

package server

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/window"
)

// TestHotPathAllocs shows that a check on an existing key allocates
// nothing, through the whole handler (router, decoder, store, metrics,
// headers, body), with a reused RequestCtx as fasthttp's server reuses it.
func TestHotPathAllocs(t *testing.T) {
	clock := newManualClock()
	store := window.New(window.Config{})
	srv, err := New(Config{Now: clock.Now, Logger: testLogger(t)}, store, NewStandalone(store, "n", "a", clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, uri, body string
		status                  int
	}{
		{"POST /check allowed", "POST", "/check", `{"key":"user:123","cost":1,"limit":1000000000,"window_ms":60000}`, 200},
		{"POST /check denied", "POST", "/check", `{"key":"user:456","cost":2,"limit":3}`, 200},
		{"POST /check defaults", "POST", "/check", `{"key":"user:789","cost":0}`, 200},
		{"POST /check escaped key", "POST", "/check", `{"key":"caf\u00e9\/\"x\"","limit":1000000000}`, 200},
		{"POST /check batch", "POST", "/check", `{"checks":[{"key":"b:1","limit":1000000000},{"key":"b:2","cost":0}]}`, 200},
		{"GET /check allowed", "GET", "/check?key=proxy%3A1&limit=1000000000", "", 204},
		{"GET /check denied", "GET", "/check?key=proxy%3A2&cost=2&limit=3", "", 429},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			ctx.Request.Header.SetMethod(tc.method)
			ctx.Request.SetRequestURI(tc.uri)
			body := []byte(tc.body)
			run := func() {
				ctx.Request.SetBody(body) // the decoder unescapes in place
				ctx.Response.Reset()
				srv.Handler(&ctx)
			}
			for range 3 { // create the key, then reach its steady state
				run()
			}
			if got := ctx.Response.StatusCode(); got != tc.status {
				t.Fatalf("status %d, want %d: %s", got, tc.status, ctx.Response.Body())
			}
			clock.Advance(time.Millisecond)
			if allocs := testing.AllocsPerRun(2000, run); allocs != 0 {
				t.Errorf("%v allocations per request, want 0", allocs)
			}
			if got := ctx.Response.StatusCode(); got != tc.status {
				t.Fatalf("status %d, want %d: %s", got, tc.status, ctx.Response.Body())
			}
		})
	}
}
