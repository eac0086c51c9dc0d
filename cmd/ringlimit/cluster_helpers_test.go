package main

// The end-to-end cluster harness: real `ringlimit serve` processes (the
// binary TestMain builds), each on free 127.0.0.1 ports with its own data
// directory, started, stopped, continued, killed and restarted by PID.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/server"
)

const (
	// e2eWait is the deadline of every wait on a condition: generous,
	// for a slow shared machine.
	e2eWait = 20 * time.Second
	// e2eResetTimeout is the --reset-timeout of the test nodes.
	e2eResetTimeout = 2 * time.Second
	// e2eToken is their --admin-token.
	e2eToken = "e2e-s3cret"
	// e2eGossipKey is their --gossip-key (32 bytes, base64).
	e2eGossipKey = "ZTJlLWdvc3NpcC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc="
	// e2eLimit and e2eWindow are what the tests' checks ask for.
	e2eLimit  = 1000
	e2eWindow = time.Minute
)

// e2eArgs are the flags every test node gets besides its addresses:
// fast Raft and gossip timing for one machine, a short reset timeout.
var e2eArgs = []string{
	"--log-format", "json", "--log-level", "info",
	"--gossip-profile", "local",
	"--raft-heartbeat-timeout", "300ms", "--raft-election-timeout", "300ms", "--raft-lease-timeout", "150ms",
	"--reset-timeout", e2eResetTimeout.String(),
	"--join-timeout", "10s",
	"--admin-token", e2eToken,
}

// Cluster is a set of ringlimit processes started by one test. It has no
// globals: every test makes its own, and its cleanup kills every process
// it started (also on failure) and prints their logs when the test failed.
type Cluster struct {
	dir    string
	client *http.Client
	mu     sync.Mutex
	nodes  []*testNode
}

// testNode is one node: its fixed identity (ID, data dir, and addresses
// once first started) and its current process, if any.
type testNode struct {
	c       *Cluster
	id      string
	dataDir string
	extra   []string // flags of every start

	// Known once the node served: restarts reuse them.
	httpAddr, gossipAddr, raftAddr string

	mu      sync.Mutex
	proc    *nodeProcess
	runs    []*nodeProcess // every process it ran, for the logs
	stopped bool           // SIGSTOPped
}

// nodeProcess is one run of a node.
type nodeProcess struct {
	cmd     *exec.Cmd
	log     *processLog
	done    chan struct{} // closed when the process exited
	waitErr error
}

// newCluster returns an empty cluster whose processes are killed when t
// ends.
func newCluster(t *testing.T) *Cluster {
	t.Helper()
	c := &Cluster{
		dir: t.TempDir(), // removed after the cleanup below: processes are gone by then
		// No keep-alive: nodes are killed and restarted on the same ports,
		// and a POST on a stale pooled connection would not be retried.
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.Cleanup(func() {
		c.mu.Lock()
		nodes := append([]*testNode(nil), c.nodes...)
		c.mu.Unlock()
		for _, n := range nodes {
			n.kill()
		}
		if t.Failed() || os.Getenv("RINGLIMIT_TEST_LOG") != "" {
			for _, n := range nodes {
				for i, p := range n.runs {
					t.Logf("==== %s, run %d (%s) ====\n%s", n.id, i+1, p.cmd.ProcessState, p.log.String())
				}
			}
		}
	})
	return c
}

// Start starts a new node id that joins the given nodes (none: it
// bootstraps a one-node cluster) and returns once it serves HTTP.
func (c *Cluster) Start(t testing.TB, id string, join ...*testNode) *testNode {
	t.Helper()
	n, err := c.start(id, nil, join...)
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	return n
}

// start is Start returning an error; extra flags go after the defaults.
func (c *Cluster) start(id string, extra []string, join ...*testNode) (*testNode, error) {
	n := &testNode{c: c, id: id, dataDir: filepath.Join(c.dir, id), extra: extra}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	return n, n.run(join)
}

// Restart starts a node that is down again, with its data dir and its
// addresses, joining the given nodes.
func (c *Cluster) Restart(t testing.TB, n *testNode, join ...*testNode) {
	t.Helper()
	if n.running() {
		t.Fatalf("restart %s: still running", n.id)
	}
	if err := n.run(join); err != nil {
		t.Fatalf("restart %s: %v", n.id, err)
	}
}

// run starts a process of n and waits until it logs that it serves, or
// exits.
func (n *testNode) run(join []*testNode) error {
	httpAddr, gossipAddr, raftAddr := "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if n.httpAddr != "" { // a restart: same addresses
		httpAddr, gossipAddr, raftAddr = n.httpAddr, n.gossipAddr, n.raftAddr
	}
	args := []string{"serve", "--node-id", n.id, "--data-dir", n.dataDir, "--gossip-key", e2eGossipKey,
		"--http-addr", httpAddr, "--gossip-addr", gossipAddr, "--raft-addr", raftAddr}
	args = append(args, e2eArgs...)
	var addrs []string
	for _, j := range join {
		addrs = append(addrs, j.gossipAddr)
	}
	if len(addrs) > 0 {
		args = append(args, "--join", strings.Join(addrs, ","))
	}
	args = append(args, n.extra...)

	p := &nodeProcess{log: newProcessLog(), done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.Env = []string{} // no RINGLIMIT_* from the test's environment
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return err
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	n.mu.Lock()
	n.proc, n.stopped = p, false
	n.runs = append(n.runs, p)
	n.mu.Unlock()

	select {
	case rec := <-p.log.serving:
		if n.httpAddr == "" {
			n.httpAddr, n.gossipAddr, n.raftAddr = rec.HTTPAddr, rec.GossipAddr, rec.RaftAddr
		}
		return nil
	case <-p.done:
		return fmt.Errorf("exited (%v) before serving:\n%s", p.waitErr, p.log.String())
	case <-time.After(e2eWait):
		return fmt.Errorf("not serving after %s:\n%s", e2eWait, p.log.String())
	}
}

// running reports whether n has a live process (stopped or not).
func (n *testNode) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return false
	}
	select {
	case <-n.proc.done:
		return false
	default:
		return true
	}
}

// up reports whether n runs and is not stopped: it can answer.
func (n *testNode) up() bool {
	n.mu.Lock()
	stopped := n.stopped
	n.mu.Unlock()
	return !stopped && n.running()
}

// pid is the process ID of the current process.
func (n *testNode) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc.cmd.Process.Pid
}

// kill sends SIGKILL (also to a stopped process) and waits for the exit.
func (n *testNode) kill() {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// term sends SIGTERM and returns the exit code, or -1 if the process
// does not exit within e2eWait (it is killed then).
func (n *testNode) term() int {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(e2eWait):
		n.kill()
		return -1
	}
}

// exited waits for the current process to exit by itself and returns its
// exit code, or -1 if it still runs after d.
func (n *testNode) exited(d time.Duration) int {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	}
}

// stop sends SIGSTOP and waits until the kernel shows the process stopped.
func (n *testNode) stop(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGSTOP, true)
}

// cont sends SIGCONT and waits until the process runs again.
func (n *testNode) cont(t testing.TB) {
	t.Helper()
	n.signal(t, syscall.SIGCONT, false)
}

func (n *testNode) signal(t testing.TB, sig syscall.Signal, stop bool) {
	t.Helper()
	n.mu.Lock()
	p := n.proc
	n.stopped = stop
	n.mu.Unlock()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: %v: %v", n.id, sig, err)
	}
	waitFor(t, fmt.Sprintf("%s %v", n.id, sig), func() error {
		state, ok := procState(p.cmd.Process.Pid)
		if !ok {
			return nil // no /proc: trust the signal
		}
		if (state == 'T') != stop {
			return fmt.Errorf("process state %c", state)
		}
		return nil
	})
}

// procState is the state letter of a process in /proc (T: stopped).
func procState(pid int) (byte, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 || i+2 >= len(b) {
		return 0, false
	}
	return b[i+2], true
}

// logText is everything the node's processes logged.
func (n *testNode) logText() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	for _, p := range n.runs {
		b.WriteString(p.log.String())
	}
	return b.String()
}

// lastLog is what the current process logged.
func (n *testNode) lastLog() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc.log.String()
}

// Nodes are the nodes that are up (running, not stopped).
func (c *Cluster) Nodes() []*testNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*testNode
	for _, n := range c.nodes {
		if n.up() {
			out = append(out, n)
		}
	}
	return out
}

// Leader waits until every node that is up is ready and names the same
// leader in the same term, that leader being one of them, and returns it.
func (c *Cluster) Leader(t testing.TB) *testNode {
	t.Helper()
	var leader *testNode
	waitFor(t, "one leader that every node up agrees on", func() error {
		leader = nil
		nodes := c.Nodes()
		var first server.ClusterStatus
		for i, n := range nodes {
			if err := n.ready(); err != nil {
				return fmt.Errorf("%s: %w", n.id, err)
			}
			st, err := n.status()
			if err != nil {
				return err
			}
			if st.Leader == "" {
				return fmt.Errorf("%s knows no leader", n.id)
			}
			if i == 0 {
				first = st
			} else if st.Leader != first.Leader || st.Term != first.Term {
				return fmt.Errorf("%s sees leader %s in term %d, %s sees %s in term %d",
					nodes[0].id, first.Leader, first.Term, n.id, st.Leader, st.Term)
			}
			if st.State == "Leader" {
				leader = n
			}
		}
		if leader == nil || leader.id != first.Leader {
			return fmt.Errorf("leader %s is not up", first.Leader)
		}
		return nil
	})
	return leader
}

// Followers are the nodes up other than the Leader.
func (c *Cluster) Followers(t testing.TB) []*testNode {
	t.Helper()
	_, fs := c.Roles(t)
	return fs
}

// Roles is the Leader and the Followers of one look at the cluster.
func (c *Cluster) Roles(t testing.TB) (*testNode, []*testNode) {
	t.Helper()
	leader := c.Leader(t)
	var fs []*testNode
	for _, n := range c.Nodes() {
		if n != leader {
			fs = append(fs, n)
		}
	}
	return leader, fs
}

// waitFor polls cond until it returns nil, or fails t after e2eWait with
// cond's last error.
func waitFor(t testing.TB, what string, cond func() error) {
	t.Helper()
	waitWithin(t, e2eWait, what, cond)
}

// waitWithin is waitFor with another deadline.
func waitWithin(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---- HTTP API of one node ----

// do sends one request to the node's API.
func (n *testNode) do(method, path, body string, header ...string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+n.httpAddr+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := n.c.client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s: %w", n.id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// ready is nil when GET /readyz answers 200.
func (n *testNode) ready() error {
	status, _, body, err := n.do("GET", "/readyz", "")
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("%s: readyz %d %s", n.id, status, body)
	}
	return nil
}

// status is GET /api/cluster.
func (n *testNode) status() (server.ClusterStatus, error) {
	var st server.ClusterStatus
	status, _, body, err := n.do("GET", "/api/cluster", "")
	if err == nil && status != 200 {
		err = fmt.Errorf("%s: /api/cluster %d %s", n.id, status, body)
	}
	if err == nil {
		err = json.Unmarshal(body, &st)
	}
	return st, err
}

// check is POST /check of key with the tests' limit and window.
func (n *testNode) check(key string, cost int64) (decision, error) {
	return n.checkLimit(key, cost, e2eLimit)
}

func (n *testNode) checkLimit(key string, cost, limit int64) (decision, error) {
	body := fmt.Sprintf(`{"key":%q,"cost":%d,"limit":%d,"window_ms":%d}`, key, cost, limit, e2eWindow.Milliseconds())
	var d decision
	status, _, b, err := n.do("POST", "/check", body)
	if err == nil && status != 200 {
		err = fmt.Errorf("%s: check %d %s", n.id, status, b)
	}
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	return d, err
}

// count is the key's count on the node (GET /api/counters/{key}); 0 and
// false when the node has no live counter (404).
func (n *testNode) count(key string) (int64, bool, error) {
	status, _, b, err := n.do("GET", "/api/counters/"+url.PathEscape(key), "")
	switch {
	case err != nil:
		return 0, false, err
	case status == 404:
		return 0, false, nil
	case status != 200:
		return 0, false, fmt.Errorf("%s: counter %d %s", n.id, status, b)
	}
	var c counter
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, false, err
	}
	return c.Count, true, nil
}

// resetReply is the answer to POST /api/counters/{key}/reset.
type resetReply struct {
	status int
	body   string
	index  uint64 // X-Ringlimit-Index
}

// reset resets key through the node, with the admin token.
func (n *testNode) reset(key string) (resetReply, error) {
	status, h, b, err := n.do("POST", "/api/counters/"+url.PathEscape(key)+"/reset", "", "Authorization", "Bearer "+e2eToken)
	if err != nil {
		return resetReply{}, err
	}
	r := resetReply{status: status, body: string(b)}
	r.index, _ = strconv.ParseUint(h.Get(server.IndexHeader), 10, 64)
	return r, nil
}

// metric is the value of one metric without labels on GET /metrics.
func (n *testNode) metric(name string) (float64, error) {
	status, _, b, err := n.do("GET", "/metrics", "")
	if err != nil {
		return 0, err
	}
	if status != 200 {
		return 0, fmt.Errorf("%s: metrics %d", n.id, status)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s: no metric %s", n.id, name)
}

// waitCount waits until key counts want on every node (want 0: no live
// counter).
func waitCount(t testing.TB, key string, want int64, nodes ...*testNode) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%q counts %d on every node", key, want), func() error {
		var counts []string
		bad := false
		for _, n := range nodes {
			got, _, err := n.count(key)
			if err != nil {
				return err
			}
			bad = bad || got != want
			counts = append(counts, fmt.Sprintf("%s %d", n.id, got))
		}
		if bad {
			return fmt.Errorf("counts: %s", strings.Join(counts, ", "))
		}
		return nil
	})
}

// hitAll checks key once (cost 1) on every node and waits until every
// node counts one hit per node: the key is live everywhere.
func hitAll(t testing.TB, key string, nodes ...*testNode) {
	t.Helper()
	for _, n := range nodes {
		if d, err := n.check(key, 1); err != nil || !d.Allowed {
			t.Fatalf("check %q on %s: %+v %v", key, n.id, d, err)
		}
	}
	waitCount(t, key, int64(len(nodes)), nodes...)
}

// ---- process logs ----

// servingRecord is the "ringlimit serving" log line's addresses.
type servingRecord struct {
	HTTPAddr   string `json:"http_addr"`
	GossipAddr string `json:"gossip_addr"`
	RaftAddr   string `json:"raft_addr"`
}

// processLog keeps a process's output and reports its "ringlimit
// serving" line. It is safe for concurrent use.
type processLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	line    []byte // incomplete last line
	serving chan servingRecord
}

func newProcessLog() *processLog { return &processLog{serving: make(chan servingRecord, 1)} }

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	l.line = append(l.line, p...)
	for {
		i := bytes.IndexByte(l.line, '\n')
		if i < 0 {
			break
		}
		line := l.line[:i]
		if bytes.Contains(line, []byte(`"msg":"ringlimit serving"`)) {
			var rec servingRecord
			if json.Unmarshal(line, &rec) == nil {
				select {
				case l.serving <- rec:
				default:
				}
			}
		}
		l.line = l.line[i+1:]
	}
	return len(p), nil
}

func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
