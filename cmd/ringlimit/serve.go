package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ringlimit/ringlimit/cluster"
	"github.com/ringlimit/ringlimit/server"
	"github.com/ringlimit/ringlimit/window"
)

// sweepPerShard is how many windows each sweep looks at in every shard.
const sweepPerShard = 256

// Main is a running node: the store, the cluster node, the HTTP server
// and the sweeper. Run starts it and Close stops it; tests start it in
// process.
type Main struct {
	cfg serveConfig
	log *slog.Logger

	clock   *server.CoarseClock
	store   *window.Store
	metrics *metrics.Set
	node    *cluster.Node
	srv     *server.Server
	ln      net.Listener
	served  chan error

	stopSweep chan struct{}
	sweepDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a node configured by cfg that logs to log.
func NewMain(cfg serveConfig, log *slog.Logger) *Main {
	return &Main{cfg: cfg, log: log}
}

// Run starts the node and returns once it serves HTTP: it listens on
// --http-addr (so a port 0 is known before the node gossips it), starts
// the cluster node (joining --join, or bootstrapping a one-node cluster in
// --data-dir), then serves. ctx bounds the start only (a long --join).
// Stop it with Close, also after an error.
func (m *Main) Run(ctx context.Context) error {
	m.clock = server.NewCoarseClock(server.DefaultClockResolution)
	m.store = window.New(m.cfg.windowConfig())
	m.metrics = metrics.NewSet()

	ln, err := net.Listen("tcp", m.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr: %w", err)
	}
	m.ln = ln
	httpAddr := m.cfg.HTTPAdvertiseAddr
	if httpAddr == "" {
		httpAddr = ln.Addr().String()
	}

	m.node, err = cluster.New(m.cfg.clusterConfig(httpAddr, newResetHistogram(m.metrics)), m.store, m.log)
	if err != nil {
		return err
	}
	registerClusterMetrics(m.metrics, m.node)
	if err := m.node.Start(ctx); err != nil {
		return err
	}

	m.srv, err = server.New(m.cfg.serverConfig(m.log, m.clock.Now, m.metrics), m.store, m.node)
	if err != nil {
		return err
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.srv.Serve(ln) }()

	m.stopSweep, m.sweepDone = make(chan struct{}), make(chan struct{})
	go m.sweep()

	wc := m.store.Config()
	cc := m.node.Config()
	m.log.Info("ringlimit serving", "version", version, "node_id", cc.NodeID, "http_addr", m.HTTPAddr(),
		"http_advertise_addr", httpAddr, "gossip_addr", m.node.GossipAddr(), "raft_addr", m.node.RaftAddr(),
		"data_dir", cc.DataDir, "join", cc.Join,
		"default_limit", wc.DefaultLimit, "default_window", wc.DefaultWindow, "max_keys", wc.MaxKeys,
		"admin_token", m.cfg.AdminToken != "", "gossip_key", len(cc.GossipKey) > 0)
	return nil
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
// requests finish (up to --shutdown-timeout), then leaves the cluster (a
// leader hands leadership over first; the peers remove the node from the
// Raft configuration), and stops the sweeper and the clock. It is safe to
// call more than once and after a failed Run.
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
		if m.node != nil {
			if err := m.node.Close(); err != nil {
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
