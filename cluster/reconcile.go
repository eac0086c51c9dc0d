package cluster

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// gossipState is a member's state as this node's memberlist sees it, or
// unknown for a Raft server that gossip has not told us about.
type gossipState uint8

const (
	stateUnknown gossipState = iota
	stateAlive
	stateSuspect
	stateDead
	stateLeft
)

func (s gossipState) String() string {
	switch s {
	case stateAlive:
		return "alive"
	case stateSuspect:
		return "suspect"
	case stateDead:
		return "dead"
	case stateLeft:
		return "left"
	}
	return "unknown"
}

// memberView is what reconciliation knows of one member, by Raft ID.
type memberView struct {
	RaftAddr raft.ServerAddress
	State    gossipState
	// Since is when the member entered State (for unknown: when this
	// node first noticed the server missing from gossip).
	Since time.Time
}

type actionOp uint8

const (
	opRemove actionOp = iota + 1
	opAddVoter
	opAddNonvoter
)

func (o actionOp) String() string {
	switch o {
	case opRemove:
		return "remove"
	case opAddVoter:
		return "add-voter"
	case opAddNonvoter:
		return "add-nonvoter"
	}
	return "?"
}

// action is one change of the Raft configuration. AddVoter on a
// non-voter promotes it.
type action struct {
	Op     actionOp
	ID     raft.ServerID
	Addr   raft.ServerAddress
	Reason string
}

func (a action) String() string {
	return fmt.Sprintf("%s %s %s (%s)", a.Op, a.ID, a.Addr, a.Reason)
}

// reconcileInput is everything plan decides from.
type reconcileInput struct {
	Self      raft.ServerID // the leader; never removed
	Servers   []raft.Server // current Raft configuration
	Members   map[raft.ServerID]memberView
	MaxVoters int
	ReapAfter time.Duration
	Now       time.Time
}

func isVoter(s raft.ServerSuffrage) bool { return s == raft.Voter || s == raft.Staging }

// quorum is the number of voters a configuration of n voters needs.
func quorum(n int) int { return n/2 + 1 }

// plan returns the changes that make the Raft configuration match the
// gossip view, in the order to apply them. It is pure; applying its
// actions and planning again yields nothing (idempotent). The rules:
//
//  1. A server whose ID or address conflicts with an alive member's
//     (same ID, other address; or same address, other ID) is stale:
//     removed, so the member can be added back at its address.
//  2. A server whose member left gracefully is removed.
//  3. A server whose member is dead, or unknown to gossip, for at least
//     ReapAfter is removed, unless it is a voter and the voters left would
//     be fewer than a quorum of the voters before (so never below 2).
//  4. Alive non-voters are promoted while there are fewer than MaxVoters
//     voters; then alive members not in the configuration are added, as
//     voters while there are fewer than MaxVoters, else as non-voters.
//
// Self is never touched; suspect members are kept but not added.
func plan(in reconcileInput) []action {
	type entry struct {
		raft.Server
		removed bool
	}
	cfg := make([]entry, len(in.Servers))
	voters := 0
	for i, s := range in.Servers {
		cfg[i] = entry{Server: s}
		if isVoter(s.Suffrage) {
			voters++
		}
	}
	// Deterministic order: by ID.
	slices.SortFunc(cfg, func(a, b entry) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	ids := make([]raft.ServerID, 0, len(in.Members))
	for id := range in.Members {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	var out []action
	remove := func(e *entry, why string) {
		e.removed = true
		if isVoter(e.Suffrage) {
			voters--
		}
		out = append(out, action{Op: opRemove, ID: e.ID, Addr: e.Address, Reason: why})
	}

	// 1. Stale IDs and addresses.
	for i := range cfg {
		e := &cfg[i]
		if e.ID == in.Self {
			continue
		}
		if m, ok := in.Members[e.ID]; ok && m.State == stateAlive && m.RaftAddr != "" && m.RaftAddr != e.Address {
			remove(e, "address changed to "+string(m.RaftAddr))
			continue
		}
		for _, id := range ids {
			m := in.Members[id]
			if id != e.ID && m.State == stateAlive && m.RaftAddr == e.Address {
				remove(e, "address now used by "+string(id))
				break
			}
		}
	}
	// 2 and 3. Left, dead and unknown members.
	for i := range cfg {
		e := &cfg[i]
		if e.removed || e.ID == in.Self {
			continue
		}
		m, ok := in.Members[e.ID]
		if !ok {
			m = memberView{State: stateUnknown, Since: in.Now}
		}
		switch m.State {
		case stateLeft:
			remove(e, "left")
		case stateDead, stateUnknown:
			if in.Now.Sub(m.Since) < in.ReapAfter {
				continue
			}
			if isVoter(e.Suffrage) && voters-1 < quorum(voters) {
				continue // would leave fewer voters than a quorum
			}
			remove(e, m.State.String()+" since "+m.Since.UTC().Format(time.RFC3339))
		}
	}
	// 4. Promotions, then additions.
	in.MaxVoters = max(in.MaxVoters, 1)
	for i := range cfg {
		e := &cfg[i]
		if e.removed || isVoter(e.Suffrage) || voters >= in.MaxVoters {
			continue
		}
		if m, ok := in.Members[e.ID]; ok && m.State == stateAlive {
			voters++
			out = append(out, action{Op: opAddVoter, ID: e.ID, Addr: e.Address, Reason: "promote"})
		}
	}
	for _, id := range ids {
		m := in.Members[id]
		if m.State != stateAlive || m.RaftAddr == "" || id == in.Self {
			continue
		}
		present := slices.ContainsFunc(cfg, func(e entry) bool { return !e.removed && e.ID == id })
		if present {
			continue
		}
		if voters < in.MaxVoters {
			voters++
			out = append(out, action{Op: opAddVoter, ID: id, Addr: m.RaftAddr, Reason: "joined"})
		} else {
			out = append(out, action{Op: opAddNonvoter, ID: id, Addr: m.RaftAddr, Reason: "joined, voters full"})
		}
	}
	return out
}

// raftConfigurer is the part of *raft.Raft that reconciliation uses.
type raftConfigurer interface {
	GetConfiguration() raft.ConfigurationFuture
	AddVoter(id raft.ServerID, address raft.ServerAddress, prevIndex uint64, timeout time.Duration) raft.IndexFuture
	AddNonvoter(id raft.ServerID, address raft.ServerAddress, prevIndex uint64, timeout time.Duration) raft.IndexFuture
	RemoveServer(id raft.ServerID, prevIndex uint64, timeout time.Duration) raft.IndexFuture
}

var _ raftConfigurer = (*raft.Raft)(nil)

// applyActions applies actions in order and stops at the first error; the
// next reconciliation plans again from the configuration then in force.
// It returns the actions applied.
func applyActions(r raftConfigurer, actions []action, timeout time.Duration) (int, error) {
	for i, a := range actions {
		var f raft.IndexFuture
		switch a.Op {
		case opRemove:
			f = r.RemoveServer(a.ID, 0, timeout)
		case opAddVoter:
			f = r.AddVoter(a.ID, a.Addr, 0, timeout)
		case opAddNonvoter:
			f = r.AddNonvoter(a.ID, a.Addr, 0, timeout)
		default:
			return i, fmt.Errorf("reconcile: unknown action %d", a.Op)
		}
		if err := f.Error(); err != nil {
			return i, fmt.Errorf("reconcile: %s: %w", a, err)
		}
	}
	return len(actions), nil
}
