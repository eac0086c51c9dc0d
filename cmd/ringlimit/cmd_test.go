package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestServeConfig(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(serveConfig) bool
	}{
		{"defaults", nil, nil, func(c serveConfig) bool {
			return c.HTTPAddr == "127.0.0.1:8001" && c.DefaultLimit == 100 && c.DefaultWindow == time.Minute &&
				c.MaxKeys == 0 && c.MaxBodyBytes == 2<<20 && c.LogLevel == "info" && c.LogFormat == "text" && c.AdminToken == ""
		}},
		{"flags", []string{"--http-addr", "127.0.0.1:9", "--default-limit", "7", "--default-window=10s", "--max-keys", "1000",
			"--max-body-bytes", "4096", "--read-timeout", "1s", "--write-timeout", "2s", "--idle-timeout", "3s",
			"--admin-token", "tok", "--log-level", "debug", "--log-format", "json", "--max-conns", "5", "--reset-timeout", "4s"}, nil,
			func(c serveConfig) bool {
				return c.HTTPAddr == "127.0.0.1:9" && c.DefaultLimit == 7 && c.DefaultWindow == 10*time.Second && c.MaxKeys == 1000 &&
					c.MaxBodyBytes == 4096 && c.ReadTimeout == time.Second && c.WriteTimeout == 2*time.Second &&
					c.IdleTimeout == 3*time.Second && c.AdminToken == "tok" && c.LogLevel == "debug" && c.LogFormat == "json" &&
					c.MaxConns == 5 && c.ResetTimeout == 4*time.Second
			}},
		{"environment", nil, map[string]string{"RINGLIMIT_HTTP_ADDR": "127.0.0.1:10", "RINGLIMIT_DEFAULT_LIMIT": "8",
			"RINGLIMIT_DEFAULT_WINDOW": "2m", "RINGLIMIT_ADMIN_TOKEN": "env-tok", "RINGLIMIT_MAX_KEYS": "50",
			"RINGLIMIT_LOG_FORMAT": "json", "RINGLIMIT_SWEEP_INTERVAL": "250ms", "RINGLIMIT_MAX_CONNS_PER_IP": "3"},
			func(c serveConfig) bool {
				return c.HTTPAddr == "127.0.0.1:10" && c.DefaultLimit == 8 && c.DefaultWindow == 2*time.Minute &&
					c.AdminToken == "env-tok" && c.MaxKeys == 50 && c.LogFormat == "json" && c.SweepInterval == 250*time.Millisecond &&
					c.MaxConnsPerIP == 3
			}},
		{"cluster defaults", nil, nil, func(c serveConfig) bool {
			h, _ := os.Hostname()
			return c.NodeID == h && c.GossipAddr == "127.0.0.1:7946" && c.RaftAddr == "127.0.0.1:7947" &&
				c.dataDir() == filepath.Join("data", h) && c.Join == "" && c.MaxVoters == 5 && c.GossipProfile == "lan" &&
				c.JoinTimeout == 30*time.Second && c.SyncInterval == 5*time.Millisecond && c.ReapAfter == 30*time.Minute &&
				c.RaftHeartbeatTimeout == time.Second && c.RaftElectionTimeout == time.Second &&
				c.RaftLeaseTimeout == 500*time.Millisecond && c.RaftCommitTimeout == 50*time.Millisecond &&
				c.HTTPAdvertiseAddr == "" && c.GossipKey == "" && c.windowConfig().RecordHits
		}},
		{"cluster flags", []string{"--node-id", "n7", "--gossip-addr", "127.0.0.1:17946", "--advertise-addr", "10.0.0.7:7946",
			"--join", "127.0.0.1:1, 127.0.0.1:2,", "--join-timeout", "3s", "--gossip-key", testGossipKey, "--raft-addr", "127.0.0.1:17947",
			"--raft-advertise-addr", "10.0.0.7:7947", "--data-dir", "/var/lib/rl", "--max-voters", "3", "--reap-after", "1h",
			"--sync-interval", "2ms", "--floor-retention", "2h", "--raft-heartbeat-timeout", "300ms", "--raft-election-timeout", "400ms",
			"--raft-lease-timeout", "150ms", "--raft-commit-timeout", "10ms", "--gossip-profile", "local",
			"--http-addr", "0.0.0.0:8001", "--http-advertise-addr", "10.0.0.7:8001"}, nil,
			func(c serveConfig) bool {
				return c.NodeID == "n7" && c.GossipAddr == "127.0.0.1:17946" && c.AdvertiseAddr == "10.0.0.7:7946" &&
					strings.Join(c.joinList(), " ") == "127.0.0.1:1 127.0.0.1:2" && c.JoinTimeout == 3*time.Second &&
					c.RaftAddr == "127.0.0.1:17947" && c.RaftAdvertiseAddr == "10.0.0.7:7947" && c.dataDir() == "/var/lib/rl" &&
					c.MaxVoters == 3 && c.ReapAfter == time.Hour && c.SyncInterval == 2*time.Millisecond && c.FloorRetention == 2*time.Hour &&
					c.RaftHeartbeatTimeout == 300*time.Millisecond && c.RaftElectionTimeout == 400*time.Millisecond &&
					c.RaftLeaseTimeout == 150*time.Millisecond && c.RaftCommitTimeout == 10*time.Millisecond &&
					c.GossipProfile == "local" && c.HTTPAdvertiseAddr == "10.0.0.7:8001"
			}},
		{"cluster environment", nil, map[string]string{"RINGLIMIT_NODE_ID": "env-node", "RINGLIMIT_JOIN": "127.0.0.1:7946",
			"RINGLIMIT_GOSSIP_KEY": testGossipKey, "RINGLIMIT_DATA_DIR": "/tmp/d", "RINGLIMIT_MAX_VOTERS": "7",
			"RINGLIMIT_RAFT_LEASE_TIMEOUT": "100ms", "RINGLIMIT_GOSSIP_PROFILE": "local", "RINGLIMIT_HTTP_ADVERTISE_ADDR": "127.0.0.2:8001"},
			func(c serveConfig) bool {
				return c.NodeID == "env-node" && c.Join == "127.0.0.1:7946" && c.GossipKey == testGossipKey && c.DataDir == "/tmp/d" &&
					c.MaxVoters == 7 && c.RaftLeaseTimeout == 100*time.Millisecond && c.GossipProfile == "local" &&
					c.HTTPAdvertiseAddr == "127.0.0.2:8001"
			}},
		{"a flag wins over the environment", []string{"--default-limit", "9", "--admin-token="},
			map[string]string{"RINGLIMIT_DEFAULT_LIMIT": "8", "RINGLIMIT_DEFAULT_WINDOW": "2m", "RINGLIMIT_ADMIN_TOKEN": "env-tok"},
			func(c serveConfig) bool {
				return c.DefaultLimit == 9 && c.DefaultWindow == 2*time.Minute && c.AdminToken == ""
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := serveConfigOf(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--nope"}, nil, "flag provided but not defined"},
		{"bad flag value", []string{"--default-limit", "many"}, nil, "invalid value"},
		{"bad env value", nil, map[string]string{"RINGLIMIT_DEFAULT_WINDOW": "soon"}, "RINGLIMIT_DEFAULT_WINDOW"},
		{"zero limit", []string{"--default-limit", "0"}, nil, "--default-limit"},
		{"limit too large", []string{"--default-limit", "99999999999999"}, nil, "--default-limit"},
		{"zero window", []string{"--default-window", "0s"}, nil, "--default-window"},
		{"negative max keys", []string{"--max-keys", "-1"}, nil, "--max-keys"},
		{"zero body", []string{"--max-body-bytes", "0"}, nil, "--max-body-bytes"},
		{"zero timeout", []string{"--read-timeout", "0s"}, nil, "--read-timeout"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"bad log format", nil, map[string]string{"RINGLIMIT_LOG_FORMAT": "xml"}, "--log-format"},
		{"stray argument", []string{"extra"}, nil, "unexpected arguments"},
		{"wildcard http without advertise", []string{"--http-addr", "0.0.0.0:8001"}, nil, "set --http-advertise-addr"},
		{"empty-host http without advertise", []string{"--http-addr", ":8001"}, nil, "set --http-advertise-addr"},
		{"wildcard http advertise", []string{"--http-addr", "[::]:8001", "--http-advertise-addr", "0.0.0.0:8001"}, nil, "--http-advertise-addr"},
		{"wildcard raft without advertise", []string{"--raft-addr", "0.0.0.0:7947"}, nil, "set --raft-advertise-addr"},
		{"bad gossip addr", []string{"--gossip-addr", "nowhere"}, nil, "--gossip-addr"},
		{"bad join", nil, map[string]string{"RINGLIMIT_JOIN": "127.0.0.1:7946,nowhere"}, "--join"},
		{"gossip key not base64", []string{"--gossip-key", "not*base64"}, nil, "--gossip-key"},
		{"gossip key too short", []string{"--gossip-key", "c2hvcnQ="}, nil, "--gossip-key"},
		{"bad gossip profile", []string{"--gossip-profile", "wan"}, nil, "--gossip-profile"},
		{"zero voters", []string{"--max-voters", "0"}, nil, "--max-voters"},
		{"empty node id", []string{"--node-id", ""}, nil, "--node-id"},
		{"heartbeat too short", []string{"--raft-heartbeat-timeout", "1ms"}, nil, "--raft-heartbeat-timeout"},
		{"lease over heartbeat", []string{"--raft-heartbeat-timeout", "300ms", "--raft-lease-timeout", "400ms"}, nil, "--raft-lease-timeout"},
		{"zero sync interval", []string{"--sync-interval", "0s"}, nil, "--sync-interval"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := cli(t, tc.env, append([]string{"serve"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tc.want)
			}
		})
	}
	if code, _, stderr := cli(t, nil, "serve", "-h"); code != 0 || !strings.Contains(stderr, "[$RINGLIMIT_HTTP_ADDR]") {
		t.Errorf("serve -h: %d %q", code, stderr)
	}
	if code, _, stderr := cli(t, nil, "frobnicate"); code != exitUsage || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
}

// testGossipKey is a valid --gossip-key (32 bytes, base64).
const testGossipKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// TestClusterConfig checks that the flags reach cluster.Config, and that
// --reset-timeout and --admin-token feed both the server and the cluster.
func TestClusterConfig(t *testing.T) {
	c, err := serveConfigOf(t, nil, "--node-id", "n1", "--join", "127.0.0.1:1,127.0.0.1:2", "--gossip-key", testGossipKey,
		"--reset-timeout", "3s", "--admin-token", "tok", "--raft-lease-timeout", "200ms", "--max-voters", "3")
	if err != nil {
		t.Fatal(err)
	}
	cc := c.clusterConfig("127.0.0.1:8001", nil)
	sc := c.serverConfig(nil, nil, nil)
	if cc.NodeID != "n1" || len(cc.Join) != 2 || len(cc.GossipKey) != 32 || cc.HTTPAddr != "127.0.0.1:8001" ||
		cc.DataDir != filepath.Join("data", "n1") || cc.MaxVoters != 3 || cc.LeaderLeaseTimeout != 200*time.Millisecond ||
		cc.ResetTimeout != 3*time.Second || sc.ResetTimeout != 3*time.Second || cc.AdminToken != "tok" || sc.AdminToken != "tok" {
		t.Errorf("cluster %+v, server %+v", cc, sc)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, nil, "version")
	if code != 0 || !regexp.MustCompile(`^ringlimit \S+ \(go\S+, \w+/\w+\)\n$`).MatchString(out) {
		t.Errorf("version: %d %q", code, out)
	}
}

// TestOperatorCommands drives a node in process with the operator
// subcommands, as an operator would.
func TestOperatorCommands(t *testing.T) {
	m := startMain(t, "--default-limit", "5", "--default-window", "1m")
	env := map[string]string{"RINGLIMIT_ADDR": m.HTTPAddr()}

	code, out, errOut := cli(t, env, "check", "user:1", "--cost", "2")
	if code != exitOK || !strings.HasPrefix(out, "allowed user:1: 2/5 used, 3 remaining, window 1m0s") {
		t.Errorf("check: %d %q %q", code, out, errOut)
	}
	code, out, _ = cli(t, env, "check", "--cost", "4", "user:1")
	if code != exitDenied || !strings.HasPrefix(out, "denied user:1: 2/5 used, 3 remaining") || !strings.Contains(out, "retry in") {
		t.Errorf("denied check: %d %q", code, out)
	}
	code, out, _ = cli(t, env, "check", "user:1", "--cost", "9")
	if code != exitDenied || !strings.Contains(out, "never allowed") {
		t.Errorf("cost over the limit: %d %q", code, out)
	}
	code, out, _ = cli(t, env, "check", "odd key/with%stuff?", "--limit", "3", "--window", "30s", "--json")
	var d decision
	if code != exitOK || json.Unmarshal([]byte(out), &d) != nil || d.Key != "odd key/with%stuff?" || d.Limit != 3 || d.WindowMS != 30000 {
		t.Errorf("check --json: %d %q", code, out)
	}
	code, out, _ = cli(t, env, "check", "--", "-dash")
	if code != exitOK || !strings.HasPrefix(out, "allowed -dash:") {
		t.Errorf("check -- -dash: %d %q", code, out)
	}
	for i := range 12 {
		cli(t, env, "check", fmt.Sprintf("page:%02d", i))
	}

	t.Run("counters", func(t *testing.T) {
		code, out, _ := cli(t, env, "counters")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 17 || !regexp.MustCompile(`^KEY\s+COUNT\s+LIMIT\s+REMAINING\s+WINDOW\s+RESETS IN$`).MatchString(lines[0]) ||
			lines[16] != "15 live counter(s)" {
			t.Fatalf("counters: %d\n%s", code, out)
		}
		if !regexp.MustCompile(`^user:1\s+2\s+5\s+3\s+1m0s\s+[0-9.ms]+$`).MatchString(lines[15]) {
			t.Errorf("row %q", lines[15])
		}
		// Paging with a small page size, and a prefix.
		code, out, _ = cli(t, env, "counters", "--prefix", "page:", "--page-size", "5", "--json")
		var list struct {
			Counters []counter `json:"counters"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Counters) != 12 || list.Counters[11].Key != "page:11" {
			t.Errorf("counters --json: %d %q", code, out)
		}
		code, out, _ = cli(t, env, "counters", "--prefix", "none")
		if code != 0 || out != "no live counters\n" {
			t.Errorf("empty: %d %q", code, out)
		}
	})
	t.Run("reset", func(t *testing.T) {
		code, out, _ := cli(t, env, "reset", "odd key/with%stuff?")
		if code != 0 || !regexp.MustCompile(`^reset odd key/with%stuff\?: cleared \(commit index [1-9][0-9]*\)\n$`).MatchString(out) {
			t.Errorf("reset: %d %q", code, out)
		}
		code, out, _ = cli(t, env, "reset", "odd key/with%stuff?", "--json")
		if code != 0 || out != `{"key":"odd key/with%stuff?","reset":false}`+"\n" {
			t.Errorf("reset again: %d %q", code, out)
		}
		code, out, _ = cli(t, env, "counters", "--prefix", "odd")
		if out != "no live counters\n" {
			t.Errorf("after reset: %d %q", code, out)
		}
	})
	t.Run("status", func(t *testing.T) {
		code, out, _ := cli(t, env, "status")
		h, _ := os.Hostname()
		host := regexp.QuoteMeta(h)
		gossip, raft := regexp.QuoteMeta(m.node.GossipAddr()), regexp.QuoteMeta(m.node.RaftAddr())
		for _, want := range []string{`node\s+` + host, `state\s+Leader`, `leader\s+` + host + ` \(` + m.HTTPAddr() + `\)`,
			`raft\s+term [1-9]\d*, commit index [1-9]\d*, applied index [1-9]\d*\n`,
			`MEMBER\s+HTTP\s+GOSSIP\s+RAFT\s+GOSSIP STATE\s+SUFFRAGE`, host + `\s+` + m.HTTPAddr() + `\s+` + gossip + `\s+` + raft + `\s+alive\s+Voter`} {
			if code != 0 || !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("status lacks %q: %d\n%s", want, code, out)
			}
		}
		code, out, _ = cli(t, env, "status", "--json", "--addr", "http://"+m.HTTPAddr())
		if code != 0 || !strings.Contains(out, `"state":"Leader"`) {
			t.Errorf("status --json: %d %q", code, out)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"check"}, exitUsage, "want 1 argument"},
			{[]string{"reset", "a", "b"}, exitUsage, "want 1 argument"},
			{[]string{"check", "k", "--window", "1500us"}, exitUsage, "whole milliseconds"},
			{[]string{"check", "k", "--cost", "-1"}, exitError, "400 invalid_cost"},
			{[]string{"check", "k", "--addr", "ftp://x"}, exitUsage, "--addr"},
			{[]string{"counters", "--page-size", "0"}, exitUsage, "--page-size"},
			{[]string{"status", "--addr", refusedAddr(t)}, exitError, "refused"},
		} {
			code, _, errOut := cli(t, env, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("%v: %d %q; want %d %q", tc.args, code, errOut, tc.code, tc.want)
			}
		}
	})
}

// refusedAddr is a 127.0.0.1 address nothing listens on.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestAdminTokenCommands(t *testing.T) {
	m := startMain(t, "--admin-token", "s3cret")
	env := map[string]string{"RINGLIMIT_ADDR": m.HTTPAddr()}
	cli(t, env, "check", "k")
	code, _, errOut := cli(t, env, "reset", "k")
	if code != exitError || !strings.Contains(errOut, "401 unauthorized") {
		t.Errorf("without token: %d %q", code, errOut)
	}
	code, _, errOut = cli(t, env, "reset", "k", "--token", "wrong")
	if code != exitError || !strings.Contains(errOut, "401 unauthorized") {
		t.Errorf("wrong token: %d %q", code, errOut)
	}
	env["RINGLIMIT_TOKEN"] = "s3cret"
	code, out, _ := cli(t, env, "reset", "k")
	if code != 0 || !strings.Contains(out, "cleared") {
		t.Errorf("token from the environment: %d %q", code, out)
	}
	code, out, _ = cli(t, env, "reset", "k", "--token", "wrong")
	if code != exitError {
		t.Errorf("a --token wins over the environment: %d %q", code, out)
	}
}

// TestSweep shows the sweeper dropping idle keys.
func TestSweep(t *testing.T) {
	m := startMain(t, "--sweep-interval", "10ms")
	code, _, _ := cli(t, map[string]string{"RINGLIMIT_ADDR": m.HTTPAddr()}, "check", "short", "--window", "50ms")
	if code != 0 || m.store.Stats().Keys != 1 {
		t.Fatalf("check: %d, %+v", code, m.store.Stats())
	}
	deadline := time.Now().Add(20 * time.Second)
	for m.store.Stats().Keys != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the idle key was not swept: %+v", m.store.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := m.store.Stats(); st.Expired != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestRunServeCancel runs `ringlimit serve` in process until its context
// ends, as a signal would end it.
func TestRunServeCancel(t *testing.T) {
	ctx, cancel := contextWithCancel()
	dir := t.TempDir()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append(append([]string{"serve"}, nodeArgs(dir)...), "--log-level", "debug"), &syncBuffer{}, stderr, noEnv)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "ringlimit serving") {
		if time.Now().After(deadline) {
			t.Fatalf("not serving:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(stderr.String(), "msg=stopped") {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop:\n%s", stderr.String())
	}
}

// TestRunServeCancelDuringJoin: a stop asked while --join is still being
// retried ends the start at once, with exit code 0.
func TestRunServeCancelDuringJoin(t *testing.T) {
	ctx, cancel := contextWithCancel()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		args := append(append([]string{"serve"}, nodeArgs(t.TempDir())...), "--join", refusedAddr(t), "--join-timeout", "1m")
		done <- run(ctx, args, &syncBuffer{}, stderr, noEnv)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stderr.String(), "join failed, retrying") {
		if time.Now().After(deadline) {
			t.Fatalf("no join attempt:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(stderr.String(), "stopped while starting") {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop while joining")
	}
}

// TestClusterMetrics: /metrics carries the cluster's gauges and the reset
// latency histogram beside the server's metrics.
func TestClusterMetrics(t *testing.T) {
	m := startMain(t)
	if code, _, errOut := cli(t, map[string]string{"RINGLIMIT_ADDR": m.HTTPAddr()}, "reset", "k"); code != 0 {
		t.Fatalf("reset: %s", errOut)
	}
	status, body := httpDo(t, "GET", "http://"+m.HTTPAddr()+"/metrics", "")
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	for _, want := range []string{
		`ringlimit_checks_total{result="allowed"} `, // the server's
		"ringlimit_cluster_members 1", "ringlimit_raft_state 2", "ringlimit_raft_leader 1", "ringlimit_raft_term ",
		"ringlimit_raft_commit_index ", "ringlimit_raft_applied_index ", "ringlimit_raft_bad_log_entries_total 0",
		"ringlimit_cluster_resets_total 1", "ringlimit_cluster_reset_errors_total 0", "ringlimit_cluster_resets_forwarded_total 0",
		"ringlimit_cluster_resets_applied_total 1", "ringlimit_cluster_reset_seconds_total ", "ringlimit_cluster_last_reset_seconds ",
		`ringlimit_cluster_reset_duration_seconds_bucket{le="+Inf"} 1`, "ringlimit_cluster_reset_duration_seconds_count 1",
		"ringlimit_replication_hits_sent_total 0", "ringlimit_replication_packets_sent_total 0", "ringlimit_replication_send_errors_total 0",
		"ringlimit_replication_hits_merged_total 0", "ringlimit_replication_bad_packets_total 0", "ringlimit_replication_lag_seconds 0",
		"ringlimit_replication_last_merge_age_seconds -1",
	} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestProcessGracefulShutdown starts the real binary, begins a request,
// sends SIGTERM while the request's body is on its way, and checks that
// the request is answered, the listener closes and the exit code is 0.
func TestProcessGracefulShutdown(t *testing.T) {
	p := startProcess(t)
	if status, body := httpDo(t, "POST", "http://"+p.addr+"/check", `{"key":"before"}`); status != 200 {
		t.Fatalf("check: %d %s", status, body)
	}
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck
	body := `{"key":"inflight","cost":3}`
	fmt.Fprintf(conn, "POST /check HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:4])
	// Give the server a moment to take the connection: wait until a
	// health check on another connection is answered after ours was sent.
	if status, _ := httpDo(t, "GET", "http://"+p.addr+"/healthz", ""); status != 200 {
		t.Fatalf("healthz: %d", status)
	}

	if err := p.cmd.Process.Signal(sigTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !refused(p.addr) {
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections 20 s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := conn.Write([]byte(body[4:])); err != nil {
		t.Fatal(err)
	}
	var resp fasthttp.Response
	if err := resp.Read(bufio.NewReader(conn)); err != nil {
		t.Fatalf("the in-flight request was dropped: %v", err)
	}
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"count":3`) {
		t.Errorf("in-flight answer: %d %s", resp.StatusCode(), resp.Body())
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if log := p.stderr.String(); !strings.Contains(log, `"msg":"stopped"`) {
		t.Errorf("no stop in the log:\n%s", log)
	}
}

func TestProcessSIGINT(t *testing.T) {
	p := startProcess(t, "--admin-token", "x")
	if status, _ := httpDo(t, "GET", "http://"+p.addr+"/readyz", ""); status != 200 {
		t.Fatalf("readyz: %d", status)
	}
	if err := p.cmd.Process.Signal(sigINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit code %d after SIGINT", code)
	}
}

// TestProcessScenario runs the operator scenario of issue 3 against the
// real binary with curl-like requests.
func TestProcessScenario(t *testing.T) {
	p := startProcess(t)
	base := "http://" + p.addr
	if s, b := httpDo(t, "POST", base+"/api/counters/nonexistent_key_12345/reset", ""); s != 200 || b != `{"key":"nonexistent_key_12345","reset":false}` {
		t.Errorf("reset absent: %d %s", s, b)
	}
	if s, b := httpDo(t, "POST", base+"/check", `{"key":"test_reset_key"}`); s != 200 {
		t.Errorf("check: %d %s", s, b)
	}
	if s, b := httpDo(t, "POST", base+"/api/counters/test_reset_key/reset", ""); s != 200 || b != `{"key":"test_reset_key","reset":true}` {
		t.Errorf("reset: %d %s", s, b)
	}
	s, b := httpDo(t, "GET", base+"/api/counters", "")
	if s != 200 || !strings.HasPrefix(b, `{"counters":[`) || strings.Contains(b, "test_reset_key") {
		t.Errorf("list: %d %s", s, b)
	}
	code, out, errOut := cli(t, map[string]string{"RINGLIMIT_ADDR": p.addr}, "status")
	if code != 0 || !strings.Contains(out, "Leader") {
		t.Errorf("status: %d %q %q", code, out, errOut)
	}
}
