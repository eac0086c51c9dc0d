package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ringlimit/ringlimit/bench/refserver"
)

// TestBenchCommand: `ringlimit bench` is the load generator, wired in.
func TestBenchCommand(t *testing.T) {
	t.Run("loads a loopback server and prints a summary", func(t *testing.T) {
		ref, err := refserver.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ref.Close() })
		var out, errs bytes.Buffer
		code := run(context.Background(), []string{"bench", "--addr", ref.Addr(), "--requests", "200", "--connections", "4", "--json"}, &out, &errs, noEnv)
		if code != exitOK {
			t.Fatalf("exit %d, stderr: %s", code, errs.String())
		}
		if !strings.Contains(out.String(), `"requests": 200`) {
			t.Fatalf("summary does not count 200 requests:\n%s", out.String())
		}
	})
	t.Run("refuses a remote target", func(t *testing.T) {
		var out, errs bytes.Buffer
		code := run(context.Background(), []string{"bench", "--addr", "192.0.2.1:8001", "--duration", "1s"}, &out, &errs, noEnv)
		if code != exitUsage || !strings.Contains(errs.String(), "loopback") {
			t.Fatalf("exit %d, stderr %q: want %d and a word about loopback", code, errs.String(), exitUsage)
		}
	})
}
