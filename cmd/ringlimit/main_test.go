package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the ringlimit binary TestMain builds, for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringlimit-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ringlimit")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ringlimit:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// envOf is an environment of the given variables.
func envOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

// testLogger routes logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// serveConfigOf parses serve flags and environment as `ringlimit serve` does.
func serveConfigOf(t testing.TB, env map[string]string, args ...string) (serveConfig, error) {
	t.Helper()
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.flags(fs)
	if err := parseFlags(fs, args, envOf(env)); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

// fastRaft are Raft and gossip timings for nodes on one machine: a
// one-node cluster elects itself within 300-600 ms.
var fastRaft = []string{"--gossip-profile", "local", "--raft-heartbeat-timeout", "300ms",
	"--raft-election-timeout", "300ms", "--raft-lease-timeout", "150ms"}

// nodeArgs are the flags of a test node: free 127.0.0.1 ports (port 0)
// for HTTP, gossip and Raft, dataDir for its Raft log, fast timings.
// Flags after them win.
func nodeArgs(dataDir string) []string {
	return append([]string{"--http-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0",
		"--raft-addr", "127.0.0.1:0", "--data-dir", dataDir}, fastRaft...)
}

// startMain runs a one-node cluster in process on free 127.0.0.1 ports,
// with its data in a temporary directory, and waits until it is ready.
func startMain(t *testing.T, args ...string) *Main {
	t.Helper()
	cfg, err := serveConfigOf(t, nil, append(nodeArgs(t.TempDir()), args...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, testLogger(t))
	if err := m.Run(context.Background()); err != nil {
		m.Close() //nolint:errcheck
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for m.node.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready in 20 s: %v", m.node.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return m
}

// cli runs a ringlimit command in process.
func cli(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, envOf(env))
	return code, out.String(), errb.String()
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is a ringlimit serve process.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	addr   string
	done   chan error
}

// startProcess runs the binary's serve (a one-node cluster) on free
// ports, waits until it logs the address it listens on, then until it is
// ready.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{stderr: &syncBuffer{}, done: make(chan error, 1)}
	args = append(append(append([]string{"serve"}, nodeArgs(t.TempDir())...), "--log-format", "json"), args...)
	p.cmd = exec.Command(binary, args...)
	p.cmd.Stderr = p.stderr
	p.cmd.Env = []string{} // no RINGLIMIT_* from the test's environment
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill() //nolint:errcheck
			<-p.done
		}
		t.Logf("process log:\n%s", p.stderr.String())
	})
	deadline := time.Now().Add(20 * time.Second)
	for p.addr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no listening address logged:\n%s", p.stderr.String())
		}
		sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
		for sc.Scan() {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"http_addr"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "ringlimit serving" {
				p.addr = rec.Addr
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		if status, _ := httpDo(t, "GET", "http://"+p.addr+"/readyz", ""); status == 200 {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not exit in 30 s")
	}
	return p.cmd.ProcessState.ExitCode()
}

// httpDo sends one request and returns status and body.
func httpDo(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// refused reports whether nothing accepts connections on addr.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// signals used by the process tests.
var (
	sigTERM = syscall.SIGTERM
	sigINT  = syscall.SIGINT
)

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
