// Package window keeps one sliding-window rate counter per key in memory.
//
// It is ringlimit's hot path and can be embedded as a plain Go library. A
// [Store] holds the windows in a power-of-two number of lock-striped shards;
// the shard is chosen by a seeded hash of the key. Each window is a ring
// buffer, in one of two modes chosen by the limit:
//
//   - exact: for limits up to [ExactThreshold], the ring holds the time
//     stamp of every admitted unit of cost; the count is exactly the cost
//     admitted in (now-window, now].
//   - slots: for larger limits, the window is cut into [Slots] slots of
//     window/Slots each and the ring holds Slots+1 counters, so that the
//     slot that is partly outside the window is still counted. The count
//     never undercounts and exceeds the exact count by at most the hits of
//     one slot.
//
// Both modes never over-admit: the cost admitted in any interval of length
// window is at most the limit.
//
// Time is always an argument: the package never reads the clock. Callers at
// high rates should pass a coarse clock rather than call time.Now per check.
//
// A check on an existing key takes the shard's mutex once and allocates
// nothing; creating a key allocates only a copy of the key.
package window

import (
	"errors"
	"time"
)

const (
	// ExactThreshold is the largest limit kept exactly, as a ring of time
	// stamps. Larger limits use a ring of time slots.
	ExactThreshold = 7
	// Slots is the number of slots a window is cut into in slot mode.
	Slots = 13
)

// Errors returned by the Store. Check them with errors.Is.
var (
	// ErrInvalid is returned for a negative cost, a limit or window that is
	// not positive or too large, or an empty key.
	ErrInvalid = errors.New("window: invalid argument")
)

// Limits on arguments; larger values are rejected with ErrInvalid.
const (
	MaxLimit  = 1<<32 - 1
	MaxWindow = 366 * 24 * time.Hour
)

// Config configures a Store. The zero value is usable: every zero field
// takes the default named in its comment.
type Config struct {
	// Shards is the number of lock stripes, rounded up to a power of two.
	// Default 256.
	Shards int
	// DefaultLimit is used when a check passes limit 0. Default 100.
	DefaultLimit int64
	// DefaultWindow is used when a check passes window 0. Default 1m.
	DefaultWindow time.Duration
	// MaxKeys caps the number of keys held (0: no cap). When a new key
	// arrives and its shard is full, expired windows in that shard are
	// dropped first; if none is, the least recently hit of a small sample
	// of the shard's windows is evicted (counted in Stats.Evictions). The
	// evicted key starts again from zero if it comes back.
	MaxKeys int
	// RecordHits makes the store remember every admitted local hit until
	// DrainHits takes it, for replication to peers. Off by default.
	RecordHits bool
}

// Decision is the outcome of a check.
type Decision struct {
	Allowed bool
	// Limit and Window are the ones the check was evaluated against.
	Limit  int64
	Window time.Duration
	// Count is the cost counted in the window after the check (a denied
	// check adds nothing).
	Count int64
	// Remaining is Limit-Count, never below zero.
	Remaining int64
	// ResetAfter is how long until every hit now counted has left the
	// window (0 when the count is 0).
	ResetAfter time.Duration
	// RetryAfter is 0 when allowed. When denied it is how long until a
	// check of the same cost could be allowed if nothing else arrives, or
	// -1 when the cost exceeds the limit and can never be allowed.
	RetryAfter time.Duration
}

// Counter is the read-only state of one key.
type Counter struct {
	Key        string
	Count      int64
	Limit      int64
	Remaining  int64
	Window     time.Duration
	ResetAfter time.Duration
}

// Hit is one admitted local hit, as handed out by DrainHits for replication
// and taken by Merge on a peer.
type Hit struct {
	Key    string
	Stamp  time.Time
	Cost   int64
	Limit  int64
	Window time.Duration
}

// Stats are cumulative counters and gauges of a Store.
type Stats struct {
	Keys      int    // windows held now (live or awaiting the sweep)
	Created   uint64 // keys created
	Expired   uint64 // windows dropped by the sweep after a whole idle window
	Evictions uint64 // live windows evicted because MaxKeys was reached
	// DroppedHits counts hits RecordHits could not keep because nobody
	// drained them (more than 65536 pending in a shard).
	DroppedHits uint64
}
