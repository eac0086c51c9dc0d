// Command report writes bench/RESULTS.md and its plots from the raw
// results of a benchmark run (bench/run.sh, `make bench`):
//
//   - gobench*.txt: `go test -bench` output (benchstat-readable);
//   - *.json: load-generator summaries (`ringlimit bench --json`), each
//     labelled "configuration/system", e.g. "single/reference";
//   - meta.txt: key=value lines (date, go, kernel, ...) about the run;
//   - commands.txt: the commands that were run, one per line;
//   - notes.txt: lines to quote in the report (e.g. a skipped section).
//
// Usage:
//
//	go run . --results ../results --out ../RESULTS.md --plots ../plots
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "bench/results", "`dir`ectory of raw results")
	out := fs.String("out", "bench/RESULTS.md", "report `file` to write")
	plots := fs.String("plots", "bench/plots", "`dir`ectory for the SVG plots")
	cpuinfo := fs.String("cpuinfo", "/proc/cpuinfo", "`file` to read the CPU model from")
	format := fs.String("format", "svg", "plot format: svg or png")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *format != "svg" && *format != "png" {
		fmt.Fprintf(stderr, "report: --format %q: want svg or png\n", *format)
		return 2
	}
	if err := write(*results, *out, *plots, *cpuinfo, *format); err != nil {
		fmt.Fprintln(stderr, "report:", err)
		return 1
	}
	fmt.Fprintln(stderr, "report: wrote", *out)
	return 0
}

// machine describes where the run happened.
type machine struct {
	CPU, Cores, Go, Kernel, Date string
}

func cpuModel(path string) (model string, cores int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown", 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		case "processor":
			cores++
		}
	}
	if model == "" {
		model = "unknown"
	}
	return model, cores
}

func readMeta(path string) map[string]string {
	m := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

// write reads the results and writes the report and its plots.
func write(results, out, plots, cpuinfo, format string) error {
	if st, err := os.Stat(results); err != nil || !st.IsDir() {
		return fmt.Errorf("no results directory %s", results)
	}
	runs, err := readLoadRuns(results)
	if err != nil {
		return err
	}
	benchFiles, err := filepath.Glob(filepath.Join(results, "gobench*.txt"))
	if err != nil {
		return err
	}
	sort.Strings(benchFiles)
	var benches []*benchResult
	for _, f := range benchFiles {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		bs, err := parseGoBench(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		benches = append(benches, bs...)
	}
	if len(runs) == 0 && len(benches) == 0 {
		return errors.New("no results to report: no load-generator JSON and no go test -bench output in " + results)
	}

	meta := readMeta(filepath.Join(results, "meta.txt"))
	model, cores := cpuModel(cpuinfo)
	m := machine{CPU: model, Cores: fmt.Sprint(cores), Go: meta["go"], Kernel: meta["kernel"], Date: meta["date"]}
	if m.Go == "" {
		m.Go = runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	}
	if c := meta["cores"]; c != "" {
		m.Cores = c
	}
	if m.Date == "" {
		m.Date = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	}

	groups := groupRuns(runs)
	rs := ratios(groups)
	rel, err := filepath.Rel(filepath.Dir(out), plots)
	if err != nil {
		rel = plots
	}
	rel = filepath.ToSlash(rel)
	relResults, err := filepath.Rel(filepath.Dir(out), results)
	if err != nil {
		relResults = results
	}
	var images []string
	if len(groups) > 0 {
		ext := "." + format
		if err := plotLatency(groups, filepath.Join(plots, "latency"+ext)); err != nil {
			return err
		}
		if err := plotThroughput(groups, filepath.Join(plots, "throughput"+ext)); err != nil {
			return err
		}
		if err := plotDecisions(groups, filepath.Join(plots, "decisions"+ext)); err != nil {
			return err
		}
		images = append(images, "latency"+ext, "throughput"+ext, "decisions"+ext)
		if len(rs) > 0 {
			if err := plotRatios(rs, filepath.Join(plots, "ratios"+ext)); err != nil {
				return err
			}
			images = append(images, "ratios"+ext)
		}
	}

	var b bytes.Buffer
	writeReport(&b, reportData{
		Machine:  m,
		Meta:     meta,
		Groups:   groups,
		Runs:     runs,
		Ratios:   rs,
		Benches:  benches,
		Commands: readLines(filepath.Join(results, "commands.txt")),
		Notes:    readLines(filepath.Join(results, "notes.txt")),
		PlotDir:  rel,
		Images:   images,
		Results:  filepath.ToSlash(relResults),
		Out:      out,
	})
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}
