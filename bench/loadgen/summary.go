package loadgen

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Summary is the outcome of a run. Its JSON form (the --json output) is
// what bench/report reads.
//
// Requests counts measured HTTP requests. Every request ends as exactly
// one of: Batch decisions (Allowed and Denied), or one error. So
// Allowed + Denied + Errors*Batch = Requests*Batch, and with Batch 1,
// Allowed + Denied + Errors = Requests.
type Summary struct {
	Label       string    `json:"label,omitempty"`
	Targets     []string  `json:"targets"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Loop        string    `json:"loop"` // "closed" or "open"
	Rate        float64   `json:"rate,omitempty"`
	Connections int       `json:"connections"`
	Keys        int       `json:"keys"`
	Dist        string    `json:"dist"`
	Cost        int64     `json:"cost"`
	Limit       int64     `json:"limit,omitempty"`
	WindowMS    int64     `json:"window_ms,omitempty"`
	Batch       int       `json:"batch"`
	Start       time.Time `json:"start"`
	// ElapsedS is the measured phase, from its start until the last
	// request answered, in seconds.
	ElapsedS float64 `json:"elapsed_s"`
	// Stopped says why the run ended: duration, requests, canceled or
	// "time cap".
	Stopped  string `json:"stopped"`
	Requests uint64 `json:"requests"`
	Allowed  uint64 `json:"allowed"`
	Denied   uint64 `json:"denied"`
	Errors   uint64 `json:"errors"`
	// ErrorsByKind splits Errors: "connect" (no connection), "timeout"
	// (no answer within Options.Timeout), "closed" (the server closed or
	// reset the connection), "bad_body" (a 200 without the decisions
	// asked for), "http_NNN" (an unexpected status), "other".
	ErrorsByKind map[string]uint64 `json:"errors_by_kind"`
	// RequestsPerS and DecisionsPerS are throughputs over ElapsedS.
	RequestsPerS  float64 `json:"requests_per_s"`
	DecisionsPerS float64 `json:"decisions_per_s"`
	// Latency of every request that got an HTTP answer, in microseconds;
	// in an open loop measured from the intended send time.
	Latency Latency `json:"latency_us"`

	// Hist holds the latencies (nanoseconds) for callers that merge runs.
	Hist *Histogram `json:"-"`
}

// Latency is a latency distribution in microseconds.
type Latency struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// LatencyOf summarises h in microseconds.
func LatencyOf(h *Histogram) Latency {
	return Latency{
		Count: h.Count(),
		Min:   us(h.Min()),
		Mean:  us(h.Mean()),
		P50:   us(h.Percentile(50)),
		P90:   us(h.Percentile(90)),
		P99:   us(h.Percentile(99)),
		P999:  us(h.Percentile(99.9)),
		Max:   us(h.Max()),
	}
}

func errorsByKind(c *counts) map[string]uint64 {
	m := map[string]uint64{}
	for i, n := range c.kinds {
		if n > 0 {
			m[kindNames[i]] = n
		}
	}
	for s, n := range c.status {
		if n > 0 {
			m["http_"+strconv.Itoa(s)] = n
		}
	}
	return m
}

func newSummary(o Options, c *counts, start time.Time, elapsed time.Duration, stopped string) *Summary {
	s := &Summary{
		Label:        o.Label,
		Targets:      o.Addrs,
		Method:       strings.ToUpper(o.Method),
		Path:         o.Path,
		Loop:         "closed",
		Rate:         o.Rate,
		Connections:  o.Connections,
		Keys:         o.Keys,
		Dist:         o.Dist,
		Cost:         o.Cost,
		Limit:        o.Limit,
		WindowMS:     o.WindowMS,
		Batch:        o.Batch,
		Start:        start.UTC(),
		ElapsedS:     elapsed.Seconds(),
		Stopped:      stopped,
		Requests:     c.requests,
		Allowed:      c.allowed,
		Denied:       c.denied,
		Errors:       c.errors(),
		ErrorsByKind: errorsByKind(c),
		Latency:      LatencyOf(&c.hist),
		Hist:         new(Histogram),
	}
	s.Hist.Merge(&c.hist)
	if o.Rate > 0 {
		s.Loop = "open"
	}
	if secs := elapsed.Seconds(); secs > 0 {
		s.RequestsPerS = float64(c.requests) / secs
		s.DecisionsPerS = float64(c.allowed+c.denied) / secs
	}
	return s
}

// fmtDur prints a duration given in microseconds compactly.
func fmtDur(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "s"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "ms"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64) + "µs"
	}
}

// WriteText writes a human-readable summary.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	loop := "closed loop"
	if s.Loop == "open" {
		loop = fmt.Sprintf("open loop at %.0f req/s", s.Rate)
	}
	if s.Label != "" {
		fmt.Fprintf(&b, "%s: ", s.Label)
	}
	fmt.Fprintf(&b, "%s %s → %s, %d connections, %s, %.2fs (stopped by %s)\n",
		s.Method, s.Path, strings.Join(s.Targets, ","), s.Connections, loop, s.ElapsedS, s.Stopped)
	fmt.Fprintf(&b, "  keys       %d %s, cost %d", s.Keys, s.Dist, s.Cost)
	if s.Limit > 0 {
		fmt.Fprintf(&b, ", limit %d", s.Limit)
	}
	if s.WindowMS > 0 {
		fmt.Fprintf(&b, ", window %dms", s.WindowMS)
	}
	if s.Batch > 1 {
		fmt.Fprintf(&b, ", %d checks per request", s.Batch)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "  requests   %d (%.0f/s)\n", s.Requests, s.RequestsPerS)
	fmt.Fprintf(&b, "  decisions  %d (%.0f/s): allowed %d, denied %d\n",
		s.Allowed+s.Denied, s.DecisionsPerS, s.Allowed, s.Denied)
	fmt.Fprintf(&b, "  errors     %d", s.Errors)
	if len(s.ErrorsByKind) > 0 {
		kinds := make([]string, 0, len(s.ErrorsByKind))
		for k := range s.ErrorsByKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for i, k := range kinds {
			sep := ", "
			if i == 0 {
				sep = ": "
			}
			fmt.Fprintf(&b, "%s%s %d", sep, strings.ReplaceAll(k, "_", " "), s.ErrorsByKind[k])
		}
	}
	b.WriteByte('\n')
	l := s.Latency
	fmt.Fprintf(&b, "  latency    p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, %d samples)\n",
		fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), fmtDur(l.Mean), l.Count)
	_, err := io.WriteString(w, b.String())
	return err
}

// progress starts the live progress line and returns the function that
// stops it (and ends the line). Without o.Progress it does nothing.
func (r *runner) progress() (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.o.ProgressInterval)
		defer t.Stop()
		var snap counts
		var lastReq uint64
		last := time.Now()
		printed := false
		for {
			select {
			case <-quit:
				if printed {
					io.WriteString(r.o.Progress, "\n")
				}
				return
			case now := <-t.C:
				snap = counts{}
				for _, w := range r.workers {
					w.mu.Lock()
					snap.merge(&w.c)
					w.mu.Unlock()
				}
				rate := float64(snap.requests-lastReq) / now.Sub(last).Seconds()
				lastReq, last = snap.requests, now
				phase := ""
				if now.Before(r.measure) {
					phase = " (warm-up)"
				}
				fmt.Fprintf(r.o.Progress, "\r%6.1fs%s  %8.0f req/s  allowed %d  denied %d  errors %d  p99 %s\x1b[K",
					now.Sub(r.start).Seconds(), phase, rate, snap.allowed, snap.denied, snap.errors(),
					fmtDur(us(snap.hist.Percentile(99))))
				printed = true
			}
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}
