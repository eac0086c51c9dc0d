package loadgen

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/server"
	"github.com/ringlimit/ringlimit/window"
)

// startRinglimit starts the real ringlimit HTTP server (one node, a
// Standalone cluster over a window.Store) on a free 127.0.0.1 port.
func startRinglimit(t *testing.T) string {
	t.Helper()
	store := window.New(window.Config{DefaultLimit: 100, DefaultWindow: time.Minute})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := server.NewStandalone(store, "bench-1", ln.Addr().String(), time.Now)
	srv, err := server.New(server.Config{}, store, cl)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestRealServerCountsAddUp(t *testing.T) {
	addr := startRinglimit(t)
	s, err := Run(t.Context(), Options{Addrs: []string{addr}, Connections: 8, Requests: 2000, Keys: 10000})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, s)
	if s.Requests != 2000 || s.Errors != 0 || s.Allowed+s.Denied != 2000 {
		t.Fatalf("requests %d allowed %d denied %d errors %v", s.Requests, s.Allowed, s.Denied, s.ErrorsByKind)
	}
}

func TestRealServerHonoursLimitExactly(t *testing.T) {
	// A fresh node per case: keys × limit checks are admitted, exactly,
	// whatever the mode; the 60 s window outlasts the test. Limit 7 is
	// kept exactly (a ring of time stamps), 40 by time slots.
	tests := []struct {
		name  string
		limit int64
		o     Options
	}{
		{"post exact", 7, Options{Requests: 300}},
		{"post slots", 40, Options{Requests: 600}},
		{"get", 7, Options{Requests: 300, Method: "get"}},
		{"batch", 7, Options{Requests: 30, Batch: 10}},
		{"batch slots", 40, Options{Requests: 30, Batch: 100}},
		{"open loop", 7, Options{Requests: 300, Rate: 5000}},
		{"zipf", 7, Options{Requests: 300, Dist: "zipf"}},
	}
	const keys = 5
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Addrs = []string{startRinglimit(t)}
			o.Connections = 8
			o.Keys = keys
			o.Limit = tt.limit
			o.WindowMS = 60000
			s, err := Run(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			checkSums(t, s)
			if s.Errors != 0 {
				t.Fatalf("errors %v", s.ErrorsByKind)
			}
			if want := uint64(keys * tt.limit); s.Allowed != want {
				t.Fatalf("allowed %d, want exactly %d (denied %d)", s.Allowed, want, s.Denied)
			}
		})
	}
}
