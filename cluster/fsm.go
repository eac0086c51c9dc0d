package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringlimit/ringlimit/window"
)

// fsm applies committed resets to the window store. It remembers each
// key's reset floor (the instant of its latest reset) so that a snapshot
// carries the floors still in effect: a node restored from a snapshot
// ignores late hits stamped before a reset it never replayed.
//
// Apply, Snapshot and Restore are called by Raft from one goroutine;
// appliedIndex and waitApplied are safe for concurrent use.
type fsm struct {
	store     *window.Store
	retention time.Duration
	logger    *slog.Logger

	mu     sync.Mutex
	floors map[string]int64 // key → unix nanos of its latest reset
	newest int64            // newest reset instant applied: the pruning clock
	index  uint64           // index of the last entry applied
	notify chan struct{}    // closed and replaced when index advances

	applied  atomic.Uint64 // == index, readable without mu
	resets   atomic.Uint64 // resets applied
	cleared  atomic.Uint64 // resets that cleared a live counter
	badCount atomic.Uint64 // undecodable entries (bugs)
}

func newFSM(store *window.Store, retention time.Duration, logger *slog.Logger) *fsm {
	return &fsm{
		store:     store,
		retention: retention,
		logger:    logger,
		floors:    make(map[string]int64),
		notify:    make(chan struct{}),
	}
}

var _ raft.FSM = (*fsm)(nil)

// Apply applies one committed log entry. It never reads the clock: the
// reset instant comes with the command. It returns a bool (whether a live
// counter was cleared) or, for an undecodable entry, an error.
func (f *fsm) Apply(l *raft.Log) any {
	defer f.advance(l.Index)
	if l.Type != raft.LogCommand {
		return nil
	}
	c, err := decodeCommand(l.Data)
	if err != nil {
		// An entry this version cannot decode is a bug or a newer
		// peer's command: never skip it silently.
		f.badCount.Add(1)
		f.logger.Error("raft: undecodable log entry", "index", l.Index, "term", l.Term, "len", len(l.Data), "err", err)
		return fmt.Errorf("log entry %d: %w", l.Index, err)
	}
	f.mu.Lock()
	if c.At >= f.floors[c.Key] {
		f.floors[c.Key] = c.At
	}
	if c.At > f.newest {
		f.newest = c.At
	}
	f.mu.Unlock()
	cleared := f.store.Reset(c.Key, time.Unix(0, c.At))
	f.resets.Add(1)
	if cleared {
		f.cleared.Add(1)
	}
	return cleared
}

// advance records that the entry at index was applied and wakes waiters.
func (f *fsm) advance(index uint64) {
	f.mu.Lock()
	if index > f.index {
		f.index = index
		f.applied.Store(index)
		close(f.notify)
		f.notify = make(chan struct{})
	}
	f.mu.Unlock()
}

// appliedIndex is the index of the last entry this FSM applied (or the
// index of the snapshot it was restored from).
func (f *fsm) appliedIndex() uint64 { return f.applied.Load() }

// waitApplied waits until the FSM has applied index, or ctx is done.
func (f *fsm) waitApplied(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		done, ch := f.index >= index, f.notify
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Snapshot copies the floors still in effect: those within retention of
// the newest reset. Pruning uses the newest reset instant, not the clock,
// so every replica keeps the same floors.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cut := f.newest - int64(f.retention)
	snap := &fsmSnapshot{index: f.index, newest: f.newest, floors: make([]floor, 0, len(f.floors))}
	for k, at := range f.floors {
		if at < cut {
			delete(f.floors, k)
			continue
		}
		snap.floors = append(snap.floors, floor{k, at})
	}
	return snap, nil
}

// Restore replaces the floors with the snapshot's and applies each as a
// reset of the store, so late hits from before those resets are ignored.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	snap, err := readSnapshot(bufio.NewReader(rc))
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	floors := make(map[string]int64, len(snap.floors))
	for _, fl := range snap.floors {
		floors[fl.key] = fl.at
		f.store.Reset(fl.key, time.Unix(0, fl.at))
	}
	f.mu.Lock()
	f.floors, f.newest = floors, snap.newest
	f.mu.Unlock()
	f.advance(snap.index)
	f.logger.Info("raft: restored snapshot", "index", snap.index, "floors", len(floors))
	return nil
}

// floorsLen is the number of floors held (tests, status).
func (f *fsm) floorsLen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.floors)
}

type floor struct {
	key string
	at  int64
}

// fsmSnapshot is an immutable copy of the FSM's floors.
//
// Encoding: version byte (1), uvarint index, varint newest, uvarint count,
// then count × (uvarint len(key), key, varint at).
type fsmSnapshot struct {
	index  uint64
	newest int64
	floors []floor
}

const snapshotVersion byte = 1

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var buf []byte
	buf = append(buf, snapshotVersion)
	buf = binary.AppendUvarint(buf, s.index)
	buf = binary.AppendVarint(buf, s.newest)
	buf = binary.AppendUvarint(buf, uint64(len(s.floors)))
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	for _, fl := range s.floors {
		buf = binary.AppendUvarint(buf[:0], uint64(len(fl.key)))
		buf = append(buf, fl.key...)
		buf = binary.AppendVarint(buf, fl.at)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func (s *fsmSnapshot) Release() {}

// readSnapshot decodes a snapshot written by fsmSnapshot.write.
func readSnapshot(r *bufio.Reader) (*fsmSnapshot, error) {
	bad := func(what string, err error) (*fsmSnapshot, error) {
		return nil, fmt.Errorf("%w: snapshot %s: %v", errCorrupt, what, err)
	}
	v, err := r.ReadByte()
	if err != nil {
		return bad("version", err)
	}
	if v != snapshotVersion {
		return nil, fmt.Errorf("%w: snapshot version %d", errCorrupt, v)
	}
	s := &fsmSnapshot{}
	if s.index, err = binary.ReadUvarint(r); err != nil {
		return bad("index", err)
	}
	if s.newest, err = binary.ReadVarint(r); err != nil {
		return bad("newest", err)
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return bad("count", err)
	}
	s.floors = make([]floor, 0, min(n, 1<<16))
	for i := uint64(0); i < n; i++ {
		kl, err := binary.ReadUvarint(r)
		if err != nil {
			return bad("key length", err)
		}
		if kl == 0 || kl > maxKeyLen {
			return bad("key length", fmt.Errorf("%d out of range", kl))
		}
		key := make([]byte, kl)
		if _, err := io.ReadFull(r, key); err != nil {
			return bad("key", err)
		}
		at, err := binary.ReadVarint(r)
		if err != nil {
			return bad("floor", err)
		}
		s.floors = append(s.floors, floor{string(key), at})
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: snapshot has trailing bytes", errCorrupt)
	}
	return s, nil
}
