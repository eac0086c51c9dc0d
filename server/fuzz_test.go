package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/ringlimit/ringlimit/window"
)

var bodySeeds = []string{
	`{"key":"user:123"}`,
	`{"key":"user:123","cost":2,"limit":10,"window_ms":1000}`,
	`{"checks":[{"key":"a"},{"key":"b","cost":0}]}`,
	`{"key":"caf\u00e9\ud83c\udf89\/\"\\\b\f\n\r\t"}`,
	`{"key":"\ud800x"}`,
	`{"key":"a","cost":-0}`,
	`{"key":"a","cost":1.0}`,
	`{"key":"a","cost":1e2}`,
	`{"key":"a","limit":1099511627776}`,
	` {"key" : "a" , "cost" : 3 } `,
	`{"Key":"a"}`,
	`{"key":"a","key":"b"}`,
	`{"checks":[],"key":"a"}`,
	`{"checks":[1]}`,
	`[]`, `null`, `"x"`, ``, `{`, `{"key":"a"`, `{"key":"a"}x`,
}

// jsonCheck is encoding/json's reading of a check, for differential fuzzing.
type jsonCheck struct {
	Key      *string `json:"key"`
	Cost     *int64  `json:"cost"`
	Limit    *int64  `json:"limit"`
	WindowMS *int64  `json:"window_ms"`
}

type jsonBody struct {
	jsonCheck
	Checks *[]jsonCheck `json:"checks"`
}

func (c jsonCheck) req() checkReq {
	r := checkReq{cost: 1}
	if c.Key != nil {
		r.key = *c.Key
	}
	if c.Cost != nil {
		r.cost = *c.Cost
	}
	if c.Limit != nil {
		r.limit = *c.Limit
	}
	if c.WindowMS != nil {
		r.window = time.Duration(*c.WindowMS) * time.Millisecond
	}
	return r
}

// FuzzDecodeCheckBody checks the hand-written decoder against
// encoding/json: what it accepts is valid JSON that encoding/json reads to
// the same values, what encoding/json rejects it rejects, and it never
// calls a valid JSON object invalid JSON.
func FuzzDecodeCheckBody(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		buf := bytes.Clone(data)
		var one checkReq
		reqs, isBatch, e := decodeCheckBody(buf, &one, nil)
		valid := json.Valid(data)
		if e != nil {
			if e.status != 400 || !codeRE.MatchString(e.code) || e.message == "" {
				t.Fatalf("bad error %+v", e)
			}
			trimmed := bytes.TrimLeft(data, " \t\r\n")
			if e.code == codeInvalidJSON && valid && len(trimmed) > 0 && trimmed[0] == '{' {
				t.Fatalf("valid JSON object %q called invalid: %v", data, e)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var jb jsonBody
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&jb); err != nil {
			t.Fatalf("accepted %q, encoding/json says %v", data, err)
		}
		var want []checkReq
		if jb.Checks != nil {
			for _, c := range *jb.Checks {
				want = append(want, c.req())
			}
		} else {
			want = []checkReq{jb.jsonCheck.req()}
		}
		got := reqs
		if !isBatch {
			got = []checkReq{one}
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: got %+v, want %+v", data, got, want)
		}
		for _, r := range got {
			if len(r.key) == 0 || len(r.key) > MaxKeyBytes || !utf8.ValidString(r.key) || r.cost < 0 || r.limit < 0 || r.window < 0 {
				t.Fatalf("%q: accepted %+v", data, r)
			}
		}
	})
}

var codeRE = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

// documentedStatus are the statuses the API answers with (503 only with a
// cluster, 408 only on a slow client).
var documentedStatus = map[int]bool{200: true, 204: true, 400: true, 401: true, 404: true, 405: true, 408: true, 413: true, 429: true, 431: true, 503: true}

var fuzzMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "BREW"}

// FuzzHandler sends arbitrary methods, paths, query strings and bodies as
// raw HTTP through the real server (parser, router, handlers) over an
// in-memory connection. The answer has a documented status, errors are
// JSON of the documented shape, nothing panics, and a request answered
// with an error changes no counter.
func FuzzHandler(f *testing.F) {
	for i, s := range bodySeeds {
		f.Add(uint8(1), "/check", "", []byte(s))
		f.Add(uint8(i), "/api/counters/user%3A123/reset", "", []byte(nil))
	}
	for _, p := range []string{"/check", "/api/counters", "/api/counters/a%2Fb", "/api/counters/%zz/reset",
		"/api/counters//reset", "/api/cluster", "/healthz", "/readyz", "/metrics", "/nope", "/api/counters/", "//check", "/check/"} {
		f.Add(uint8(0), p, "key=user%3A123&cost=1&limit=5&window_ms=1000", []byte(nil))
		f.Add(uint8(0), p, "prefix=user&limit=2&cursor=dXNlcjox", []byte(nil))
	}
	f.Add(uint8(0), "/check", "key=%FF&cost=-1", []byte(nil))
	f.Add(uint8(1), "/check", "", bytes.Repeat([]byte("x"), 5000))

	clock := newManualClock()
	store := window.New(window.Config{DefaultLimit: 3, DefaultWindow: time.Minute, MaxKeys: 512})
	srv, err := New(Config{Now: clock.Now, MaxBodyBytes: 4096, AdminToken: "t"}, store, NewStandalone(store, "n", "a", clock.Now))
	if err != nil {
		f.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go srv.Serve(ln) //nolint:errcheck // returns when the listener closes
	f.Cleanup(func() { ln.Close() })

	f.Fuzz(func(t *testing.T, m uint8, path, query string, body []byte) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		target := sanitize(path)
		if query != "" {
			target += "?" + sanitize(query)
		}
		var req bytes.Buffer
		fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", method, target, len(body))
		if m&0x80 != 0 {
			req.WriteString("Authorization: Bearer t\r\n")
		}
		req.WriteString("\r\n")
		req.Write(body)

		start := time.Now()
		defer func() {
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("%s %q %q took %v", method, target, body, d)
			}
		}()
		before := store.List("", "", 1<<20, clock.Now())
		conn, err := ln.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
		if _, err := conn.Write(req.Bytes()); err != nil {
			t.Fatal(err)
		}
		var resp fasthttp.Response
		resp.SkipBody = method == "HEAD"
		if err := resp.Read(bufio.NewReader(conn)); err != nil {
			t.Fatalf("%s %q: no answer: %v", method, target, err)
		}
		status := resp.StatusCode()
		if !documentedStatus[status] {
			t.Fatalf("%s %q %q: status %d: %s", method, target, body, status, resp.Body())
		}
		if status >= 400 && status != 429 && method != "HEAD" {
			if ct := string(resp.Header.ContentType()); ct != "application/json" {
				t.Fatalf("%s %q: error with Content-Type %q: %s", method, target, ct, resp.Body())
			}
			var e errorJSON
			dec := json.NewDecoder(bytes.NewReader(resp.Body()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil || !codeRE.MatchString(e.Error.Code) || e.Error.Message == "" {
				t.Fatalf("%s %q: error body %q (%v)", method, target, resp.Body(), err)
			}
			if after := store.List("", "", 1<<20, clock.Now()); !reflect.DeepEqual(before, after) {
				t.Fatalf("%s %q %q answered %d but changed the store", method, target, body, status)
			}
		}
		if status == 429 && string(resp.Header.ContentType()) != "application/problem+json" {
			t.Fatalf("429 with Content-Type %q", resp.Header.ContentType())
		}
	})
}

// sanitize makes s fit a request line: CR, LF, space and '#' are
// percent-encoded; every other byte is sent raw.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r', '\n', ' ', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
