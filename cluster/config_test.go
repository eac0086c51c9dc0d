package cluster

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/ringlimit/ringlimit/window"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{NodeID: "n1", HTTPAddr: "127.0.0.1:8080"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		NodeID: "n1", HTTPAddr: "127.0.0.1:8080",
		GossipAddr: DefaultGossipAddr, RaftAddr: DefaultRaftAddr,
		DataDir:     filepath.Join("data", "n1"),
		JoinTimeout: DefaultJoinTimeout, MaxVoters: DefaultMaxVoters, ReapAfter: DefaultReapAfter,
		ResetTimeout: DefaultResetTimeout, SyncInterval: DefaultSyncInterval,
		FloorRetention: DefaultFloorRetention, CommitTimeout: DefaultCommitTimeout,
		GossipProfile: "lan",
	}
	if cfg.NodeID != want.NodeID || cfg.GossipAddr != want.GossipAddr || cfg.RaftAddr != want.RaftAddr ||
		cfg.DataDir != want.DataDir || cfg.JoinTimeout != want.JoinTimeout || cfg.MaxVoters != want.MaxVoters ||
		cfg.ReapAfter != want.ReapAfter || cfg.ResetTimeout != want.ResetTimeout || cfg.SyncInterval != want.SyncInterval ||
		cfg.FloorRetention != want.FloorRetention || cfg.CommitTimeout != want.CommitTimeout || cfg.GossipProfile != want.GossipProfile {
		t.Fatalf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	// No NodeID: the host name.
	if cfg, err := (Config{HTTPAddr: "127.0.0.1:1"}).withDefaults(); err != nil || cfg.NodeID == "" {
		t.Fatalf("host name default: %q, %v", cfg.NodeID, err)
	}
}

func TestConfigRejects(t *testing.T) {
	base := Config{NodeID: "n1", HTTPAddr: "127.0.0.1:8080"}
	for name, edit := range map[string]func(*Config){
		"no HTTPAddr":       func(c *Config) { c.HTTPAddr = "" },
		"wildcard HTTPAddr": func(c *Config) { c.HTTPAddr = "0.0.0.0:8080" },
		"empty HTTP host":   func(c *Config) { c.HTTPAddr = ":8080" },
		"bad gossip addr":   func(c *Config) { c.GossipAddr = "nohostport" },
		"bad raft addr":     func(c *Config) { c.RaftAddr = "1.2.3.4" },
		"short gossip key":  func(c *Config) { c.GossipKey = []byte("short") },
		"profile":           func(c *Config) { c.GossipProfile = "wan" },
		"lease > heartbeat": func(c *Config) { c.HeartbeatTimeout, c.LeaderLeaseTimeout = time.Second, 2*time.Second },
		"huge metadata":     func(c *Config) { c.NodeID = strings.Repeat("n", 600) },
	} {
		cfg := base
		edit(&cfg)
		if _, err := cfg.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(base, nil, nil); err == nil {
		t.Error("New accepted a nil store")
	}
	n, err := New(base, window.New(window.Config{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A node never started: Close works, Reset and Ready say stopped.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if n.Ready() == nil {
		t.Fatal("an unstarted node is ready")
	}
}

func TestParseGossipKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	got, err := ParseGossipKey(base64.StdEncoding.EncodeToString(key))
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("got %x, %v", got, err)
	}
	if got, err := ParseGossipKey(""); err != nil || got != nil {
		t.Fatalf("empty: %x, %v", got, err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("fifteen bytes!!"))} {
		if _, err := ParseGossipKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if l.IsTrace() || !l.IsDebug() || l.GetLevel() != hclog.Debug {
		t.Fatalf("levels: trace %v debug %v level %v", l.IsTrace(), l.IsDebug(), l.GetLevel())
	}
	l.Named("raft").With("peer", "n2").Warn("failed to contact", "err", "boom")
	l.Trace("hidden")
	l.StandardLogger(nil).Printf("[ERR] memberlist: oops")
	l.Info("initial configuration", "servers", hclog.Fmt("%+v", []struct{ ID string }{{"n1"}}))
	out := buf.String()
	for _, want := range []string{
		`level=WARN msg="failed to contact" peer=n2 err=boom logger=raft`,
		`level=ERROR msg=oops`,
		`msg="initial configuration" servers=[{ID:n1}]`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("trace logged at debug level:\n%s", out)
	}
}
