// Command ringlimit runs a ringlimit node (`ringlimit serve`) and talks to
// one (`ringlimit check|counters|reset|status`), and loads nodes to
// measure them (`ringlimit bench`).
//
// It only wires: flags and RINGLIMIT_* environment variables become
// window.Config, cluster.Config and server.Config, and Main runs them.
// `ringlimit serve` without --join is a one-node cluster that bootstraps
// its Raft log in --data-dir; other nodes join it with --join.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/ringlimit/ringlimit/bench/loadgen"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1 // the command failed (the server answered an error, or none)
	exitUsage  = 2 // bad flags or arguments
	exitDenied = 3 // `ringlimit check`: the check was denied
)

const topUsage = `usage: ringlimit <command> [flags]

commands:
  serve      run a node (flags and RINGLIMIT_* environment variables: ringlimit serve -h)
  check      check a key: ringlimit check KEY [--cost N] [--limit N] [--window D]
  counters   list live counters: ringlimit counters [--prefix P] [--json]
  reset      reset a key on every replica: ringlimit reset KEY
  status     show the node, the leader and the members
  bench      load one or more nodes over HTTP: ringlimit bench --addr A[,B…] --duration 10s
  version    print the version

The operator commands take --addr (default 127.0.0.1:8001, $RINGLIMIT_ADDR)
and --token ($RINGLIMIT_TOKEN). ringlimit <command> -h shows a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, osLookupEnv))
}

// run runs the command of args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stderr, lookupEnv)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "ringlimit %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "check", "counters", "reset", "status":
		return runClient(ctx, cmd, rest, stdout, stderr, lookupEnv)
	case "bench":
		// Ctrl-C ends the run early; the summary is still printed.
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		return loadgen.Main(ctx, rest, stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, topUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "ringlimit: unknown command %q\n\n%s", cmd, topUsage)
	return exitUsage
}

// runServe runs a node until SIGTERM or SIGINT (or ctx ends), then drains
// in-flight requests and returns 0.
func runServe(ctx context.Context, args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) int {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.flags(fs)
	fs.Usage = usage(fs, "ringlimit serve [flags]\n\nEvery flag can also be set by the environment variable in brackets;\na flag on the command line wins.", true)
	if err := parseFlags(fs, args, lookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "ringlimit serve: %v\n", err)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ringlimit serve: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "ringlimit serve: %v\n", err)
		return exitUsage
	}
	log := cfg.logger(stderr)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		m.Close() //nolint:errcheck // already failing
		if ctx.Err() != nil {
			log.Info("stopped while starting", "error", err)
			return exitOK
		}
		log.Error("cannot start", "error", err)
		return exitError
	}
	<-ctx.Done()
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout)
	if err := m.Close(); err != nil {
		log.Error("shutdown", "error", err)
		return exitError
	}
	log.Info("stopped")
	return exitOK
}
