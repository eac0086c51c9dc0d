package cluster

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

// Nodes exchange memberlist user messages whose first byte says what
// they are: hitsVersion for a hit packet, msgLeave for a leave notice.
const (
	hitsVersion byte = 1
	msgLeave    byte = 2 // uvarint len(name), name: that node is leaving gracefully
)

// encodeLeave returns the leave notice of the node named name.
func encodeLeave(name string) []byte {
	buf := []byte{msgLeave}
	buf = binary.AppendUvarint(buf, uint64(len(name)))
	return append(buf, name...)
}

// decodeLeave decodes a leave notice and returns the node's name.
func decodeLeave(buf []byte) (string, error) {
	r := reader{buf: buf}
	if v := r.byte(); r.err == nil && v != msgLeave {
		return "", fmt.Errorf("%w: not a leave notice (%d)", errCorrupt, v)
	}
	name := r.string()
	if err := r.done(); err != nil {
		return "", fmt.Errorf("leave notice: %w", err)
	}
	if name == "" {
		return "", fmt.Errorf("%w: leave notice without a name", errCorrupt)
	}
	return name, nil
}

// maxHitPacket is the largest hit packet sent as one UDP datagram: it
// leaves room for memberlist's framing and encryption inside its default
// 1400-byte UDP buffer.
const maxHitPacket = 1200

// A hit packet is
//
//	version byte (1)
//	varint   base: unix nanos of the first hit
//	entries until the end of the packet, each:
//	  uvarint len(key), key
//	  varint  stamp - base (nanos)
//	  uvarint cost
//	  uvarint limit
//	  uvarint window (nanos)
//
// Hits are independent, so a lost packet loses only its own hits.

// appendHitPackets encodes hits into packets of at most maxSize bytes
// (a single hit larger than that gets a packet of its own) and appends them
// to dst. Packets reuse no memory of each other.
func appendHitPackets(dst [][]byte, hits []window.Hit, maxSize int) [][]byte {
	var pkt []byte
	var base int64
	entries := 0
	for _, h := range hits {
		stamp := h.Stamp.UnixNano()
		if pkt == nil {
			pkt, base, entries = newHitPacket(maxSize, stamp), stamp, 0
		}
		mark := len(pkt)
		delta, ok := sub(stamp, base)
		if ok {
			pkt = appendHit(pkt, h, delta)
		}
		if !ok || (len(pkt) > maxSize && entries > 0) {
			dst = append(dst, pkt[:mark])
			pkt, base = newHitPacket(maxSize, stamp), stamp
			pkt = appendHit(pkt, h, 0)
			entries = 0
		}
		entries++
	}
	if entries > 0 {
		dst = append(dst, pkt)
	}
	return dst
}

// sub returns a-b and whether it did not overflow.
func sub(a, b int64) (int64, bool) {
	d := a - b
	return d, (d < a) == (b > 0)
}

func newHitPacket(maxSize int, base int64) []byte {
	pkt := make([]byte, 0, maxSize)
	pkt = append(pkt, hitsVersion)
	return binary.AppendVarint(pkt, base)
}

func appendHit(dst []byte, h window.Hit, delta int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(h.Key)))
	dst = append(dst, h.Key...)
	dst = binary.AppendVarint(dst, delta)
	dst = binary.AppendUvarint(dst, uint64(h.Cost))
	dst = binary.AppendUvarint(dst, uint64(h.Limit))
	return binary.AppendUvarint(dst, uint64(h.Window))
}

// decodeHits decodes one hit packet and appends its hits to dst. It
// returns dst unchanged with an error if any part of the packet is
// corrupt, so a bad packet merges nothing.
func decodeHits(dst []window.Hit, buf []byte) ([]window.Hit, error) {
	r := reader{buf: buf}
	if v := r.byte(); r.err == nil && v != hitsVersion {
		return dst, fmt.Errorf("%w: hit packet version %d", errCorrupt, v)
	}
	base := r.varint()
	if r.err != nil {
		return dst, fmt.Errorf("hit packet: %w", r.err)
	}
	n := len(dst)
	for len(r.buf) > 0 && r.err == nil {
		key := r.string()
		delta := r.varint()
		cost, limit, win := r.uvarint(), r.uvarint(), r.uvarint()
		if r.err != nil {
			break
		}
		if key == "" || cost > math.MaxInt64 || limit > math.MaxInt64 || win > math.MaxInt64 {
			r.fail("hit field out of range")
			break
		}
		stamp := base + delta
		if (delta > 0 && stamp < base) || (delta < 0 && stamp > base) {
			r.fail("hit stamp overflows")
			break
		}
		dst = append(dst, window.Hit{
			Key:    key,
			Stamp:  time.Unix(0, stamp),
			Cost:   int64(cost),
			Limit:  int64(limit),
			Window: time.Duration(win),
		})
	}
	if r.err != nil {
		return dst[:n], fmt.Errorf("hit packet: %w", r.err)
	}
	return dst, nil
}

// hitGroup identifies hits that can be sent as one: same key, instant,
// limit and window.
type hitGroup struct {
	key    string
	stamp  int64
	limit  int64
	window time.Duration
}

// aggregateHits folds hits of the same key, stamp, limit and window into
// one, summing their costs, in place; it returns the shortened slice in
// first-seen order. idx is scratch space reused across calls (cleared).
// Folding only exact matches keeps every hit's time stamp, so a peer's
// count and reset floors (W6) come out exactly as if each hit were sent.
func aggregateHits(hits []window.Hit, idx map[hitGroup]int) []window.Hit {
	clear(idx)
	out := hits[:0]
	for _, h := range hits {
		g := hitGroup{h.Key, h.Stamp.UnixNano(), h.Limit, h.Window}
		if i, ok := idx[g]; ok {
			out[i].Cost += h.Cost
			continue
		}
		idx[g] = len(out)
		out = append(out, h)
	}
	return out
}
