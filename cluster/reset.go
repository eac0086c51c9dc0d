package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/server"
)

// errRetry marks a failed attempt worth retrying until the reset timeout:
// no leader known yet, leadership moving, the leader unreachable.
var errRetry = errors.New("retry")

// Reset clears key on every replica. On the leader it stamps the reset
// with the current time, commits it through Raft and returns once this
// node applied it. On a follower it forwards the reset to the leader's
// HTTP API (found through Raft and the gossiped metadata), retrying while
// an election is under way, then waits until this node has applied the
// leader's commit index, so a read on this node sees the reset.
//
// The whole call is bounded by ResetTimeout and ctx: no leader in time
// gives an error wrapping server.ErrNoLeader (and the context's
// DeadlineExceeded); a cancelled ctx gives its error. A forwarded reset that reaches a node
// that is not the leader gives server.ErrNotLeader; a closed node gives
// server.ErrStopped.
func (n *Node) Reset(ctx context.Context, key string, forwarded bool) (server.ResetResult, error) {
	start := time.Now()
	res, err := n.reset(ctx, key, forwarded)
	lat := time.Since(start)
	if err != nil {
		n.stats.resetErrors.Add(1)
		n.logger.Warn("reset failed", "key", key, "forwarded", forwarded, "latency", lat, "err", err)
	} else {
		n.stats.resets.Add(1)
		n.stats.resetNanos.Add(int64(lat))
		n.stats.lastResetNanos.Store(int64(lat))
		n.logger.Debug("reset", "key", key, "forwarded", forwarded, "cleared", res.Reset, "index", res.Index, "latency", lat)
	}
	if n.cfg.ObserveReset != nil {
		n.cfg.ObserveReset(lat, err)
	}
	return res, err
}

func (n *Node) reset(ctx context.Context, key string, forwarded bool) (server.ResetResult, error) {
	if n.closed.Load() || !n.up.Load() {
		return server.ResetResult{}, server.ErrStopped
	}
	if key == "" {
		return server.ResetResult{}, errors.New("cluster: empty key")
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ResetTimeout)
	defer cancel()

	backoff := 10 * time.Millisecond
	var last error
	for {
		var res server.ResetResult
		var err error
		if n.raft.State() == raft.Leader {
			res, err = n.applyReset(ctx, key)
			if err == nil && forwarded {
				n.nudgeFollowers()
			}
		} else if forwarded {
			return server.ResetResult{}, fmt.Errorf("cluster: %w (state %s)", server.ErrNotLeader, n.raft.State())
		} else {
			res, err = n.forwardReset(ctx, key)
		}
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, errRetry) {
			return server.ResetResult{}, err
		}
		if forwarded {
			// Leadership moved while this node applied a forwarded
			// reset: let the node that forwarded it find the new leader.
			return server.ResetResult{}, fmt.Errorf("cluster: %w: %v", server.ErrNotLeader, err)
		}
		last = err
		select {
		case <-ctx.Done():
			if errors.Is(parent.Err(), context.Canceled) {
				return server.ResetResult{}, parent.Err() // the caller gave up
			}
			if n.closed.Load() {
				return server.ResetResult{}, server.ErrStopped
			}
			return server.ResetResult{}, fmt.Errorf("cluster: reset %q: %w in time (%w; last: %v)", key, server.ErrNoLeader, ctx.Err(), last)
		case <-n.stop:
			return server.ResetResult{}, server.ErrStopped
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// applyReset commits a reset of key on the leader. The FSM applies it on
// the leader before the future returns, so the result is read-your-reset.
func (n *Node) applyReset(ctx context.Context, key string) (server.ResetResult, error) {
	cmd := encodeReset(nil, resetCommand{Key: key, At: time.Now().UnixNano()})
	timeout := n.cfg.ResetTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	f := n.raft.Apply(cmd, timeout)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// The future completes when the entry commits or leadership is
		// lost; its goroutine ends then.
		return server.ResetResult{}, fmt.Errorf("%w: commit: %v", errRetry, ctx.Err())
	}
	if err != nil {
		return server.ResetResult{}, mapRaftError(err)
	}
	switch v := f.Response().(type) {
	case bool:
		return server.ResetResult{Reset: v, Index: f.Index()}, nil
	case error:
		return server.ResetResult{}, fmt.Errorf("cluster: applying reset at index %d: %w", f.Index(), v)
	default:
		return server.ResetResult{}, fmt.Errorf("cluster: applying reset at index %d: unexpected response %T", f.Index(), v)
	}
}

// nudgeFollowers makes the leader send the followers its new commit index
// now rather than within CommitTimeout, so the follower that forwarded a
// reset applies it (and answers) sooner: it appends a barrier entry, which
// triggers replication. It does not wait for the barrier.
func (n *Node) nudgeFollowers() {
	f := n.raft.Barrier(n.cfg.ResetTimeout)
	go func() {
		if err := f.Error(); err != nil {
			n.logger.Debug("raft: barrier after a forwarded reset", "err", err)
		}
	}()
}

// mapRaftError translates Raft's errors to the server's sentinels, or to
// errRetry when another attempt may succeed.
func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("cluster: %w: %v", server.ErrStopped, err)
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrEnqueueTimeout),
		errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %v", errRetry, err)
	}
	return fmt.Errorf("cluster: %w", err)
}

// forwardReset sends the reset to the leader's HTTP API, then waits until
// this node has applied the index the leader committed it at.
func (n *Node) forwardReset(ctx context.Context, key string) (server.ResetResult, error) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return server.ResetResult{}, fmt.Errorf("%w: no leader known", errRetry)
	}
	if string(id) == n.cfg.NodeID {
		return server.ResetResult{}, fmt.Errorf("%w: leadership changing", errRetry)
	}
	addr := n.members.httpAddrOf(id)
	if addr == "" {
		return server.ResetResult{}, fmt.Errorf("%w: no HTTP address gossiped for leader %s", errRetry, id)
	}
	n.stats.forwarded.Add(1)
	res, err := n.postReset(ctx, addr, key)
	if err != nil {
		return server.ResetResult{}, err
	}
	if err := n.fsm.waitApplied(ctx, res.Index); err != nil {
		return server.ResetResult{}, fmt.Errorf("cluster: reset committed at index %d by %s, not applied here (applied %d): %w: %w",
			res.Index, id, n.fsm.appliedIndex(), server.ErrNoLeader, err)
	}
	return res, nil
}

// ResetPath is the HTTP path of a key's reset, with the key
// percent-encoded as one path segment.
func ResetPath(key string) string {
	return "/api/counters/" + url.PathEscape(key) + "/reset"
}

// postReset does one forwarded POST to the leader at addr.
func (n *Node) postReset(ctx context.Context, addr, key string) (server.ResetResult, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + addr + ResetPath(key))
	req.URI().DisablePathNormalizing = true
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.Set(server.ForwardedHeader, "1")
	if n.cfg.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+n.cfg.AdminToken)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(n.cfg.ResetTimeout)
	}
	if err := n.client.DoDeadline(req, resp, deadline); err != nil {
		return server.ResetResult{}, fmt.Errorf("%w: forward to leader at %s: %v", errRetry, addr, err)
	}
	status := resp.StatusCode()
	body := resp.Body()
	switch {
	case status == fasthttp.StatusOK:
		var out struct {
			Reset *bool `json:"reset"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.Reset == nil {
			return server.ResetResult{}, fmt.Errorf("cluster: leader at %s answered an unreadable reset body %.200q", addr, body)
		}
		idx, err := strconv.ParseUint(string(resp.Header.Peek(server.IndexHeader)), 10, 64)
		if err != nil {
			return server.ResetResult{}, fmt.Errorf("cluster: leader at %s answered no valid %s header", addr, server.IndexHeader)
		}
		return server.ResetResult{Reset: *out.Reset, Index: idx}, nil
	case status == fasthttp.StatusServiceUnavailable:
		// not_leader, no_leader or stopping: leadership is moving.
		return server.ResetResult{}, fmt.Errorf("%w: leader at %s answered %d %.200s", errRetry, addr, status, body)
	default:
		return server.ResetResult{}, fmt.Errorf("cluster: forwarding reset to leader at %s: status %d %.200s", addr, status, body)
	}
}
