package window

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"sync/atomic"
	"time"
)

// Store holds one sliding window per key. It is safe for concurrent use by
// multiple goroutines. Create it with New; the zero value is not usable.
type Store struct {
	cfg       Config
	shards    []shard
	mask      uint64
	maxWindow atomic.Int64 // longest window seen, for floors of absent keys
}

const (
	defaultShards = 256
	defaultLimit  = 100
	defaultWindow = time.Minute
	// evictScan is how many windows a full shard looks at, from its sweep
	// cursor, for expired ones to drop before it evicts the least recently
	// hit of them.
	evictScan = 64
	// maxPendingHits bounds RecordHits' buffer per shard when nobody drains
	// it; hits beyond it are counted in Stats.DroppedHits and not kept.
	maxPendingHits = 1 << 16
)

// New returns an empty Store configured by cfg. Zero fields of cfg take
// their defaults; negative ones are treated as zero.
//
// MaxKeys is enforced per shard: each of the S shards holds at most
// MaxKeys/S windows, so the store never holds more than MaxKeys, and may
// start evicting in one shard a little before the whole store is full. When
// MaxKeys is smaller than the shard count, the store uses fewer shards.
func New(cfg Config) *Store {
	if cfg.DefaultLimit <= 0 {
		cfg.DefaultLimit = defaultLimit
	}
	cfg.DefaultLimit = min(cfg.DefaultLimit, MaxLimit)
	if cfg.DefaultWindow <= 0 {
		cfg.DefaultWindow = defaultWindow
	}
	cfg.DefaultWindow = min(cfg.DefaultWindow, MaxWindow)
	if cfg.Shards <= 0 {
		cfg.Shards = defaultShards
	}
	cfg.Shards = 1 << bits.Len(uint(cfg.Shards-1)) // round up to a power of two
	cfg.Shards = min(cfg.Shards, 1<<16)
	if cfg.MaxKeys < 0 {
		cfg.MaxKeys = 0
	}
	if cfg.MaxKeys > 0 && cfg.Shards > cfg.MaxKeys {
		cfg.Shards = 1 << (bits.Len(uint(cfg.MaxKeys)) - 1) // round down
	}
	s := &Store{cfg: cfg, shards: make([]shard, cfg.Shards), mask: uint64(cfg.Shards - 1)}
	seed := maphash.MakeSeed()
	for i := range s.shards {
		s.shards[i].seed = seed
		if cfg.MaxKeys > 0 {
			s.shards[i].cap = cfg.MaxKeys / cfg.Shards
		}
	}
	s.maxWindow.Store(int64(cfg.DefaultWindow))
	return s
}

// Config returns the configuration in effect, defaults filled in.
func (s *Store) Config() Config { return s.cfg }

func (s *Store) shard(key string) (*shard, uint64) {
	h := maphash.String(s.shards[0].seed, key)
	return &s.shards[h&s.mask], h
}

// args fills in defaults and validates a check's or merge's arguments.
func (s *Store) args(key string, cost, limit int64, window time.Duration) (int64, int64, error) {
	if limit == 0 {
		limit = s.cfg.DefaultLimit
	}
	if window == 0 {
		window = s.cfg.DefaultWindow
	}
	switch {
	case key == "":
		return 0, 0, fmt.Errorf("%w: empty key", ErrInvalid)
	case cost < 0 || cost > MaxLimit:
		return 0, 0, fmt.Errorf("%w: cost %d not in [0, %d]", ErrInvalid, cost, int64(MaxLimit))
	case limit < 0 || limit > MaxLimit:
		return 0, 0, fmt.Errorf("%w: limit %d not in [1, %d]", ErrInvalid, limit, int64(MaxLimit))
	case window < 0 || window > MaxWindow:
		return 0, 0, fmt.Errorf("%w: window %s not in (0, %s]", ErrInvalid, window, MaxWindow)
	}
	if int64(window) > s.maxWindow.Load() {
		s.raiseMaxWindow(int64(window))
	}
	return limit, int64(window), nil
}

func (s *Store) raiseMaxWindow(w int64) {
	for {
		old := s.maxWindow.Load()
		if w <= old || s.maxWindow.CompareAndSwap(old, w) {
			return
		}
	}
}

// Check decides whether key may spend cost at now, and if so counts it.
// limit and window override the configured defaults when non-zero. A cost
// of 0 only looks (and creates nothing): it is allowed while the count is
// within the limit. A denied check counts nothing; a cost above the limit
// is always denied, with RetryAfter -1.
//
// A key's limit and window are those of its latest check. A new limit
// applies at once to the hits already counted. A new window keeps the
// count, as if every hit counted happened at the key's most recent hit.
// A key whose limit rises above ExactThreshold moves to slot mode; one
// whose limit falls to it or below moves to exact mode once its count is 0.
func (s *Store) Check(key string, cost, limit int64, window time.Duration, now time.Time) (d Decision, err error) {
	limit, w, err := s.args(key, cost, limit, window)
	if err != nil {
		return d, err
	}
	t := now.UnixNano()
	sh, h := s.shard(key)
	sh.mu.Lock()
	e := sh.lookup(key, h)
	if e == nil {
		if cost == 0 || cost > limit {
			sh.mu.Unlock()
			s.decide(&d, nil, nil, cost, limit, w, t)
			return d, nil
		}
		e = s.create(sh, key, h, limit, w, t)
	} else if e.limit() != limit || e.window != w {
		e.adapt(limit, w, t)
	}
	s.decide(&d, e, sh, cost, limit, w, t)
	sh.mu.Unlock()
	return d, nil
}

// decide evaluates and, when allowed, counts a check on e (nil: no window)
// into d, which is zero. The shard's lock is held.
func (s *Store) decide(d *Decision, e *entry, sh *shard, cost, limit, w, t int64) {
	d.Limit, d.Window = limit, time.Duration(w)
	if e == nil {
		d.Allowed = cost <= limit
		d.Remaining = limit
		if !d.Allowed {
			d.RetryAfter = -1
		}
		return
	}
	kt := e.expire(t)
	var n int64
	if e.exact() {
		n = e.count(t)
	} else {
		n = e.countSlots(kt)
	}
	if n == 0 && limit <= ExactThreshold && !e.exact() {
		e.reinit(limit, w, t) // back to exact mode, as Check documents
	}
	switch {
	case cost > limit:
		d.RetryAfter = -1
	case n+cost <= limit:
		d.Allowed = true
		if cost > 0 {
			at := max(t, e.floor+1) // never below a reset's floor
			if at == t && !e.exact() {
				e.addSlot(kt, t, cost) // t's slot, rebased by expire
			} else {
				e.add(at, cost)
			}
			n += cost
			if s.cfg.RecordHits {
				sh.record(Hit{Key: e.key, Stamp: time.Unix(0, at), Cost: cost, Limit: limit, Window: time.Duration(w)})
			}
		}
	default:
		d.RetryAfter = time.Duration(e.retryAfter(t, n, cost, limit))
	}
	d.Count = n
	d.Remaining = max(limit-n, 0)
	d.ResetAfter = time.Duration(e.resetAfter(t, n))
}

func (sh *shard) record(h Hit) {
	if len(sh.hits) >= maxPendingHits {
		sh.dropped++
		return
	}
	sh.hits = append(sh.hits, h)
}

// create adds an empty window for key, making room first if the shard is
// full. The shard's lock is held.
func (s *Store) create(sh *shard, key string, h uint64, limit, w, t int64) *entry {
	sh.sweepSome(t, 2) // new keys pay for expiring old ones
	if sh.cap > 0 && sh.n >= sh.cap {
		sh.makeRoom(t)
	}
	// Nothing moves in the slab from here until the lock is released, so
	// the entry pointer stays valid.
	e := sh.insert(strings.Clone(key), h)
	e.floor = noStamp
	e.reinit(limit, w, t)
	return e
}

// makeRoom drops the expired windows among the next evictScan from the
// cursor, or, if there are none, evicts the least recently hit of them.
func (sh *shard) makeRoom(t int64) {
	if sh.sweepSome(t, evictScan) > 0 {
		return
	}
	victim, oldest := -1, int64(0)
	size := len(sh.tags)
	for i, seen := sh.cursor%size, 0; seen < evictScan && seen < sh.n; i = (i + 1) % size {
		if sh.tags[i] == 0 {
			continue
		}
		seen++
		if e := &sh.ents[i]; victim < 0 || max(e.last, e.floor) < oldest {
			victim, oldest = i, max(e.last, e.floor)
		}
	}
	sh.remove(victim)
	sh.evicted++
}

// sweepSome looks at up to n windows from the cursor and drops the dead
// ones. It returns how many it dropped.
func (sh *shard) sweepSome(t int64, n int) int {
	dropped := 0
	// moves bounds the cursor's steps to one lap of the table (restarted
	// when a removal resizes it), however few entries it holds.
	for size, moves := len(sh.tags), 0; n > 0 && sh.n > 0 && moves < size; {
		if sh.cursor >= size {
			sh.cursor = 0
		}
		if sh.tags[sh.cursor] == 0 {
			sh.cursor++
			moves++
			continue
		}
		n--
		if sh.ents[sh.cursor].dead(t) {
			sh.remove(sh.cursor) // another entry may shift here: look again
			dropped++
			if len(sh.tags) != size {
				size, moves = len(sh.tags), 0
			}
			continue
		}
		sh.cursor++
		moves++
	}
	sh.expired += uint64(dropped)
	return dropped
}

// Reset clears every hit of key stamped at or before at, and remembers at
// as the key's floor: a hit stamped at or before it that arrives later
// (Merge) is ignored, and local hits are stamped after it. Hits after at
// are kept. It reports whether the key had a live count at at.
//
// In slot mode, the hits of the slot that holds at cannot be told apart:
// when hits after at share its slot, the whole slot is kept (the count may
// keep up to one slot of hits from before the reset, never lose one from
// after it). A reset of an absent key still records the floor, for the
// longest window the store has seen.
func (s *Store) Reset(key string, at time.Time) bool {
	if key == "" {
		return false
	}
	t := at.UnixNano()
	sh, h := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, h)
	if e == nil {
		e = s.create(sh, key, h, s.cfg.DefaultLimit, s.maxWindow.Load(), t)
		e.floor = t
		return false
	}
	return e.reset(t)
}

// Merge adds cost hits that happened at stamp on another node, so replicas
// converge to the same count. It never denies. Hits stamped at or before
// the key's reset floor, or already out of the window, are ignored.
func (s *Store) Merge(key string, stamp time.Time, cost, limit int64, window time.Duration) error {
	limit, w, err := s.args(key, cost, limit, window)
	if err != nil || cost == 0 {
		return err
	}
	t := stamp.UnixNano()
	sh, h := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, h)
	if e == nil {
		e = s.create(sh, key, h, limit, w, t)
	} else if e.limit() != limit || e.window != w {
		e.adapt(limit, w, max(t, e.last))
	}
	newest := max(t, e.last)
	if t <= e.floor || t <= newest-e.window {
		return nil
	}
	e.expire(newest)
	if e.exact() {
		e.add(t, cost)
		return nil
	}
	// expire rebased the ring for newest ≥ t, so t's slot needs no rebase.
	if k := e.slotOf(t); k >= e.head()-Slots {
		e.addSlot(k, t, cost)
	}
	return nil
}

// Get returns key's counter at now, and false when it has no live count.
func (s *Store) Get(key string, now time.Time) (Counter, bool) {
	t := now.UnixNano()
	sh, h := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, h)
	if e == nil {
		return Counter{}, false
	}
	c := counter(e, t)
	return c, c.Count > 0
}

func counter(e *entry, t int64) Counter {
	n := e.count(t)
	return Counter{
		Key:        e.key,
		Count:      n,
		Limit:      e.limit(),
		Remaining:  max(e.limit()-n, 0),
		Window:     time.Duration(e.window),
		ResetAfter: time.Duration(e.resetAfter(t, n)),
	}
}

// List returns up to n live counters whose keys start with prefix and
// sort after after, in key order. Passing the last key returned as after
// pages through every key that stays live exactly once. It costs a pass
// over every window.
func (s *Store) List(prefix, after string, n int, now time.Time) []Counter {
	if n <= 0 {
		return nil
	}
	t := now.UnixNano()
	var out []Counter
	bound, full := "", false // once full, only keys below bound can make the page
	// Keep the n smallest keys: let out grow to 2·n, then cut it.
	cut := func() {
		sortCounters(out)
		out = out[:min(len(out), n)]
		if len(out) == n {
			bound, full = out[n-1].Key, true
		}
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j, tag := range sh.tags {
			e := &sh.ents[j]
			if tag == 0 || e.key <= after || (full && e.key >= bound) || !strings.HasPrefix(e.key, prefix) {
				continue
			}
			if c := counter(e, t); c.Count > 0 {
				out = append(out, c)
				if len(out) >= 2*n {
					cut()
				}
			}
		}
		sh.mu.Unlock()
	}
	cut()
	return out
}

// Sweep examines up to perShard windows in every shard and drops those idle
// for a whole window. It returns how many it dropped.
func (s *Store) Sweep(now time.Time, perShard int) int {
	t := now.UnixNano()
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.sweepSome(t, perShard)
		sh.mu.Unlock()
	}
	return n
}

// DrainHits appends the local hits admitted since the last call to dst and
// returns it. It returns dst unchanged unless Config.RecordHits is set.
func (s *Store) DrainHits(dst []Hit) []Hit {
	if !s.cfg.RecordHits {
		return dst
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		dst = append(dst, sh.hits...)
		clear(sh.hits)
		sh.hits = sh.hits[:0]
		sh.mu.Unlock()
	}
	return dst
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	var st Stats
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Keys += sh.n
		st.Created += sh.created
		st.Expired += sh.expired
		st.Evictions += sh.evicted
		st.DroppedHits += sh.dropped
		sh.mu.Unlock()
	}
	return st
}
