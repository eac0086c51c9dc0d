package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/ringlimit/ringlimit/window"
)

const countersPrefix = "/api/counters/"

var (
	contentJSON    = []byte("application/json")
	contentProblem = []byte("application/problem+json")
	contentMetrics = []byte("text/plain; version=0.0.4; charset=utf-8")

	headerPolicy     = []byte("RateLimit-Policy")
	headerRateLimit  = []byte("RateLimit")
	headerRetryAfter = []byte("Retry-After")
	headerIndex      = []byte(IndexHeader)

	resetSuffix = []byte("/reset")
)

// scratch holds the buffers of one request; it is pooled so that the hot
// path allocates nothing.
type scratch struct {
	b    []byte
	reqs []checkReq
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{b: make([]byte, 0, 512)}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(sc *scratch) {
	if cap(sc.b) > 64<<10 || cap(sc.reqs) > 2*MaxBatch {
		return // do not keep the buffers of a rare huge request
	}
	clear(sc.reqs) // drop the keys, which alias a request body
	sc.reqs = sc.reqs[:0]
	sc.b = sc.b[:0]
	scratchPool.Put(sc)
}

// postCheck answers POST /check: one check, or a batch of them.
func (s *Server) postCheck(ctx *fasthttp.RequestCtx) {
	var start time.Time
	timed := sampleLatency()
	if timed {
		start = time.Now()
	}
	sc := getScratch()
	defer putScratch(sc)

	var one checkReq
	reqs, isBatch, e := decodeCheckBody(ctx.PostBody(), &one, sc.reqs)
	sc.reqs = reqs
	if e != nil {
		s.writeError(ctx, e)
		return
	}
	now := s.now()
	if isBatch {
		b := append(sc.b[:0], `{"results":[`...)
		for i := range reqs {
			if i > 0 {
				b = append(b, ',')
			}
			r := &reqs[i]
			d, err := s.lim.Check(r.key, r.cost, r.limit, r.window, now)
			if err != nil {
				ae, _ := toAPIError(err)
				b = append(b, `{"key":`...)
				b = appendJSONString(b, r.key)
				b = append(b, ',')
				b = appendErrorField(b, ae)
				b = append(b, '}')
				continue
			}
			s.m.decision(&d)
			b = appendDecision(b, r.key, &d)
		}
		sc.b = append(b, "]}"...)
	} else {
		d, err := s.lim.Check(one.key, one.cost, one.limit, one.window, now)
		if err != nil {
			s.fail(ctx, err)
			return
		}
		s.m.decision(&d)
		s.setDecisionHeaders(ctx, sc, &d)
		sc.b = appendDecision(sc.b[:0], one.key, &d)
	}
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBody(sc.b)
	if timed {
		s.m.checkLatency.observe(time.Since(start))
	}
}

// setDecisionHeaders sets RateLimit-Policy, RateLimit and, when denied,
// Retry-After (whole seconds rounded up; absent when the cost exceeds the
// limit, since no wait helps). It uses sc.b as its buffer.
func (s *Server) setDecisionHeaders(ctx *fasthttp.RequestCtx, sc *scratch, d *window.Decision) {
	h := &ctx.Response.Header
	sc.b = appendPolicy(sc.b[:0], d)
	h.SetCanonical(headerPolicy, sc.b)
	sc.b = appendRateLimit(sc.b[:0], d)
	h.SetCanonical(headerRateLimit, sc.b)
	if !d.Allowed && d.RetryAfter >= 0 {
		sc.b = strconv.AppendInt(sc.b[:0], max(1, ceilDiv(d.RetryAfter, time.Second)), 10)
		h.SetCanonical(headerRetryAfter, sc.b)
	}
}

// getCheck answers GET /check?key=…&cost=…&limit=…&window_ms=… for
// proxies: 204 allowed, 429 denied with an application/problem+json body.
// Query parameters it does not know are ignored (proxies add their own).
func (s *Server) getCheck(ctx *fasthttp.RequestCtx) {
	var start time.Time
	timed := sampleLatency()
	if timed {
		start = time.Now()
	}
	args := ctx.QueryArgs()
	r := checkReq{cost: 1}
	if !args.Has("key") {
		s.writeError(ctx, &apiError{400, codeMissingKey, "key is required"})
		return
	}
	key, e := validKey(args.Peek("key"), -1)
	if e != nil {
		s.writeError(ctx, e)
		return
	}
	r.key = key
	for _, f := range [...]struct {
		name string
		bit  int
	}{{"cost", fieldCost}, {"limit", fieldLimit}, {"window_ms", fieldWindow}} {
		if !args.Has(f.name) {
			continue
		}
		if e := queryInt(args.Peek(f.name), f.bit, &r); e != nil {
			s.writeError(ctx, e)
			return
		}
	}
	d, err := s.lim.Check(r.key, r.cost, r.limit, r.window, s.now())
	if err != nil {
		s.fail(ctx, err)
		return
	}
	s.m.decision(&d)
	sc := getScratch()
	defer putScratch(sc)
	s.setDecisionHeaders(ctx, sc, &d)
	if d.Allowed {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	} else {
		b := append(sc.b[:0], `{"type":"quota-exceeded","title":"Quota exceeded","status":429,"detail":"the key has no quota left in its window","key":`...)
		b = appendJSONString(b, r.key)
		b = append(b, `,"limit":`...)
		b = strconv.AppendInt(b, d.Limit, 10)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, d.Count, 10)
		b = append(b, `,"retry_after_ms":`...)
		b = strconv.AppendInt(b, ceilDiv(d.RetryAfter, time.Millisecond), 10)
		sc.b = append(b, '}')
		ctx.SetStatusCode(fasthttp.StatusTooManyRequests)
		ctx.Response.Header.SetContentTypeBytes(contentProblem)
		ctx.Response.SetBody(sc.b)
	}
	if timed {
		s.m.checkLatency.observe(time.Since(start))
	}
}

// queryInt parses a query parameter as the field bit of r, with the same
// syntax (a JSON integer) and ranges as in a body.
func queryInt(v []byte, bit int, r *checkReq) *apiError {
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return intError(bit, -1)
	}
	d := decoder{buf: v}
	n, isInt, ok := d.number()
	if !ok || !isInt || d.pos != len(v) {
		return intError(bit, -1)
	}
	return setInt(bit, n, r, -1)
}

// listCounters answers GET /api/counters?prefix=&limit=&cursor=.
func (s *Server) listCounters(ctx *fasthttp.RequestCtx) {
	args := ctx.QueryArgs()
	prefix := args.Peek("prefix")
	if len(prefix) > MaxKeyBytes || !utf8.Valid(prefix) {
		s.writeError(ctx, newError(400, codeInvalidPrefix, "prefix must be UTF-8 of at most %d bytes", MaxKeyBytes))
		return
	}
	limit := DefaultListLimit
	if args.Has("limit") {
		n, err := strconv.Atoi(string(args.Peek("limit")))
		if err != nil || n < 1 || n > MaxListLimit {
			s.writeError(ctx, newError(400, codeInvalidLimit, "limit must be an integer from 1 to %d", MaxListLimit))
			return
		}
		limit = n
	}
	var after string
	if c := args.Peek("cursor"); len(c) > 0 {
		k, err := decodeCursor(c)
		if err != nil {
			s.writeError(ctx, err)
			return
		}
		after = k
	}
	list := s.lim.List(string(prefix), after, limit+1, s.now())
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeCursor(list[limit-1].Key)
	}
	b := make([]byte, 0, 64+len(list)*128)
	b = append(b, `{"counters":[`...)
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCounter(b, &list[i])
	}
	b = append(b, `],"next_cursor":`...)
	b = appendJSONString(b, next)
	b = append(b, '}')
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyRaw(b)
}

// A cursor is the last key of a page, base64url-encoded: opaque to
// clients, and a cursor that is not one is told apart (400).
func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeCursor(c []byte) (string, *apiError) {
	k, err := base64.RawURLEncoding.DecodeString(string(c))
	if err != nil || len(k) == 0 || len(k) > MaxKeyBytes || !utf8.Valid(k) {
		return "", &apiError{400, codeInvalidCursor, "cursor is not one this API handed out"}
	}
	return string(k), nil
}

// getCounter answers GET /api/counters/{key}.
func (s *Server) getCounter(ctx *fasthttp.RequestCtx) {
	raw := ctx.Request.URI().PathOriginal()[len(countersPrefix):]
	key, e := pathKey(raw)
	if e != nil {
		s.writeError(ctx, e)
		return
	}
	c, ok := s.lim.Get(key, s.now())
	if !ok {
		s.writeError(ctx, newError(404, codeCounterNotFound, "no live counter for key %q", key))
		return
	}
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyRaw(appendCounter(nil, &c))
}

// resetCounter answers POST /api/counters/{key}/reset through the cluster.
func (s *Server) resetCounter(ctx *fasthttp.RequestCtx) {
	raw := ctx.Request.URI().PathOriginal()[len(countersPrefix):]
	if !bytes.HasSuffix(raw, resetSuffix) {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, fasthttp.MethodGet)
		s.writeError(ctx, &apiError{405, codeMethodNotAllowed, "a counter takes GET, and POST on …/reset"})
		return
	}
	if !s.authorized(ctx) {
		s.writeError(ctx, &apiError{401, codeUnauthorized, "this call needs Authorization: Bearer <admin token>"})
		return
	}
	key, e := pathKey(raw[:len(raw)-len(resetSuffix)])
	if e != nil {
		s.writeError(ctx, e)
		return
	}
	forwarded := len(ctx.Request.Header.Peek(ForwardedHeader)) > 0
	rctx, cancel := context.WithTimeout(context.Background(), s.cfg.ResetTimeout)
	res, err := s.cluster.Reset(rctx, key, forwarded)
	cancel()
	if err != nil {
		s.m.resetFailed.Inc()
		s.fail(ctx, err)
		return
	}
	if res.Reset {
		s.m.resetCleared.Inc()
	} else {
		s.m.resetNoop.Inc()
	}
	b := append(make([]byte, 0, 32+len(key)), `{"key":`...)
	b = appendJSONString(b, key)
	if res.Reset {
		b = append(b, `,"reset":true}`...)
	} else {
		b = append(b, `,"reset":false}`...)
	}
	ctx.Response.Header.SetCanonical(headerIndex, strconv.AppendUint(nil, res.Index, 10))
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyRaw(b)
}

// pathKey percent-decodes the raw (still encoded) key of a path. A '+'
// stays a '+'; a '/' may be sent encoded or not.
func pathKey(raw []byte) (string, *apiError) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			out = append(out, c)
			continue
		}
		hi, ok1 := unhex(raw, i+1)
		lo, ok2 := unhex(raw, i+2)
		if !ok1 || !ok2 {
			return "", &apiError{400, codeInvalidKey, "the key in the path is not percent-encoded correctly"}
		}
		out = append(out, hi<<4|lo)
		i += 2
	}
	return validKey(out, -1) // aliases out, which nothing else holds
}

func unhex(b []byte, i int) (byte, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// clusterStatus answers GET /api/cluster.
func (s *Server) clusterStatus(ctx *fasthttp.RequestCtx) {
	st := s.cluster.Status()
	if st.Members == nil {
		st.Members = []Member{}
	}
	b, err := json.Marshal(st)
	if err != nil {
		s.fail(ctx, err)
		return
	}
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyRaw(b)
}

// healthz answers GET /healthz: the process is alive and serving.
func (s *Server) healthz(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyString(`{"status":"ok"}`)
}

// readyz answers GET /readyz: 200 when the cluster is ready, 503 with the
// reason otherwise, and 503 stopping once Shutdown has begun.
func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	if s.stopping.Load() {
		s.writeError(ctx, &apiError{503, codeStopping, "the node is shutting down"})
		return
	}
	if err := s.cluster.Ready(); err != nil {
		ae, internal := toAPIError(err)
		if internal || ae.status < 500 {
			ae = &apiError{503, codeNotReady, err.Error()}
		}
		s.writeError(ctx, ae)
		return
	}
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyString(`{"status":"ready"}`)
}

// metrics answers GET /metrics in the Prometheus text format.
func (s *Server) metrics(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetContentTypeBytes(contentMetrics)
	s.cfg.Metrics.WritePrometheus(ctx)
	metricsProcess(ctx)
}

func (s *Server) notFound(ctx *fasthttp.RequestCtx) {
	s.writeError(ctx, newError(404, codeNotFound, "no route for %s %s", ctx.Method(), ctx.Path()))
}

// methodNotAllowed is called by the router, which has set Allow.
func (s *Server) methodNotAllowed(ctx *fasthttp.RequestCtx) {
	if ctx.IsGet() && string(ctx.Request.URI().PathOriginal()) == countersPrefix {
		// The router sends GET /api/counters/ here (a trailing slash of
		// GET /api/counters) rather than to the {key:*} route.
		ctx.Response.Header.Del(fasthttp.HeaderAllow)
		s.getCounter(ctx)
		return
	}
	// The router lists OPTIONS, which this API does not answer.
	allow := strings.ReplaceAll(string(ctx.Response.Header.Peek(fasthttp.HeaderAllow)), "OPTIONS", "")
	allow = strings.Trim(strings.ReplaceAll(allow, ", , ", ", "), ", ")
	ctx.Response.Header.Set(fasthttp.HeaderAllow, allow)
	s.writeError(ctx, newError(405, codeMethodNotAllowed, "%s is not allowed here; allowed: %s", ctx.Method(), allow))
}

func (s *Server) panicked(ctx *fasthttp.RequestCtx, v any) {
	s.log.Error("handler panicked", "panic", v, "method", string(ctx.Method()), "path", string(ctx.Path()))
	s.writeError(ctx, &apiError{500, codeInternal, "internal error"})
}

// parseError answers a request fasthttp could not read (fasthttp's
// Server.ErrorHandler): 413 when the body is over MaxBodyBytes, 431 when
// the headers are too large, 408 on a read timeout, 400 otherwise.
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	ae, internal := toAPIError(err)
	if internal {
		ae = &apiError{400, codeBadRequest, "the HTTP request could not be parsed"}
	}
	s.writeError(ctx, ae)
}

// fail answers an error returned by the store or the cluster.
func (s *Server) fail(ctx *fasthttp.RequestCtx, err error) {
	ae, internal := toAPIError(err)
	if internal {
		s.log.Error("request failed", "error", err, "method", string(ctx.Method()), "path", string(ctx.Path()))
	}
	s.writeError(ctx, ae)
}

// writeError answers e as {"error":{"code","message"}} and counts it.
func (s *Server) writeError(ctx *fasthttp.RequestCtx, e *apiError) {
	s.m.httpError(e.code)
	if e.status == fasthttp.StatusUnauthorized {
		ctx.Response.Header.Set(fasthttp.HeaderWWWAuthenticate, "Bearer")
	}
	ctx.SetStatusCode(e.status)
	ctx.Response.Header.SetContentTypeBytes(contentJSON)
	ctx.Response.SetBodyRaw(appendError(make([]byte, 0, 64+len(e.message)), e))
}
