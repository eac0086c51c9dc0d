// Package cluster joins ringlimit nodes into one cluster: memberlist for
// membership and hit replication, Raft for resets.
//
// A [Node] gossips with its peers through hashicorp/memberlist, sends them
// the hits its window store admitted every SyncInterval (they Merge them),
// and commits resets through hashicorp/raft so that every replica clears a
// key whichever node was asked. The Raft leader keeps the Raft
// configuration in line with the gossip view. See DESIGN.md beside this
// file for the mechanics.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/server"
	"github.com/ringlimit/ringlimit/window"
)

// Node is one member of a ringlimit cluster. Create it with New, then
// Start it; Close leaves the cluster. Its methods are safe for concurrent
// use. The zero value is not usable.
type Node struct {
	cfg     Config
	store   *window.Store
	logger  *slog.Logger
	fsm     *fsm
	members *memberTable
	client  *fasthttp.Client

	lifecycle sync.Mutex // serialises Start and Close
	started   atomic.Bool
	up        atomic.Bool // Start succeeded: the fields below are set
	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	wg        sync.WaitGroup

	// Set by Start, then read-only; read them only after up.Load().
	raft       *raft.Raft
	trans      *raft.NetworkTransport
	bolt       *raftboltdb.BoltStore
	ml         *memberlist.Memberlist
	meta       []byte
	raftAddr   string
	gossipAddr string

	stats nodeStats
}

// nodeStats are the counters behind the metric accessors.
type nodeStats struct {
	resets         atomic.Uint64 // resets served by this node
	resetErrors    atomic.Uint64
	resetNanos     atomic.Int64 // sum of reset latencies
	lastResetNanos atomic.Int64
	forwarded      atomic.Uint64 // resets this node forwarded to the leader

	hitsSent     atomic.Uint64
	packetsSent  atomic.Uint64
	sendErrors   atomic.Uint64
	hitsMerged   atomic.Uint64
	badPackets   atomic.Uint64
	lastMerge    atomic.Int64 // unix nanos of the last batch merged
	lastLagNanos atomic.Int64 // receive time - newest stamp of that batch
}

var _ server.Cluster = (*Node)(nil)

// New checks cfg and returns a Node that is not started. store must have
// been created with window.Config{RecordHits: true}, or this node's hits
// never reach its peers. logger may be nil (no logs).
func New(cfg Config, store *window.Store, logger *slog.Logger) (*Node, error) {
	if store == nil {
		return nil, errors.New("cluster: nil store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	logger = logger.With("node", cfg.NodeID)
	return &Node{
		cfg:     cfg,
		store:   store,
		logger:  logger,
		fsm:     newFSM(store, cfg.FloorRetention, logger.With("component", "fsm")),
		members: newMemberTable(cfg.NodeID, logger.With("component", "gossip")),
		client: &fasthttp.Client{
			Name:                   "ringlimit-forward",
			DisablePathNormalizing: true, // keep a key's %2F as sent
			MaxConnsPerHost:        64,
			ReadTimeout:            cfg.ResetTimeout,
			WriteTimeout:           cfg.ResetTimeout,
		},
		stop: make(chan struct{}),
	}, nil
}

// Config returns the node's configuration with defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// Start opens the Raft stores in DataDir, starts Raft (bootstrapping a
// one-node cluster when there is no Join and no existing state), starts
// memberlist and joins the Join addresses, retrying with backoff until
// one answers, JoinTimeout passes or ctx is done. ctx bounds Start only;
// the node runs until Close. On error the node is closed.
func (n *Node) Start(ctx context.Context) error {
	n.lifecycle.Lock()
	defer n.lifecycle.Unlock()
	if !n.started.CompareAndSwap(false, true) {
		return errors.New("cluster: node already started")
	}
	if n.closed.Load() {
		return server.ErrStopped
	}
	if err := n.start(ctx); err != nil {
		_ = n.close()
		return err
	}
	return nil
}

func (n *Node) start(ctx context.Context) error {
	cfg := n.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("cluster: data dir: %w", err)
	}
	hl := newHCLogger(n.logger.With("component", "raft"))

	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db")})
	if err != nil {
		return fmt.Errorf("cluster: raft store: %w", err)
	}
	n.bolt = bolt
	logs, err := raft.NewLogCache(512, bolt)
	if err != nil {
		return fmt.Errorf("cluster: raft log cache: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, hl)
	if err != nil {
		return fmt.Errorf("cluster: raft snapshots: %w", err)
	}
	var adv net.Addr
	if cfg.RaftAdvertiseAddr != "" {
		if adv, err = net.ResolveTCPAddr("tcp", cfg.RaftAdvertiseAddr); err != nil {
			return fmt.Errorf("cluster: RaftAdvertiseAddr: %w", err)
		}
	}
	trans, err := raft.NewTCPTransportWithLogger(cfg.RaftAddr, adv, 3, 10*time.Second, hl)
	if err != nil {
		return fmt.Errorf("cluster: raft transport on %s: %w", cfg.RaftAddr, err)
	}
	n.trans = trans
	n.raftAddr = string(trans.LocalAddr())

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hl
	if cfg.HeartbeatTimeout > 0 {
		rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	}
	if cfg.ElectionTimeout > 0 {
		rc.ElectionTimeout = cfg.ElectionTimeout
	}
	if cfg.LeaderLeaseTimeout > 0 {
		rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	}
	if rc.LeaderLeaseTimeout > rc.HeartbeatTimeout {
		rc.LeaderLeaseTimeout = rc.HeartbeatTimeout
	}
	rc.CommitTimeout = cfg.CommitTimeout
	if cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.SnapshotThreshold
	}
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("cluster: raft config: %w", err)
	}
	existing, err := raft.HasExistingState(logs, bolt, snaps)
	if err != nil {
		return fmt.Errorf("cluster: raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, bolt, snaps, trans)
	if err != nil {
		return fmt.Errorf("cluster: raft: %w", err)
	}
	n.raft = r
	switch {
	case existing:
		n.logger.Info("raft: restarting with existing state", "dir", cfg.DataDir, "raft_addr", n.raftAddr)
	case len(cfg.Join) > 0:
		n.logger.Info("raft: joining, waiting for the leader to add this node", "raft_addr", n.raftAddr)
	default:
		n.logger.Info("raft: bootstrapping a one-node cluster", "raft_addr", n.raftAddr)
		boot := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: trans.LocalAddr()}}}
		if err := r.BootstrapCluster(boot).Error(); err != nil {
			return fmt.Errorf("cluster: raft bootstrap: %w", err)
		}
	}

	meta, err := encodeMeta(nodeMeta{HTTPAddr: cfg.HTTPAddr, RaftAddr: n.raftAddr, RaftID: cfg.NodeID})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.meta = meta
	mc, err := n.memberlistConfig()
	if err != nil {
		return err
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("cluster: memberlist on %s: %w", cfg.GossipAddr, err)
	}
	n.ml = ml
	ln := ml.LocalNode()
	n.gossipAddr = net.JoinHostPort(ln.Addr.String(), strconv.Itoa(int(ln.Port)))
	n.logger.Info("gossip: listening", "gossip_addr", n.gossipAddr, "http_addr", cfg.HTTPAddr)

	if len(cfg.Join) > 0 {
		if err := n.join(ctx); err != nil {
			return err
		}
	}
	n.wg.Add(2)
	go n.reconcileLoop()
	go n.replicateLoop()
	n.up.Store(true)
	return nil
}

func (n *Node) memberlistConfig() (*memberlist.Config, error) {
	cfg := n.cfg
	var mc *memberlist.Config
	if cfg.GossipProfile == "local" {
		mc = memberlist.DefaultLocalConfig()
	} else {
		mc = memberlist.DefaultLANConfig()
	}
	mc.Name = cfg.NodeID
	host, port, err := splitHostPort(cfg.GossipAddr)
	if err != nil {
		return nil, fmt.Errorf("cluster: GossipAddr: %w", err)
	}
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if cfg.AdvertiseAddr != "" {
		host, port, err := splitHostPort(cfg.AdvertiseAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster: AdvertiseAddr: %w", err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = host, port
	}
	if len(cfg.GossipKey) > 0 {
		mc.SecretKey = cfg.GossipKey
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	mc.Delegate = &delegate{n: n}
	mc.Events = n.members
	mc.Logger = newStdLogger(n.logger.With("component", "memberlist"))
	mc.LogOutput = nil
	if cfg.tune != nil {
		cfg.tune(mc)
	}
	return mc, nil
}

func splitHostPort(hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", hp)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// join contacts the Join addresses until one answers, retrying with
// exponential backoff (100ms doubling to 2s) within JoinTimeout.
func (n *Node) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.JoinTimeout)
	defer cancel()
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		k, err := n.ml.Join(n.cfg.Join)
		if k > 0 {
			n.logger.Info("gossip: joined", "contacted", k, "attempt", attempt, "members", n.ml.NumMembers())
			return nil
		}
		n.logger.Warn("gossip: join failed, retrying", "join", n.cfg.Join, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: could not join %v within %s (%d attempts): %w (last: %v)", n.cfg.Join, n.cfg.JoinTimeout, attempt, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// delegate answers memberlist's questions for the node: its metadata, and
// user messages (hit packets).
type delegate struct{ n *Node }

func (d *delegate) NodeMeta(limit int) []byte {
	if len(d.n.meta) > limit {
		return nil // cannot happen: encodeMeta checks memberlist.MetaMaxSize
	}
	return d.n.meta
}
func (d *delegate) NotifyMsg(b []byte)                { d.n.receiveMsg(b) }
func (d *delegate) GetBroadcasts(_, _ int) [][]byte   { return nil }
func (d *delegate) LocalState(bool) []byte            { return nil }
func (d *delegate) MergeRemoteState(_ []byte, _ bool) {}

// reconcileInterval is how often the leader reconciles without an event
// (to reap failed members and retry failed changes).
const reconcileInterval = time.Second

// reconcileLoop runs on every node; it reconciles only while the node
// leads: on gaining leadership, on every membership change, and every
// reconcileInterval.
func (n *Node) reconcileLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(reconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case leader := <-n.raft.LeaderCh():
			if leader {
				n.logger.Info("raft: gained leadership", "term", n.raft.CurrentTerm())
			} else {
				n.logger.Info("raft: lost leadership")
			}
		case <-n.members.changed:
		case <-tick.C:
		}
		if n.raft.State() == raft.Leader {
			n.reconcile()
		}
	}
}

// reconcile makes the Raft configuration match the gossip view once.
func (n *Node) reconcile() {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		n.logger.Warn("reconcile: get configuration", "err", err)
		return
	}
	servers := f.Configuration().Servers
	now := time.Now()
	actions := plan(reconcileInput{
		Self:      raft.ServerID(n.cfg.NodeID),
		Servers:   servers,
		Members:   n.members.raftView(servers, now),
		MaxVoters: n.cfg.MaxVoters,
		ReapAfter: n.cfg.ReapAfter,
		Now:       now,
	})
	if len(actions) == 0 {
		return
	}
	for _, a := range actions {
		n.logger.Info("reconcile: planned", "op", a.Op.String(), "id", a.ID, "addr", a.Addr, "reason", a.Reason)
	}
	done, err := applyActions(n.raft, actions, n.cfg.ResetTimeout)
	if err != nil {
		n.logger.Warn("reconcile: stopped, will retry", "applied", done, "of", len(actions), "err", err)
	}
}

// Close leaves the cluster gracefully: a leader first hands leadership
// over (bounded by ResetTimeout), then the node tells its peers it is
// leaving (so the leader removes it from the Raft configuration at once),
// leaves memberlist, and shuts Raft and its stores down. It is safe to call more than once and on
// a node that was never started. A Close during Start waits for Start to
// return (cancel Start's ctx to cut a join short).
func (n *Node) Close() error {
	n.lifecycle.Lock()
	defer n.lifecycle.Unlock()
	return n.close()
}

func (n *Node) close() error {
	var errs []error
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		if n.raft != nil && n.raft.State() == raft.Leader && n.members.alive() > 1 {
			n.logger.Info("raft: transferring leadership before leaving")
			if err := waitFuture(n.raft.LeadershipTransfer(), n.cfg.ResetTimeout); err != nil {
				n.logger.Warn("raft: leadership transfer", "err", err)
			}
		}
		close(n.stop)
		n.wg.Wait()
		if n.ml != nil {
			n.announceLeave(2 * time.Second)
			if err := n.ml.Leave(2 * time.Second); err != nil {
				n.logger.Warn("gossip: leave", "err", err)
			}
			if err := n.ml.Shutdown(); err != nil {
				errs = append(errs, fmt.Errorf("memberlist shutdown: %w", err))
			}
		}
		if n.raft != nil {
			if err := n.raft.Shutdown().Error(); err != nil {
				errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
			}
		}
		if n.trans != nil {
			if err := n.trans.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raft transport: %w", err))
			}
		}
		if n.bolt != nil {
			if err := n.bolt.Close(); err != nil {
				errs = append(errs, fmt.Errorf("raft store: %w", err))
			}
		}
		n.client.CloseIdleConnections()
		n.logger.Info("cluster: node closed")
	})
	return errors.Join(errs...)
}

// waitFuture waits for f at most d.
func waitFuture(f raft.Future, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("timed out after %s", d)
	}
}

// GossipAddr is the address memberlist advertises (host:port) once Start
// succeeded, else "".
func (n *Node) GossipAddr() string {
	if !n.up.Load() {
		return ""
	}
	return n.gossipAddr
}

// RaftAddr is the address of the Raft transport (host:port) once Start
// succeeded, else "".
func (n *Node) RaftAddr() string {
	if !n.up.Load() {
		return ""
	}
	return n.raftAddr
}

// ID is the node's ID (its memberlist name and Raft server ID).
func (n *Node) ID() string { return n.cfg.NodeID }
