package server

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ringlimit/ringlimit/window"
)

// latencySampleMask makes the check-latency histogram time one check in
// latencySampleMask+1: reading a monotonic clock twice costs more than the
// rest of the metrics of a check together, and a 1-in-8 sample gives the
// same percentiles at any rate worth graphing.
const latencySampleMask = 7

// serverMetrics are the server's Prometheus metrics, created once so that
// the hot path only increments pre-built counters.
//
// VictoriaMetrics/metrics is used for counters and gauges: a counter is
// one atomic add, with no label lookups and no allocation. The latency
// histogram is this package's own (atomic buckets with Prometheus "le"
// bounds), because both histograms of that library take a mutex per
// observation.
type serverMetrics struct {
	set *metrics.Set

	allowed, denied, nearLimit *metrics.Counter
	resetCleared, resetNoop    *metrics.Counter
	resetFailed                *metrics.Counter
	checkLatency               *histogram
	errors                     map[string]*metrics.Counter
}

func newServerMetrics(set *metrics.Set, lim Limiter) *serverMetrics {
	m := &serverMetrics{
		set:          set,
		allowed:      set.NewCounter(`ringlimit_checks_total{result="allowed"}`),
		denied:       set.NewCounter(`ringlimit_checks_total{result="denied"}`),
		nearLimit:    set.NewCounter(`ringlimit_checks_near_limit_total`),
		resetCleared: set.NewCounter(`ringlimit_resets_total{result="cleared"}`),
		resetNoop:    set.NewCounter(`ringlimit_resets_total{result="noop"}`),
		resetFailed:  set.NewCounter(`ringlimit_resets_total{result="error"}`),
		checkLatency: newHistogram("ringlimit_check_duration_seconds",
			[]time.Duration{
				time.Microsecond, 2 * time.Microsecond, 5 * time.Microsecond,
				10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
				100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
				time.Millisecond, 5 * time.Millisecond, 25 * time.Millisecond,
			}),
		errors: make(map[string]*metrics.Counter, len(errorCodes)),
	}
	for _, ec := range errorCodes {
		m.errors[ec.code] = set.NewCounter(fmt.Sprintf(`ringlimit_http_errors_total{status="%d",code=%q}`, ec.status, ec.code))
	}
	stat := func(f func(window.Stats) float64) func() float64 {
		return func() float64 { return f(lim.Stats()) }
	}
	set.NewGauge(`ringlimit_keys`, stat(func(s window.Stats) float64 { return float64(s.Keys) }))
	set.NewGauge(`ringlimit_keys_created_total`, stat(func(s window.Stats) float64 { return float64(s.Created) }))
	set.NewGauge(`ringlimit_keys_expired_total`, stat(func(s window.Stats) float64 { return float64(s.Expired) }))
	set.NewGauge(`ringlimit_evictions_total`, stat(func(s window.Stats) float64 { return float64(s.Evictions) }))
	set.NewGauge(`ringlimit_hits_dropped_total`, stat(func(s window.Stats) float64 { return float64(s.DroppedHits) }))
	set.RegisterMetricsWriter(m.checkLatency.writePrometheus)
	return m
}

// decision counts one check's outcome. A decision is near the limit when
// its count is at least 80 % of the limit (denied ones included).
func (m *serverMetrics) decision(d *window.Decision) {
	if d.Allowed {
		m.allowed.Inc()
	} else {
		m.denied.Inc()
	}
	if d.Count*5 >= d.Limit*4 {
		m.nearLimit.Inc()
	}
}

func (m *serverMetrics) httpError(code string) {
	if c := m.errors[code]; c != nil {
		c.Inc()
	}
}

// sampleLatency reports whether this check's latency should be timed.
func sampleLatency() bool { return rand.Uint32()&latencySampleMask == 0 }

// histogram is a Prometheus histogram with fixed bounds whose buckets are
// atomic counters: observe takes no lock and allocates nothing. It is
// safe for concurrent use.
type histogram struct {
	name   string
	bounds []time.Duration
	counts []atomic.Uint64 // counts[i]: observations in (bounds[i-1], bounds[i]]; the last is +Inf
	sumNs  atomic.Int64
}

func newHistogram(name string, bounds []time.Duration) *histogram {
	return &histogram{name: name, bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (h *histogram) writePrometheus(w io.Writer) {
	b := make([]byte, 0, 1024)
	b = append(b, "# TYPE "...)
	b = append(b, h.name...)
	b = append(b, " histogram\n"...)
	var cum uint64
	for i, ub := range h.bounds {
		cum += h.counts[i].Load()
		b = append(b, h.name...)
		b = append(b, `_bucket{le="`...)
		b = strconv.AppendFloat(b, ub.Seconds(), 'g', -1, 64)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	cum += h.counts[len(h.bounds)].Load()
	b = append(b, h.name...)
	b = append(b, `_bucket{le="+Inf"} `...)
	b = strconv.AppendUint(b, cum, 10)
	b = append(b, '\n')
	b = append(b, h.name...)
	b = append(b, "_sum "...)
	b = strconv.AppendFloat(b, time.Duration(h.sumNs.Load()).Seconds(), 'g', -1, 64)
	b = append(b, '\n')
	b = append(b, h.name...)
	b = append(b, "_count "...)
	b = strconv.AppendUint(b, cum, 10)
	b = append(b, '\n')
	w.Write(b) //nolint:errcheck // the metrics writer has no error path
}
