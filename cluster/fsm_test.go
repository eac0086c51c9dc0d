package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/ringlimit/ringlimit/window"
)

// Instants of the FSM tests, one second apart.
var (
	f1 = t0.Add(1 * time.Second)
	f2 = t0.Add(2 * time.Second)
	f3 = t0.Add(3 * time.Second)
	f4 = t0.Add(4 * time.Second)
	f5 = t0.Add(5 * time.Second)
	f6 = t0.Add(6 * time.Second)
)

const (
	fsmLimit  = 5 // exact mode (≤ window.ExactThreshold)
	fsmWindow = time.Minute
)

func newTestFSM(t *testing.T) (*fsm, *window.Store) {
	t.Helper()
	st := window.New(window.Config{})
	return newFSM(st, DefaultFloorRetention, testLogger(t)), st
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// tWriter routes log lines to t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func check(t *testing.T, st *window.Store, key string, at time.Time) {
	t.Helper()
	d, err := st.Check(key, 1, fsmLimit, fsmWindow, at)
	if err != nil || !d.Allowed {
		t.Fatalf("check %s at %v: %+v, %v", key, at.Sub(t0), d, err)
	}
}

func count(st *window.Store, key string, at time.Time) int64 {
	c, ok := st.Get(key, at)
	if !ok {
		return 0
	}
	return c.Count
}

func applyReset(t *testing.T, f *fsm, index uint64, key string, at time.Time) any {
	t.Helper()
	return f.Apply(&raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: encodeReset(nil, resetCommand{Key: key, At: at.UnixNano()})})
}

func TestFSMApplyReset(t *testing.T) {
	f, st := newTestFSM(t)
	check(t, st, "k", f1)
	check(t, st, "k", f2)
	check(t, st, "k", f4)

	// A reset at f3 clears the hits at f1 and f2, keeps the one at f4.
	if got := applyReset(t, f, 7, "k", f3); got != true {
		t.Fatalf("Apply = %v, want true (a live counter was cleared)", got)
	}
	if c := count(st, "k", f4); c != 1 {
		t.Fatalf("count after the reset = %d, want 1 (the hit after it)", c)
	}
	if f.appliedIndex() != 7 {
		t.Fatalf("applied index %d, want 7", f.appliedIndex())
	}
	// A peer's hit stamped before the reset arrives late: ignored.
	if err := st.Merge("k", f2, 1, fsmLimit, fsmWindow); err != nil {
		t.Fatal(err)
	}
	if c := count(st, "k", f4); c != 1 {
		t.Fatalf("a late pre-reset hit counted: count %d, want 1", c)
	}
	// A reset of a key with no live counter reports false.
	if got := applyReset(t, f, 8, "absent", f3); got != false {
		t.Fatalf("Apply on an absent key = %v, want false", got)
	}
	if f.resets.Load() != 2 || f.cleared.Load() != 1 {
		t.Fatalf("resets %d cleared %d, want 2 and 1", f.resets.Load(), f.cleared.Load())
	}
}

// Replaying an old reset (a restart replays the log) clears nothing that
// came after it.
func TestFSMReplayClearsNothingNewer(t *testing.T) {
	f, st := newTestFSM(t)
	applyReset(t, f, 1, "k", f2)
	check(t, st, "k", f3)
	check(t, st, "k", f4)

	// A restarted node replays the same entry into a fresh FSM whose store
	// already holds newer hits (merged from peers).
	f2nd, st2 := newTestFSM(t)
	for _, at := range []time.Time{f3, f4} {
		if err := st2.Merge("k", at, 1, fsmLimit, fsmWindow); err != nil {
			t.Fatal(err)
		}
	}
	applyReset(t, f2nd, 1, "k", f2)
	if c := count(st2, "k", f4); c != 2 {
		t.Fatalf("replayed reset changed the newer count to %d, want 2", c)
	}
	// And replaying it on the original node changes nothing either.
	applyReset(t, f, 1, "k", f2)
	if c := count(st, "k", f4); c != 2 {
		t.Fatalf("replayed reset on the same node: count %d, want 2", c)
	}
}

func TestFSMUndecodableEntryIsAnError(t *testing.T) {
	f, _ := newTestFSM(t)
	res := f.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: []byte{0xee, 1, 2}})
	err, ok := res.(error)
	if !ok || !errors.Is(err, errCorrupt) {
		t.Fatalf("Apply of garbage = %v, want an errCorrupt error", res)
	}
	if f.badCount.Load() != 1 {
		t.Fatalf("bad count %d", f.badCount.Load())
	}
	if f.appliedIndex() != 3 {
		t.Fatalf("the index of a bad entry must still advance, got %d", f.appliedIndex())
	}
}

// memSink is a raft.SnapshotSink in memory; it can fail its writes.
type memSink struct {
	bytes.Buffer
	failWrite bool
	closed    bool
	cancelled bool
}

func (s *memSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func snapshotOf(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed %v cancelled %v", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

// A node restored from a snapshot ignores late hits stamped before the
// resets the snapshot holds, and keeps later ones.
func TestFSMSnapshotRestore(t *testing.T) {
	f, _ := newTestFSM(t)
	applyReset(t, f, 1, "a", f2)
	applyReset(t, f, 2, "b", f3)
	applyReset(t, f, 3, "a", f4) // raises a's floor
	data := snapshotOf(t, f)

	g, st := newTestFSM(t)
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if g.appliedIndex() != 3 || g.floorsLen() != 2 {
		t.Fatalf("restored index %d floors %d, want 3 and 2", g.appliedIndex(), g.floorsLen())
	}
	for _, m := range []struct {
		key  string
		at   time.Time
		want int64 // count at f6 after merging
	}{
		{"a", f3, 0}, // before a's floor f4: ignored
		{"a", f4, 0}, // at the floor: ignored
		{"a", f5, 1}, // after: kept
		{"b", f2, 0},
		{"b", f6, 1},
	} {
		if err := st.Merge(m.key, m.at, 1, fsmLimit, fsmWindow); err != nil {
			t.Fatal(err)
		}
		if c := count(st, m.key, f6); c != m.want {
			t.Fatalf("merge %s at %v: count %d, want %d", m.key, m.at.Sub(t0), c, m.want)
		}
	}
	// A replica that restored the snapshot snapshots the same floors.
	if again := snapshotOf(t, g); len(again) != len(data) {
		t.Fatalf("re-snapshot is %d bytes, first was %d", len(again), len(data))
	}
}

func TestFSMSnapshotPrunesOldFloors(t *testing.T) {
	st := window.New(window.Config{})
	f := newFSM(st, time.Hour, testLogger(t))
	applyReset(t, f, 1, "old", t0)
	applyReset(t, f, 2, "edge", t0.Add(time.Hour))
	applyReset(t, f, 3, "new", t0.Add(2*time.Hour))
	data := snapshotOf(t, f)
	snap, err := readSnapshot(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, fl := range snap.floors {
		keys[fl.key] = true
	}
	if keys["old"] || !keys["edge"] || !keys["new"] || len(keys) != 2 {
		t.Fatalf("floors kept %v, want edge and new (retention 1h from the newest reset)", keys)
	}
	if f.floorsLen() != 2 {
		t.Fatalf("FSM still holds %d floors", f.floorsLen())
	}
}

func TestFSMSnapshotPersistFailureCancels(t *testing.T) {
	f, _ := newTestFSM(t)
	applyReset(t, f, 1, "k", f1)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist succeeded on a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("cancelled %v closed %v, want Cancel and no Close", sink.cancelled, sink.closed)
	}
}

func TestFSMRestoreRejectsCorrupt(t *testing.T) {
	f, _ := newTestFSM(t)
	applyReset(t, f, 1, "k", f1)
	good := snapshotOf(t, f)
	for name, data := range map[string][]byte{
		"empty":     nil,
		"version":   append([]byte{9}, good[1:]...),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
	} {
		g, _ := newTestFSM(t)
		if err := g.Restore(io.NopCloser(bytes.NewReader(data))); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: Restore err = %v, want errCorrupt", name, err)
		}
	}
}

func FuzzReadSnapshot(f *testing.F) {
	g := newFSM(window.New(window.Config{}), time.Hour, slog.New(slog.DiscardHandler))
	g.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: encodeReset(nil, resetCommand{Key: "k", At: 5})})
	snap, _ := g.Snapshot()
	sink := &memSink{}
	_ = snap.Persist(sink)
	f.Add(sink.Bytes())
	f.Add([]byte{snapshotVersion, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := readSnapshot(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error does not wrap errCorrupt: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := s.write(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := readSnapshot(bufio.NewReader(&buf))
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if again.index != s.index || again.newest != s.newest || !slices.Equal(again.floors, s.floors) {
			t.Fatalf("read→write→read changed the snapshot")
		}
	})
}

func TestFSMWaitApplied(t *testing.T) {
	f, _ := newTestFSM(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.waitApplied(ctx, 2) }()
	applyReset(t, f, 1, "k", f1)
	select {
	case err := <-done:
		t.Fatalf("waitApplied(2) returned %v at index 1", err)
	default:
	}
	applyReset(t, f, 2, "k", f2)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := f.waitApplied(short, 3); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waitApplied(3) = %v, want a deadline error", err)
	}
}
