package loadgen

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Limits that keep every run bounded.
const (
	// MaxDuration is the longest Duration a run accepts.
	MaxDuration = time.Hour
	// DefaultMaxTime caps a run that stops on a request count.
	DefaultMaxTime = 10 * time.Minute
	// MaxRequests is the largest request count a run accepts.
	MaxRequests = 10_000_000_000
	// MaxBatch is the most checks one batched request carries (the
	// server's own limit).
	MaxBatch = 1000
	// MaxConnections caps Connections.
	MaxConnections = 10_000
)

// ErrRemote is returned when a target is not on the loopback interface and
// Options.AllowRemote is not set.
var ErrRemote = errors.New("target is not a loopback address (pass --allow-remote to load a remote server)")

// Options describe one load-generator run. The zero value of every field
// but Addrs and Duration/Requests takes the default named in its comment.
type Options struct {
	// Addrs are the targets, "host:port" (an "http://" prefix is
	// accepted). Required.
	Addrs []string
	// Pick chooses a target per request: "roundrobin" (default) or "random".
	Pick string
	// Connections is the number of concurrent workers, each with at most
	// one request in flight and its own keep-alive connection. Default 64.
	Connections int
	// Duration of the measured phase. One of Duration and Requests is
	// required; with both, the run stops at whichever comes first.
	Duration time.Duration
	// Requests is the number of measured HTTP requests to send.
	Requests int64
	// Rate, when > 0, sends Rate requests per second on a fixed grid of
	// intended send times (open loop) and measures each latency from its
	// intended send time, so a slow server cannot hide its queueing delay
	// (no coordinated omission). Connections bounds the requests in flight.
	// 0 is a closed loop: every worker sends its next request as soon as
	// the previous one is answered.
	Rate float64
	// Keys is the number of distinct keys, KeyPrefix + 0 … Keys-1.
	// Default 10000.
	Keys int
	// Dist is the key distribution: "uniform" (default) or "zipf" (key 0
	// the hottest, exponent ZipfS).
	Dist string
	// ZipfS is the Zipf exponent, > 1. Default 1.1.
	ZipfS float64
	// KeyPrefix starts every key. Default "bench:".
	KeyPrefix string
	// Cost of each check. Default 1.
	Cost int64
	// Limit and WindowMS, when > 0, are sent with every check and override
	// the server's defaults.
	Limit    int64
	WindowMS int64
	// Batch, when > 1, sends Batch checks per request as
	// {"checks":[...]} and counts every decision of the answer
	// {"results":[...]}. POST only; at most MaxBatch.
	Batch int
	// Method is "post" (default: POST Path with a JSON body) or "get"
	// (GET Path?key=…&cost=…: 204 allowed, 429 denied).
	Method string
	// Path is the check endpoint. Default "/check".
	Path string
	// Timeout bounds each request (connect, write, read). Default 5s.
	Timeout time.Duration
	// Warmup runs the load for this long before the measured phase; its
	// requests are sent but not counted.
	Warmup time.Duration
	// MaxTime is a hard cap on the whole run, warm-up included. Default:
	// Warmup + Duration + Timeout + 5s, or DefaultMaxTime when the run
	// stops on Requests alone.
	MaxTime time.Duration
	// AllowRemote permits targets outside 127.0.0.0/8, ::1 and localhost.
	AllowRemote bool
	// Seed seeds the key choice of every worker (worker i uses Seed+i).
	Seed uint64
	// Label names the run in the summary (e.g. "ringlimit", "reference").
	Label string
	// Progress, when not nil, receives a progress line every
	// ProgressInterval (default 1s), rewritten in place with \r.
	Progress         io.Writer
	ProgressInterval time.Duration
}

// withDefaults returns o with defaults filled in, or an error naming the
// first invalid field.
func (o Options) withDefaults() (Options, error) {
	if len(o.Addrs) == 0 {
		return o, errors.New("no target address")
	}
	addrs := make([]string, 0, len(o.Addrs))
	for _, a := range o.Addrs {
		n, err := normalizeAddr(a)
		if err != nil {
			return o, err
		}
		if !o.AllowRemote {
			if err := CheckLoopback(n); err != nil {
				return o, err
			}
		}
		addrs = append(addrs, n)
	}
	o.Addrs = addrs
	switch o.Pick {
	case "":
		o.Pick = "roundrobin"
	case "roundrobin", "random":
	default:
		return o, fmt.Errorf("pick %q: want roundrobin or random", o.Pick)
	}
	if o.Connections == 0 {
		o.Connections = 64
	}
	if o.Connections < 0 || o.Connections > MaxConnections {
		return o, fmt.Errorf("connections %d: want 1..%d", o.Connections, MaxConnections)
	}
	if o.Duration <= 0 && o.Requests <= 0 {
		return o, errors.New("a run needs a duration or a request count")
	}
	if o.Duration < 0 || o.Duration > MaxDuration {
		return o, fmt.Errorf("duration %v: want at most %v", o.Duration, MaxDuration)
	}
	if o.Requests < 0 || o.Requests > MaxRequests {
		return o, fmt.Errorf("requests %d: want at most %d", o.Requests, int64(MaxRequests))
	}
	if o.Rate < 0 || o.Rate > 1e8 {
		return o, fmt.Errorf("rate %v: want 0 (closed loop) up to 1e8 per second", o.Rate)
	}
	if o.Keys == 0 {
		o.Keys = 10000
	}
	if o.Keys < 0 {
		return o, fmt.Errorf("keys %d: want at least 1", o.Keys)
	}
	switch o.Dist {
	case "":
		o.Dist = "uniform"
	case "uniform", "zipf":
	default:
		return o, fmt.Errorf("dist %q: want uniform or zipf", o.Dist)
	}
	if o.ZipfS == 0 {
		o.ZipfS = 1.1
	}
	if !(o.ZipfS > 1) || o.ZipfS > 100 {
		return o, fmt.Errorf("zipf exponent %v: want > 1", o.ZipfS)
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = "bench:"
	}
	if strings.ContainsAny(o.KeyPrefix, "\"\\&#% \x00") {
		return o, fmt.Errorf("key prefix %q: no quotes, backslashes, spaces, %%, & or #", o.KeyPrefix)
	}
	if o.Cost == 0 {
		o.Cost = 1
	}
	if o.Cost < 0 {
		return o, fmt.Errorf("cost %d: want > 0", o.Cost)
	}
	if o.Limit < 0 || o.WindowMS < 0 {
		return o, errors.New("limit and window must not be negative")
	}
	if o.Batch < 0 || o.Batch > MaxBatch {
		return o, fmt.Errorf("batch %d: want 0..%d", o.Batch, MaxBatch)
	}
	if o.Batch == 0 {
		o.Batch = 1
	}
	switch strings.ToLower(o.Method) {
	case "", "post":
		o.Method = "post"
	case "get":
		o.Method = "get"
		if o.Batch > 1 {
			return o, errors.New("batched checks need --method post")
		}
	default:
		return o, fmt.Errorf("method %q: want post or get", o.Method)
	}
	if o.Path == "" {
		o.Path = "/check"
	}
	if !strings.HasPrefix(o.Path, "/") || strings.ContainsAny(o.Path, "?# ") {
		return o, fmt.Errorf("path %q: want an absolute path without query", o.Path)
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Timeout < 0 || o.Warmup < 0 || o.MaxTime < 0 {
		return o, errors.New("timeout, warmup and max time must not be negative")
	}
	if o.Warmup > MaxDuration {
		return o, fmt.Errorf("warmup %v: want at most %v", o.Warmup, MaxDuration)
	}
	if o.MaxTime == 0 {
		if o.Duration > 0 {
			o.MaxTime = o.Warmup + o.Duration + o.Timeout + 5*time.Second
		} else {
			o.MaxTime = o.Warmup + DefaultMaxTime
		}
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = time.Second
	}
	return o, nil
}

// normalizeAddr turns "http://host:port/" or "host:port" into "host:port".
func normalizeAddr(a string) (string, error) {
	s := strings.TrimSpace(a)
	s = strings.TrimPrefix(s, "http://")
	s = strings.TrimSuffix(s, "/")
	if strings.HasPrefix(s, "https://") {
		return "", fmt.Errorf("target %q: https is not supported", a)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("target %q: want host:port: %w", a, err)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("target %q: want host:port", a)
	}
	return net.JoinHostPort(host, port), nil
}

// CheckLoopback returns nil when addr ("host:port") names the loopback
// interface: an address in 127.0.0.0/8, ::1 (also IPv4-mapped), or the
// name "localhost". Any other host, including names that might resolve
// to a loopback address, is refused with ErrRemote: a load generator must
// not be pointed at someone else's machine by accident.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("target %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err == nil && ip.Zone() == "" && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("target %q: %w", addr, ErrRemote)
}
