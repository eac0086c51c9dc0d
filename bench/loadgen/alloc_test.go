//go:build !race

package loadgen

import (
	"testing"
	"time"
)

func TestSendLoopAllocatesNothing(t *testing.T) {
	addr := startRef(t)
	for _, tt := range []struct {
		name string
		o    Options
	}{
		{"post", Options{}},
		{"post zipf limit", Options{Dist: "zipf", Limit: 10, WindowMS: 1000}},
		{"get", Options{Method: "get"}},
		{"batch", Options{Batch: 100}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Addrs = []string{addr}
			o.Requests = 1
			o, err := o.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			r := &runner{o: o, done: t.Context().Done()}
			r.clients = newClients(o)
			w := r.newWorker(0)
			if a := testing.AllocsPerRun(1000, func() { w.prepare(0) }); a != 0 {
				t.Errorf("building a request allocates %v times", a)
			}
			// A whole request over loopback, counted; the reference server
			// in this process allocates nothing either. Allow a stray
			// runtime allocation, not one per request.
			w.do(time.Now(), true)
			if a := testing.AllocsPerRun(500, func() { w.do(time.Now(), true) }); a > 0.05 {
				t.Errorf("a request allocates %v times", a)
			}
		})
	}
}
