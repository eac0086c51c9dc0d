//go:build !linux

package loadgen

import "time"

// preciseSleep sleeps for d (at the Go runtime's timer resolution).
func preciseSleep(d time.Duration) { time.Sleep(d) }
