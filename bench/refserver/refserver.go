// Package refserver is the bare fasthttp reference server that ringlimit's
// over-loopback benchmarks are measured against.
//
// It answers POST /check with a fixed decision of the same shape, size and
// headers as ringlimit's (a 10-byte key, the size of the load generator's
// typical key) and does nothing else: no JSON parsing, no counting, no
// metrics. Anything else gets a bare 404. The ratio ringlimit/reference
// of throughput and latency therefore shows what ringlimit's own work
// costs on the same machine, with the same HTTP stack and load generator.
package refserver

import (
	"errors"
	"net"
	"sync"

	"github.com/valyala/fasthttp"
)

// Decision is the fixed body of every answer, byte for byte the shape of
// ringlimit's decision for a fresh key with the default limit.
const Decision = `{"key":"bench:1234","allowed":true,"limit":100,"remaining":99,"count":1,"window_ms":60000,"reset_after_ms":60000,"retry_after_ms":0}`

var (
	decision    = []byte(Decision)
	checkPath   = []byte("/check")
	contentType = []byte("application/json")
	policyName  = []byte("RateLimit-Policy")
	policyValue = []byte(`"default";q=100;w=60`)
	limitName   = []byte("RateLimit")
	limitValue  = []byte(`"default";r=99;t=60`)
)

// Handler answers POST /check with Decision; it allocates nothing.
func Handler(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() || string(ctx.Path()) != string(checkPath) {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	h := &ctx.Response.Header
	h.SetContentTypeBytes(contentType)
	h.SetBytesKV(policyName, policyValue)
	h.SetBytesKV(limitName, limitValue)
	ctx.SetBody(decision)
}

// Server is a running reference server. Close stops it. It is safe for
// concurrent use.
type Server struct {
	ln   net.Listener
	srv  *fasthttp.Server
	done chan struct{}
	err  error
	once sync.Once
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		ln: ln,
		srv: &fasthttp.Server{
			Handler: Handler,
			Name:    "ringlimit-ref",
		},
		done: make(chan struct{}),
	}
	go func() {
		s.err = s.srv.Serve(ln)
		close(s.done)
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Done is closed when the server has stopped serving.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops accepting, waits for open requests to finish and returns
// the error that stopped the server, if it was not Close.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.srv.Shutdown()
		// Shutdown does nothing when Serve has not registered the
		// listener yet; closing it ends such a Serve too.
		s.ln.Close()
		<-s.done
		if s.err != nil && !errors.Is(s.err, net.ErrClosed) {
			err = errors.Join(err, s.err)
		}
	})
	return err
}
