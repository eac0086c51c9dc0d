//go:build !race

package refserver

import (
	"testing"

	"github.com/valyala/fasthttp"
)

func TestHandlerAllocatesNothing(t *testing.T) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/check")
	ctx.Request.SetBodyString(`{"key":"user:1"}`)
	Handler(&ctx)
	if allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		Handler(&ctx)
	}); allocs != 0 {
		t.Fatalf("Handler allocates %v times per request", allocs)
	}
}

func BenchmarkHandler(b *testing.B) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/check")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		Handler(&ctx)
	}
}
