package cluster

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/memberlist"
)

// Defaults of the Config fields that have one.
const (
	DefaultGossipAddr     = "127.0.0.1:7946"
	DefaultRaftAddr       = "127.0.0.1:7947"
	DefaultJoinTimeout    = 30 * time.Second
	DefaultMaxVoters      = 5
	DefaultReapAfter      = 30 * time.Minute
	DefaultResetTimeout   = 5 * time.Second
	DefaultSyncInterval   = 5 * time.Millisecond
	DefaultFloorRetention = 24 * time.Hour
	DefaultCommitTimeout  = 50 * time.Millisecond
)

// Config configures a Node. Every field maps to one command-line flag of
// `ringlimit serve` (named in its comment); the package never reads flags
// or the environment. The zero value of a field takes the default named in
// its comment.
type Config struct {
	// NodeID names the node in memberlist and is its Raft server ID; it
	// must be unique in the cluster and stable across restarts.
	// --node-id, default: the host name.
	NodeID string

	// GossipAddr is the host:port memberlist binds (TCP and UDP).
	// --gossip-addr, default 127.0.0.1:7946. Port 0 picks a free port.
	GossipAddr string
	// AdvertiseAddr is the host:port other nodes use to reach GossipAddr,
	// when it differs (NAT, a 0.0.0.0 bind). --advertise-addr, default:
	// GossipAddr.
	AdvertiseAddr string
	// Join lists host:port gossip addresses of existing members. Start
	// retries them with backoff until one answers or JoinTimeout passes.
	// A node with no Join and no Raft state bootstraps a one-node
	// cluster. --join host:port[,…].
	Join []string
	// JoinTimeout bounds the initial join. --join-timeout, default 30s.
	JoinTimeout time.Duration
	// GossipKey encrypts memberlist traffic (AES, 16, 24 or 32 bytes);
	// nodes with a different key cannot join. ParseGossipKey decodes the
	// flag's base64 form. --gossip-key, default: no encryption.
	GossipKey []byte

	// HTTPAddr is the host:port other nodes use to reach this node's HTTP
	// API, to forward resets to it when it leads. It is gossiped in the
	// node metadata. Required, with a host other nodes can dial (not
	// 0.0.0.0 or ::): the listen address of --http-addr, or an advertised
	// form of it when it listens on a wildcard.
	HTTPAddr string

	// RaftAddr is the host:port the Raft TCP transport binds.
	// --raft-addr, default 127.0.0.1:7947. Port 0 picks a free port.
	RaftAddr string
	// RaftAdvertiseAddr is the host:port other nodes use to reach
	// RaftAddr when it differs (a 0.0.0.0 bind). --raft-advertise-addr,
	// default: the bound RaftAddr.
	RaftAdvertiseAddr string
	// DataDir holds the Raft log, stable store (raft.db) and snapshots.
	// --data-dir, default ./data/<node-id>.
	DataDir string

	// MaxVoters is the number of Raft voters the leader keeps; members
	// beyond it join as non-voters. --max-voters, default 5.
	MaxVoters int
	// ReapAfter is how long a failed (not left) member stays in the Raft
	// configuration before the leader removes it; it is never removed if
	// that would leave fewer voters than a quorum. --reap-after, default
	// 30m.
	ReapAfter time.Duration

	// ResetTimeout bounds a reset: finding a leader, committing, and this
	// node applying the commit. --reset-timeout, default 5s.
	ResetTimeout time.Duration
	// AdminToken is sent as "Authorization: Bearer" when a reset is
	// forwarded to the leader. --admin-token, default none.
	AdminToken string

	// SyncInterval is how often local hits are sent to the peers.
	// --sync-interval, default 5ms.
	SyncInterval time.Duration

	// FloorRetention is how long a reset floor is kept in the FSM and its
	// snapshots, measured against the newest reset applied. A snapshot
	// restored on a node makes it ignore late hits stamped before a
	// retained reset; set it at least to the longest window in use.
	// --floor-retention, default 24h.
	FloorRetention time.Duration

	// Raft timing. Zero takes hashicorp/raft's defaults (1s, 1s, 500ms).
	// LeaderLeaseTimeout must not exceed HeartbeatTimeout.
	// --raft-heartbeat-timeout, --raft-election-timeout,
	// --raft-lease-timeout.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long the Raft leader waits without new entries
	// before it sends followers an AppendEntries anyway, which is how they
	// learn that an entry committed. A reset forwarded by a follower does
	// not wait for it (the leader appends a barrier entry at once, which
	// carries the commit index), but replicas learn of a reset made on the
	// leader itself within 1–2 CommitTimeouts. Lower costs idle RPCs: one
	// per follower every 1–2 CommitTimeouts. --raft-commit-timeout,
	// default 50ms (raft's default).
	CommitTimeout time.Duration
	// SnapshotThreshold is the number of log entries between snapshots.
	// Zero takes raft's default (8192).
	SnapshotThreshold uint64

	// GossipProfile picks memberlist's timing: "lan" (default,
	// memberlist.DefaultLANConfig) or "local" (DefaultLocalConfig: faster
	// failure detection, for one machine or a fast LAN). --gossip-profile.
	GossipProfile string

	// ObserveReset, when set, is called after every reset served by this
	// node with its latency and its error (nil on success), for a
	// latency histogram.
	ObserveReset func(latency time.Duration, err error)

	// tune adjusts the memberlist configuration (tests only).
	tune func(*memberlist.Config)
}

// ParseGossipKey decodes a base64 (standard encoding) gossip key of 16, 24
// or 32 bytes, as `--gossip-key` takes it. An empty string is no key.
func ParseGossipKey(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("gossip key: not base64: %w", err)
	}
	if err := memberlist.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	return key, nil
}

// withDefaults returns cfg with every zero field set to its default, or
// an error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.NodeID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			return cfg, errors.New("cluster: NodeID is empty and the host name is unknown")
		}
		cfg.NodeID = h
	}
	if cfg.GossipAddr == "" {
		cfg.GossipAddr = DefaultGossipAddr
	}
	if cfg.RaftAddr == "" {
		cfg.RaftAddr = DefaultRaftAddr
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join("data", cfg.NodeID)
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = DefaultJoinTimeout
	}
	if cfg.MaxVoters <= 0 {
		cfg.MaxVoters = DefaultMaxVoters
	}
	if cfg.ReapAfter <= 0 {
		cfg.ReapAfter = DefaultReapAfter
	}
	if cfg.ResetTimeout <= 0 {
		cfg.ResetTimeout = DefaultResetTimeout
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.FloorRetention <= 0 {
		cfg.FloorRetention = DefaultFloorRetention
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = DefaultCommitTimeout
	}
	if cfg.GossipProfile == "" {
		cfg.GossipProfile = "lan"
	}
	if cfg.GossipProfile != "lan" && cfg.GossipProfile != "local" {
		return cfg, fmt.Errorf("cluster: GossipProfile %q: want lan or local", cfg.GossipProfile)
	}
	if cfg.HTTPAddr == "" {
		return cfg, errors.New("cluster: HTTPAddr is required (other nodes forward resets to it)")
	}
	if host, _, err := net.SplitHostPort(cfg.HTTPAddr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return cfg, fmt.Errorf("cluster: HTTPAddr %q: other nodes dial it, so it needs a reachable host, not a wildcard", cfg.HTTPAddr)
		}
	}
	if len(cfg.GossipKey) > 0 {
		if err := memberlist.ValidateKey(cfg.GossipKey); err != nil {
			return cfg, fmt.Errorf("cluster: GossipKey: %w", err)
		}
	}
	for _, a := range []struct{ name, v string }{
		{"GossipAddr", cfg.GossipAddr}, {"AdvertiseAddr", cfg.AdvertiseAddr},
		{"RaftAddr", cfg.RaftAddr}, {"RaftAdvertiseAddr", cfg.RaftAdvertiseAddr},
		{"HTTPAddr", cfg.HTTPAddr},
	} {
		if a.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			return cfg, fmt.Errorf("cluster: %s %q: %w", a.name, a.v, err)
		}
	}
	if cfg.LeaderLeaseTimeout > 0 && cfg.HeartbeatTimeout > 0 && cfg.LeaderLeaseTimeout > cfg.HeartbeatTimeout {
		return cfg, errors.New("cluster: LeaderLeaseTimeout must not exceed HeartbeatTimeout")
	}
	if _, err := encodeMeta(nodeMeta{HTTPAddr: cfg.HTTPAddr, RaftAddr: cfg.RaftAddr, RaftID: cfg.NodeID}); err != nil {
		return cfg, fmt.Errorf("cluster: %w", err)
	}
	return cfg, nil
}
