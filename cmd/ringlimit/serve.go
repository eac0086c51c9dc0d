package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ringlimit/ringlimit/server"
	"github.com/ringlimit/ringlimit/window"
)

// sweepPerShard is how many windows each sweep looks at in every shard.
const sweepPerShard = 256

// Main is a running node: the store, the cluster, the HTTP server and the
// sweeper. Run starts it and Close stops it; tests start it in process.
type Main struct {
	cfg serveConfig
	log *slog.Logger

	clock        *server.CoarseClock
	store        *window.Store
	cluster      server.Cluster
	closeCluster func() error
	srv          *server.Server
	ln           net.Listener
	served       chan error

	stopSweep chan struct{}
	sweepDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a node configured by cfg that logs to log.
func NewMain(cfg serveConfig, log *slog.Logger) *Main {
	return &Main{cfg: cfg, log: log}
}

// Run starts the node and returns once it serves HTTP. Stop it with Close.
func (m *Main) Run(ctx context.Context) error {
	m.clock = server.NewCoarseClock(server.DefaultClockResolution)
	m.store = window.New(m.cfg.windowConfig())

	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr: %w", err)
	}
	m.ln = ln

	m.cluster, m.closeCluster, err = m.openCluster(ctx, ln.Addr().String())
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}

	m.srv, err = server.New(m.cfg.serverConfig(m.log, m.clock.Now), m.store, m.cluster)
	if err != nil {
		return err
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.srv.Serve(ln) }()

	m.stopSweep, m.sweepDone = make(chan struct{}), make(chan struct{})
	go m.sweep()

	wc := m.store.Config()
	m.log.Info("ringlimit serving", "version", version, "http_addr", m.HTTPAddr(),
		"default_limit", wc.DefaultLimit, "default_window", wc.DefaultWindow, "max_keys", wc.MaxKeys,
		"admin_token", m.cfg.AdminToken != "")
	return nil
}

// openCluster returns the Cluster resets go through, and how to stop it.
//
// HOOK: this is where the Raft cluster replaces the one-node Standalone:
// build cluster.New(cluster.Config{HTTPAddr: httpAddr, ...}, m.store, m.log),
// start it, and return it with its Close. The handlers do not change.
func (m *Main) openCluster(_ context.Context, httpAddr string) (server.Cluster, func() error, error) {
	node, err := os.Hostname()
	if err != nil || node == "" {
		node = "ringlimit"
	}
	sa := server.NewStandalone(m.store, node, httpAddr, m.clock.Now)
	return sa, func() error { sa.Stop(); return nil }, nil
}

// HTTPAddr is the address the HTTP API listens on (the chosen port when
// --http-addr asked for port 0).
func (m *Main) HTTPAddr() string {
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// sweep drops idle keys every --sweep-interval, so their memory comes back.
func (m *Main) sweep() {
	defer close(m.sweepDone)
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stopSweep:
			return
		case <-t.C:
			if n := m.store.Sweep(m.clock.Now(), sweepPerShard); n > 0 {
				m.log.Debug("swept idle keys", "dropped", n)
			}
		}
	}
}

// Close stops the node: it stops accepting connections, lets in-flight
// requests finish (up to --shutdown-timeout), then stops the cluster, the
// sweeper and the clock. It is safe to call more than once and after a
// failed Run.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		if m.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), m.cfg.ShutdownTimeout)
			if err := m.srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			cancel()
			if err := <-m.served; err != nil {
				errs = append(errs, fmt.Errorf("http serve: %w", err))
			}
		} else if m.ln != nil {
			m.ln.Close()
		}
		if m.closeCluster != nil {
			if err := m.closeCluster(); err != nil {
				errs = append(errs, fmt.Errorf("cluster: %w", err))
			}
		}
		if m.stopSweep != nil {
			close(m.stopSweep)
			<-m.sweepDone
		}
		if m.clock != nil {
			m.clock.Stop()
		}
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}
