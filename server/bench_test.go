package server

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/window"
)

// The POST /check handler in process, on an existing key, beside a bare
// fasthttp handler that writes a fixed decision of the same size with the
// same headers: the difference is what ringlimit costs over fasthttp.

const benchBody = `{"key":"user:123","cost":1,"limit":1000000000,"window_ms":60000}`

func benchServer(b *testing.B) *Server {
	clock := NewCoarseClock(0)
	b.Cleanup(clock.Stop)
	store := window.New(window.Config{})
	srv, err := New(Config{Now: clock.Now}, store, NewStandalone(store, "n", "a", clock.Now))
	if err != nil {
		b.Fatal(err)
	}
	return srv
}

func benchCtx(method, uri, body string) *fasthttp.RequestCtx {
	ctx := new(fasthttp.RequestCtx)
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.SetBodyString(body)
	return ctx
}

func runBench(b *testing.B, h fasthttp.RequestHandler, body string) {
	ctx := benchCtx("POST", "/check", body)
	h(ctx)
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ctx.Response.Reset()
		h(ctx)
	}
}

func runBenchParallel(b *testing.B, h fasthttp.RequestHandler) {
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// One key per goroutine, as distinct clients would send.
		body := `{"key":"user:` + strconv.FormatInt(n.Add(1), 10) + `","cost":1,"limit":1000000000,"window_ms":60000}`
		ctx := benchCtx("POST", "/check", body)
		for pb.Next() {
			ctx.Response.Reset()
			h(ctx)
		}
	})
}

func BenchmarkPostCheck(b *testing.B) { runBench(b, benchServer(b).Handler, benchBody) }

func BenchmarkPostCheckParallel(b *testing.B) { runBenchParallel(b, benchServer(b).Handler) }

// bareDecision is a decision of the same size as ringlimit's answer.
var bareDecision = []byte(`{"key":"user:123","allowed":true,"limit":1000000000,"remaining":999999999,"count":1,"window_ms":60000,"reset_after_ms":60000,"retry_after_ms":0}`)

// bareHandler writes a fixed decision with the same headers, reading the
// body as a handler must: the floor of what any fasthttp check could cost.
func bareHandler(ctx *fasthttp.RequestCtx) {
	_ = ctx.PostBody()
	ctx.Response.Header.SetCanonical(headerPolicy, []byte(`"default";q=1000000000;w=60`))
	ctx.Response.Header.SetCanonical(headerRateLimit, []byte(`"default";r=999999999;t=60`))
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBody(bareDecision)
}

func BenchmarkBareFasthttp(b *testing.B) { runBench(b, bareHandler, benchBody) }

func BenchmarkBareFasthttpParallel(b *testing.B) { runBenchParallel(b, bareHandler) }

// BenchmarkDecode is the body decoder alone.
func BenchmarkDecode(b *testing.B) {
	body := []byte(benchBody)
	var one checkReq
	b.ReportAllocs()
	for b.Loop() {
		if _, _, e := decodeCheckBody(body, &one, nil); e != nil {
			b.Fatal(e)
		}
	}
}
