package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/server"
	"github.com/ringlimit/ringlimit/window"
)

// In-process cluster tests: real memberlist and real Raft (TCP transport),
// every address on 127.0.0.1 with ports the kernel picks, a tiny fasthttp
// server per node that serves POST /api/counters/{key}/reset by calling
// Node.Reset as the real server does.

const (
	testToken   = "s3cret"
	waitFor     = 10 * time.Second // generous deadline of every wait
	testLimit   = 100
	testWindow  = time.Minute
	testTimeout = 3 * time.Second // ResetTimeout of test nodes
)

var testKey = []byte("0123456789abcdef0123456789abcdef") // AES-256 gossip key

// testNode is one node of a test cluster with its store and HTTP server.
type testNode struct {
	name     string
	node     *Node
	store    *window.Store
	srv      *fasthttp.Server
	httpAddr string
	dataDir  string
	cfg      Config
}

// testCluster starts and stops nodes; it has no globals.
type testCluster struct {
	t     testing.TB
	log   *slog.Logger
	nodes []*testNode
}

func newTestCluster(t testing.TB) *testCluster {
	t.Helper()
	return &testCluster{t: t, log: quietLogger(t)}
}

// quietLogger sends warnings and errors to t.Log (RINGLIMIT_TEST_LOG=debug
// for everything) and stops when the test's cleanups are done, since
// memberlist and Raft goroutines may log while they wind down.
func quietLogger(t testing.TB) *slog.Logger {
	w := &stopWriter{t: t}
	t.Cleanup(w.stop) // registered first: runs last
	level := slog.LevelWarn
	if os.Getenv("RINGLIMIT_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type stopWriter struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (w *stopWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func (w *stopWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// fastGossip shortens memberlist's timers for tests on one machine.
func fastGossip(c *memberlist.Config) {
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = time.Second
	c.SuspicionMult = 2
	c.TCPTimeout = time.Second
	c.GossipToTheDeadTime = 2 * time.Second
}

// start starts a node named name that joins join (no join: bootstrap).
// dataDir "" makes a fresh one. edit may change the configuration.
func (c *testCluster) start(name string, join []string, dataDir string, edit func(*Config)) (*testNode, error) {
	t := c.t
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	tn := &testNode{name: name, httpAddr: ln.Addr().String(), dataDir: dataDir}
	tn.store = window.New(window.Config{RecordHits: true})
	tn.cfg = Config{
		NodeID:             name,
		GossipAddr:         "127.0.0.1:0",
		RaftAddr:           "127.0.0.1:0",
		HTTPAddr:           tn.httpAddr,
		DataDir:            dataDir,
		Join:               join,
		JoinTimeout:        waitFor,
		GossipKey:          testKey,
		AdminToken:         testToken,
		ResetTimeout:       testTimeout,
		HeartbeatTimeout:   300 * time.Millisecond,
		ElectionTimeout:    300 * time.Millisecond,
		LeaderLeaseTimeout: 200 * time.Millisecond,
		GossipProfile:      "local",
		tune:               fastGossip,
	}
	if edit != nil {
		edit(&tn.cfg)
	}
	tn.node, err = New(tn.cfg, tn.store, c.log)
	if err != nil {
		t.Fatal(err)
	}
	tn.srv = &fasthttp.Server{Handler: tn.handle, DisablePreParseMultipartForm: true}
	go func() { _ = tn.srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = tn.node.Close()
		_ = tn.srv.Shutdown()
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := tn.node.Start(ctx); err != nil {
		return tn, err
	}
	c.nodes = append(c.nodes, tn)
	return tn, nil
}

// mustStart starts a node and fails the test if it cannot.
func (c *testCluster) mustStart(name string, join []string) *testNode {
	c.t.Helper()
	tn, err := c.start(name, join, "", nil)
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	return tn
}

// startThree starts a bootstrapping node and two joiners and waits until
// they are one cluster with three voters and a leader every node agrees on.
func (c *testCluster) startThree() {
	c.t.Helper()
	n1 := c.mustStart("n1", nil)
	c.waitLeader(n1)
	c.mustStart("n2", []string{n1.node.GossipAddr()})
	c.mustStart("n3", []string{n1.node.GossipAddr(), c.nodes[1].node.GossipAddr()})
	c.waitVoters(3, c.nodes...)
}

// waitLeader waits until every node in nodes sees the same leader among
// them and is ready; it returns the leader.
func (c *testCluster) waitLeader(nodes ...*testNode) *testNode {
	c.t.Helper()
	var leader *testNode
	waitUntil(c.t, "one leader, every node ready", func() error {
		leader = nil
		for _, tn := range nodes {
			if tn.node.IsLeader() {
				leader = tn
			}
		}
		if leader == nil {
			return errors.New("no leader")
		}
		for _, tn := range nodes {
			if st := tn.node.Status(); st.Leader != leader.name {
				return fmt.Errorf("%s sees leader %q, not %s", tn.name, st.Leader, leader.name)
			}
			if err := tn.node.Ready(); err != nil {
				return fmt.Errorf("%s not ready: %w", tn.name, err)
			}
		}
		return nil
	})
	return leader
}

// waitVoters waits until every node's configuration has exactly n voters,
// every node sees every other alive through gossip (so hits reach them)
// and every node is ready.
func (c *testCluster) waitVoters(n int, nodes ...*testNode) *testNode {
	c.t.Helper()
	c.waitLeader(nodes...)
	waitUntil(c.t, fmt.Sprintf("%d voters", n), func() error {
		for _, tn := range nodes {
			voters := 0
			for _, m := range tn.node.Status().Members {
				if m.Suffrage == raft.Voter.String() {
					voters++
				}
			}
			if voters != n {
				return fmt.Errorf("%s sees %d voters: %+v", tn.name, voters, tn.node.Status().Members)
			}
			if err := tn.node.Ready(); err != nil {
				return fmt.Errorf("%s: %w", tn.name, err)
			}
			if got := tn.node.Members(); got != len(nodes) {
				return fmt.Errorf("%s sees %d alive members, want %d", tn.name, got, len(nodes))
			}
		}
		return nil
	})
	return c.waitLeader(nodes...)
}

func (c *testCluster) followers(leader *testNode, nodes ...*testNode) []*testNode {
	var out []*testNode
	for _, tn := range nodes {
		if tn != leader {
			out = append(out, tn)
		}
	}
	return out
}

// waitUntil polls cond every 10ms until it returns nil or waitFor passes.
func waitUntil(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s: %v", waitFor, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handle is the minimal reset route, as the real server wires it:
// POST /api/counters/{percent-encoded key}/reset.
func (tn *testNode) handle(ctx *fasthttp.RequestCtx) {
	const prefix, suffix = "/api/counters/", "/reset"
	raw := string(ctx.Request.URI().PathOriginal())
	if !ctx.IsPost() || !strings.HasPrefix(raw, prefix) || !strings.HasSuffix(raw, suffix) || len(raw) <= len(prefix)+len(suffix) {
		httpError(ctx, fasthttp.StatusNotFound, "not_found", "no such route")
		return
	}
	key, err := url.PathUnescape(raw[len(prefix) : len(raw)-len(suffix)])
	if err != nil {
		httpError(ctx, fasthttp.StatusBadRequest, "bad_key", err.Error())
		return
	}
	if string(ctx.Request.Header.Peek("Authorization")) != "Bearer "+testToken {
		httpError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "bad token")
		return
	}
	forwarded := len(ctx.Request.Header.Peek(server.ForwardedHeader)) > 0
	res, err := tn.node.Reset(context.Background(), key, forwarded)
	switch {
	case errors.Is(err, server.ErrNotLeader):
		httpError(ctx, fasthttp.StatusServiceUnavailable, "not_leader", err.Error())
	case errors.Is(err, server.ErrNoLeader):
		httpError(ctx, fasthttp.StatusServiceUnavailable, "no_leader", err.Error())
	case errors.Is(err, server.ErrStopped):
		httpError(ctx, fasthttp.StatusServiceUnavailable, "stopping", err.Error())
	case err != nil:
		httpError(ctx, fasthttp.StatusInternalServerError, "internal", err.Error())
	default:
		ctx.Response.Header.Set(server.IndexHeader, strconv.FormatUint(res.Index, 10))
		ctx.SetContentType("application/json")
		body, _ := json.Marshal(map[string]any{"key": key, "reset": res.Reset})
		ctx.SetBody(body)
	}
}

func httpError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	ctx.SetBody(body)
}

// postReset resets key through tn's HTTP API, as `ringlimit reset` does.
func postReset(t testing.TB, tn *testNode, key string) (status int, body map[string]any) {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + tn.httpAddr + ResetPath(key))
	req.URI().DisablePathNormalizing = true
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if err := fasthttp.DoTimeout(req, resp, waitFor); err != nil {
		t.Fatalf("POST reset to %s: %v", tn.name, err)
	}
	if err := json.Unmarshal(resp.Body(), &body); err != nil {
		t.Fatalf("reset body %q: %v", resp.Body(), err)
	}
	return resp.StatusCode(), body
}

// hitEverywhere counts one hit of key on every node.
func hitEverywhere(t testing.TB, key string, nodes ...*testNode) {
	t.Helper()
	for _, tn := range nodes {
		d, err := tn.store.Check(key, 1, testLimit, testWindow, time.Now())
		if err != nil || !d.Allowed {
			t.Fatalf("check %s on %s: %+v %v", key, tn.name, d, err)
		}
	}
}

func countOf(tn *testNode, key string) int64 {
	c, ok := tn.store.Get(key, time.Now())
	if !ok {
		return 0
	}
	return c.Count
}

// waitCount waits until key counts want on every node.
func waitCount(t testing.TB, key string, want int64, nodes ...*testNode) {
	t.Helper()
	waitUntil(t, fmt.Sprintf("%s to count %d everywhere", key, want), func() error {
		for _, tn := range nodes {
			if c := countOf(tn, key); c != want {
				return fmt.Errorf("%s counts %d", tn.name, c)
			}
		}
		return nil
	})
}

func TestClusterResetThroughFollower(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader(c.nodes...)
	fs := c.followers(leader, c.nodes...)

	// Every node sees the same three alive voters, and the leader's HTTP
	// address through gossip.
	for _, tn := range c.nodes {
		st := tn.node.Status()
		if st.LeaderHTTP != leader.httpAddr || st.Term == 0 || st.CommitIndex == 0 {
			t.Fatalf("%s status %+v", tn.name, st)
		}
		if len(st.Members) != 3 {
			t.Fatalf("%s lists %d members", tn.name, len(st.Members))
		}
		for _, m := range st.Members {
			if m.GossipState != "alive" || m.Suffrage != "Voter" || m.HTTPAddr == "" || m.RaftAddr == "" || m.GossipAddr == "" {
				t.Fatalf("%s: member %+v", tn.name, m)
			}
		}
		if tn.node.Members() != 3 {
			t.Fatalf("%s: Members() = %d", tn.name, tn.node.Members())
		}
	}

	// A key counted on all three shows 3 everywhere (hit replication).
	const key = "user:42"
	hitEverywhere(t, key, c.nodes...)
	waitCount(t, key, 3, c.nodes...)
	if fs[0].node.HitsMergedTotal() == 0 || fs[0].node.LastMergeAge() < 0 {
		t.Fatalf("no merge recorded: merged %d", fs[0].node.HitsMergedTotal())
	}

	// Reset through a follower: cleared on that follower at once
	// (read-your-reset), and on every replica.
	ctx := context.Background()
	res, err := fs[0].node.Reset(ctx, key, false)
	if err != nil || !res.Reset || res.Index == 0 {
		t.Fatalf("reset through follower: %+v, %v", res, err)
	}
	if c := countOf(fs[0], key); c != 0 {
		t.Fatalf("the follower asked still counts %d right after its reset", c)
	}
	if fs[0].node.AppliedIndex() < res.Index {
		t.Fatalf("follower applied %d < reset index %d", fs[0].node.AppliedIndex(), res.Index)
	}
	waitCount(t, key, 0, c.nodes...)
	if fs[0].node.ResetsTotal() != 1 || fs[0].node.ResetsForwardedTotal() == 0 {
		t.Fatalf("follower counts %d resets, %d forwarded", fs[0].node.ResetsTotal(), fs[0].node.ResetsForwardedTotal())
	}

	// Hits after the reset count again and replicate.
	hitEverywhere(t, key, c.nodes...)
	waitCount(t, key, 3, c.nodes...)

	// Through the HTTP API of the other follower, with a key that needs
	// percent-encoding, like `ringlimit reset KEY --addr <follower>`.
	odd := "tenant/a b%2F/ü?x#y"
	hitEverywhere(t, odd, c.nodes...)
	waitCount(t, odd, 3, c.nodes...)
	status, body := postReset(t, fs[1], odd)
	if status != 200 || body["reset"] != true || body["key"] != odd {
		t.Fatalf("POST reset through %s: %d %v", fs[1].name, status, body)
	}
	if c := countOf(fs[1], odd); c != 0 {
		t.Fatalf("%s still counts %d right after its reset", fs[1].name, c)
	}
	waitCount(t, odd, 0, c.nodes...)
	if countOf(leader, key) != 3 {
		t.Fatalf("resetting %q changed %q", odd, key)
	}

	// A second reset finds no live counter: still a success, reset false.
	status, body = postReset(t, fs[1], odd)
	if status != 200 || body["reset"] != false {
		t.Fatalf("second reset: %d %v", status, body)
	}

	// On the leader directly.
	if res, err := leader.node.Reset(ctx, key, false); err != nil || !res.Reset {
		t.Fatalf("reset on the leader: %+v %v", res, err)
	}
	waitCount(t, key, 0, c.nodes...)

	// A forwarded reset that reaches a follower is refused, not forwarded.
	if _, err := fs[0].node.Reset(ctx, key, true); !errors.Is(err, server.ErrNotLeader) {
		t.Fatalf("forwarded reset on a follower: %v, want ErrNotLeader", err)
	}
	for _, tn := range c.nodes {
		if got := tn.node.ResetsAppliedTotal(); got != 4 {
			t.Fatalf("%s applied %d resets, want 4", tn.name, got)
		}
		if tn.node.BadLogEntriesTotal() != 0 || tn.node.BadHitPacketsTotal() != 0 {
			t.Fatalf("%s: bad entries %d, bad packets %d", tn.name, tn.node.BadLogEntriesTotal(), tn.node.BadHitPacketsTotal())
		}
	}
}

func TestClusterLeaderKilled(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader(c.nodes...)
	survivors := c.followers(leader, c.nodes...)

	// Resets acknowledged before the crash.
	ctx := context.Background()
	var acked []uint64
	for i := range 3 {
		key := fmt.Sprintf("before:%d", i)
		hitEverywhere(t, key, c.nodes...)
		res, err := survivors[i%2].node.Reset(ctx, key, false)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, res.Index)
	}

	// Crash the leader: no leadership transfer, no gossip leave.
	crash(leader.node)
	newLeader := c.waitLeader(survivors...)
	if newLeader == leader {
		t.Fatal("the killed node still leads")
	}
	// Every acknowledged reset is applied on both survivors.
	for _, tn := range survivors {
		if got := tn.node.AppliedIndex(); got < acked[len(acked)-1] {
			t.Fatalf("%s applied %d, acknowledged resets up to %d", tn.name, got, acked[len(acked)-1])
		}
		for i := range 3 {
			if c := countOf(tn, fmt.Sprintf("before:%d", i)); c != 0 {
				t.Fatalf("%s: before:%d counts %d after its acknowledged reset", tn.name, i, c)
			}
		}
	}

	// Resets still work through the survivor that follows.
	follower := c.followers(newLeader, survivors...)[0]
	hitEverywhere(t, "after", survivors...)
	waitCount(t, "after", 2, survivors...)
	res, err := follower.node.Reset(ctx, "after", false)
	if err != nil || !res.Reset {
		t.Fatalf("reset through %s after the crash: %+v %v", follower.name, res, err)
	}
	waitCount(t, "after", 0, survivors...)

	// The dead node is seen dead by gossip but stays a voter until
	// ReapAfter (default 30m), so the configuration keeps three voters.
	waitUntil(t, "the killed node seen dead", func() error {
		for _, m := range newLeader.node.Status().Members {
			if m.ID == leader.name {
				if m.GossipState != "dead" || m.Suffrage != "Voter" {
					return fmt.Errorf("killed node: %+v", m)
				}
				return nil
			}
		}
		return errors.New("killed node not listed")
	})
}

// crash stops a node abruptly, as kill -9 would: no leadership transfer,
// no memberlist leave.
func crash(n *Node) {
	n.closeOnce.Do(func() {
		n.closed.Store(true)
		close(n.stop)
		n.wg.Wait()
		_ = n.ml.Shutdown()
		_ = n.raft.Shutdown().Error()
		_ = n.trans.Close()
		_ = n.bolt.Close()
	})
}

func TestClusterNoQuorumGivesNoLeader(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader(c.nodes...)
	survivor := c.followers(leader, c.nodes...)[0]
	for _, tn := range c.nodes {
		if tn != survivor {
			crash(tn.node)
		}
	}
	hitEverywhere(t, "k", survivor) // checks keep being answered
	start := time.Now()
	_, err := survivor.node.Reset(context.Background(), "k", false)
	took := time.Since(start)
	if !errors.Is(err, server.ErrNoLeader) {
		t.Fatalf("reset without quorum: %v, want ErrNoLeader", err)
	}
	if took < testTimeout-100*time.Millisecond || took > testTimeout+2*time.Second {
		t.Fatalf("reset without quorum took %s, want about the reset timeout %s", took, testTimeout)
	}
	if survivor.node.Ready() == nil {
		t.Fatal("a node without a leader reports ready")
	}
	if countOf(survivor, "k") != 1 {
		t.Fatal("a failed reset changed the counter")
	}
	if survivor.node.ResetErrorsTotal() != 1 {
		t.Fatalf("reset errors %d, want 1", survivor.node.ResetErrorsTotal())
	}
}

func TestClusterWrongGossipKeyCannotJoin(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.mustStart("n1", nil)
	c.waitLeader(n1)
	wrong := []byte("fedcba9876543210fedcba9876543210")
	for name, key := range map[string][]byte{"wrong-key": wrong, "no-key": nil} {
		_, err := c.start(name, []string{n1.node.GossipAddr()}, "", func(cfg *Config) {
			cfg.GossipKey = key
			cfg.JoinTimeout = time.Second
		})
		if err == nil {
			t.Fatalf("%s joined a cluster with another gossip key", name)
		}
		t.Logf("%s: %v", name, err)
	}
	if got := n1.node.Members(); got != 1 {
		t.Fatalf("the cluster has %d members, want 1", got)
	}
	if st := n1.node.Status(); len(st.Members) != 1 {
		t.Fatalf("status lists %+v", st.Members)
	}
}

func TestClusterJoinLeaveAndLeaderHandover(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	n4 := c.mustStart("n4", []string{c.nodes[2].node.GossipAddr()})
	c.waitVoters(4, c.nodes...)

	// A graceful leave removes the node from the Raft configuration.
	if err := n4.node.Close(); err != nil {
		t.Fatal(err)
	}
	rest := c.nodes[:3]
	leader := c.waitLeader(rest...)
	waitUntil(t, "n4 removed from Raft", func() error {
		for _, m := range leader.node.Status().Members {
			if m.ID == "n4" && (m.Suffrage != "" || m.GossipState != "left") {
				return fmt.Errorf("n4: %+v", m)
			}
		}
		return nil
	})
	c.waitVoters(3, rest...)

	// The leader leaving hands leadership over first and is removed too.
	if err := leader.node.Close(); err != nil {
		t.Fatal(err)
	}
	rest = c.followers(leader, rest...)
	c.waitVoters(2, rest...)
	newLeader := c.waitLeader(rest...)
	if _, err := c.followers(newLeader, rest...)[0].node.Reset(context.Background(), "k", false); err != nil {
		t.Fatalf("reset after the leader left: %v", err)
	}
	if leader.node.Ready() == nil || !errors.Is(leader.node.Ready(), server.ErrStopped) {
		t.Fatalf("closed node: Ready = %v", leader.node.Ready())
	}
	if _, err := leader.node.Reset(context.Background(), "k", false); !errors.Is(err, server.ErrStopped) {
		t.Fatalf("reset on a closed node: %v, want ErrStopped", err)
	}
}

func TestClusterMaxVoters(t *testing.T) {
	c := newTestCluster(t)
	limit := func(cfg *Config) { cfg.MaxVoters = 2 }
	n1, err := c.start("n1", nil, "", limit)
	if err != nil {
		t.Fatal(err)
	}
	c.waitLeader(n1)
	for _, name := range []string{"n2", "n3"} {
		if _, err := c.start(name, []string{n1.node.GossipAddr()}, "", limit); err != nil {
			t.Fatal(err)
		}
	}
	leader := c.waitVoters(2, c.nodes...)
	waitUntil(t, "one non-voter", func() error {
		nonvoters := 0
		for _, m := range leader.node.Status().Members {
			if m.Suffrage == raft.Nonvoter.String() {
				nonvoters++
			}
		}
		if nonvoters != 1 {
			return fmt.Errorf("%d non-voters", nonvoters)
		}
		return nil
	})
	// A non-voter gets resets applied like any replica.
	hitEverywhere(t, "k", c.nodes...)
	waitCount(t, "k", 3, c.nodes...)
	if _, err := c.followers(leader, c.nodes...)[0].node.Reset(context.Background(), "k", false); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "k", 0, c.nodes...)
}

// A node that restarts with its data dir does not bootstrap again,
// replays its log (and snapshot) without clearing hits that came after
// the resets, and ignores late hits from before them.
func TestSingleNodeRestart(t *testing.T) {
	c := newTestCluster(t)
	for _, snap := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			c.t = t
			n1, err := c.start("solo", nil, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			c.waitLeader(n1)
			hitEverywhere(t, "k", n1)
			before := time.Now()
			res, err := n1.node.Reset(context.Background(), "k", false)
			if err != nil || !res.Reset {
				t.Fatalf("reset: %+v %v", res, err)
			}
			after := time.Now()
			if snap {
				if err := n1.node.raft.Snapshot().Error(); err != nil {
					t.Fatalf("snapshot: %v", err)
				}
			}
			if err := n1.node.Close(); err != nil {
				t.Fatal(err)
			}

			n1b, err := c.start("solo", nil, n1.dataDir, nil)
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			c.waitLeader(n1b)
			waitUntil(t, "log replayed", func() error {
				if got := n1b.node.AppliedIndex(); got < res.Index {
					return fmt.Errorf("applied %d < %d", got, res.Index)
				}
				return nil
			})
			// A late peer hit from before the reset is ignored; one
			// after it counts.
			_ = n1b.store.Merge("k", before.Add(-time.Millisecond), 1, testLimit, testWindow)
			_ = n1b.store.Merge("k", after.Add(time.Millisecond), 1, testLimit, testWindow)
			if got := countOf(n1b, "k"); got != 1 {
				t.Fatalf("after restart: count %d, want 1 (only the post-reset hit)", got)
			}
			// The restarted node still resets.
			if res2, err := n1b.node.Reset(context.Background(), "k", false); err != nil || !res2.Reset || res2.Index <= res.Index {
				t.Fatalf("reset after restart: %+v %v (first at %d)", res2, err, res.Index)
			}
		})
	}
}

// BenchmarkResetThroughFollower measures a reset sent to a follower of a
// three-node loopback cluster: forwarded to the leader, committed, and
// applied on the follower before it returns. It reports p50 and p99.
func BenchmarkResetThroughFollower(b *testing.B) {
	c := newTestCluster(b)
	c.startThree()
	leader := c.waitLeader(c.nodes...)
	follower := c.followers(leader, c.nodes...)[0]
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := follower.node.Reset(ctx, "bench:"+strconv.Itoa(i%64), false); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkHitReplication measures the time from a check admitted on one
// node to its hit counting on another (SyncInterval 5ms): p50 and p99.
func BenchmarkHitReplication(b *testing.B) {
	c := newTestCluster(b)
	c.startThree()
	from, to := c.nodes[0], c.nodes[1]
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		key := "repl:" + strconv.Itoa(i)
		start := time.Now()
		if _, err := from.store.Check(key, 1, testLimit, testWindow, start); err != nil {
			b.Fatal(err)
		}
		for countOf(to, key) == 0 {
			if time.Since(start) > waitFor {
				b.Fatalf("hit %d not replicated within %s", i, waitFor)
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// A crashed follower restarted with its data dir (and its addresses)
// rejoins without bootstrapping, catches up with the resets it missed, and
// its log replay clears no hit that came after them.
func TestClusterCrashedFollowerRestarts(t *testing.T) {
	c := newTestCluster(t)
	c.startThree()
	leader := c.waitLeader(c.nodes...)
	fs := c.followers(leader, c.nodes...)
	gone, other := fs[0], fs[1]
	ctx := context.Background()

	hitEverywhere(t, "a", c.nodes...)
	waitCount(t, "a", 3, c.nodes...)
	if _, err := other.node.Reset(ctx, "a", false); err != nil {
		t.Fatal(err)
	}
	waitCount(t, "a", 0, c.nodes...)
	crash(gone.node)

	// While it is down: a reset it misses, and hits after it.
	live := []*testNode{leader, other}
	hitEverywhere(t, "b", live...)
	missed, err := other.node.Reset(ctx, "b", false)
	if err != nil || !missed.Reset {
		t.Fatalf("reset while a follower is down: %+v %v", missed, err)
	}
	hitEverywhere(t, "a", live...)
	waitCount(t, "a", 2, live...)

	back, err := c.start(gone.name, []string{leader.node.GossipAddr()}, gone.dataDir, func(cfg *Config) {
		cfg.GossipAddr = gone.node.GossipAddr()
		cfg.RaftAddr = gone.node.RaftAddr()
	})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	nodes := []*testNode{leader, other, back}
	c.waitVoters(3, nodes...)
	waitUntil(t, "the restarted node catches up", func() error {
		if got := back.node.AppliedIndex(); got < missed.Index {
			return fmt.Errorf("applied %d < %d", got, missed.Index)
		}
		return nil
	})
	// Its own store starts empty; the hits of "a" after the replayed reset
	// are not in it (they were sent while it was down), but new ones are
	// merged, and the replayed resets clear none of them.
	hitEverywhere(t, "a", nodes...)
	waitUntil(t, "new hits on the restarted node", func() error {
		if got := countOf(back, "a"); got != 3 {
			return fmt.Errorf("counts %d", got)
		}
		return nil
	})
	if got := back.node.ResetsAppliedTotal(); got < 2 {
		t.Fatalf("the restarted node applied %d resets, want both", got)
	}
	// Replication is asynchronous: the restarted node's hit reaches the
	// leader a sync interval or so after it reached the restarted node.
	waitUntil(t, "the leader counts 2 hits from while it was down and 3 after", func() error {
		if got := countOf(leader, "a"); got != 5 {
			return fmt.Errorf("leader counts %d of a, want 5", got)
		}
		return nil
	})
}
