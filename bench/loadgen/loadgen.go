package loadgen

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// Error kinds a request can fail with, besides an unexpected HTTP status.
const (
	kindConnect = iota // the connection could not be opened
	kindTimeout        // no answer within Options.Timeout
	kindClosed         // the server closed or reset the connection
	kindBadBody        // a 200 whose body did not hold the decisions asked for
	kindOther
	numKinds
)

var kindNames = [numKinds]string{"connect", "timeout", "closed", "bad_body", "other"}

// counts is what one worker has measured. Guarded by worker.mu.
type counts struct {
	requests uint64
	allowed  uint64
	denied   uint64
	kinds    [numKinds]uint64
	status   [600]uint64 // unexpected HTTP statuses
	hist     Histogram
}

func (c *counts) errors() uint64 {
	var n uint64
	for _, k := range c.kinds {
		n += k
	}
	for _, s := range c.status {
		n += s
	}
	return n
}

func (c *counts) merge(o *counts) {
	c.requests += o.requests
	c.allowed += o.allowed
	c.denied += o.denied
	for i, k := range o.kinds {
		c.kinds[i] += k
	}
	for i, s := range o.status {
		c.status[i] += s
	}
	c.hist.Merge(&o.hist)
}

type runner struct {
	o        Options
	clients  []*fasthttp.HostClient
	start    time.Time    // first intended send
	measure  time.Time    // start of the measured phase
	end      time.Time    // no request is started at or after end (Duration runs)
	interval float64      // open loop: nanoseconds between intended sends
	slots    chan int64   // open loop: slot numbers due now
	tickets  atomic.Int64 // measured requests left (Requests runs)
	done     <-chan struct{}
	workers  []*worker
}

type worker struct {
	r    *runner
	id   int
	rng  *rand.Rand
	zipf *rand.Zipf
	reqs []*fasthttp.Request // one per target
	resp *fasthttp.Response
	buf  []byte
	next int // round-robin position

	mu sync.Mutex
	c  counts
}

// Run generates load as o describes and returns what it measured. It
// returns an error only when o is invalid; failed requests are counted in
// the Summary. It always stops: at o.Duration, after o.Requests, at
// o.MaxTime or when ctx is done, whichever comes first, and then waits
// for the requests in flight (each bounded by o.Timeout).
func Run(ctx context.Context, o Options) (*Summary, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.MaxTime)
	defer cancel()

	r := &runner{o: o, done: ctx.Done()}
	r.clients = newClients(o)
	defer func() {
		for _, c := range r.clients {
			c.CloseIdleConnections()
		}
	}()
	if o.Rate > 0 {
		r.interval = 1e9 / o.Rate
	}
	if o.Requests > 0 {
		r.tickets.Store(o.Requests)
	}
	for i := range o.Connections {
		r.workers = append(r.workers, r.newWorker(i))
	}

	r.start = time.Now()
	r.measure = r.start.Add(o.Warmup)
	if o.Duration > 0 {
		r.end = r.measure.Add(o.Duration)
	}
	stopProgress := r.progress()
	var wg sync.WaitGroup
	if o.Rate > 0 {
		// A backlog of up to a second of slots (at most 1<<16) queues
		// while every worker is busy; past that the pacer waits too, and
		// the slots keep their intended times.
		r.slots = make(chan int64, int(min(max(o.Rate, 1), 1<<16)))
		wg.Go(r.pace)
	}
	for _, w := range r.workers {
		wg.Go(w.run)
	}
	wg.Wait()
	finished := time.Now()
	stopProgress()

	var total counts
	for _, w := range r.workers {
		w.mu.Lock()
		total.merge(&w.c)
		w.mu.Unlock()
	}
	stopped := "duration"
	switch {
	case o.Requests > 0 && r.tickets.Load() <= 0:
		stopped = "requests"
	case parent.Err() != nil:
		stopped = "canceled"
	case ctx.Err() != nil:
		stopped = "time cap"
	}
	elapsed := finished.Sub(r.measure)
	if elapsed < 0 {
		elapsed = 0
	}
	return newSummary(o, &total, r.measure, elapsed, stopped), nil
}

// newClients returns one HostClient per target.
func newClients(o Options) []*fasthttp.HostClient {
	dialer := &net.Dialer{Timeout: o.Timeout}
	var clients []*fasthttp.HostClient
	for _, a := range o.Addrs {
		clients = append(clients, &fasthttp.HostClient{
			Addr: a,
			Dial: func(addr string) (net.Conn, error) {
				return dialer.Dial("tcp", addr)
			},
			MaxConns:                  o.Connections,
			MaxConnWaitTimeout:        o.Timeout,
			ReadTimeout:               o.Timeout,
			WriteTimeout:              o.Timeout,
			MaxIdemponentCallAttempts: 1,
			// Count every failure; never hide one behind a retry.
			RetryIf:                  func(*fasthttp.Request) bool { return false },
			NoDefaultUserAgentHeader: true,
			MaxResponseBodySize:      16 << 20,
		})
	}
	return clients
}

func (r *runner) newWorker(i int) *worker {
	o := r.o
	seed := o.Seed + uint64(i)
	w := &worker{
		r:    r,
		id:   i,
		rng:  rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		resp: fasthttp.AcquireResponse(),
		next: i,
		buf:  make([]byte, 0, 256*o.Batch),
	}
	if o.Dist == "zipf" {
		w.zipf = rand.NewZipf(w.rng, o.ZipfS, 1, uint64(o.Keys-1))
	}
	for _, a := range o.Addrs {
		req := fasthttp.AcquireRequest()
		req.Header.SetHost(a)
		if o.Method == "get" {
			req.Header.SetMethod(fasthttp.MethodGet)
		} else {
			req.Header.SetMethod(fasthttp.MethodPost)
			req.Header.SetContentType("application/json")
			req.SetRequestURI(o.Path)
		}
		w.reqs = append(w.reqs, req)
	}
	return w
}

// key returns the next key index.
func (w *worker) key() uint64 {
	if w.zipf != nil {
		return w.zipf.Uint64()
	}
	return uint64(w.rng.IntN(w.r.o.Keys))
}

// appendCheck appends one check object of the JSON body.
func (w *worker) appendCheck(b []byte) []byte {
	o := &w.r.o
	b = append(b, `{"key":"`...)
	b = append(b, o.KeyPrefix...)
	b = strconv.AppendUint(b, w.key(), 10)
	b = append(b, `","cost":`...)
	b = strconv.AppendInt(b, o.Cost, 10)
	if o.Limit > 0 {
		b = append(b, `,"limit":`...)
		b = strconv.AppendInt(b, o.Limit, 10)
	}
	if o.WindowMS > 0 {
		b = append(b, `,"window_ms":`...)
		b = strconv.AppendInt(b, o.WindowMS, 10)
	}
	return append(b, '}')
}

// prepare fills the request for target t with a fresh key.
func (w *worker) prepare(t int) *fasthttp.Request {
	o := &w.r.o
	req := w.reqs[t]
	b := w.buf[:0]
	if o.Method == "get" {
		b = append(b, o.Path...)
		b = append(b, "?key="...)
		b = append(b, o.KeyPrefix...)
		b = strconv.AppendUint(b, w.key(), 10)
		b = append(b, "&cost="...)
		b = strconv.AppendInt(b, o.Cost, 10)
		if o.Limit > 0 {
			b = append(b, "&limit="...)
			b = strconv.AppendInt(b, o.Limit, 10)
		}
		if o.WindowMS > 0 {
			b = append(b, "&window_ms="...)
			b = strconv.AppendInt(b, o.WindowMS, 10)
		}
		req.SetRequestURIBytes(b)
	} else {
		if o.Batch > 1 {
			b = append(b, `{"checks":[`...)
			for i := range o.Batch {
				if i > 0 {
					b = append(b, ',')
				}
				b = w.appendCheck(b)
			}
			b = append(b, "]}"...)
		} else {
			b = w.appendCheck(b)
		}
		req.SetBody(b)
	}
	w.buf = b
	return req
}

func (w *worker) target() int {
	n := len(w.r.clients)
	if n == 1 {
		return 0
	}
	if w.r.o.Pick == "random" {
		return w.rng.IntN(n)
	}
	w.next++
	return w.next % n
}

func (w *worker) run() {
	defer func() {
		for _, req := range w.reqs {
			fasthttp.ReleaseRequest(req)
		}
		fasthttp.ReleaseResponse(w.resp)
	}()
	if w.r.interval > 0 {
		w.runOpen()
	} else {
		w.runClosed()
	}
}

func (r *runner) stopped() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// runClosed sends one request after another until the run ends.
func (w *worker) runClosed() {
	r := w.r
	for !r.stopped() {
		t0 := time.Now()
		if !r.end.IsZero() && !t0.Before(r.end) {
			return
		}
		measured := !t0.Before(r.measure)
		if measured && r.o.Requests > 0 && r.tickets.Add(-1) < 0 {
			return
		}
		w.do(t0, measured)
	}
}

// pace runs the open loop's clock: it hands out slot numbers of the
// send-time grid at their intended times on r.slots, and closes it when
// the run ends. It runs on its own OS thread so that it can sleep with
// microsecond precision (see preciseSleep) without spinning.
func (r *runner) pace() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(r.slots)
	left := r.o.Requests
	for k := int64(0); ; k++ {
		due := r.start.Add(time.Duration(float64(k) * r.interval))
		if !r.end.IsZero() && !due.Before(r.end) {
			return
		}
		if !due.Before(r.measure) && r.o.Requests > 0 {
			if left == 0 {
				r.tickets.Store(0)
				return
			}
			left--
		}
		for {
			if r.stopped() {
				return
			}
			d := time.Until(due)
			if d <= 0 {
				break
			}
			preciseSleep(min(d, 50*time.Millisecond))
		}
		select {
		case r.slots <- k:
		case <-r.done:
			return
		}
	}
}

// runOpen sends one request per slot it receives from the pacer, and
// counts its latency from the slot's intended send time. When every
// worker is busy, slots wait in the channel and their wait is counted.
func (w *worker) runOpen() {
	r := w.r
	for k := range r.slots {
		if r.stopped() {
			return
		}
		due := r.start.Add(time.Duration(float64(k) * r.interval))
		w.do(due, !due.Before(r.measure))
	}
}

// do sends one request and counts its outcome. Latency counts from t0.
func (w *worker) do(t0 time.Time, measured bool) {
	t := w.target()
	req := w.prepare(t)
	resp := w.resp
	err := w.r.clients[t].Do(req, resp)
	lat := time.Since(t0)
	if !measured {
		return
	}
	o := &w.r.o
	var allowed, denied int
	kind, status := -1, 0
	if err != nil {
		kind = classify(err)
	} else {
		sc := resp.StatusCode()
		switch {
		case o.Method == "get" && sc == fasthttp.StatusNoContent:
			allowed = 1
		case o.Method == "get" && sc == fasthttp.StatusTooManyRequests:
			denied = 1
		case o.Method == "post" && sc == fasthttp.StatusOK:
			a, d, ok := ParseDecisions(resp.Body())
			if ok && a+d == o.Batch {
				allowed, denied = a, d
			} else {
				kind = kindBadBody
			}
		default:
			status = sc
			if status < 0 || status >= 600 {
				status = 599
			}
		}
	}
	w.mu.Lock()
	c := &w.c
	c.requests++
	switch {
	case kind >= 0:
		c.kinds[kind]++
	case status != 0:
		c.status[status]++
	default:
		c.allowed += uint64(allowed)
		c.denied += uint64(denied)
	}
	if err == nil {
		c.hist.Record(lat)
	}
	w.mu.Unlock()
}

// classify names the kind of a transport error.
func classify(err error) int {
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrDialTimeout),
		errors.As(err, &op) && op.Op == "dial",
		errors.Is(err, syscall.ECONNREFUSED):
		return kindConnect
	case errors.Is(err, fasthttp.ErrTimeout),
		errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return kindTimeout
	case errors.Is(err, fasthttp.ErrConnectionClosed),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, net.ErrClosed):
		return kindClosed
	}
	return kindOther
}
