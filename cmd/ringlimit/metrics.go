package main

import (
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ringlimit/ringlimit/cluster"
)

// resetLatencyBuckets are the upper bounds, in seconds, of the reset
// latency histogram: a reset through a follower on a LAN takes a few
// milliseconds, one waiting out an election up to --reset-timeout.
var resetLatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// newResetHistogram registers the latency histogram of the resets this
// node serves successfully and returns the observer for
// cluster.Config.ObserveReset. Failed resets are counted by
// ringlimit_cluster_reset_errors_total, not timed.
func newResetHistogram(set *metrics.Set) func(time.Duration, error) {
	h := set.NewPrometheusHistogramExt("ringlimit_cluster_reset_duration_seconds", resetLatencyBuckets)
	return func(d time.Duration, err error) {
		if err == nil {
			h.Update(d.Seconds())
		}
	}
}

// registerClusterMetrics registers the node's gauges and counters on set,
// the server's /metrics set. Their names keep out of the server's
// prefixes (ringlimit_check, ringlimit_resets, ringlimit_http,
// ringlimit_keys). Counters are read from the node when scraped, so they
// are gauges with _total names, as the server's store counters are.
func registerClusterMetrics(set *metrics.Set, n *cluster.Node) {
	u := func(f func() uint64) func() float64 { return func() float64 { return float64(f()) } }
	secs := func(f func() time.Duration) func() float64 {
		return func() float64 {
			d := f()
			if d < 0 {
				return -1
			}
			return d.Seconds()
		}
	}
	b := func(f func() bool) func() float64 {
		return func() float64 {
			if f() {
				return 1
			}
			return 0
		}
	}
	for _, g := range []struct {
		name string
		f    func() float64
	}{
		// Membership and Raft.
		{"ringlimit_cluster_members", func() float64 { return float64(n.Members()) }},
		{"ringlimit_raft_state", func() float64 { return float64(n.RaftState()) }},
		{"ringlimit_raft_leader", b(n.IsLeader)},
		{"ringlimit_raft_term", u(n.Term)},
		{"ringlimit_raft_commit_index", u(n.CommitIndex)},
		{"ringlimit_raft_applied_index", u(n.AppliedIndex)},
		{"ringlimit_raft_bad_log_entries_total", u(n.BadLogEntriesTotal)},
		// Resets.
		{"ringlimit_cluster_resets_total", u(n.ResetsTotal)},
		{"ringlimit_cluster_reset_errors_total", u(n.ResetErrorsTotal)},
		{"ringlimit_cluster_resets_forwarded_total", u(n.ResetsForwardedTotal)},
		{"ringlimit_cluster_resets_applied_total", u(n.ResetsAppliedTotal)},
		{"ringlimit_cluster_reset_seconds_total", n.ResetLatencySecondsTotal},
		{"ringlimit_cluster_last_reset_seconds", secs(n.LastResetLatency)},
		// Hit replication.
		{"ringlimit_replication_hits_sent_total", u(n.HitsSentTotal)},
		{"ringlimit_replication_packets_sent_total", u(n.HitPacketsSentTotal)},
		{"ringlimit_replication_send_errors_total", u(n.HitSendErrorsTotal)},
		{"ringlimit_replication_hits_merged_total", u(n.HitsMergedTotal)},
		{"ringlimit_replication_bad_packets_total", u(n.BadHitPacketsTotal)},
		{"ringlimit_replication_lag_seconds", secs(n.ReplicationLag)},
		{"ringlimit_replication_last_merge_age_seconds", secs(n.LastMergeAge)}, // -1: never merged
	} {
		set.NewGauge(g.name, g.f)
	}
}
