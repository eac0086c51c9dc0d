package cluster

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringlimit/ringlimit/server"
)

// Status describes this node, the leader, Raft's indexes and every member:
// those gossip knows (alive, dead or left; memberlist does not expose
// suspicion, so a suspect member shows alive until declared dead) and
// those only in the Raft configuration (gossip state "unknown").
func (n *Node) Status() server.ClusterStatus {
	st := server.ClusterStatus{Node: n.cfg.NodeID, State: raft.Shutdown.String()}
	if !n.up.Load() {
		return st
	}
	_, leader := n.raft.LeaderWithID()
	st.Leader = string(leader)
	if leader != "" {
		st.LeaderHTTP = n.members.httpAddrOf(leader)
	}
	st.State = n.raft.State().String()
	st.Term = n.raft.CurrentTerm()
	st.CommitIndex = n.raft.CommitIndex()
	st.AppliedIndex = n.raft.AppliedIndex()

	var servers []raft.Server
	if !n.closed.Load() {
		if f := n.raft.GetConfiguration(); f.Error() == nil {
			servers = f.Configuration().Servers
		}
	}
	byID := make(map[string]int)
	for _, m := range n.members.snapshot() {
		id := m.Meta.RaftID
		if id == "" {
			id = m.Name
		}
		if i, ok := byID[id]; ok && st.Members[i].GossipState == stateAlive.String() {
			continue // a stale name of an ID that is alive under another
		}
		sm := server.Member{
			ID:          id,
			HTTPAddr:    m.Meta.HTTPAddr,
			GossipAddr:  m.GossipAddr,
			RaftAddr:    m.Meta.RaftAddr,
			GossipState: m.State.String(),
		}
		if i, ok := byID[id]; ok {
			st.Members[i] = sm
		} else {
			byID[id] = len(st.Members)
			st.Members = append(st.Members, sm)
		}
	}
	for _, s := range servers {
		i, ok := byID[string(s.ID)]
		if !ok {
			i = len(st.Members)
			byID[string(s.ID)] = i
			st.Members = append(st.Members, server.Member{ID: string(s.ID), RaftAddr: string(s.Address), GossipState: stateUnknown.String()})
		}
		st.Members[i].Suffrage = s.Suffrage.String()
	}
	slices.SortFunc(st.Members, func(a, b server.Member) int { return strings.Compare(a.ID, b.ID) })
	return st
}

// Ready returns nil when a leader is known and this node has applied the
// log it knows of: the commit index on a follower, the last index on the
// leader (whose no-op entry of a new term must commit first).
func (n *Node) Ready() error {
	if n.closed.Load() {
		return server.ErrStopped
	}
	if !n.up.Load() {
		return fmt.Errorf("cluster: not started")
	}
	_, leader := n.raft.LeaderWithID()
	if leader == "" {
		return fmt.Errorf("cluster: %w known", server.ErrNoLeader)
	}
	target := n.raft.CommitIndex()
	if n.raft.State() == raft.Leader {
		target = n.raft.LastIndex()
	}
	if target == 0 {
		// Heartbeats name the leader before any entry arrived: a node
		// added a moment ago has not learnt the commit index yet (every
		// cluster's log holds at least its first configuration).
		return fmt.Errorf("cluster: no log received from leader %s yet", leader)
	}
	if applied := n.raft.AppliedIndex(); applied < target {
		return fmt.Errorf("cluster: catching up: applied %d of %d", applied, target)
	}
	return nil
}

// Metric accessors: plain numbers for gauges and counters.

// Members is the number of alive members, this node included.
func (n *Node) Members() int { return n.members.alive() }

// RaftState is this node's Raft state as a number: 0 follower,
// 1 candidate, 2 leader, 3 shutdown (raft.RaftState).
func (n *Node) RaftState() int {
	if !n.up.Load() {
		return int(raft.Shutdown)
	}
	return int(n.raft.State())
}

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.up.Load() && n.raft.State() == raft.Leader }

// Term is the current Raft term.
func (n *Node) Term() uint64 {
	if !n.up.Load() {
		return 0
	}
	return n.raft.CurrentTerm()
}

// CommitIndex is the Raft commit index this node knows of.
func (n *Node) CommitIndex() uint64 {
	if !n.up.Load() {
		return 0
	}
	return n.raft.CommitIndex()
}

// AppliedIndex is the index of the last log entry this node's FSM applied.
func (n *Node) AppliedIndex() uint64 { return n.fsm.appliedIndex() }

// ResetsTotal is the number of resets served by this node successfully
// (committed and applied here), whether it led or forwarded them.
func (n *Node) ResetsTotal() uint64 { return n.stats.resets.Load() }

// ResetErrorsTotal is the number of resets served by this node that failed.
func (n *Node) ResetErrorsTotal() uint64 { return n.stats.resetErrors.Load() }

// ResetsForwardedTotal is the number of forwarding attempts to the leader.
func (n *Node) ResetsForwardedTotal() uint64 { return n.stats.forwarded.Load() }

// ResetLatencySecondsTotal is the sum of the latencies of the successful
// resets (divide by ResetsTotal for the mean).
func (n *Node) ResetLatencySecondsTotal() float64 {
	return time.Duration(n.stats.resetNanos.Load()).Seconds()
}

// LastResetLatency is the latency of the last successful reset.
func (n *Node) LastResetLatency() time.Duration {
	return time.Duration(n.stats.lastResetNanos.Load())
}

// ResetsAppliedTotal is the number of reset commands this node's FSM
// applied (every replica applies every reset).
func (n *Node) ResetsAppliedTotal() uint64 { return n.fsm.resets.Load() }

// BadLogEntriesTotal is the number of Raft entries the FSM could not
// decode: a bug or a newer peer; it should stay 0.
func (n *Node) BadLogEntriesTotal() uint64 { return n.fsm.badCount.Load() }

// HitsSentTotal is the number of (aggregated) hits sent, counted once per
// peer that got every packet of a batch.
func (n *Node) HitsSentTotal() uint64 { return n.stats.hitsSent.Load() }

// HitPacketsSentTotal is the number of hit packets sent.
func (n *Node) HitPacketsSentTotal() uint64 { return n.stats.packetsSent.Load() }

// HitSendErrorsTotal is the number of hit packets that could not be sent.
func (n *Node) HitSendErrorsTotal() uint64 { return n.stats.sendErrors.Load() }

// HitsMergedTotal is the number of peer hits merged into the store.
func (n *Node) HitsMergedTotal() uint64 { return n.stats.hitsMerged.Load() }

// BadHitPacketsTotal counts corrupt hit packets and rejected peer hits.
func (n *Node) BadHitPacketsTotal() uint64 { return n.stats.badPackets.Load() }

// ReplicationLag is, for the last batch of peer hits merged, the time from
// the newest hit's stamp on its node to its merge here (it includes the
// sync interval and any clock skew between the nodes).
func (n *Node) ReplicationLag() time.Duration { return time.Duration(n.stats.lastLagNanos.Load()) }

// LastMergeAge is the time since peer hits were last merged, or -1 if
// none ever were.
func (n *Node) LastMergeAge() time.Duration {
	t := n.stats.lastMerge.Load()
	if t == 0 {
		return -1
	}
	return time.Since(time.Unix(0, t))
}
