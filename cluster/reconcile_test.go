package cluster

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

func voter(id string) raft.Server {
	return raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(id + ":7947")}
}

func nonvoter(id string) raft.Server {
	s := voter(id)
	s.Suffrage = raft.Nonvoter
	return s
}

func alive(id string) memberView {
	return memberView{RaftAddr: raft.ServerAddress(id + ":7947"), State: stateAlive, Since: t0}
}

func in(state gossipState, id string, since time.Time) memberView {
	return memberView{RaftAddr: raft.ServerAddress(id + ":7947"), State: state, Since: since}
}

func actionsString(as []action) string {
	var b []string
	for _, a := range as {
		b = append(b, fmt.Sprintf("%s %s", a.Op, a.ID))
	}
	return strings.Join(b, ", ")
}

func TestPlan(t *testing.T) {
	const reap = 10 * time.Minute
	now := t0.Add(time.Hour)
	longAgo := now.Add(-reap)      // exactly ReapAfter: reaped
	recently := now.Add(-reap + 1) // just under: kept
	type members = map[raft.ServerID]memberView
	for _, tc := range []struct {
		name      string
		servers   []raft.Server
		members   members
		maxVoters int
		want      string
	}{
		{
			name:    "in sync: nothing to do",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c": alive("c")},
			want:    "",
		},
		{
			name:    "joiners become voters",
			servers: []raft.Server{voter("a")},
			members: members{"a": alive("a"), "c": alive("c"), "b": alive("b")},
			want:    "add-voter b, add-voter c",
		},
		{
			name:      "beyond MaxVoters joiners are non-voters",
			servers:   []raft.Server{voter("a"), voter("b")},
			members:   members{"a": alive("a"), "b": alive("b"), "c": alive("c"), "d": alive("d")},
			maxVoters: 3,
			want:      "add-voter c, add-nonvoter d",
		},
		{
			name:    "a non-voter is promoted when a voter left",
			servers: []raft.Server{voter("a"), voter("b"), voter("c"), nonvoter("d")},
			members: members{"a": alive("a"), "b": alive("b"), "c": in(stateLeft, "c", now), "d": alive("d")},
			want:    "remove c, add-voter d",
		},
		{
			name:      "promotion goes before new members",
			servers:   []raft.Server{voter("a"), nonvoter("z")},
			members:   members{"a": alive("a"), "b": alive("b"), "z": alive("z")},
			maxVoters: 2,
			want:      "add-voter z, add-nonvoter b",
		},
		{
			name:    "graceful leave is removed at once",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c": in(stateLeft, "c", now)},
			want:    "remove c",
		},
		{
			name:    "left member of a two-voter cluster is still removed",
			servers: []raft.Server{voter("a"), voter("b")},
			members: members{"a": alive("a"), "b": in(stateLeft, "b", now)},
			want:    "remove b",
		},
		{
			name:    "dead member stays until ReapAfter",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c": in(stateDead, "c", recently)},
			want:    "",
		},
		{
			name:    "dead member is reaped after ReapAfter",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c": in(stateDead, "c", longAgo)},
			want:    "remove c",
		},
		{
			name:    "suspect member is kept",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c": in(stateSuspect, "c", longAgo)},
			want:    "",
		},
		{
			name:    "reaping never goes below a quorum",
			servers: []raft.Server{voter("a"), voter("b")},
			members: members{"a": alive("a"), "b": in(stateDead, "b", longAgo)},
			want:    "",
		},
		{
			name:    "of two dead voters in five, both go (5→4→3)",
			servers: []raft.Server{voter("a"), voter("b"), voter("c"), voter("d"), voter("e")},
			members: members{"a": alive("a"), "b": alive("b"), "c": alive("c"), "d": in(stateDead, "d", longAgo), "e": in(stateDead, "e", longAgo)},
			want:    "remove d, remove e",
		},
		{
			name:    "of two dead voters in three, one goes (3→2)",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": in(stateDead, "b", longAgo), "c": in(stateDead, "c", longAgo)},
			want:    "remove b",
		},
		{
			name:    "a dead non-voter is reaped whatever the voters",
			servers: []raft.Server{voter("a"), nonvoter("b")},
			members: members{"a": alive("a"), "b": in(stateDead, "b", longAgo)},
			want:    "remove b",
		},
		{
			name:    "a server gossip never mentioned counts as unknown from now",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b")},
			want:    "",
		},
		{
			name:    "an unknown server is reaped after ReapAfter",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c": in(stateUnknown, "c", longAgo)},
			want:    "remove c",
		},
		{
			name:    "the leader itself is never removed",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": in(stateLeft, "a", longAgo), "b": alive("b"), "c": alive("c")},
			want:    "",
		},
		{
			name:    "a member back at a new address is removed and added again",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c": {RaftAddr: "c2:7947", State: stateAlive, Since: t0}},
			want:    "remove c, add-voter c",
		},
		{
			name:    "a new ID at an old address replaces the stale ID",
			servers: []raft.Server{voter("a"), voter("b"), voter("c")},
			members: members{"a": alive("a"), "b": alive("b"), "c2": {RaftAddr: "c:7947", State: stateAlive, Since: t0}},
			want:    "remove c, add-voter c2",
		},
		{
			name:    "a rejoined member that had left is added again",
			servers: []raft.Server{voter("a")},
			members: members{"a": alive("a"), "b": alive("b")},
			want:    "add-voter b",
		},
		{
			name:    "suspect and dead members are not added",
			servers: []raft.Server{voter("a")},
			members: members{"a": alive("a"), "b": in(stateSuspect, "b", t0), "c": in(stateDead, "c", t0), "d": in(stateLeft, "d", t0)},
			want:    "",
		},
		{
			name:    "a member without a Raft address is not added",
			servers: []raft.Server{voter("a")},
			members: members{"a": alive("a"), "b": {State: stateAlive, Since: t0}},
			want:    "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxVoters := tc.maxVoters
			if maxVoters == 0 {
				maxVoters = DefaultMaxVoters
			}
			input := reconcileInput{
				Self: "a", Servers: tc.servers, Members: tc.members,
				MaxVoters: maxVoters, ReapAfter: reap, Now: now,
			}
			got := plan(input)
			if s := actionsString(got); s != tc.want {
				t.Fatalf("plan = %q, want %q", s, tc.want)
			}
			// Idempotent: applying the plan and planning again does nothing.
			fr := &fakeRaft{servers: slices.Clone(tc.servers)}
			if n, err := applyActions(fr, got, time.Second); err != nil || n != len(got) {
				t.Fatalf("apply: %d, %v", n, err)
			}
			input.Servers = fr.servers
			if again := plan(input); len(again) != 0 {
				t.Fatalf("second plan after applying the first: %s", actionsString(again))
			}
		})
	}
}

func TestApplyActionsStopsAtFirstError(t *testing.T) {
	fr := &fakeRaft{servers: []raft.Server{voter("a")}, failOn: "b"}
	n, err := applyActions(fr, []action{
		{Op: opAddVoter, ID: "b", Addr: "b:7947"},
		{Op: opAddVoter, ID: "c", Addr: "c:7947"},
	}, time.Second)
	if n != 0 || err == nil || !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("applied %d, err %v; want 0 and ErrNotLeader", n, err)
	}
	if len(fr.servers) != 1 {
		t.Fatalf("configuration changed after the failure: %v", fr.servers)
	}
}

// fakeRaft is a raftConfigurer holding a configuration in memory, with
// hashicorp/raft's semantics: AddVoter on an existing ID updates its
// address and promotes it; AddNonvoter on a voter leaves it a voter.
type fakeRaft struct {
	servers []raft.Server
	failOn  raft.ServerID
}

type fakeFuture struct {
	err error
	cfg raft.Configuration
}

func (f fakeFuture) Error() error                      { return f.err }
func (f fakeFuture) Index() uint64                     { return 1 }
func (f fakeFuture) Configuration() raft.Configuration { return f.cfg }

func (r *fakeRaft) GetConfiguration() raft.ConfigurationFuture {
	return fakeFuture{cfg: raft.Configuration{Servers: slices.Clone(r.servers)}}
}

func (r *fakeRaft) put(id raft.ServerID, addr raft.ServerAddress, s raft.ServerSuffrage) raft.IndexFuture {
	if id == r.failOn {
		return fakeFuture{err: raft.ErrNotLeader}
	}
	for i := range r.servers {
		if r.servers[i].ID == id {
			r.servers[i].Address = addr
			if s == raft.Voter {
				r.servers[i].Suffrage = raft.Voter
			}
			return fakeFuture{}
		}
	}
	for _, x := range r.servers {
		if x.Address == addr {
			return fakeFuture{err: fmt.Errorf("found duplicate address in configuration: %s", addr)}
		}
	}
	r.servers = append(r.servers, raft.Server{Suffrage: s, ID: id, Address: addr})
	return fakeFuture{}
}

func (r *fakeRaft) AddVoter(id raft.ServerID, addr raft.ServerAddress, _ uint64, _ time.Duration) raft.IndexFuture {
	return r.put(id, addr, raft.Voter)
}

func (r *fakeRaft) AddNonvoter(id raft.ServerID, addr raft.ServerAddress, _ uint64, _ time.Duration) raft.IndexFuture {
	return r.put(id, addr, raft.Nonvoter)
}

func (r *fakeRaft) RemoveServer(id raft.ServerID, _ uint64, _ time.Duration) raft.IndexFuture {
	r.servers = slices.DeleteFunc(r.servers, func(s raft.Server) bool { return s.ID == id })
	return fakeFuture{}
}

func TestMemberTableRaftView(t *testing.T) {
	mt := newMemberTable("a", testLogger(t))
	clock := t0
	mt.now = func() time.Time { return clock }
	join := func(name, raftAddr string) {
		meta, err := encodeMeta(nodeMeta{HTTPAddr: name + ":80", RaftAddr: raftAddr, RaftID: name})
		if err != nil {
			t.Fatal(err)
		}
		mt.NotifyJoin(memberNode(name, meta, memberlist.StateAlive))
	}
	join("a", "a:7947")
	join("b", "b:7947")
	servers := []raft.Server{voter("a"), voter("b"), voter("ghost")}

	v := mt.raftView(servers, t0)
	if v["b"].State != stateAlive || v["ghost"].State != stateUnknown || !v["ghost"].Since.Equal(t0) {
		t.Fatalf("view %+v", v)
	}
	// The ghost stays dated from when it was first seen missing.
	if v := mt.raftView(servers, t0.Add(time.Minute)); !v["ghost"].Since.Equal(t0) {
		t.Fatalf("ghost since %v, want t0", v["ghost"].Since)
	}
	// b fails, then leaves: each state change is dated.
	clock = t0.Add(2 * time.Minute)
	bMeta, _ := encodeMeta(nodeMeta{HTTPAddr: "b:80", RaftAddr: "b:7947", RaftID: "b"})
	mt.NotifyLeave(memberNode("b", bMeta, memberlist.StateDead))
	if v := mt.raftView(servers, clock); v["b"].State != stateDead || !v["b"].Since.Equal(clock) {
		t.Fatalf("after failure: %+v", v["b"])
	}
	if got := mt.httpAddrOf("b"); got != "b:80" {
		t.Fatalf("http address of a dead member: %q (metadata kept)", got)
	}
	if got := len(mt.alivePeers(nil)); got != 0 {
		t.Fatalf("%d alive peers, want 0 (self excluded, b dead)", got)
	}
	// b comes back, announces its leave, and goes: left, not dead.
	clock = t0.Add(3 * time.Minute)
	mt.NotifyJoin(memberNode("b", bMeta, memberlist.StateAlive))
	if v := mt.raftView(servers, clock); v["b"].State != stateAlive || !v["b"].Since.Equal(clock) {
		t.Fatalf("after rejoin: %+v", v["b"])
	}
	mt.markLeaving("b")
	mt.NotifyLeave(memberNode("b", bMeta, memberlist.StateDead))
	if v := mt.raftView(servers, clock); v["b"].State != stateLeft {
		t.Fatalf("after an announced leave: %+v", v["b"])
	}
	// Back again: a later failure is a failure.
	mt.NotifyJoin(memberNode("b", bMeta, memberlist.StateAlive))
	mt.NotifyLeave(memberNode("b", bMeta, memberlist.StateDead))
	if v := mt.raftView(servers, clock); v["b"].State != stateDead {
		t.Fatalf("failure after a rejoin: %+v", v["b"])
	}
	select {
	case <-mt.changed:
	default:
		t.Fatal("no change signalled")
	}
	// A leave notice that arrives after the leave event still makes it a
	// leave (the notice goes over TCP, the leave over gossip), and says so.
	clock = t0.Add(4 * time.Minute)
	mt.markLeaving("b")
	if v := mt.raftView(servers, clock); v["b"].State != stateLeft || !v["b"].Since.Equal(clock) {
		t.Fatalf("after a late leave notice: %+v", v["b"])
	}
	select {
	case <-mt.changed:
	default:
		t.Fatal("no change signalled for a late leave notice")
	}
}

func memberNode(name string, meta []byte, st memberlist.NodeStateType) *memberlist.Node {
	return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: meta, State: st}
}
