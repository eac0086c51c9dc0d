package window

import "time"

// Store holds one sliding window per key. It is safe for concurrent use by
// multiple goroutines. Create it with New; the zero value is not usable.
type Store struct {
	cfg Config
}

// New returns an empty Store configured by cfg.
func New(cfg Config) *Store { panic("unimplemented") }

// Check decides whether key may spend cost at now, and if so counts it.
// limit and window override the configured defaults when non-zero. A cost
// of 0 only looks (and creates nothing). A denied check counts nothing.
// Changing a key's limit applies the new limit to the hits already
// counted; changing its window keeps the count, as if every hit counted
// happened at the key's most recent hit.
func (s *Store) Check(key string, cost, limit int64, window time.Duration, now time.Time) (Decision, error) {
	panic("unimplemented")
}

// Reset clears every hit of key stamped at or before at, and remembers at
// as the key's floor: a hit stamped at or before it that arrives later
// (Merge) is ignored, and local hits are stamped after it. Hits after at
// are kept. It reports whether the key had a live count at at.
func (s *Store) Reset(key string, at time.Time) bool { panic("unimplemented") }

// Merge adds cost hits that happened at stamp on another node, so replicas
// converge to the same count. It never denies.
func (s *Store) Merge(key string, stamp time.Time, cost, limit int64, window time.Duration) error {
	panic("unimplemented")
}

// Get returns key's counter at now, and false when it has no live count.
func (s *Store) Get(key string, now time.Time) (Counter, bool) { panic("unimplemented") }

// List returns up to max live counters whose keys start with prefix and
// sort after after, in key order. Passing the last key returned as after
// pages through every key that stays live exactly once.
func (s *Store) List(prefix, after string, max int, now time.Time) []Counter {
	panic("unimplemented")
}

// Sweep examines up to perShard windows in every shard and drops those idle
// for a whole window. It returns how many it dropped.
func (s *Store) Sweep(now time.Time, perShard int) int { panic("unimplemented") }

// DrainHits appends the local hits admitted since the last call to dst and
// returns it. It returns dst unchanged unless Config.RecordHits is set.
func (s *Store) DrainHits(dst []Hit) []Hit { panic("unimplemented") }

// Stats returns the store's counters.
func (s *Store) Stats() Stats { panic("unimplemented") }
