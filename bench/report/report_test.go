package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/bench/loadgen"
)

const sampleBench = `goos: linux
goarch: amd64
pkg: github.com/ringlimit/ringlimit/window
cpu: Intel(R) Xeon(R) Processor
BenchmarkCheck/keys=1-2         	30000000	        38.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkCheck/keys=1-2         	30000000	        41.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkCheck/keys=1-2         	30000000	        40.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkBytesPerKey/mode=slots-2	       1	1234567890 ns/op	       150.5 B/key
PASS
ok  	github.com/ringlimit/ringlimit/window	12.3s
pkg: github.com/ringlimit/ringlimit/server
BenchmarkPostCheck 	 1000000	      1100 ns/op	       0 B/op	       0 allocs/op
pkg: github.com/ringlimit/ringlimit/cluster
BenchmarkResetThroughFollower-2 	     500	   2500000 ns/op	  1500 p50-µs	  4200 p99-µs	  9000 B/op	  100 allocs/op
BenchmarkBroken-2 	 notanumber
--- FAIL: BenchmarkOther
`

func TestParseGoBench(t *testing.T) {
	bs, err := parseGoBench(strings.NewReader(sampleBench))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 4 {
		t.Fatalf("got %d benchmarks, want 4", len(bs))
	}
	c := bs[0]
	if c.Pkg != "github.com/ringlimit/ringlimit/window" || c.Name != "BenchmarkCheck/keys=1" || c.Procs != 2 || len(c.Runs) != 3 {
		t.Fatalf("first benchmark %+v", c)
	}
	if v, _ := c.Median("ns/op"); v != 40 {
		t.Fatalf("median ns/op %v, want 40", v)
	}
	if v, ok := bs[1].Median("B/key"); !ok || v != 150.5 {
		t.Fatalf("B/key %v %v", v, ok)
	}
	if u := bs[1].Units(); len(u) != 2 || u[0] != "ns/op" || u[1] != "B/key" {
		t.Fatalf("units %v", u)
	}
	if bs[2].Pkg != "github.com/ringlimit/ringlimit/server" || bs[2].Procs != 1 || bs[2].Name != "BenchmarkPostCheck" {
		t.Fatalf("third benchmark %+v", bs[2])
	}
	if _, ok := bs[2].Median("B/key"); ok {
		t.Fatal("median of a unit no run reports")
	}
}

func summary(label string, rps, p99 float64, batch int, errs uint64) loadgen.Summary {
	req := uint64(rps * 5)
	return loadgen.Summary{
		Label: label, Targets: []string{"127.0.0.1:1"}, Method: "POST", Path: "/check", Loop: "closed",
		Connections: 64, Keys: 10000, Dist: "uniform", Cost: 1, Batch: batch,
		Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ElapsedS: 5, Stopped: "duration",
		Requests: req, Allowed: (req - errs) * uint64(batch), Errors: errs,
		ErrorsByKind: map[string]uint64{},
		RequestsPerS: rps, DecisionsPerS: rps * float64(batch),
		Latency: loadgen.Latency{Count: req, Min: 10, Mean: p99 / 4, P50: p99 / 5, P90: p99 / 2, P99: p99, P999: p99 * 2, Max: p99 * 3},
	}
}

func writeJSON(t *testing.T, dir, name string, s loadgen.Summary) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	res := filepath.Join(dir, "results")
	if err := os.Mkdir(res, 0o755); err != nil {
		t.Fatal(err)
	}
	// A B A B: reference 40k and 44k req/s, ringlimit 36k and 33k.
	writeJSON(t, res, "load-01.json", summary("single/reference", 40000, 2000, 1, 0))
	writeJSON(t, res, "load-02.json", summary("single/ringlimit", 36000, 2400, 1, 0))
	writeJSON(t, res, "load-03.json", summary("single/reference", 44000, 1800, 1, 0))
	writeJSON(t, res, "load-04.json", summary("single/ringlimit", 33000, 2600, 1, 0))
	writeJSON(t, res, "load-05.json", summary("open10k/ringlimit", 10000, 1500, 1, 0))
	writeJSON(t, res, "load-06.json", summary("batch100/ringlimit", 9000, 9000, 100, 0))
	if err := os.WriteFile(filepath.Join(res, "gobench-main.txt"), []byte(sampleBench), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(res, "meta.txt"), []byte("date=2026-01-02 03:04 UTC\ngo=go1.26.8 linux/amd64\ncores=2\n"), 0o644)
	os.WriteFile(filepath.Join(res, "commands.txt"), []byte("go test -run='^$' -bench=. -benchmem ./window/\n"), 0o644)
	os.WriteFile(filepath.Join(res, "notes.txt"), []byte("3-node cluster: skipped (no --join yet)\n"), 0o644)
	cpu := filepath.Join(dir, "cpuinfo")
	os.WriteFile(cpu, []byte("processor\t: 0\nmodel name\t: Test CPU @ 1GHz\nprocessor\t: 1\nmodel name\t: Test CPU @ 1GHz\n"), 0o644)

	out := filepath.Join(dir, "RESULTS.md")
	plots := filepath.Join(dir, "plots")
	if code := run([]string{"--results", res, "--out", out, "--plots", plots, "--cpuinfo", cpu}, os.Stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	// Medians: reference 42000 req/s, p99 1900; ringlimit 34500, p99 2500.
	tp, p99 := 34500.0/42000, 2500.0/1900
	for _, want := range []string{
		"| CPU | Test CPU @ 1GHz |", "| cores | 2 |", "| Go | go1.26.8 linux/amd64 |", "2026-01-02 03:04 UTC",
		fmt.Sprintf("| single | %.2f | %.2f |", tp, p99),
		"0.90 / 1.20, 0.75 / 1.44", // round by round
		"| single node POST /check, throughput | ≥ 0.80 × reference | 0.82 × | yes |",
		"| single node POST /check, p99 | ≤ 1.5 × reference | 1.32 × | yes |",
		"| open loop at 10 000 req/s, p99 | ≤ 2 ms | 1.500 ms at 10,000 req/s, 0 errors | yes |",
		"| batched checks (100 per request) | ≥ 1 000 000 decisions/s | 900,000 decisions/s | no |",
		"| 3-node cluster, all nodes loaded | no errors; throughput and p99 reported |  | not measured |",
		"| single | ringlimit | 2 | 34,500 | 34,500 | 0 | 0.500 | 1.250 | 2.500 |",
		"3-node cluster: skipped (no --join yet)",
		"![latency](plots/latency.svg)", "![throughput](plots/throughput.svg)", "![ratios](plots/ratios.svg)", "![decisions](plots/decisions.svg)",
		"### `github.com/ringlimit/ringlimit/window`",
		"| Check/keys=1 (P=2) | 3 | 40 | 0 | 0 |", "| BytesPerKey/mode=slots (P=2) | 1 | 1,234,567,890 |  |  | 150.50 B/key |",
		"150.50 B/key",
		"| reset latency through a follower (3 nodes, Go benchmark) | reported | p50 1.500 ms, p99 4.200 ms | reported |",
		"Written by `bench/report` from the raw results in [`results`](results)",
		"go test -run='^$' -bench=. -benchmem ./window/",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
	for _, f := range []string{"latency.svg", "throughput.svg", "decisions.svg", "ratios.svg"} {
		svg, err := os.ReadFile(filepath.Join(plots, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(svg), "<?xml") || !strings.Contains(string(svg), "<svg") || len(svg) < 2000 {
			t.Errorf("%s is not a plot (%d bytes)", f, len(svg))
		}
	}
}

func TestWriteReportNeedsResults(t *testing.T) {
	dir := t.TempDir()
	if code := run([]string{"--results", dir, "--out", filepath.Join(dir, "R.md"), "--plots", dir}, &strings.Builder{}); code != 1 {
		t.Fatalf("empty results: exit %d, want 1", code)
	}
	if code := run([]string{"--results", filepath.Join(dir, "missing")}, &strings.Builder{}); code != 1 {
		t.Fatalf("missing results: exit %d, want 1", code)
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", -1234: "-1,234"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
	if got := median([]float64{3, 1, 2, math.Inf(1)}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
}
