package window

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// A shard is one lock stripe: an open-addressing index over a dense slab
// of entries.
//
// The index is a power-of-two array of uint64 slots probed linearly: 0 is
// empty, otherwise the high 32 bits are the top half of the key's hash
// (whose low bits, masked, are the slot the key hashes to) and the low 32
// bits are the entry's position in the slab plus one. Deletion shifts the
// following run back, so there are no tombstones. The slab keeps entries
// dense in fixed-size chunks, so it never copies on growth and gives memory
// back as it shrinks; removing an entry moves the last one into its place.
type shard struct {
	mu     sync.Mutex
	seed   maphash.Seed
	slots  []uint64
	chunks [][]entry
	n      int // entries in the slab
	cursor int // next slab position the sweep looks at
	cap    int // most entries allowed (0: no cap)
	hits   []Hit

	created, expired, evicted, dropped uint64
	_                                  [64]byte // keep shards off each other's cache lines
}

const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
	minSlots  = 8
)

func (sh *shard) at(i int) *entry {
	return &sh.chunks[i>>chunkBits][i&(chunkSize-1)]
}

func home(v uint64, mask uint64) uint64 { return (v >> 32) & mask }

func tagOf(h uint64) uint64 { return h >> 32 << 32 }

// find returns the slot index holding key, or -1.
func (sh *shard) find(key string, h uint64) int {
	if len(sh.slots) == 0 {
		return -1
	}
	mask := uint64(len(sh.slots) - 1)
	tag := tagOf(h)
	for p := home(tag, mask); ; p = (p + 1) & mask {
		v := sh.slots[p]
		if v == 0 {
			return -1
		}
		if v&^0xffffffff == tag && sh.at(int(uint32(v))-1).key == key {
			return int(p)
		}
	}
}

// lookup returns key's entry, or nil.
func (sh *shard) lookup(key string, h uint64) *entry {
	p := sh.find(key, h)
	if p < 0 {
		return nil
	}
	return sh.at(int(uint32(sh.slots[p])) - 1)
}

// insert appends a zeroed entry for key (which must be absent and already
// owned by the store) and indexes it.
func (sh *shard) insert(key string, h uint64) *entry {
	if (sh.n+1)*4 > len(sh.slots)*3 {
		sh.rehash(max(minSlots, len(sh.slots)*2))
	}
	i := sh.n
	if i>>chunkBits == len(sh.chunks) {
		sh.chunks = append(sh.chunks, make([]entry, chunkSize))
	}
	sh.n++
	e := sh.at(i)
	e.key = key
	sh.place(tagOf(h) | uint64(i+1))
	sh.created++
	return e
}

func (sh *shard) place(v uint64) {
	mask := uint64(len(sh.slots) - 1)
	p := home(v, mask)
	for sh.slots[p] != 0 {
		p = (p + 1) & mask
	}
	sh.slots[p] = v
}

// rehash rebuilds the index with size slots, recomputing each key's hash.
func (sh *shard) rehash(size int) {
	sh.slots = make([]uint64, size)
	for i := 0; i < sh.n; i++ {
		sh.place(tagOf(maphash.String(sh.seed, sh.at(i).key)) | uint64(i+1))
	}
}

// remove drops the entry at slab position i.
func (sh *shard) remove(i int) {
	key := sh.at(i).key
	sh.unindex(sh.find(key, maphash.String(sh.seed, key)))
	last := sh.n - 1
	if i != last {
		moved := sh.at(last)
		p := sh.find(moved.key, maphash.String(sh.seed, moved.key))
		sh.slots[p] = sh.slots[p]&^0xffffffff | uint64(i+1)
		*sh.at(i) = *moved
	}
	*sh.at(last) = entry{}
	sh.n = last
	if c := len(sh.chunks); c > 1 && sh.n <= (c-1)*chunkSize-chunkSize/4 {
		sh.chunks[c-1] = nil
		sh.chunks = sh.chunks[:c-1]
	} else if c == 1 && sh.n == 0 {
		sh.chunks = nil
	}
	if len(sh.slots) > minSlots && sh.n*8 < len(sh.slots) {
		sh.rehash(len(sh.slots) / 2)
	}
}

// unindex empties slot p and shifts back the run after it.
func (sh *shard) unindex(p int) {
	mask := uint64(len(sh.slots) - 1)
	hole := uint64(p)
	for q := (hole + 1) & mask; ; q = (q + 1) & mask {
		v := sh.slots[q]
		if v == 0 {
			break
		}
		// v may fill the hole unless its home lies cyclically in (hole, q].
		h := home(v, mask)
		if (q > hole && (h <= hole || h > q)) || (q < hole && h <= hole && h > q) {
			sh.slots[hole] = v
			hole = q
		}
	}
	sh.slots[hole] = 0
}

func sortCounters(cs []Counter) {
	slices.SortFunc(cs, func(a, b Counter) int { return strings.Compare(a.Key, b.Key) })
}
