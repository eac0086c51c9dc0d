package cluster

import (
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// member is this node's record of one memberlist node, copied from the
// events memberlist delivers (never read from memberlist's own structs,
// which it mutates under its own lock).
type member struct {
	Name       string
	GossipAddr string // host:port
	Meta       nodeMeta
	State      gossipState
	Since      time.Time
	// Leaving is set when the member announced that it is leaving
	// gracefully; its next leave event then means left, not dead.
	Leaving bool
}

// memberTable implements memberlist.EventDelegate. Its callbacks never
// block: they update a map under a short mutex and signal the reconcile
// loop through a one-slot channel, dropping the signal when one is already
// pending (the loop reads the whole table). Nothing is lost when the loop
// is slow, unlike a queue of events that fills up. The table's mutex is
// never held while calling memberlist, which holds its own lock while it
// calls these methods.
type memberTable struct {
	self    string
	logger  *slog.Logger
	now     func() time.Time
	changed chan struct{} // one slot: "the table changed"

	mu      sync.Mutex
	byName  map[string]*member
	missing map[raft.ServerID]time.Time // Raft servers gossip does not know, since
}

func newMemberTable(self string, logger *slog.Logger) *memberTable {
	return &memberTable{
		self:    self,
		logger:  logger,
		now:     time.Now,
		changed: make(chan struct{}, 1),
		byName:  make(map[string]*member),
		missing: make(map[raft.ServerID]time.Time),
	}
}

var _ memberlist.EventDelegate = (*memberTable)(nil)

func (t *memberTable) NotifyJoin(n *memberlist.Node)   { t.update(n, stateAlive, "join") }
func (t *memberTable) NotifyUpdate(n *memberlist.Node) { t.update(n, stateAlive, "update") }

// NotifyLeave is called for a member that failed and for one that left.
// memberlist v0.6.0 does not tell them apart here (the Node.State it
// passes is not kept up to date), so a member that announced its leave
// (markLeaving) is recorded as left, any other as dead.
func (t *memberTable) NotifyLeave(n *memberlist.Node) { t.update(n, stateDead, "leave") }

// markLeaving records that the member named name is leaving gracefully.
// The notice travels over TCP while memberlist gossips the leave itself,
// so it can arrive after the leave event recorded the member as dead: it
// then turns that into left.
func (t *memberTable) markLeaving(name string) {
	t.mu.Lock()
	m, ok := t.byName[name]
	late := ok && m.State == stateDead
	if ok {
		m.Leaving = true
	}
	if late {
		m.State, m.Since = stateLeft, t.now()
	}
	t.mu.Unlock()
	if ok {
		t.logger.Debug("gossip: member announced its leave", "node", name, "after_leave_event", late)
	}
	if late {
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}
}

func (t *memberTable) update(n *memberlist.Node, st gossipState, event string) {
	meta, err := decodeMeta(n.Meta)
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	now := t.now()
	t.mu.Lock()
	m, ok := t.byName[n.Name]
	if !ok {
		m = &member{Name: n.Name}
		t.byName[n.Name] = m
	}
	switch {
	case st == stateAlive && event == "join":
		m.Leaving = false // back after a leave
	case st == stateDead && m.Leaving:
		st = stateLeft
	}
	if !ok || m.State != st {
		m.Since = now
	}
	m.State, m.GossipAddr = st, addr
	if err == nil {
		m.Meta = meta
	}
	t.mu.Unlock()
	if err != nil {
		t.logger.Warn("gossip: undecodable node metadata", "node", n.Name, "err", err)
	}
	t.logger.Debug("gossip: member "+event, "node", n.Name, "addr", addr, "state", st.String())
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// snapshot returns a copy of every member known, self included.
func (t *memberTable) snapshot() []member {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]member, 0, len(t.byName))
	for _, m := range t.byName {
		out = append(out, *m)
	}
	return out
}

// alivePeers appends the alive members other than self to dst.
func (t *memberTable) alivePeers(dst []member) []member {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.byName {
		if m.State == stateAlive && m.Name != t.self {
			dst = append(dst, *m)
		}
	}
	return dst
}

// alive is the number of alive members, self included.
func (t *memberTable) alive() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, m := range t.byName {
		if m.State == stateAlive {
			n++
		}
	}
	return n
}

// httpAddrOf returns the HTTP address gossiped by the member whose Raft ID
// is id, preferring an alive one.
func (t *memberTable) httpAddrOf(id raft.ServerID) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	addr := ""
	for _, m := range t.byName {
		if raft.ServerID(m.Meta.RaftID) != id || m.Meta.HTTPAddr == "" {
			continue
		}
		if m.State == stateAlive {
			return m.Meta.HTTPAddr
		}
		addr = m.Meta.HTTPAddr
	}
	return addr
}

// raftView returns, by Raft ID, what reconciliation needs of every member,
// plus an unknown entry for each Raft server that gossip does not know,
// dated from when this node first noticed it missing.
func (t *memberTable) raftView(servers []raft.Server, now time.Time) map[raft.ServerID]memberView {
	t.mu.Lock()
	defer t.mu.Unlock()
	view := make(map[raft.ServerID]memberView, len(t.byName)+len(servers))
	for _, m := range t.byName {
		if m.Meta.RaftID == "" {
			continue
		}
		id := raft.ServerID(m.Meta.RaftID)
		if old, ok := view[id]; ok && (old.State == stateAlive || m.Since.Before(old.Since)) {
			continue // two names claim one ID: prefer the alive, then the newest
		}
		view[id] = memberView{RaftAddr: raft.ServerAddress(m.Meta.RaftAddr), State: m.State, Since: m.Since}
	}
	inConfig := make(map[raft.ServerID]bool, len(servers))
	for _, s := range servers {
		inConfig[s.ID] = true
		if _, ok := view[s.ID]; ok {
			delete(t.missing, s.ID)
			continue
		}
		since, ok := t.missing[s.ID]
		if !ok {
			since = now
			t.missing[s.ID] = now
		}
		view[s.ID] = memberView{RaftAddr: s.Address, State: stateUnknown, Since: since}
	}
	for id := range t.missing {
		if !inConfig[id] {
			delete(t.missing, id)
		}
	}
	return view
}
