package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

type reportData struct {
	Machine  machine
	Meta     map[string]string
	Groups   []*group
	Runs     []loadRun
	Ratios   []ratio
	Benches  []*benchResult
	Commands []string
	Notes    []string
	PlotDir  string
	Images   []string
	Results  string
	Out      string
}

// ms formats microseconds as milliseconds.
func ms(us float64) string { return strconv.FormatFloat(us/1e3, 'f', 3, 64) }

// num formats a count or rate with thousands separators.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func metric(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1000 || v == math.Trunc(v):
		return num(v)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// target is one line of issue 5 §3.
type target struct {
	What, Want, Got string
	Met             string // "yes", "no" or "not measured"
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func targets(d reportData) []target {
	var ts []target
	var single *ratio
	for i := range d.Ratios {
		if d.Ratios[i].Config == "single" {
			single = &d.Ratios[i]
		}
	}
	rl := find(d.Groups, "single", "ringlimit")
	if single != nil && rl != nil {
		ts = append(ts,
			target{"single node POST /check, throughput", "≥ 0.80 × reference", fmt.Sprintf("%.2f ×", single.Throughput), yesNo(single.Throughput >= 0.8)},
			target{"single node POST /check, p99", "≤ 1.5 × reference", fmt.Sprintf("%.2f ×", single.P99), yesNo(single.P99 <= 1.5)},
			target{"single node POST /check, errors", "0", num(float64(rl.Errors)), yesNo(rl.Errors == 0)},
		)
	} else {
		ts = append(ts, target{"single node POST /check vs reference", "≥ 0.80 × throughput, ≤ 1.5 × p99, 0 errors", "", "not measured"})
	}
	if g := find(d.Groups, "open10k", "ringlimit"); g != nil {
		ts = append(ts, target{"open loop at 10 000 req/s, p99", "≤ 2 ms",
			fmt.Sprintf("%s ms at %s req/s, %d errors", ms(g.P99), num(g.ReqPerS), g.Errors), yesNo(g.P99 <= 2000 && g.Errors == 0)})
	} else {
		ts = append(ts, target{"open loop at 10 000 req/s, p99", "≤ 2 ms", "", "not measured"})
	}
	if g := find(d.Groups, "batch100", "ringlimit"); g != nil {
		ts = append(ts, target{"batched checks (100 per request)", "≥ 1 000 000 decisions/s",
			num(g.DecPerS) + " decisions/s", yesNo(g.DecPerS >= 1e6 && g.Errors == 0)})
	} else {
		ts = append(ts, target{"batched checks (100 per request)", "≥ 1 000 000 decisions/s", "", "not measured"})
	}
	if g := find(d.Groups, "cluster3", "ringlimit"); g != nil {
		ts = append(ts, target{"3-node cluster, all nodes loaded", "no errors; throughput and p99 reported",
			fmt.Sprintf("%s req/s, p99 %s ms, %d errors", num(g.ReqPerS), ms(g.P99), g.Errors), yesNo(g.Errors == 0)})
	} else {
		ts = append(ts, target{"3-node cluster, all nodes loaded", "no errors; throughput and p99 reported", "", "not measured"})
	}
	for _, b := range d.Benches {
		if b.Name != "BenchmarkResetThroughFollower" {
			continue
		}
		p50, ok50 := b.Median("p50-µs")
		p99, ok99 := b.Median("p99-µs")
		if ok50 && ok99 {
			ts = append(ts, target{"reset latency through a follower (3 nodes, Go benchmark)", "reported",
				fmt.Sprintf("p50 %s ms, p99 %s ms", ms(p50), ms(p99)), "reported"})
		}
	}
	return ts
}

func writeReport(w io.Writer, d reportData) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# ringlimit benchmark results\n\n")
	p("Written by `bench/report` from the raw results in [`%s`](%s) of one run of `make bench`\n", d.Results, d.Results)
	p("(`bench/run.sh`). Re-run it on your machine to get your own numbers: absolute\n")
	p("figures depend on the hardware; the ratios to the reference measured in the same\n")
	p("run are what carries over.\n\n")

	p("## Machine\n\n")
	p("| | |\n|---|---|\n")
	p("| CPU | %s |\n| cores | %s |\n| Go | %s |\n", d.Machine.CPU, d.Machine.Cores, d.Machine.Go)
	if d.Machine.Kernel != "" {
		p("| kernel | %s |\n", d.Machine.Kernel)
	}
	p("| date | %s |\n", d.Machine.Date)
	for _, k := range []string{"bench_time", "go_bench_time", "go_bench_count"} {
		if v := d.Meta[k]; v != "" {
			p("| %s | %s |\n", k, v)
		}
	}
	p("\nThe load generator and the servers share these cores, so every latency below\n")
	p("includes the time the load generator itself waited for a core.\n\n")

	if len(d.Notes) > 0 {
		p("## Notes\n\n")
		for _, n := range d.Notes {
			p("- %s\n", n)
		}
		p("\n")
	}

	if len(d.Groups) > 0 {
		p("## Targets (issue 5 §3)\n\n")
		p("| target | wanted | measured | met |\n|---|---|---|---|\n")
		for _, t := range targets(d) {
			p("| %s | %s | %s | %s |\n", t.What, t.Want, t.Got, t.Met)
		}
		p("\n")
	}

	if len(d.Ratios) > 0 {
		p("## ringlimit / bare fasthttp reference\n\n")
		p("The reference (`bench/refserver`) answers `POST /check` with a fixed decision of\n")
		p("the same size and headers and does nothing else; both ran with the same\n")
		p("load-generator settings, alternating reference, ringlimit, reference, ringlimit.\n\n")
		p("| configuration | throughput ratio (median) | p99 ratio (median) | per round (throughput / p99) |\n|---|---|---|---|\n")
		for _, r := range d.Ratios {
			var rounds []string
			for _, rr := range r.Rounds {
				rounds = append(rounds, fmt.Sprintf("%.2f / %.2f", rr.Throughput, rr.P99))
			}
			p("| %s | %.2f | %.2f | %s |\n", r.Config, r.Throughput, r.P99, strings.Join(rounds, ", "))
		}
		p("\n")
	}

	if len(d.Groups) > 0 {
		p("## Over loopback (load generator)\n\n")
		p("Medians over the runs of each configuration; latencies in milliseconds.\n\n")
		p("| configuration | system | runs | requests/s | decisions/s | errors | p50 | p90 | p99 | p99.9 | max |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, g := range d.Groups {
			p("| %s | %s | %d | %s | %s | %d | %s | %s | %s | %s | %s |\n", g.Config, g.System, len(g.Runs),
				num(g.ReqPerS), num(g.DecPerS), g.Errors, ms(g.P50), ms(g.P90), ms(g.P99), ms(g.P999), ms(g.Max))
		}
		p("\n")
		for _, img := range d.Images {
			p("![%s](%s/%s)\n\n", strings.TrimSuffix(img, filepath.Ext(img)), d.PlotDir, img)
		}
		p("<details><summary>Every run</summary>\n\n")
		p("| file | label | loop | connections | keys | batch | seconds | requests | allowed | denied | errors | requests/s | p50 | p99 | p99.9 | max |\n")
		p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range d.Runs {
			s := r.S
			loop := s.Loop
			if s.Loop == "open" {
				loop = "open " + num(s.Rate) + "/s"
			}
			errs := num(float64(s.Errors))
			if len(s.ErrorsByKind) > 0 {
				var ks []string
				for k, v := range s.ErrorsByKind {
					ks = append(ks, fmt.Sprintf("%s %d", k, v))
				}
				errs += " (" + strings.Join(ks, ", ") + ")"
			}
			p("| %s | %s | %s | %d | %d %s | %d | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				r.File, s.Label, loop, s.Connections, s.Keys, s.Dist, s.Batch, s.ElapsedS, num(float64(s.Requests)),
				num(float64(s.Allowed)), num(float64(s.Denied)), errs, num(s.RequestsPerS),
				ms(s.Latency.P50), ms(s.Latency.P99), ms(s.Latency.P999), ms(s.Latency.Max))
		}
		p("\n</details>\n\n")
	}

	if len(d.Benches) > 0 {
		p("## Go benchmarks\n\n")
		p("`go test -bench` on the hot path and the comparison libraries, in the same run.\n")
		p("Medians over `-count` runs; the raw output in `%s/gobench-*.txt` is\n", d.Results)
		p("benchstat-readable.\n\n")
		pkg := "\x00"
		for _, b := range d.Benches {
			if b.Pkg != pkg {
				pkg = b.Pkg
				name := pkg
				if name == "" {
					name = "(no package line)"
				}
				p("\n### `%s`\n\n", name)
				p("| benchmark | runs | ns/op | B/op | allocs/op | other |\n|---|---|---|---|---|---|\n")
			}
			cell := func(u string) string {
				if v, ok := b.Median(u); ok {
					return metric(v)
				}
				return ""
			}
			var other []string
			for _, u := range b.Units() {
				if u == "ns/op" || u == "B/op" || u == "allocs/op" {
					continue
				}
				v, _ := b.Median(u)
				other = append(other, metric(v)+" "+u)
			}
			name := strings.TrimPrefix(b.Name, "Benchmark")
			if b.Procs > 1 {
				name += fmt.Sprintf(" (P=%d)", b.Procs)
			}
			p("| %s | %d | %s | %s | %s | %s |\n", name, len(b.Runs), cell("ns/op"), cell("B/op"), cell("allocs/op"), strings.Join(other, ", "))
		}
		p("\n")
	}

	if len(d.Commands) > 0 {
		p("## Commands\n\n```sh\n")
		for _, c := range d.Commands {
			p("%s\n", c)
		}
		p("```\n")
	}
}
