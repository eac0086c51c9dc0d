package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ringlimit/ringlimit/server"
	"github.com/ringlimit/ringlimit/window"
)

// envPrefix starts the environment variable of every flag: --http-addr is
// RINGLIMIT_HTTP_ADDR.
const envPrefix = "RINGLIMIT_"

// serveConfig is every setting of `ringlimit serve`. Each one is a flag
// and a RINGLIMIT_* environment variable; a flag given on the command line
// wins over the environment, which wins over the default.
//
// To add a setting, add a field here and one line in flags: the
// environment variable, the usage text and the precedence come with it.
type serveConfig struct {
	HTTPAddr        string
	DefaultLimit    int64
	DefaultWindow   time.Duration
	MaxKeys         int
	Shards          int
	SweepInterval   time.Duration
	MaxBodyBytes    int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	MaxConns        int
	MaxConnsPerIP   int
	ResetTimeout    time.Duration
	ShutdownTimeout time.Duration
	AdminToken      string
	LogLevel        string
	LogFormat       string
}

// flags defines the flags of `ringlimit serve` on fs, with their defaults.
func (c *serveConfig) flags(fs *flag.FlagSet) {
	// HTTP API.
	fs.StringVar(&c.HTTPAddr, "http-addr", server.DefaultAddr, "`host:port` the HTTP API listens on (port 0 picks a free port)")
	fs.IntVar(&c.MaxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body in `bytes`; larger ones get 413")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", server.DefaultReadTimeout, "time to read one request")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "time to write one response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", server.DefaultIdleTimeout, "time a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxConns, "max-conns", server.DefaultMaxConns, "most concurrent connections")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 0, "most concurrent connections from one IP (0: no cap)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "time in-flight requests get to finish on SIGTERM/SIGINT")
	fs.StringVar(&c.AdminToken, "admin-token", "", "`token` mutating /api/ calls must send as \"Authorization: Bearer <token>\" (default: none needed)")

	// Limits and the store.
	fs.Int64Var(&c.DefaultLimit, "default-limit", 100, "limit of a check that names none")
	fs.DurationVar(&c.DefaultWindow, "default-window", time.Minute, "window of a check that names none")
	fs.IntVar(&c.MaxKeys, "max-keys", 0, "most keys held; when full, expired keys go first, then the least recently hit of a sample (0: no cap)")
	fs.IntVar(&c.Shards, "shards", 256, "lock stripes of the store (rounded up to a power of two)")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", time.Second, "how often idle keys are swept out")

	// Resets.
	fs.DurationVar(&c.ResetTimeout, "reset-timeout", server.DefaultResetTimeout, "time a reset may take before it is answered 503 no_leader")

	// Logs.
	fs.StringVar(&c.LogLevel, "log-level", "info", "`level` of logs: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "`format` of logs on stderr: text or json")

	// The cluster's flags (--node-id, --gossip-addr, --raft-addr, --join,
	// --data-dir, ...) are added here.
}

// validate reports the first setting out of its range.
func (c *serveConfig) validate() error {
	switch {
	case c.DefaultLimit < 1 || c.DefaultLimit > window.MaxLimit:
		return fmt.Errorf("--default-limit %d: want 1 to %d", c.DefaultLimit, int64(window.MaxLimit))
	case c.DefaultWindow < time.Millisecond || c.DefaultWindow > window.MaxWindow:
		return fmt.Errorf("--default-window %s: want 1ms to %s", c.DefaultWindow, window.MaxWindow)
	case c.MaxKeys < 0:
		return fmt.Errorf("--max-keys %d: want 0 or more", c.MaxKeys)
	case c.Shards < 1:
		return fmt.Errorf("--shards %d: want 1 or more", c.Shards)
	case c.SweepInterval <= 0:
		return fmt.Errorf("--sweep-interval %s: want more than 0", c.SweepInterval)
	case c.MaxBodyBytes < 1:
		return fmt.Errorf("--max-body-bytes %d: want 1 or more", c.MaxBodyBytes)
	case c.MaxConns < 1:
		return fmt.Errorf("--max-conns %d: want 1 or more", c.MaxConns)
	case c.MaxConnsPerIP < 0:
		return fmt.Errorf("--max-conns-per-ip %d: want 0 or more", c.MaxConnsPerIP)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-timeout", c.ReadTimeout}, {"write-timeout", c.WriteTimeout}, {"idle-timeout", c.IdleTimeout},
		{"reset-timeout", c.ResetTimeout}, {"shutdown-timeout", c.ShutdownTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("--%s %s: want more than 0", d.name, d.v)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	return nil
}

func (c *serveConfig) windowConfig() window.Config {
	return window.Config{
		Shards:        c.Shards,
		DefaultLimit:  c.DefaultLimit,
		DefaultWindow: c.DefaultWindow,
		MaxKeys:       c.MaxKeys,
	}
}

func (c *serveConfig) serverConfig(log *slog.Logger, now func() time.Time) server.Config {
	return server.Config{
		Addr:            c.HTTPAddr,
		MaxBodyBytes:    c.MaxBodyBytes,
		ReadTimeout:     c.ReadTimeout,
		WriteTimeout:    c.WriteTimeout,
		IdleTimeout:     c.IdleTimeout,
		MaxConns:        c.MaxConns,
		MaxConnsPerIP:   c.MaxConnsPerIP,
		ResetTimeout:    c.ResetTimeout,
		ShutdownTimeout: c.ShutdownTimeout,
		AdminToken:      c.AdminToken,
		Logger:          log,
		Now:             now,
	}
}

// logger builds the slog logger of the settings, writing to w.
func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args into fs, then sets every flag not given on the
// command line from its environment variable, if set. An environment
// value that does not parse is an error naming the variable.
func parseFlags(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		name := envName(f.Name)
		if v, ok := lookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// usage prints a subcommand's synopsis and its flags, each with its
// environment variable when withEnv is set.
func usage(fs *flag.FlagSet, synopsis string, withEnv bool) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s\n\n", synopsis)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		sort.Strings(names)
		for _, n := range names {
			f := fs.Lookup(n)
			kind, text := flag.UnquoteUsage(f)
			line := "  --" + n
			if kind != "" {
				line += " " + kind
			}
			fmt.Fprintln(w, line)
			text = "    \t" + text
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" {
				text += fmt.Sprintf(" (default %s)", f.DefValue)
			}
			if withEnv {
				text += " [$" + envName(n) + "]"
			}
			fmt.Fprintln(w, text)
		}
	}
}

// osLookupEnv is os.LookupEnv, named for wiring.
var osLookupEnv = os.LookupEnv
