//go:build linux

package loadgen

import (
	"syscall"
	"time"
)

// preciseSleep blocks the calling thread for d with the kernel's
// high-resolution timer. The Go runtime's own timers wake an otherwise
// idle process with millisecond granularity, which would add up to a
// millisecond to every open-loop latency; the pacer thread (locked to
// its OS thread) sleeps in nanosleep instead and wakes within tens of
// microseconds.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
