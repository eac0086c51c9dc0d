package server

import (
	"context"
	"errors"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// Errors a Cluster returns; the server maps them to HTTP statuses in one
// place. Implementations wrap them with %w.
var (
	// ErrNoLeader: no leader could be reached within the reset timeout (503 no_leader).
	ErrNoLeader = errors.New("no leader")
	// ErrNotLeader: a forwarded write reached a node that is not the leader (503 not_leader).
	ErrNotLeader = errors.New("not the leader")
	// ErrStopped: the node is shutting down (503 stopping).
	ErrStopped = errors.New("node stopped")
)

// ForwardedHeader marks a reset that a follower forwarded to the leader; a
// node that is not the leader answers it with ErrNotLeader instead of
// forwarding again. IndexHeader carries the commit index of a reset.
const (
	ForwardedHeader = "X-Ringlimit-Forwarded"
	IndexHeader     = "X-Ringlimit-Index"
)

// Limiter is what the server needs of the window store
// (implemented by *window.Store).
type Limiter interface {
	Check(key string, cost, limit int64, window time.Duration, now time.Time) (window.Decision, error)
	Get(key string, now time.Time) (window.Counter, bool)
	List(prefix, after string, max int, now time.Time) []window.Counter
	Stats() window.Stats
}

var _ Limiter = (*window.Store)(nil)

// Cluster is what the server needs of the cluster: resets committed on
// every replica, status and readiness.
type Cluster interface {
	// Reset clears key on every replica and returns once this node has
	// applied the reset. forwarded is true when another node forwarded the
	// request (see ForwardedHeader).
	Reset(ctx context.Context, key string, forwarded bool) (ResetResult, error)
	// Status describes this node, the leader and the members.
	Status() ClusterStatus
	// Ready returns nil when the node has a leader and has applied the log
	// it knows of.
	Ready() error
}

// ResetResult is the outcome of a reset.
type ResetResult struct {
	// Reset is true when the key had a live counter that was cleared.
	Reset bool
	// Index is the log index the reset was committed at (0 on one node
	// without a log).
	Index uint64
}

// ClusterStatus is what GET /api/cluster shows.
type ClusterStatus struct {
	Node         string   `json:"node"`
	Leader       string   `json:"leader"`
	LeaderHTTP   string   `json:"leader_http"`
	State        string   `json:"state"` // Leader, Follower, Candidate, Shutdown
	Term         uint64   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Members      []Member `json:"members"`
}

// Member is one node of the cluster.
type Member struct {
	ID         string `json:"id"`
	HTTPAddr   string `json:"http_addr"`
	GossipAddr string `json:"gossip_addr"`
	RaftAddr   string `json:"raft_addr"`
	// GossipState is memberlist's view: alive, suspect, dead, left.
	GossipState string `json:"gossip_state"`
	// Suffrage is the node's place in the Raft configuration: Voter,
	// Nonvoter, Staging, or "" when it is not in it.
	Suffrage string `json:"suffrage"`
}
