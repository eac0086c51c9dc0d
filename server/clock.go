package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// CoarseClock is a clock that is read with one atomic load. A single
// goroutine stores the wall time every resolution (1 ms by default), so a
// reading is up to one resolution behind the real time: time stamps
// handed to the store have a 1 ms resolution, which is far below the
// window sizes a rate limiter works with, while a check does not pay for
// a call to time.Now (tens of nanoseconds on virtual machines).
//
// The clock never goes backwards: when the wall clock is stepped back, it
// stands still until the wall clock catches up.
//
// It is safe for concurrent use. Create it with NewCoarseClock and stop
// it with Stop; the zero value is not usable.
type CoarseClock struct {
	ns   atomic.Int64
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// DefaultClockResolution is the resolution of a CoarseClock created with a
// resolution of 0.
const DefaultClockResolution = time.Millisecond

// NewCoarseClock starts a clock updated every resolution (0 means
// DefaultClockResolution).
func NewCoarseClock(resolution time.Duration) *CoarseClock {
	if resolution <= 0 {
		resolution = DefaultClockResolution
	}
	c := &CoarseClock{stop: make(chan struct{}), done: make(chan struct{})}
	c.ns.Store(time.Now().UnixNano())
	go c.run(resolution)
	return c
}

func (c *CoarseClock) run(resolution time.Duration) {
	defer close(c.done)
	t := time.NewTicker(resolution)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.tick(time.Now().UnixNano())
		}
	}
}

// tick advances the clock to now unless that would move it backwards.
func (c *CoarseClock) tick(now int64) {
	if now > c.ns.Load() {
		c.ns.Store(now) // only the ticking goroutine stores
	}
}

// Now returns the time of the last tick. It allocates nothing.
func (c *CoarseClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Stop stops the ticking goroutine and waits for it to return. Now keeps
// returning the last tick. Stop may be called more than once.
func (c *CoarseClock) Stop() {
	c.once.Do(func() { close(c.stop) })
	<-c.done
}
