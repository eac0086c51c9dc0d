package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ringlimit/ringlimit/bench/loadgen"
)

// loadRun is one load-generator run: its summary and where it came from.
// The label is "configuration/system", e.g. "single/ringlimit".
type loadRun struct {
	File   string
	Config string
	System string
	S      loadgen.Summary
}

// readLoadRuns reads every *.json summary in dir, in file-name order.
func readLoadRuns(dir string) ([]loadRun, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var runs []loadRun
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s loadgen.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if s.Targets == nil {
			continue // not a load-generator summary
		}
		cfg, sys, ok := strings.Cut(s.Label, "/")
		if !ok {
			cfg, sys = s.Label, "ringlimit"
		}
		if cfg == "" {
			cfg = strings.TrimSuffix(filepath.Base(f), ".json")
		}
		runs = append(runs, loadRun{File: filepath.Base(f), Config: cfg, System: sys, S: s})
	}
	return runs, nil
}

// group is every run of one configuration on one system, summarised by
// medians across its runs.
type group struct {
	Config, System string
	Runs           []loadRun
	ReqPerS        float64
	DecPerS        float64
	P50, P90, P99  float64 // µs
	P999, Max      float64 // µs
	Errors         uint64
	Requests       uint64
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// groupRuns groups runs by configuration and system, keeping the order in
// which each group first appears.
func groupRuns(runs []loadRun) []*group {
	var out []*group
	index := map[string]*group{}
	for _, r := range runs {
		k := r.Config + "/" + r.System
		g := index[k]
		if g == nil {
			g = &group{Config: r.Config, System: r.System}
			index[k] = g
			out = append(out, g)
		}
		g.Runs = append(g.Runs, r)
	}
	for _, g := range out {
		var rps, dps, p50, p90, p99, p999, mx []float64
		for _, r := range g.Runs {
			s := r.S
			rps = append(rps, s.RequestsPerS)
			dps = append(dps, s.DecisionsPerS)
			p50 = append(p50, s.Latency.P50)
			p90 = append(p90, s.Latency.P90)
			p99 = append(p99, s.Latency.P99)
			p999 = append(p999, s.Latency.P999)
			mx = append(mx, s.Latency.Max)
			g.Errors += s.Errors
			g.Requests += s.Requests
		}
		g.ReqPerS, g.DecPerS = median(rps), median(dps)
		g.P50, g.P90, g.P99, g.P999, g.Max = median(p50), median(p90), median(p99), median(p999), median(mx)
	}
	return out
}

// find returns the group of config on system, or nil.
func find(gs []*group, config, system string) *group {
	for _, g := range gs {
		if g.Config == config && g.System == system {
			return g
		}
	}
	return nil
}

// ratio is one comparison of ringlimit with the reference in a
// configuration.
type ratio struct {
	Config     string
	Throughput float64 // ringlimit/reference requests per second
	P99        float64 // ringlimit/reference p99
	Rounds     []roundRatio
}

type roundRatio struct{ Throughput, P99 float64 }

// ratios compares ringlimit with the reference in every configuration
// measured on both: from the medians, and round by round (the i-th
// reference run with the i-th ringlimit run, as run A B A B).
func ratios(gs []*group) []ratio {
	var out []ratio
	for _, rl := range gs {
		if rl.System != "ringlimit" {
			continue
		}
		ref := find(gs, rl.Config, "reference")
		if ref == nil || ref.ReqPerS == 0 || ref.P99 == 0 {
			continue
		}
		r := ratio{Config: rl.Config, Throughput: rl.ReqPerS / ref.ReqPerS, P99: rl.P99 / ref.P99}
		for i := range min(len(rl.Runs), len(ref.Runs)) {
			a, b := ref.Runs[i].S, rl.Runs[i].S
			if a.RequestsPerS > 0 && a.Latency.P99 > 0 {
				r.Rounds = append(r.Rounds, roundRatio{b.RequestsPerS / a.RequestsPerS, b.Latency.P99 / a.Latency.P99})
			}
		}
		out = append(out, r)
	}
	return out
}
