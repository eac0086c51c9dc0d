package cluster

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

var t0 = time.Unix(1_700_000_000, 0)

func TestResetCommandRoundTrip(t *testing.T) {
	for _, c := range []resetCommand{
		{Key: "k", At: 0},
		{Key: "user:123", At: t0.UnixNano()},
		{Key: "a/b%20c ü", At: -1},
		{Key: strings.Repeat("x", 1024), At: math.MaxInt64},
		{Key: "min", At: math.MinInt64},
	} {
		buf := encodeReset(nil, c)
		if buf[0] != cmdReset {
			t.Fatalf("type byte %d, want %d", buf[0], cmdReset)
		}
		got, err := decodeCommand(buf)
		if err != nil {
			t.Fatalf("decode %+v: %v", c, err)
		}
		if got != c {
			t.Fatalf("round trip: got %+v, want %+v", got, c)
		}
	}
	// Compact: type + 1-byte length + key + ≤10-byte varint.
	if n := len(encodeReset(nil, resetCommand{Key: "user:123", At: t0.UnixNano()})); n > 1+1+8+10 {
		t.Fatalf("reset command is %d bytes", n)
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	good := encodeReset(nil, resetCommand{Key: "key", At: 42})
	for name, buf := range map[string][]byte{
		"empty":          nil,
		"unknown type":   {99, 1, 'k', 2},
		"type only":      {cmdReset},
		"short key":      {cmdReset, 5, 'a'},
		"no stamp":       {cmdReset, 1, 'k'},
		"empty key":      {cmdReset, 0, 2},
		"trailing bytes": append(slices.Clone(good), 0),
		"huge length":    {cmdReset, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":      good[:len(good)-1],
	} {
		if _, err := decodeCommand(buf); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v, want errCorrupt", name, err)
		}
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(encodeReset(nil, resetCommand{Key: "user:1", At: t0.UnixNano()}))
	f.Add([]byte{cmdReset, 0})
	f.Add([]byte{})
	f.Add([]byte{2, 1, 2, 3})
	f.Fuzz(func(t *testing.T, buf []byte) {
		c, err := decodeCommand(buf)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error does not wrap errCorrupt: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes (one encoding).
		if again := encodeReset(nil, c); !bytes.Equal(again, buf) {
			t.Fatalf("decode→encode changed %x into %x", buf, again)
		}
	})
}

func TestMetaRoundTrip(t *testing.T) {
	m := nodeMeta{HTTPAddr: "127.0.0.1:8080", RaftAddr: "127.0.0.1:7947", RaftID: "node-1"}
	buf, err := encodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta(buf)
	if err != nil || got != m {
		t.Fatalf("got %+v, %v; want %+v", got, err, m)
	}
	// Fields appended by a later version are ignored.
	if got, err := decodeMeta(append(buf, 3, 'n', 'e', 'w')); err != nil || got != m {
		t.Fatalf("with an extra field: got %+v, %v", got, err)
	}
	if _, err := decodeMeta([]byte{2, 0, 0, 0}); !errors.Is(err, errCorrupt) {
		t.Fatalf("version 2: err = %v", err)
	}
	if _, err := encodeMeta(nodeMeta{RaftID: strings.Repeat("x", 600)}); err == nil {
		t.Fatal("600-byte metadata encoded; memberlist allows 512")
	}
}

func FuzzDecodeMeta(f *testing.F) {
	buf, _ := encodeMeta(nodeMeta{HTTPAddr: "127.0.0.1:1", RaftAddr: "127.0.0.1:2", RaftID: "n"})
	f.Add(buf)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, buf []byte) {
		m, err := decodeMeta(buf)
		if err != nil {
			return
		}
		again, err := encodeMeta(m)
		if err != nil {
			return // decodes fields longer than memberlist would carry
		}
		if !bytes.HasPrefix(buf, again) {
			t.Fatalf("decode→encode %x is no prefix of %x", again, buf)
		}
	})
}

func hit(key string, at time.Time, cost int64) window.Hit {
	return window.Hit{Key: key, Stamp: at, Cost: cost, Limit: 100, Window: time.Minute}
}

func decodeAll(t *testing.T, packets [][]byte) []window.Hit {
	t.Helper()
	var out []window.Hit
	for _, p := range packets {
		var err error
		if out, err = decodeHits(out, p); err != nil {
			t.Fatalf("decode packet of %d bytes: %v", len(p), err)
		}
	}
	return out
}

func sameHits(t *testing.T, got, want []window.Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d hits, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Key != w.Key || !g.Stamp.Equal(w.Stamp) || g.Cost != w.Cost || g.Limit != w.Limit || g.Window != w.Window {
			t.Fatalf("hit %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestHitPacketsRoundTrip(t *testing.T) {
	hits := []window.Hit{
		hit("a", t0, 1),
		hit("b/ü", t0.Add(-time.Second), 3), // earlier than the base
		{Key: "c", Stamp: t0.Add(time.Hour), Cost: 1 << 40, Limit: 1 << 40, Window: 366 * 24 * time.Hour},
	}
	packets := appendHitPackets(nil, hits, maxHitPacket)
	if len(packets) != 1 {
		t.Fatalf("%d packets for 3 small hits", len(packets))
	}
	if packets[0][0] != hitsVersion {
		t.Fatalf("version byte %d", packets[0][0])
	}
	sameHits(t, decodeAll(t, packets), hits)
	if got := appendHitPackets(nil, nil, maxHitPacket); len(got) != 0 {
		t.Fatalf("no hits gave %d packets", len(got))
	}
}

func TestHitPacketsSplit(t *testing.T) {
	var hits []window.Hit
	for i := range 500 {
		hits = append(hits, hit("tenant:42:user:"+strings.Repeat("z", i%40), t0.Add(time.Duration(i)*time.Microsecond), int64(i%5+1)))
	}
	packets := appendHitPackets(nil, hits, maxHitPacket)
	if len(packets) < 2 {
		t.Fatalf("500 hits fit in %d packet(s)", len(packets))
	}
	for i, p := range packets {
		if len(p) > maxHitPacket {
			t.Fatalf("packet %d is %d bytes > %d", i, len(p), maxHitPacket)
		}
		if len(p) < maxHitPacket/2 && i < len(packets)-1 {
			t.Fatalf("packet %d is only %d bytes: not filled", i, len(p))
		}
	}
	sameHits(t, decodeAll(t, packets), hits)

	// Stamps too far apart for a delta go in separate packets.
	far := []window.Hit{hit("a", time.Unix(0, math.MinInt64+5), 1), hit("b", time.Unix(0, math.MaxInt64-5), 1), hit("c", time.Unix(0, math.MinInt64), 1)}
	if packets = appendHitPackets(nil, far, maxHitPacket); len(packets) != 3 {
		t.Fatalf("far-apart stamps: %d packets, want 3", len(packets))
	}
	sameHits(t, decodeAll(t, packets), far)

	// A hit bigger than a packet gets a packet of its own.
	big := hit(strings.Repeat("k", 2000), t0, 1)
	packets = appendHitPackets(nil, []window.Hit{hit("a", t0, 1), big, hit("b", t0, 1)}, maxHitPacket)
	if len(packets) != 3 || len(packets[1]) <= maxHitPacket {
		t.Fatalf("oversized hit: %d packets", len(packets))
	}
	sameHits(t, decodeAll(t, packets), []window.Hit{hit("a", t0, 1), big, hit("b", t0, 1)})
}

func TestDecodeHitsRejects(t *testing.T) {
	good := appendHitPackets(nil, []window.Hit{hit("a", t0, 1), hit("b", t0, 2)}, maxHitPacket)[0]
	prefix := []window.Hit{hit("keep", t0, 1)}
	for name, buf := range map[string][]byte{
		"empty":       nil,
		"version 2":   append([]byte{2}, good[1:]...),
		"no base":     {hitsVersion},
		"truncated":   good[:len(good)-1],
		"empty key":   {hitsVersion, 0, 0, 0, 1, 1, 1},
		"huge cost":   {hitsVersion, 0, 1, 'k', 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1},
		"bad varint":  {hitsVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"overflowing": {hitsVersion, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 'k', 0x02, 1, 1, 1},
	} {
		got, err := decodeHits(slices.Clone(prefix), buf)
		if !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v, want errCorrupt", name, err)
		}
		if len(got) != len(prefix) {
			t.Errorf("%s: a corrupt packet appended %d hits", name, len(got)-len(prefix))
		}
	}
}

func FuzzDecodeHits(f *testing.F) {
	for _, p := range appendHitPackets(nil, []window.Hit{hit("a", t0, 1), hit("bb", t0.Add(-time.Millisecond), 7)}, maxHitPacket) {
		f.Add(p)
	}
	f.Add([]byte{hitsVersion, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, buf []byte) {
		hits, err := decodeHits(nil, buf)
		if err != nil {
			if !errors.Is(err, errCorrupt) || len(hits) != 0 {
				t.Fatalf("err %v with %d hits", err, len(hits))
			}
			return
		}
		for _, h := range hits {
			if h.Key == "" || h.Cost < 0 || h.Limit < 0 || h.Window < 0 {
				t.Fatalf("decoded an invalid hit %+v", h)
			}
		}
		// What decodes survives a re-encode.
		if len(hits) > 0 {
			again := decodeAllF(t, appendHitPackets(nil, hits, maxHitPacket))
			if len(again) != len(hits) {
				t.Fatalf("re-encode: %d hits, want %d", len(again), len(hits))
			}
			for i := range hits {
				if again[i].Key != hits[i].Key || !again[i].Stamp.Equal(hits[i].Stamp) || again[i].Cost != hits[i].Cost {
					t.Fatalf("re-encode hit %d: %+v != %+v", i, again[i], hits[i])
				}
			}
		}
	})
}

func decodeAllF(t *testing.T, packets [][]byte) []window.Hit {
	var out []window.Hit
	for _, p := range packets {
		var err error
		if out, err = decodeHits(out, p); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	}
	return out
}

func TestAggregateHits(t *testing.T) {
	idx := make(map[hitGroup]int)
	in := []window.Hit{
		hit("a", t0, 1),
		hit("b", t0, 2),
		hit("a", t0, 3),                      // same as the first: folded
		hit("a", t0.Add(time.Nanosecond), 1), // another instant: kept apart
		{Key: "a", Stamp: t0, Cost: 1, Limit: 5, Window: time.Minute}, // another limit
		hit("b", t0, 1),
	}
	got := aggregateHits(in, idx)
	want := []window.Hit{
		hit("a", t0, 4),
		hit("b", t0, 3),
		hit("a", t0.Add(time.Nanosecond), 1),
		{Key: "a", Stamp: t0, Cost: 1, Limit: 5, Window: time.Minute},
	}
	sameHits(t, got, want)
	// The scratch map is cleared between calls.
	sameHits(t, aggregateHits([]window.Hit{hit("a", t0, 1)}, idx), []window.Hit{hit("a", t0, 1)})
}

func TestLeaveNoticeRoundTrip(t *testing.T) {
	buf := encodeLeave("node-7")
	if got, err := decodeLeave(buf); err != nil || got != "node-7" {
		t.Fatalf("got %q, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"hit packet": {hitsVersion, 0},
		"no name":    {msgLeave, 0},
		"trailing":   append(encodeLeave("x"), 0),
		"short":      {msgLeave, 3, 'a'},
	} {
		if _, err := decodeLeave(bad); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzDecodeLeave(f *testing.F) {
	f.Add(encodeLeave("n1"))
	f.Add([]byte{msgLeave})
	f.Fuzz(func(t *testing.T, buf []byte) {
		name, err := decodeLeave(buf)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeLeave(name), buf) {
			t.Fatalf("decode→encode changed %x", buf)
		}
	})
}
