package window

import "math"

// Layout of one window. An entry is exactly 128 bytes (two cache lines) and
// lives inline in its shard's table, so a check on a key of up to 16 bytes
// touches that entry and nothing else that is large.
//
// Time is int64 Unix nanoseconds throughout. A hit is counted at time now if
// its stamp is in (now-window, ∞): hits stamped in the future (a peer whose
// clock is ahead) count too, which can only make a decision stricter.
//
// Exact mode (base == exactMode): ring holds up to ringStamps time stamps,
// one per unit of cost, sorted ascending, unused places holding noStamp
// (which sorts first).
//
// Slot mode: slot k covers [base + k·window/Slots, base + (k+1)·window/Slots)
// (real-valued bounds); ring holds the counters of slots head-Slots … head,
// slot k at k mod ringSlots. At time now, in slot kn, the slots kn-Slots … kn
// count: they cover (now-window, now] and at most the one slot partly
// outside it.
type entry struct {
	pre    [16]byte // the key's first 16 bytes, zero padded
	key    string
	lim    uint32
	hd     int32 // slot mode: newest slot in the ring
	window int64
	base   int64 // slot 0's start; exactMode in exact mode
	floor  int64 // reset floor: hits stamped at or before it are gone
	last   int64 // newest stamp counted, noStamp when none
	ring   [7]uint64
}

func (e *entry) limit() int64 { return int64(e.lim) }
func (e *entry) head() int64  { return int64(e.hd) }

const (
	noStamp    = math.MinInt64
	exactMode  = math.MinInt64
	ringStamps = 7              // exact-mode capacity
	ringSlots  = Slots + 1      // slot-mode counters
	maxSlotGap = int64(1) << 58 // rebase before (t-base)·Slots can overflow
)

func (e *entry) exact() bool { return e.base == exactMode }

func (e *entry) stamp(i int) int64 { return int64(e.ring[i]) }

func (e *entry) setStamp(i int, t int64) { e.ring[i] = uint64(t) }

// ringIndex maps slot k to its counter, for negative k too.
func ringIndex(k int64) uint64 {
	i := k % ringSlots
	if i < 0 {
		i += ringSlots
	}
	return uint64(i)
}

func (e *entry) slot(k int64) uint64 { return e.slotAt(ringIndex(k)) }

func (e *entry) slotAt(i uint64) uint64 {
	return (e.ring[i>>1] >> ((i & 1) * 32)) & math.MaxUint32
}

func (e *entry) setSlot(k int64, v uint64) {
	i := ringIndex(k)
	shift := (i & 1) * 32
	e.ring[i>>1] = e.ring[i>>1]&^(math.MaxUint32<<shift) | v<<shift
}

// start returns the first nanosecond of slot k.
func (e *entry) start(k int64) int64 {
	// ceil(k·window/Slots); k·window < 2^63 because k < 2^58·Slots/window+ringSlots.
	n := k * e.window
	q := n / Slots
	if n%Slots > 0 {
		q++
	}
	return e.base + q
}

// slotOf returns the slot of t, rounding down. t-base is clamped to
// ±maxSlotGap so the arithmetic cannot overflow; expire keeps a live
// window's base within that distance of now.
func (e *entry) slotOf(t int64) int64 {
	d := min(max(t-e.base, -maxSlotGap), maxSlotGap)
	if d >= 0 {
		return d * Slots / e.window
	}
	return -((-d*Slots + e.window - 1) / e.window)
}

// reinit empties the window and sets its geometry.
func (e *entry) reinit(limit, window, t int64) {
	e.lim, e.window, e.last, e.hd = uint32(limit), window, noStamp, 0
	if limit <= ExactThreshold {
		e.base = exactMode
		for i := range e.ring {
			e.setStamp(i, noStamp)
		}
		return
	}
	e.base = align(t, window)
	e.ring = [7]uint64{}
}

// align returns the start of t's window-long period since the epoch. Slot
// windows start there, so every replica cuts a key's time into the same
// slots and counts the same hits alike, whatever order they arrived in.
func align(t, window int64) int64 {
	m := t % window
	if m < 0 {
		m += window
	}
	return t - m
}

// count returns the cost counted at t without changing the window.
func (e *entry) count(t int64) int64 {
	if e.exact() {
		n := int64(0)
		for i := ringStamps - 1; i >= 0 && e.stamp(i) > t-e.window; i-- {
			n++
		}
		return n
	}
	return e.countSlots(e.slotOf(t))
}

// countSlots is count in slot mode, for a time in slot kt.
func (e *entry) countSlots(kt int64) int64 {
	gone := kt - e.head() // the oldest gone slots have left the window
	if gone > Slots {
		return 0
	}
	var lo, hi uint64
	for _, w := range e.ring {
		lo += w & math.MaxUint32
		hi += w >> 32
	}
	n := lo + hi
	for i := ringIndex(e.head() - Slots); gone > 0; gone-- {
		n -= e.slotAt(i)
		if i++; i == ringSlots {
			i = 0
		}
	}
	return int64(n)
}

// expire drops exact stamps that left the window at t, and restarts a slot
// ring that is empty at t (which also keeps t-base far from overflow). In
// slot mode it returns t's slot, so that the check it serves divides by
// the window once.
func (e *entry) expire(t int64) int64 {
	if e.exact() {
		for i := 0; i < ringStamps; i++ {
			s := e.stamp(i)
			if s == noStamp {
				continue
			}
			if s > t-e.window {
				return 0
			}
			e.setStamp(i, noStamp)
		}
		return 0
	}
	kt := e.rebase(t)
	if kt-e.head() > Slots {
		e.base, e.hd, e.ring = align(t, e.window), 0, [7]uint64{}
		kt = e.slotOf(t)
	}
	return kt
}

// rebase keeps slot numbers small (head fits in 32 bits, and t-base far
// from overflow): when t is far after base, base moves by whole windows,
// which keeps every slot's bounds. It returns t's slot.
func (e *entry) rebase(t int64) int64 {
	d := t - e.base
	if kt := e.slotOf(t); d < maxSlotGap && kt < 1<<30 {
		return kt
	}
	shift := d/e.window - 1
	e.base += shift * e.window
	if h := e.head() - shift*Slots; h > -(1 << 30) {
		e.hd = int32(h)
	} else { // every slot left the ring ages before t
		e.hd, e.ring = 0, [7]uint64{}
	}
	return e.slotOf(t)
}

// add counts cost at t, which is not older than the window (the caller
// expired the entry at a time ≥ t-window, or t is a merge already checked).
func (e *entry) add(t, cost int64) {
	if e.exact() {
		free := 0
		for free < ringStamps && e.stamp(free) == noStamp {
			free++
		}
		if int64(free) < cost {
			e.toSlots(t)
			e.add(t, cost)
			return
		}
		for c := int64(0); c < cost; c++ {
			// e.ring[0] is free: shift the smaller stamps down and insert.
			j := 0
			for j+1 < ringStamps && e.stamp(j+1) <= t {
				e.setStamp(j, e.stamp(j+1))
				j++
			}
			e.setStamp(j, t)
		}
		e.last = max(e.last, t)
		return
	}
	e.addSlot(e.rebase(t), t, cost)
}

// addSlot counts cost stamped t in slot k, t's slot after rebase (slot
// mode).
func (e *entry) addSlot(k, t, cost int64) {
	e.last = max(e.last, t)
	if k > e.head() {
		for j := max(e.head()+1, k-Slots); j <= k; j++ {
			e.setSlot(j, 0)
		}
		e.hd = int32(k)
	}
	k = max(k, e.head()-Slots) // a hit older than the ring counts in its oldest slot
	v := e.slot(k) + uint64(cost)
	e.setSlot(k, min(v, math.MaxUint32))
}

// toSlots turns an exact window into a slot window holding the same stamps.
func (e *entry) toSlots(t int64) {
	stamps := e.ring
	first := t
	for _, s := range stamps {
		if int64(s) != noStamp {
			first = min(first, int64(s))
		}
	}
	e.base, e.hd, e.ring = align(first, e.window), 0, [7]uint64{}
	for _, s := range stamps {
		if int64(s) != noStamp {
			e.add(int64(s), 1)
		}
	}
}

// adapt moves the window to a new limit and window length. A new limit
// applies to the hits already counted. A new length keeps the count, as if
// every hit happened at the most recent one.
func (e *entry) adapt(limit, window, t int64) {
	if window != e.window {
		n, last := e.count(t), e.last
		if n == 0 {
			e.reinit(limit, window, t)
			return
		}
		e.reinit(limit, window, last)
		e.add(last, n)
		return
	}
	if limit > ExactThreshold && e.exact() {
		e.toSlots(t)
	} else if limit <= ExactThreshold && !e.exact() && e.count(t) == 0 {
		e.reinit(limit, window, t)
	}
	e.lim = uint32(limit)
}

// resetAfter is how long until every hit counted at t has left the window.
func (e *entry) resetAfter(t, n int64) int64 {
	if e.exact() {
		if s := e.stamp(ringStamps - 1); s != noStamp && s+e.window > t {
			return s + e.window - t
		}
		return 0
	}
	if n == 0 {
		return 0
	}
	return max(e.start(e.head()+ringSlots)-t, 0)
}

// retryAfter is how long until cost fits under limit at t, given count.
func (e *entry) retryAfter(t, count, cost, limit int64) int64 {
	need := count + cost - limit // cost that must leave the window
	if e.exact() {
		for i := 0; i < ringStamps; i++ {
			if s := e.stamp(i); s != noStamp && s > t-e.window {
				need--
				if need <= 0 {
					return max(s+e.window-t, 1)
				}
			}
		}
		return e.resetAfter(t, count)
	}
	k := max(e.slotOf(t), e.head()) - Slots
	for i := ringIndex(k); k <= e.head(); k++ {
		need -= int64(e.slotAt(i))
		if need <= 0 {
			return max(e.start(k+ringSlots)-t, 1)
		}
		if i++; i == ringSlots {
			i = 0
		}
	}
	return max(e.resetAfter(t, count), 1)
}

// reset clears every hit stamped at or before at and raises the floor. It
// reports whether the window had a live count at at.
func (e *entry) reset(at int64) bool {
	live := e.count(at) > 0
	e.floor = max(e.floor, at)
	switch {
	case e.last <= at:
		e.reinit(e.limit(), e.window, at)
	case e.exact():
		for i := 0; i < ringStamps && e.stamp(i) <= at; i++ {
			e.setStamp(i, noStamp)
		}
	default:
		// Slots wholly at or before at are cleared; the slot holding at
		// also holds later hits, so it is kept: a reset never clears a
		// hit after it, at the price of counting a few before it.
		ka := e.slotOf(at)
		for k := e.head() - Slots; k < ka && k <= e.head(); k++ {
			e.setSlot(k, 0)
		}
	}
	return live
}

// dead reports whether the entry can be dropped at t: nothing counts and a
// late hit at or before its floor would be outside the window anyway.
func (e *entry) dead(t int64) bool {
	return e.count(t) == 0 && e.floor <= t-e.window
}
