package loadgen

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMainJSON(t *testing.T) {
	f := &fakeLimiter{defaultLimit: 1000}
	addr := newFake(t, f)
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), []string{"--addr", addr, "--requests", "200", "--connections", "4",
		"--keys", "2", "--limit", "30", "--window-ms", "60000", "--label", "fake", "--json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	var s Summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if s.Requests != 200 || s.Allowed != 60 || s.Denied != 140 || s.Errors != 0 || s.Label != "fake" ||
		s.Limit != 30 || s.WindowMS != 60000 || s.Stopped != "requests" || s.Latency.Count != 200 {
		t.Fatalf("summary %+v", s)
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr is not a terminal, yet got %q", stderr.String())
	}
}

func TestMainText(t *testing.T) {
	addr := startRef(t)
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), []string{"--addr", "http://" + addr, "--duration", "200ms", "--connections", "2", "--rate", "500"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	for _, want := range []string{"open loop at 500 req/s", "requests", "decisions", "errors     0", "p99.9"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestMainUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--addr", "10.0.0.1:8001", "--requests", "1"}, 2, "--allow-remote"},
		{[]string{"--addr", "example.com:80", "--requests", "1"}, 2, "loopback"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"--method", "get", "--batch", "5"}, 2, "batched checks need"},
		{[]string{"--duration", "0s"}, 2, "duration or a request count"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-h"}, 0, "ringlimit bench"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := Main(t.Context(), tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.msg) {
			t.Errorf("Main(%q) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.msg)
		}
	}
}

func TestMainNoAnswer(t *testing.T) {
	// A port where nothing listens: the run completes, counts connect
	// errors and exits 1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), []string{"--addr", addr, "--requests", "3", "--connections", "1", "--timeout", "1s"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stdout.String(), "connect 3") || !strings.Contains(stderr.String(), "no request got an answer") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout.String(), stderr.String())
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) || isTerminal(&bytes.Buffer{}) {
		t.Fatal("a regular file or a buffer taken for a terminal")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !isTerminal(tty) {
			t.Fatal("/dev/tty not taken for a terminal")
		}
	}
}
