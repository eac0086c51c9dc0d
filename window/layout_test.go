package window

import (
	"testing"
	"unsafe"
)

// TestEntryLayout: an entry is two cache lines, so the table keeps every
// entry on its own pair of lines and a check reads one entry's lines only.
func TestEntryLayout(t *testing.T) {
	if got := unsafe.Sizeof(entry{}); got != 128 {
		t.Fatalf("entry is %d bytes, want 128", got)
	}
	if got := unsafe.Offsetof(entry{}.ring); got != 128-7*8 {
		t.Fatalf("ring at offset %d, want it to fill the second cache line's tail", got)
	}
}
