package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ringlimit/ringlimit/cluster"
	"github.com/ringlimit/ringlimit/server"
	"github.com/ringlimit/ringlimit/window"
)

// envPrefix starts the environment variable of every flag: --http-addr is
// RINGLIMIT_HTTP_ADDR.
const envPrefix = "RINGLIMIT_"

// serveConfig is every setting of `ringlimit serve`. Each one is a flag
// and a RINGLIMIT_* environment variable; a flag given on the command line
// wins over the environment, which wins over the default.
//
// To add a setting, add a field here and one line in flags: the
// environment variable, the usage text and the precedence come with it.
type serveConfig struct {
	HTTPAddr        string
	DefaultLimit    int64
	DefaultWindow   time.Duration
	MaxKeys         int
	Shards          int
	SweepInterval   time.Duration
	MaxBodyBytes    int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	MaxConns        int
	MaxConnsPerIP   int
	ResetTimeout    time.Duration
	ShutdownTimeout time.Duration
	AdminToken      string
	LogLevel        string
	LogFormat       string

	// The cluster.
	HTTPAdvertiseAddr    string
	NodeID               string
	GossipAddr           string
	AdvertiseAddr        string
	Join                 string // comma-separated host:port list
	JoinTimeout          time.Duration
	GossipKey            string // base64
	GossipProfile        string
	RaftAddr             string
	RaftAdvertiseAddr    string
	DataDir              string
	MaxVoters            int
	ReapAfter            time.Duration
	SyncInterval         time.Duration
	FloorRetention       time.Duration
	RaftHeartbeatTimeout time.Duration
	RaftElectionTimeout  time.Duration
	RaftLeaseTimeout     time.Duration
	RaftCommitTimeout    time.Duration
}

// flags defines the flags of `ringlimit serve` on fs, with their defaults.
func (c *serveConfig) flags(fs *flag.FlagSet) {
	// HTTP API.
	fs.StringVar(&c.HTTPAddr, "http-addr", server.DefaultAddr, "`host:port` the HTTP API listens on (port 0 picks a free port)")
	fs.IntVar(&c.MaxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body in `bytes`; larger ones get 413")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", server.DefaultReadTimeout, "time to read one request")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "time to write one response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", server.DefaultIdleTimeout, "time a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxConns, "max-conns", server.DefaultMaxConns, "most concurrent connections")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 0, "most concurrent connections from one IP (0: no cap)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "time in-flight requests get to finish on SIGTERM/SIGINT")
	fs.StringVar(&c.AdminToken, "admin-token", "", "`token` mutating /api/ calls must send as \"Authorization: Bearer <token>\" (default: none needed)")

	// Limits and the store.
	fs.Int64Var(&c.DefaultLimit, "default-limit", 100, "limit of a check that names none")
	fs.DurationVar(&c.DefaultWindow, "default-window", time.Minute, "window of a check that names none")
	fs.IntVar(&c.MaxKeys, "max-keys", 0, "most keys held; when full, expired keys go first, then the least recently hit of a sample (0: no cap)")
	fs.IntVar(&c.Shards, "shards", 256, "lock stripes of the store (rounded up to a power of two)")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", time.Second, "how often idle keys are swept out")

	// Resets.
	fs.DurationVar(&c.ResetTimeout, "reset-timeout", server.DefaultResetTimeout, "time a reset may take before it is answered 503 no_leader")

	// Logs.
	fs.StringVar(&c.LogLevel, "log-level", "info", "`level` of logs: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "`format` of logs on stderr: text or json")

	// The cluster: membership (memberlist), resets (Raft), hit replication.
	fs.StringVar(&c.HTTPAdvertiseAddr, "http-advertise-addr", "", "`host:port` other nodes reach this node's HTTP API at, to forward resets (default: the bound --http-addr; required when it listens on a wildcard)")
	fs.StringVar(&c.NodeID, "node-id", hostname(), "`name` of this node, unique in the cluster and stable across restarts")
	fs.StringVar(&c.GossipAddr, "gossip-addr", cluster.DefaultGossipAddr, "`host:port` memberlist binds, TCP and UDP (port 0 picks a free port)")
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", "", "`host:port` other nodes reach --gossip-addr at, when it differs (NAT, a wildcard bind)")
	fs.StringVar(&c.Join, "join", "", "gossip `host:port[,host:port...]` of members to join; none: a one-node cluster bootstraps in --data-dir (restart a node that was in a cluster with --join)")
	fs.DurationVar(&c.JoinTimeout, "join-timeout", cluster.DefaultJoinTimeout, "time --join keeps retrying until a member answers")
	fs.StringVar(&c.GossipKey, "gossip-key", "", "base64 `key` of 16, 24 or 32 bytes encrypting gossip and hit packets; every node needs the same (default: no encryption)")
	fs.StringVar(&c.GossipProfile, "gossip-profile", "lan", "memberlist `timing`: lan, or local (faster failure detection, for one machine)")
	fs.StringVar(&c.RaftAddr, "raft-addr", cluster.DefaultRaftAddr, "`host:port` the Raft transport binds (port 0 picks a free port)")
	fs.StringVar(&c.RaftAdvertiseAddr, "raft-advertise-addr", "", "`host:port` other nodes reach --raft-addr at (required when it binds a wildcard)")
	fs.StringVar(&c.DataDir, "data-dir", "", "`dir`ectory of the Raft log and snapshots (default: ./data/<node-id>)")
	fs.IntVar(&c.MaxVoters, "max-voters", cluster.DefaultMaxVoters, "Raft voters the leader keeps; later members join as non-voters")
	fs.DurationVar(&c.ReapAfter, "reap-after", cluster.DefaultReapAfter, "time a failed (not left) member stays in the Raft configuration")
	fs.DurationVar(&c.SyncInterval, "sync-interval", cluster.DefaultSyncInterval, "how often a node sends its hits to its peers")
	fs.DurationVar(&c.FloorRetention, "floor-retention", cluster.DefaultFloorRetention, "how long a reset's floor is kept in snapshots; at least the longest window in use")
	fs.DurationVar(&c.RaftHeartbeatTimeout, "raft-heartbeat-timeout", time.Second, "time without a leader's contact before a follower calls an election")
	fs.DurationVar(&c.RaftElectionTimeout, "raft-election-timeout", time.Second, "time a candidate waits for votes")
	fs.DurationVar(&c.RaftLeaseTimeout, "raft-lease-timeout", 500*time.Millisecond, "time a leader keeps leading without reaching a quorum (at most --raft-heartbeat-timeout)")
	fs.DurationVar(&c.RaftCommitTimeout, "raft-commit-timeout", cluster.DefaultCommitTimeout, "time the leader waits without new entries before telling followers the commit index")
}

// hostname is the default node ID: the host name, or "" when unknown
// (then --node-id is required).
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// validate reports the first setting out of its range.
func (c *serveConfig) validate() error {
	switch {
	case c.DefaultLimit < 1 || c.DefaultLimit > window.MaxLimit:
		return fmt.Errorf("--default-limit %d: want 1 to %d", c.DefaultLimit, int64(window.MaxLimit))
	case c.DefaultWindow < time.Millisecond || c.DefaultWindow > window.MaxWindow:
		return fmt.Errorf("--default-window %s: want 1ms to %s", c.DefaultWindow, window.MaxWindow)
	case c.MaxKeys < 0:
		return fmt.Errorf("--max-keys %d: want 0 or more", c.MaxKeys)
	case c.Shards < 1:
		return fmt.Errorf("--shards %d: want 1 or more", c.Shards)
	case c.SweepInterval <= 0:
		return fmt.Errorf("--sweep-interval %s: want more than 0", c.SweepInterval)
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("--max-body-bytes %d: want 1 or more", c.MaxBodyBytes)
	case c.MaxConns < 1:
		return fmt.Errorf("--max-conns %d: want 1 or more", c.MaxConns)
	case c.MaxConnsPerIP < 0:
		return fmt.Errorf("--max-conns-per-ip %d: want 0 or more", c.MaxConnsPerIP)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-timeout", c.ReadTimeout}, {"write-timeout", c.WriteTimeout}, {"idle-timeout", c.IdleTimeout},
		{"reset-timeout", c.ResetTimeout}, {"shutdown-timeout", c.ShutdownTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("--%s %s: want more than 0", d.name, d.v)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	return c.validateCluster()
}

// validateCluster checks the cluster's settings; cluster.New checks them
// again, but a usage error here names the flag.
func (c *serveConfig) validateCluster() error {
	if c.NodeID == "" {
		return errors.New("--node-id: required (the host name is unknown)")
	}
	if wildcard(c.HTTPAddr) && c.HTTPAdvertiseAddr == "" {
		return fmt.Errorf("--http-addr %q listens on every interface: set --http-advertise-addr to the host:port other nodes reach this node's HTTP API at", c.HTTPAddr)
	}
	if c.HTTPAdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAdvertiseAddr); err != nil || wildcard(c.HTTPAdvertiseAddr) {
			return fmt.Errorf("--http-advertise-addr %q: want a host:port other nodes can dial", c.HTTPAdvertiseAddr)
		}
	}
	for _, a := range []struct{ name, v string }{
		{"gossip-addr", c.GossipAddr}, {"advertise-addr", c.AdvertiseAddr},
		{"raft-addr", c.RaftAddr}, {"raft-advertise-addr", c.RaftAdvertiseAddr},
	} {
		if a.v == "" && (a.name == "gossip-addr" || a.name == "raft-addr") {
			return fmt.Errorf("--%s: required", a.name)
		}
		if a.v != "" {
			if _, _, err := net.SplitHostPort(a.v); err != nil {
				return fmt.Errorf("--%s %q: want host:port", a.name, a.v)
			}
		}
	}
	if wildcard(c.RaftAddr) && c.RaftAdvertiseAddr == "" {
		return fmt.Errorf("--raft-addr %q binds every interface: set --raft-advertise-addr to the host:port other nodes reach it at", c.RaftAddr)
	}
	for _, j := range c.joinList() {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return fmt.Errorf("--join %q: want host:port[,host:port...]", c.Join)
		}
	}
	if _, err := cluster.ParseGossipKey(c.GossipKey); err != nil {
		return fmt.Errorf("--gossip-key: %w", err)
	}
	if c.GossipProfile != "lan" && c.GossipProfile != "local" {
		return fmt.Errorf("--gossip-profile %q: want lan or local", c.GossipProfile)
	}
	if c.MaxVoters < 1 {
		return fmt.Errorf("--max-voters %d: want 1 or more", c.MaxVoters)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{{"join-timeout", c.JoinTimeout, time.Millisecond}, {"reap-after", c.ReapAfter, time.Millisecond},
		{"sync-interval", c.SyncInterval, 100 * time.Microsecond}, {"floor-retention", c.FloorRetention, time.Millisecond},
		// hashicorp/raft's own lower bounds (raft.ValidateConfig).
		{"raft-heartbeat-timeout", c.RaftHeartbeatTimeout, 5 * time.Millisecond},
		{"raft-election-timeout", c.RaftElectionTimeout, 5 * time.Millisecond},
		{"raft-lease-timeout", c.RaftLeaseTimeout, 5 * time.Millisecond},
		{"raft-commit-timeout", c.RaftCommitTimeout, time.Millisecond}} {
		if d.v < d.min {
			return fmt.Errorf("--%s %s: want at least %s", d.name, d.v, d.min)
		}
	}
	if c.RaftLeaseTimeout > c.RaftHeartbeatTimeout {
		return fmt.Errorf("--raft-lease-timeout %s: want at most --raft-heartbeat-timeout (%s)", c.RaftLeaseTimeout, c.RaftHeartbeatTimeout)
	}
	return nil
}

// wildcard reports whether a host:port has an empty or unspecified host
// (":8001", "0.0.0.0:8001", "[::]:8001"), which other nodes cannot dial.
func wildcard(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// joinList is --join split at commas, blanks dropped.
func (c *serveConfig) joinList() []string {
	var out []string
	for _, j := range strings.Split(c.Join, ",") {
		if j = strings.TrimSpace(j); j != "" {
			out = append(out, j)
		}
	}
	return out
}

// dataDir is --data-dir, or ./data/<node-id> by default.
func (c *serveConfig) dataDir() string {
	if c.DataDir != "" {
		return c.DataDir
	}
	return filepath.Join("data", c.NodeID)
}

func (c *serveConfig) windowConfig() window.Config {
	return window.Config{
		Shards:        c.Shards,
		DefaultLimit:  c.DefaultLimit,
		DefaultWindow: c.DefaultWindow,
		MaxKeys:       c.MaxKeys,
		RecordHits:    true, // the cluster sends every admitted hit to the peers
	}
}

// clusterConfig is the cluster's configuration; httpAddr is where peers
// reach this node's HTTP API (--http-advertise-addr, or the bound
// --http-addr).
func (c *serveConfig) clusterConfig(httpAddr string, observeReset func(time.Duration, error)) cluster.Config {
	key, _ := cluster.ParseGossipKey(c.GossipKey) // checked by validate
	return cluster.Config{
		NodeID:             c.NodeID,
		GossipAddr:         c.GossipAddr,
		AdvertiseAddr:      c.AdvertiseAddr,
		Join:               c.joinList(),
		JoinTimeout:        c.JoinTimeout,
		GossipKey:          key,
		HTTPAddr:           httpAddr,
		RaftAddr:           c.RaftAddr,
		RaftAdvertiseAddr:  c.RaftAdvertiseAddr,
		DataDir:            c.dataDir(),
		MaxVoters:          c.MaxVoters,
		ReapAfter:          c.ReapAfter,
		ResetTimeout:       c.ResetTimeout,
		AdminToken:         c.AdminToken,
		SyncInterval:       c.SyncInterval,
		FloorRetention:     c.FloorRetention,
		HeartbeatTimeout:   c.RaftHeartbeatTimeout,
		ElectionTimeout:    c.RaftElectionTimeout,
		LeaderLeaseTimeout: c.RaftLeaseTimeout,
		CommitTimeout:      c.RaftCommitTimeout,
		GossipProfile:      c.GossipProfile,
		ObserveReset:       observeReset,
	}
}

func (c *serveConfig) serverConfig(log *slog.Logger, now func() time.Time, set *metrics.Set) server.Config {
	return server.Config{
		Addr:            c.HTTPAddr,
		MaxBodyBytes:    c.MaxBodyBytes,
		ReadTimeout:     c.ReadTimeout,
		WriteTimeout:    c.WriteTimeout,
		IdleTimeout:     c.IdleTimeout,
		MaxConns:        c.MaxConns,
		MaxConnsPerIP:   c.MaxConnsPerIP,
		ResetTimeout:    c.ResetTimeout,
		ShutdownTimeout: c.ShutdownTimeout,
		AdminToken:      c.AdminToken,
		Logger:          log,
		Now:             now,
		Metrics:         set,
	}
}

// logger builds the slog logger of the settings, writing to w.
func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args into fs, then sets every flag not given on the
// command line from its environment variable, if set. An environment
// value that does not parse is an error naming the variable.
func parseFlags(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		name := envName(f.Name)
		if v, ok := lookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// usage prints a subcommand's synopsis and its flags, each with its
// environment variable when withEnv is set.
func usage(fs *flag.FlagSet, synopsis string, withEnv bool) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s\n\n", synopsis)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		sort.Strings(names)
		for _, n := range names {
			f := fs.Lookup(n)
			kind, text := flag.UnquoteUsage(f)
			line := "  --" + n
			if kind != "" {
				line += " " + kind
			}
			fmt.Fprintln(w, line)
			text = "    \t" + text
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" {
				text += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			if withEnv {
				text += " [$" + envName(n) + "]"
			}
			fmt.Fprintln(w, text)
		}
	}
}

// osLookupEnv is os.LookupEnv, named for wiring.
var osLookupEnv = os.LookupEnv
