// Package server is ringlimit's HTTP API v1 on fasthttp: checks, the
// counters, resets through the cluster, status, health and metrics.
//
// The server declares what it needs on its own side: a [Limiter] (the
// window store) and a [Cluster] (resets committed on every replica, status,
// readiness). [Standalone] is the one-node Cluster.
//
// A POST /check on an existing key allocates nothing: the body is decoded
// by a strict hand-written JSON reader that unescapes strings in place, the
// key handed to the store aliases the request body (the store copies a
// key it keeps), the answer is built with strconv.Append* in pooled
// buffers, the clock is a [CoarseClock], and the metrics are pre-built
// counters. No handler keeps the *fasthttp.RequestCtx after it returns.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"
)

// Server serves the HTTP API. Create it with New; the zero value is not
// usable. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	lim      Limiter
	cluster  Cluster
	log      *slog.Logger
	now      func() time.Time
	clock    *CoarseClock // non-nil when the server owns its clock
	m        *serverMetrics
	router   *router.Router
	srv      *fasthttp.Server
	tokenSum [sha256.Size]byte
	stopping atomic.Bool

	lnMu     sync.Mutex
	ln       net.Listener // what Serve was given
	shutDown bool         // Shutdown was called: Serve serves nothing more
}

// New returns a Server answering checks from lim and resets and status
// from cl. It does not listen yet: see Serve and ListenAndServe.
func New(cfg Config, lim Limiter, cl Cluster) (*Server, error) {
	if lim == nil || cl == nil {
		return nil, errors.New("server: a Limiter and a Cluster are required")
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, lim: lim, cluster: cl, log: cfg.Logger, now: cfg.Now}
	if s.now == nil {
		s.clock = NewCoarseClock(DefaultClockResolution)
		s.now = s.clock.Now
	}
	if cfg.AdminToken != "" {
		s.tokenSum = sha256.Sum256([]byte(cfg.AdminToken))
	}
	s.m = newServerMetrics(cfg.Metrics, lim)
	s.router = s.routes()
	s.srv = &fasthttp.Server{
		Handler:                      s.router.Handler,
		ErrorHandler:                 s.parseError,
		Name:                         "ringlimit",
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		MaxRequestBodySize:           cfg.MaxBodyBytes,
		Concurrency:                  cfg.MaxConns,
		MaxConnsPerIP:                cfg.MaxConnsPerIP,
		CloseOnShutdown:              true,
		DisablePreParseMultipartForm: true,
		Logger:                       fasthttpLogger{cfg.Logger},
	}
	return s, nil
}

func (s *Server) routes() *router.Router {
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleOPTIONS = false
	r.POST("/check", s.postCheck)
	r.GET("/check", s.getCheck)
	r.GET("/api/counters", s.listCounters)
	r.GET(countersPrefix+"{key:*}", s.getCounter)
	r.POST(countersPrefix+"{key:*}", s.resetCounter)
	r.GET("/api/cluster", s.clusterStatus)
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metrics)
	r.NotFound = s.notFound
	r.MethodNotAllowed = s.methodNotAllowed
	r.PanicHandler = s.panicked
	return r
}

// Handler is the server's request handler, for tests and for embedding in
// another fasthttp server.
func (s *Server) Handler(ctx *fasthttp.RequestCtx) { s.router.Handler(ctx) }

// Metrics returns the set served at /metrics, to register more metrics in.
func (s *Server) Metrics() *metrics.Set { return s.cfg.Metrics }

// Serve serves HTTP on ln until Shutdown; it returns nil after Shutdown,
// also when Shutdown came first.
func (s *Server) Serve(ln net.Listener) error {
	s.lnMu.Lock()
	if s.shutDown {
		s.lnMu.Unlock()
		ln.Close()
		return nil
	}
	s.ln = ln
	s.lnMu.Unlock()
	s.log.Info("http server listening", "addr", ln.Addr().String())
	return s.srv.Serve(ln)
}

// ListenAndServe listens on Config.Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	return s.Serve(ln)
}

// Shutdown stops accepting connections, lets in-flight requests finish
// (their answers carry "Connection: close"), closes idle connections and
// returns when every connection is closed or when ctx ends (then bounded
// by Config.ShutdownTimeout if ctx has no deadline). /readyz answers 503
// stopping from the moment it is called. It stops the server's own clock.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopping.Store(true)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	s.lnMu.Lock()
	s.shutDown = true
	ln := s.ln
	s.lnMu.Unlock()
	err := s.srv.ShutdownWithContext(ctx)
	// fasthttp's Shutdown does nothing to a Serve that has not registered
	// its listener yet (a stop right after the start): closing the
	// listener here makes that Serve return at once.
	if ln != nil {
		ln.Close()
	}
	if s.clock != nil {
		s.clock.Stop()
	}
	return err
}

// authorized reports whether a mutating call may proceed: always when no
// admin token is configured, otherwise when the request carries
// "Authorization: Bearer <token>". The comparison is of SHA-256 sums, in
// constant time, so neither the token nor its length leaks through timing.
func (s *Server) authorized(ctx *fasthttp.RequestCtx) bool {
	if s.cfg.AdminToken == "" {
		return true
	}
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const scheme = "bearer "
	if len(h) < len(scheme) {
		return false
	}
	if !strings.EqualFold(string(h[:len(scheme)]), scheme) {
		return false
	}
	sum := sha256.Sum256(h[len(scheme):])
	return subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) == 1
}

// fasthttpLogger routes fasthttp's own messages (connection errors) to
// slog at debug level: they are about clients, not the server.
type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
	}
}
