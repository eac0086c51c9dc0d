package window

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
)

// A shard is one lock stripe: an open-addressing table whose slots hold the
// windows themselves, so that a check on a known key costs one cache miss
// in the (large) entry array, beside a small tag array that stays cached.
//
// tags[i] is 0 when slot i is empty, otherwise 8 bits of the key's hash;
// ents[i] is the window. A key's home slot is its hash scaled to the table
// size (any size, not only powers of two, so the table grows by 5/4 and
// stays between 70 % and 87.5 % full); collisions probe linearly. Deletion
// shifts the run that follows back, so there are no tombstones. An entry
// keeps the first 16 bytes of its key inline: keys up to 16 bytes are
// matched without reading the key's own memory.
type shard struct {
	mu     sync.Mutex
	seed   maphash.Seed
	tags   []uint8
	ents   []entry
	n      int // entries in the table
	cursor int // next slot the sweep looks at
	cap    int // most entries allowed (0: no cap)
	hits   []Hit

	created, expired, evicted, dropped uint64
	_                                  [64]byte // keep shards off each other's cache lines
}

const minTable = 16

func tagOf(h uint64) uint8 { return max(uint8(h>>56), 1) }

func homeOf(h uint64, size int) int { return int(uint64(uint32(h>>16)) * uint64(size) >> 32) }

func prefixOf(key string) (p [16]byte) {
	copy(p[:], key)
	return p
}

// match reports whether e holds key, whose inline prefix is pre.
func (e *entry) match(key string, pre *[16]byte) bool {
	return binary.LittleEndian.Uint64(e.pre[:8]) == binary.LittleEndian.Uint64(pre[:8]) &&
		binary.LittleEndian.Uint64(e.pre[8:]) == binary.LittleEndian.Uint64(pre[8:]) &&
		len(e.key) == len(key) && (len(key) <= 16 || e.key[16:] == key[16:])
}

// find returns the slot holding key, or -1.
func (sh *shard) find(key string, h uint64) int {
	size := len(sh.tags)
	if size == 0 {
		return -1
	}
	tag, pre := tagOf(h), prefixOf(key)
	i := homeOf(h, size)
	for range size {
		switch sh.tags[i] {
		case 0:
			return -1
		case tag:
			if sh.ents[i].match(key, &pre) {
				return i
			}
		}
		if i++; i == size {
			i = 0
		}
	}
	return -1
}

// lookup returns key's entry, or nil.
func (sh *shard) lookup(key string, h uint64) *entry {
	if i := sh.find(key, h); i >= 0 {
		return &sh.ents[i]
	}
	return nil
}

// insert adds a zeroed entry for key (which must be absent and already
// owned by the store) and returns it. The pointer stays valid until the
// next insert or remove.
func (sh *shard) insert(key string, h uint64) *entry {
	if (sh.n+1)*8 > len(sh.tags)*7 {
		sh.resize(max(minTable, len(sh.tags)*5/4))
	}
	i := sh.free(h)
	sh.tags[i] = tagOf(h)
	sh.ents[i] = entry{pre: prefixOf(key), key: key}
	sh.n++
	sh.created++
	return &sh.ents[i]
}

// free returns the first empty slot from h's home.
func (sh *shard) free(h uint64) int {
	size := len(sh.tags)
	i := homeOf(h, size)
	for sh.tags[i] != 0 {
		if i++; i == size {
			i = 0
		}
	}
	return i
}

// resize moves every entry into a table of size slots.
func (sh *shard) resize(size int) {
	tags, ents := sh.tags, sh.ents
	sh.tags, sh.ents = make([]uint8, size), make([]entry, size)
	for i, t := range tags {
		if t != 0 {
			j := sh.free(maphash.String(sh.seed, ents[i].key))
			sh.tags[j], sh.ents[j] = t, ents[i]
		}
	}
	sh.cursor = 0
}

// remove empties slot i and shifts back the run after it.
func (sh *shard) remove(i int) {
	size := len(sh.tags)
	hole := i
	for j, k := i, 0; k < size; k++ {
		if j++; j == size {
			j = 0
		}
		if sh.tags[j] == 0 {
			break
		}
		// The entry at j may fill the hole unless its home lies
		// cyclically in (hole, j].
		home := homeOf(maphash.String(sh.seed, sh.ents[j].key), size)
		var stays bool
		if hole < j {
			stays = hole < home && home <= j
		} else {
			stays = home > hole || home <= j
		}
		if !stays {
			sh.tags[hole], sh.ents[hole] = sh.tags[j], sh.ents[j]
			hole = j
		}
	}
	sh.tags[hole], sh.ents[hole] = 0, entry{}
	sh.n--
	if size > minTable && sh.n*4 < size {
		sh.resize(max(minTable, size/2))
	}
}

func sortCounters(cs []Counter) {
	slices.SortFunc(cs, func(a, b Counter) int { return strings.Compare(a.Key, b.Key) })
}
