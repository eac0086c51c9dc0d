package server

import (
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Config configures a Server. The zero value is usable: every zero field
// takes the default named in its comment. The default limit and window of
// a check are the store's (window.Config), not the server's.
type Config struct {
	// Addr is the address ListenAndServe listens on. Default 127.0.0.1:8001.
	Addr string
	// MaxBodyBytes caps a request body; a larger one is answered 413
	// body_too_large. Default 2 MiB (a full batch of MaxBatch checks with
	// keys of MaxKeyBytes fits).
	MaxBodyBytes int
	// ReadTimeout bounds reading one request, headers and body. Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response. Default 10s.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection. Default 2m.
	IdleTimeout time.Duration
	// MaxConns caps concurrent connections; past it fasthttp answers 503
	// in plain text and closes. Default 10000.
	MaxConns int
	// MaxConnsPerIP caps concurrent connections from one IP (0: no cap).
	MaxConnsPerIP int
	// ResetTimeout bounds a reset through the cluster (the deadline of
	// the context Cluster.Reset gets); past it the answer is 503
	// no_leader. Default 5s.
	ResetTimeout time.Duration
	// ShutdownTimeout bounds how long Shutdown waits for in-flight
	// requests when its context has no deadline. Default 10s.
	ShutdownTimeout time.Duration
	// AdminToken, when set, is required as "Authorization: Bearer <token>"
	// by mutating /api/ calls (a reset); others get 401 unauthorized.
	AdminToken string
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock of checks and resets. Default: a CoarseClock of 1 ms
	// resolution, owned and stopped by the server.
	Now func() time.Time
	// Metrics is the set served at /metrics; the server registers its own
	// metrics in it, and callers (the cluster) may register more, before or
	// after New, under names that do not start with "ringlimit_check",
	// "ringlimit_resets", "ringlimit_http" or "ringlimit_keys". Default: a
	// new set, see Server.Metrics.
	Metrics *metrics.Set
}

// Default values of Config.
const (
	DefaultAddr            = "127.0.0.1:8001"
	DefaultMaxBodyBytes    = 2 << 20
	DefaultReadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultMaxConns        = 10000
	DefaultResetTimeout    = 5 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.ResetTimeout <= 0 {
		c.ResetTimeout = DefaultResetTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = metrics.NewSet()
	}
	return c
}
