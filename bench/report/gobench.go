package main

import (
	"bufio"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// benchResult is one benchmark's results, every run of it in the input.
type benchResult struct {
	Pkg   string
	Name  string // without the -GOMAXPROCS suffix
	Procs int
	// Runs holds, for each run, its metrics by unit ("ns/op", "B/op",
	// "allocs/op", custom units).
	Runs []map[string]float64
}

// Median returns the median of unit over the runs that report it, and
// whether any does.
func (b *benchResult) Median(unit string) (float64, bool) {
	var vs []float64
	for _, r := range b.Runs {
		if v, ok := r[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// Units returns the units any run reports, ns/op, B/op and allocs/op
// first, then the rest sorted.
func (b *benchResult) Units() []string {
	seen := map[string]bool{}
	for _, r := range b.Runs {
		for u := range r {
			seen[u] = true
		}
	}
	var out []string
	for _, u := range []string{"ns/op", "B/op", "allocs/op"} {
		if seen[u] {
			out = append(out, u)
			delete(seen, u)
		}
	}
	var rest []string
	for u := range seen {
		rest = append(rest, u)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// parseGoBench reads `go test -bench` output (the format benchstat
// reads): "pkg:" lines name the package of the benchmark lines after
// them; a benchmark line is "BenchmarkName-P  N  v1 unit1  v2 unit2 ...".
// Other lines are ignored. Results keep the order of first appearance.
func parseGoBench(r io.Reader) ([]*benchResult, error) {
	var out []*benchResult
	index := map[string]*benchResult{}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name, procs := f[0], 1
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if p, err := strconv.Atoi(name[i+1:]); err == nil {
				name, procs = name[:i], p
			}
		}
		metrics := map[string]float64{}
		ok := true
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				ok = false
				break
			}
			metrics[f[i+1]] = v
		}
		if !ok {
			continue
		}
		key := pkg + "\x00" + name + "\x00" + strconv.Itoa(procs)
		b := index[key]
		if b == nil {
			b = &benchResult{Pkg: pkg, Name: name, Procs: procs}
			index[key] = b
			out = append(out, b)
		}
		b.Runs = append(b.Runs, metrics)
	}
	return out, sc.Err()
}
