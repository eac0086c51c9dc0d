package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Usage is the synopsis printed by Main on a usage error or --help.
const Usage = `usage: ringlimit bench [flags]

Sends rate-limit checks to one or more ringlimit nodes and reports
throughput, decisions, errors by kind and latency percentiles. It stops by
itself (--duration or --requests) and loads only loopback targets unless
--allow-remote is given.

flags:
`

// Main is the command-line entry point (ringlimit bench, bench/loadgen/cmd/loadgen).
// It parses args (without the program name), runs the load and writes the
// summary to stdout, as text or, with --json, as JSON. The live progress
// line goes to stderr when stderr is a terminal. It returns the exit
// status: 0 after a run (errors are counted, not fatal), 1 when no request
// got an answer, 2 on a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, Usage)
		fs.PrintDefaults()
	}
	var o Options
	addr := fs.String("addr", "127.0.0.1:8001", "target `host:port` list, comma-separated")
	fs.StringVar(&o.Pick, "pick", "roundrobin", "how requests pick a target: roundrobin or random")
	fs.IntVar(&o.Connections, "connections", 64, "concurrent connections (each one request in flight)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to measure (ignored when only --requests is given)")
	fs.Int64Var(&o.Requests, "requests", 0, "stop after this many measured requests")
	fs.Float64Var(&o.Rate, "rate", 0, "open loop: send this many requests per second on a fixed schedule (0: closed loop)")
	fs.IntVar(&o.Keys, "keys", 10000, "number of distinct keys")
	fs.StringVar(&o.Dist, "dist", "uniform", "key distribution: uniform or zipf")
	fs.Float64Var(&o.ZipfS, "zipf-s", 1.1, "Zipf exponent (> 1)")
	fs.StringVar(&o.KeyPrefix, "key-prefix", "bench:", "prefix of every key")
	fs.Int64Var(&o.Cost, "cost", 1, "cost of each check")
	fs.Int64Var(&o.Limit, "limit", 0, "limit sent with each check (0: the server's default)")
	fs.Int64Var(&o.WindowMS, "window-ms", 0, "window in ms sent with each check (0: the server's default)")
	fs.IntVar(&o.Batch, "batch", 1, fmt.Sprintf("checks per request (POST only, at most %d)", MaxBatch))
	fs.StringVar(&o.Method, "method", "post", "post (JSON body) or get (GET /check?key=&cost=, 204/429)")
	fs.StringVar(&o.Path, "path", "/check", "check endpoint")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-request timeout")
	fs.DurationVar(&o.Warmup, "warmup", 0, "send load this long before measuring")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the key choice")
	fs.StringVar(&o.Label, "label", "", "name of this run in the summary")
	fs.BoolVar(&o.AllowRemote, "allow-remote", false, "allow targets that are not loopback addresses")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	quiet := fs.Bool("quiet", false, "no progress line, even on a terminal")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["requests"] && !set["duration"] {
		o.Duration = 0
	}
	for a := range strings.SplitSeq(*addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.Addrs = append(o.Addrs, a)
		}
	}
	if !*quiet && isTerminal(stderr) {
		o.Progress = stderr
	}
	if _, err := o.withDefaults(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	s, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
	} else if err := s.WriteText(stdout); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if s.Requests > 0 && s.Latency.Count == 0 {
		fmt.Fprintf(stderr, "bench: no request got an answer (%d errors)\n", s.Errors)
		return 1
	}
	return 0
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
