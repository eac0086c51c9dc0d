package server

import (
	"context"
	"sync/atomic"
	"time"
)

// Resetter is what Standalone needs of the store (implemented by
// *window.Store).
type Resetter interface {
	Reset(key string, at time.Time) bool
}

// Standalone is the Cluster of a node that runs alone: a reset clears the
// local store directly, at once, and the node is its own leader. It is
// what `ringlimit serve` uses until the Raft cluster replaces it; the
// handlers do not know the difference. It is safe for concurrent use.
type Standalone struct {
	store    Resetter
	now      func() time.Time
	node     string
	httpAddr string
	stopped  atomic.Bool
}

var _ Cluster = (*Standalone)(nil)

// NewStandalone returns the one-node cluster of store. node names the node
// and httpAddr is where it serves HTTP, both shown by Status; now is the
// clock resets are stamped with (the server's clock).
func NewStandalone(store Resetter, node, httpAddr string, now func() time.Time) *Standalone {
	return &Standalone{store: store, now: now, node: node, httpAddr: httpAddr}
}

// Reset clears key in the local store. It answers ErrStopped after Stop
// and the context's error if ctx has already ended.
func (c *Standalone) Reset(ctx context.Context, key string, forwarded bool) (ResetResult, error) {
	if c.stopped.Load() {
		return ResetResult{}, ErrStopped
	}
	if err := ctx.Err(); err != nil {
		return ResetResult{}, err
	}
	return ResetResult{Reset: c.store.Reset(key, c.now())}, nil
}

// Status shows the node as the leader and only member.
func (c *Standalone) Status() ClusterStatus {
	state := "Leader"
	if c.stopped.Load() {
		state = "Shutdown"
	}
	return ClusterStatus{
		Node:       c.node,
		Leader:     c.node,
		LeaderHTTP: c.httpAddr,
		State:      state,
		Members: []Member{{
			ID:          c.node,
			HTTPAddr:    c.httpAddr,
			GossipState: "alive",
			Suffrage:    "Voter",
		}},
	}
}

// Ready is nil until Stop.
func (c *Standalone) Ready() error {
	if c.stopped.Load() {
		return ErrStopped
	}
	return nil
}

// Stop makes Reset and Ready answer ErrStopped.
func (c *Standalone) Stop() { c.stopped.Store(true) }
