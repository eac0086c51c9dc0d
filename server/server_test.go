package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

func TestPostCheckSteps(t *testing.T) {
	ts := startServer(t)
	// Limits up to window.ExactThreshold are counted exactly, so every
	// number below follows from the requests alone.
	if window.ExactThreshold < 5 {
		t.Fatalf("the steps need limit 5 to be exact; ExactThreshold is %d", window.ExactThreshold)
	}
	steps := []struct {
		name       string
		advance    time.Duration
		body       string
		want       decisionJSON
		policy     string
		rateLimit  string
		retryAfter string
	}{
		{
			name: "cost 3 with limit 5 and 10 s window", body: `{"key":"user:2","cost":3,"limit":5,"window_ms":10000}`,
			want:   decisionJSON{Key: "user:2", Allowed: true, Limit: 5, Remaining: 2, Count: 3, WindowMS: 10000, ResetAfterMS: 10000},
			policy: `"default";q=5;w=10`, rateLimit: `"default";r=2;t=10`,
		},
		{
			name: "too much is denied and counts nothing", advance: 2500 * time.Millisecond,
			body:   `{"key":"user:2","cost":3,"limit":5,"window_ms":10000}`,
			want:   decisionJSON{Key: "user:2", Allowed: false, Limit: 5, Remaining: 2, Count: 3, WindowMS: 10000, ResetAfterMS: 7500, RetryAfterMS: 7500},
			policy: `"default";q=5;w=10`, rateLimit: `"default";r=2;t=8`, retryAfter: "8",
		},
		{
			name: "cost 0 peeks", body: `{"key":"user:2","cost":0,"limit":5,"window_ms":10000}`,
			want:   decisionJSON{Key: "user:2", Allowed: true, Limit: 5, Remaining: 2, Count: 3, WindowMS: 10000, ResetAfterMS: 7500},
			policy: `"default";q=5;w=10`, rateLimit: `"default";r=2;t=8`,
		},
		{
			name: "the rest fits", body: "{\n \"window_ms\": 10000, \"limit\": 5, \"cost\": 2, \"key\": \"user:2\"\n}",
			want:   decisionJSON{Key: "user:2", Allowed: true, Limit: 5, Remaining: 0, Count: 5, WindowMS: 10000, ResetAfterMS: 10000},
			policy: `"default";q=5;w=10`, rateLimit: `"default";r=0;t=10`,
		},
		{
			name: "one more is denied until the first hits leave", advance: 1200 * time.Millisecond,
			body:   `{"key":"user:2","limit":5,"window_ms":10000}`,
			want:   decisionJSON{Key: "user:2", Allowed: false, Limit: 5, Remaining: 0, Count: 5, WindowMS: 10000, ResetAfterMS: 8800, RetryAfterMS: 6300},
			policy: `"default";q=5;w=10`, rateLimit: `"default";r=0;t=9`, retryAfter: "7",
		},
		{
			name: "a cost over the limit can never pass", body: `{"key":"user:3","cost":6,"limit":5}`,
			want:   decisionJSON{Key: "user:3", Allowed: false, Limit: 5, Remaining: 5, Count: 0, WindowMS: 60000, RetryAfterMS: -1},
			policy: `"default";q=5;w=60`, rateLimit: `"default";r=5;t=0`,
		},
		{
			name: "escaped key", body: `{"key":"caf\u00e9 \"q\" \\ \/ \ud83c\udf89","limit":5}`,
			want:   decisionJSON{Key: "café \"q\" \\ / 🎉", Allowed: true, Limit: 5, Remaining: 4, Count: 1, WindowMS: 60000, ResetAfterMS: 60000},
			policy: `"default";q=5;w=60`, rateLimit: `"default";r=4;t=60`,
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			ts.clock.Advance(st.advance)
			r := ts.post("/check", st.body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got decisionJSON
			decodeStrict(t, r.body, &got)
			if got != st.want {
				t.Errorf("got  %+v\nwant %+v", got, st.want)
			}
			for h, want := range map[string]string{"RateLimit-Policy": st.policy, "RateLimit": st.rateLimit, "Retry-After": st.retryAfter} {
				if got := r.header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
		})
	}
}

// TestPostCheckDefaults checks the defaults of a check against the same
// check on a reference store: the answer is the store's decision, in
// milliseconds and whole seconds rounded up.
func TestPostCheckDefaults(t *testing.T) {
	ts := startServer(t)
	ref := window.New(window.Config{DefaultLimit: 100, DefaultWindow: time.Minute})
	for i := range 3 {
		ts.clock.Advance(1234 * time.Millisecond)
		r := ts.post("/check", `{"key":"user:1"}`)
		d, err := ref.Check("user:1", 1, 0, 0, ts.clock.Now())
		if err != nil || r.status != 200 {
			t.Fatalf("check %d: %d %s %v", i, r.status, r.body, err)
		}
		ms := func(x time.Duration) int64 { return int64((x + time.Millisecond - 1) / time.Millisecond) }
		want := decisionJSON{Key: "user:1", Allowed: true, Limit: 100, Remaining: d.Remaining, Count: int64(i + 1),
			WindowMS: 60000, ResetAfterMS: ms(d.ResetAfter)}
		var got decisionJSON
		decodeStrict(t, r.body, &got)
		if got != want || d.Remaining != int64(99-i) {
			t.Errorf("check %d: got %+v, want %+v", i, got, want)
		}
		wantRL := fmt.Sprintf(`"default";r=%d;t=%d`, 99-i, int64((d.ResetAfter+time.Second-1)/time.Second))
		if got := r.header.Get("RateLimit"); got != wantRL {
			t.Errorf("RateLimit %q, want %q", got, wantRL)
		}
		if got := r.header.Get("RateLimit-Policy"); got != `"default";q=100;w=60` {
			t.Errorf("RateLimit-Policy %q", got)
		}
	}
}

func TestPostCheckBatch(t *testing.T) {
	ts := startServer(t)
	r := ts.post("/check", `{"checks":[{"key":"b1","limit":2},{"key":"b1","limit":2},{"key":"b1","limit":2},{"key":"b2","cost":0}]}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got struct {
		Results []decisionJSON `json:"results"`
	}
	decodeStrict(t, r.body, &got)
	want := []decisionJSON{
		{Key: "b1", Allowed: true, Limit: 2, Remaining: 1, Count: 1, WindowMS: 60000, ResetAfterMS: 60000},
		{Key: "b1", Allowed: true, Limit: 2, Remaining: 0, Count: 2, WindowMS: 60000, ResetAfterMS: 60000},
		{Key: "b1", Allowed: false, Limit: 2, Remaining: 0, Count: 2, WindowMS: 60000, ResetAfterMS: 60000, RetryAfterMS: 60000},
		{Key: "b2", Allowed: true, Limit: 100, Remaining: 100, Count: 0, WindowMS: 60000},
	}
	if fmt.Sprint(got.Results) != fmt.Sprint(want) {
		t.Errorf("got  %+v\nwant %+v", got.Results, want)
	}
	if h := r.header.Get("RateLimit"); h != "" {
		t.Errorf("a batch answer carries RateLimit %q", h)
	}

	// An empty batch, and a full one of MaxBatch.
	r = ts.post("/check", `{"checks":[]}`)
	if r.status != 200 || string(r.body) != `{"results":[]}` {
		t.Errorf("empty batch: %d %s", r.status, r.body)
	}
	var sb strings.Builder
	sb.WriteString(`{"checks":[`)
	for i := range MaxBatch {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"key":"full:%d"}`, i)
	}
	sb.WriteString(`]}`)
	r = ts.post("/check", sb.String())
	if r.status != 200 {
		t.Fatalf("full batch: %d %s", r.status, r.body)
	}
	decodeStrict(t, r.body, &got)
	if len(got.Results) != MaxBatch || got.Results[MaxBatch-1].Key != fmt.Sprintf("full:%d", MaxBatch-1) || !got.Results[7].Allowed {
		t.Errorf("full batch: %d results, last %+v", len(got.Results), got.Results[len(got.Results)-1])
	}
}

func TestGetCheck(t *testing.T) {
	ts := startServer(t)
	for i, want := range []int{204, 204, 429, 429} {
		r := ts.get("/check?key=proxy%3A1&limit=2&window_ms=30000&unrelated=x")
		if r.status != want {
			t.Fatalf("request %d: status %d, want %d (%s)", i, r.status, want, r.body)
		}
		if got := r.header.Get("RateLimit-Policy"); got != `"default";q=2;w=30` {
			t.Errorf("RateLimit-Policy %q", got)
		}
		if want == 204 {
			if len(r.body) != 0 {
				t.Errorf("204 with a body: %s", r.body)
			}
			if got, want := r.header.Get("RateLimit"), fmt.Sprintf(`"default";r=%d;t=30`, 1-i); got != want {
				t.Errorf("RateLimit %q, want %q", got, want)
			}
			continue
		}
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type %q", ct)
		}
		if got := r.header.Get("Retry-After"); got != "30" {
			t.Errorf("Retry-After %q", got)
		}
		var p struct {
			Type         string `json:"type"`
			Title        string `json:"title"`
			Status       int    `json:"status"`
			Detail       string `json:"detail"`
			Key          string `json:"key"`
			Limit        int64  `json:"limit"`
			Count        int64  `json:"count"`
			RetryAfterMS int64  `json:"retry_after_ms"`
		}
		decodeStrict(t, r.body, &p)
		if p.Type != "quota-exceeded" || p.Status != 429 || p.Key != "proxy:1" || p.Limit != 2 || p.Count != 2 || p.RetryAfterMS != 30000 {
			t.Errorf("problem %+v", p)
		}
	}
	// cost in the query.
	r := ts.get("/check?key=proxy%3A2&cost=0")
	if r.status != 204 || r.header.Get("RateLimit") != `"default";r=100;t=0` {
		t.Errorf("peek: %d %q", r.status, r.header.Get("RateLimit"))
	}
	if _, ok := ts.store.Get("proxy:2", ts.clock.Now()); ok {
		t.Error("a GET /check with cost=0 created a counter")
	}
}

func TestCounters(t *testing.T) {
	ts := startServer(t)
	for i := range 25 {
		ts.post("/check", fmt.Sprintf(`{"key":"page:%02d","cost":%d,"limit":5}`, i, i%3+1))
	}
	ts.post("/check", `{"key":"other","limit":5}`)

	t.Run("list everything in pages", func(t *testing.T) {
		var keys []string
		cursor := ""
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatal("too many pages")
			}
			q := "/api/counters?prefix=page%3A&limit=10"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			r := ts.get(q)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got countersJSON
			decodeStrict(t, r.body, &got)
			if got.NextCursor == nil {
				t.Fatalf("no next_cursor in %s", r.body)
			}
			for _, c := range got.Counters {
				keys = append(keys, c.Key)
				i, _ := strconv.Atoi(strings.TrimPrefix(c.Key, "page:"))
				want := counterJSON{Key: c.Key, Count: int64(i%3 + 1), Limit: 5, Remaining: 5 - int64(i%3+1), WindowMS: 60000, ResetAfterMS: 60000}
				if c != want {
					t.Errorf("got %+v, want %+v", c, want)
				}
			}
			if len(got.Counters) > 10 {
				t.Fatalf("page of %d", len(got.Counters))
			}
			cursor = *got.NextCursor
			if cursor == "" {
				break
			}
		}
		if len(keys) != 25 {
			t.Fatalf("listed %d keys: %v", len(keys), keys)
		}
		for i, k := range keys {
			if want := fmt.Sprintf("page:%02d", i); k != want {
				t.Errorf("key %d: %q, want %q", i, k, want)
			}
		}
	})
	t.Run("default limit and empty list", func(t *testing.T) {
		r := ts.get("/api/counters")
		var got countersJSON
		decodeStrict(t, r.body, &got)
		if len(got.Counters) != 26 || *got.NextCursor != "" {
			t.Errorf("%d counters, cursor %q", len(got.Counters), *got.NextCursor)
		}
		r = ts.get("/api/counters?prefix=none")
		if string(r.body) != `{"counters":[],"next_cursor":""}` {
			t.Errorf("empty list: %s", r.body)
		}
	})
	t.Run("one counter", func(t *testing.T) {
		r := ts.get("/api/counters/page%3A04")
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var got counterJSON
		decodeStrict(t, r.body, &got)
		if want := (counterJSON{Key: "page:04", Count: 2, Limit: 5, Remaining: 3, WindowMS: 60000, ResetAfterMS: 60000}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		requireError(t, ts.get("/api/counters/absent"), 404, "counter_not_found")
	})
	t.Run("counters expire", func(t *testing.T) {
		ts.clock.Advance(time.Minute)
		r := ts.get("/api/counters")
		if string(r.body) != `{"counters":[],"next_cursor":""}` {
			t.Errorf("after a window: %s", r.body)
		}
		requireError(t, ts.get("/api/counters/page%3A04"), 404, "counter_not_found")
	})
}

// TestOperatorScenario is the exact sequence of issue 3 §1.
func TestOperatorScenario(t *testing.T) {
	ts := startServer(t)

	r := ts.post("/api/counters/nonexistent_key_12345/reset", "")
	if r.status != 200 || string(r.body) != `{"key":"nonexistent_key_12345","reset":false}` {
		t.Fatalf("reset of an absent key: %d %s", r.status, r.body)
	}
	r = ts.post("/check", `{"key":"test_reset_key"}`)
	if r.status != 200 {
		t.Fatalf("check: %d %s", r.status, r.body)
	}
	r = ts.post("/api/counters/test_reset_key/reset", "")
	if r.status != 200 || string(r.body) != `{"key":"test_reset_key","reset":true}` {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	if got := r.header.Get("X-Ringlimit-Index"); got != "0" {
		t.Errorf("X-Ringlimit-Index %q, want 0 on one node", got)
	}
	r = ts.get("/api/counters")
	if r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	var got countersJSON
	decodeStrict(t, r.body, &got)
	if got.Counters == nil {
		t.Fatalf("no counters array in %s", r.body)
	}
	for _, c := range got.Counters {
		if c.Key == "test_reset_key" {
			t.Fatalf("test_reset_key still listed: %s", r.body)
		}
	}
	// A reset is idempotent, and the key starts again from zero.
	r = ts.post("/api/counters/test_reset_key/reset", "")
	if r.status != 200 || string(r.body) != `{"key":"test_reset_key","reset":false}` {
		t.Errorf("second reset: %d %s", r.status, r.body)
	}
	r = ts.post("/check", `{"key":"test_reset_key"}`)
	var d decisionJSON
	decodeStrict(t, r.body, &d)
	if d.Count != 1 {
		t.Errorf("after reset: %+v", d)
	}
}

// TestPercentEncodedKeys sends keys with awkward bytes through check →
// counters → reset.
func TestPercentEncodedKeys(t *testing.T) {
	ts := startServer(t)
	keys := []string{
		"a/b", "/leading", "trailing/", "a//b", "100%", "%2F", "what?x=1", "with space",
		"plus+sign", "hash#frag", "ключ", "emoji 🎉", "..", ".", "a/../b", "reset", "x/reset",
		"semi;colon", "tab\there", "quote\"back\\slash", "amp&eq=",
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			body, _ := json.Marshal(map[string]any{"key": key, "cost": 2, "limit": 5})
			r := ts.post("/check", string(body))
			var d decisionJSON
			decodeStrict(t, r.body, &d)
			if r.status != 200 || d.Key != key || d.Count != 2 {
				t.Fatalf("check: %d %s", r.status, r.body)
			}
			// GET /check with the key in the query.
			r = ts.get("/check?cost=0&limit=5&key=" + url.QueryEscape(key))
			if r.status != 204 || r.header.Get("RateLimit") != `"default";r=3;t=60` {
				t.Errorf("GET /check: %d %q", r.status, r.header.Get("RateLimit"))
			}
			// Listed under its own name, found by prefix.
			r = ts.get("/api/counters?prefix=" + url.QueryEscape(key))
			var list countersJSON
			decodeStrict(t, r.body, &list)
			if len(list.Counters) == 0 || list.Counters[0].Key != key {
				t.Fatalf("list: %s", r.body)
			}
			enc := url.PathEscape(key)
			r = ts.get("/api/counters/" + enc)
			var c counterJSON
			decodeStrict(t, r.body, &c)
			if r.status != 200 || c.Key != key || c.Count != 2 {
				t.Fatalf("GET /api/counters/%s: %d %s", enc, r.status, r.body)
			}
			r = ts.post("/api/counters/"+enc+"/reset", "")
			want, _ := json.Marshal(map[string]any{"key": key, "reset": true})
			var gotReset, wantReset any
			json.Unmarshal(r.body, &gotReset)
			json.Unmarshal(want, &wantReset)
			if r.status != 200 || fmt.Sprint(gotReset) != fmt.Sprint(wantReset) {
				t.Fatalf("reset %s: %d %s", enc, r.status, r.body)
			}
			requireError(t, ts.get("/api/counters/"+enc), 404, "counter_not_found")
		})
	}
}

// TestBadInput sends every kind of bad input; each gets its status and
// code, and none changes a counter.
func TestBadInput(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *window.Config) { c.MaxBodyBytes = 64 << 10 })
	ts.post("/check", `{"key":"victim","cost":5}`)
	long := strings.Repeat("k", MaxKeyBytes+1)
	var batch strings.Builder
	batch.WriteString(`{"checks":[`)
	for i := range MaxBatch + 1 {
		if i > 0 {
			batch.WriteByte(',')
		}
		fmt.Fprintf(&batch, `{"key":"v%d"}`, i%5)
	}
	batch.WriteString(`]}`)

	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"empty body", "POST", "/check", "", 400, "invalid_json"},
		{"malformed JSON", "POST", "/check", `{"key":"victim"`, 400, "invalid_json"},
		{"not an object", "POST", "/check", `["victim"]`, 400, "invalid_json"},
		{"trailing data", "POST", "/check", `{"key":"victim"} {}`, 400, "invalid_json"},
		{"trailing comma", "POST", "/check", `{"key":"victim",}`, 400, "invalid_json"},
		{"single quotes", "POST", "/check", `{'key':'victim'}`, 400, "invalid_json"},
		{"control char in string", "POST", "/check", "{\"key\":\"vic\ntim\"}", 400, "invalid_json"},
		{"bad escape", "POST", "/check", `{"key":"vic\xtim"}`, 400, "invalid_json"},
		{"leading zero", "POST", "/check", `{"key":"victim","cost":01}`, 400, "invalid_json"},
		{"key is a number", "POST", "/check", `{"key":42}`, 400, "invalid_key"},
		{"key is null", "POST", "/check", `{"key":null}`, 400, "invalid_key"},
		{"key not UTF-8", "POST", "/check", "{\"key\":\"vic\xfftim\"}", 400, "invalid_key"},
		{"missing key", "POST", "/check", `{"cost":1}`, 400, "missing_key"},
		{"empty object", "POST", "/check", `{}`, 400, "missing_key"},
		{"empty key", "POST", "/check", `{"key":""}`, 400, "missing_key"},
		{"key too long", "POST", "/check", `{"key":"` + long + `"}`, 400, "key_too_long"},
		{"cost is a string", "POST", "/check", `{"key":"victim","cost":"1"}`, 400, "invalid_cost"},
		{"negative cost", "POST", "/check", `{"key":"victim","cost":-1}`, 400, "invalid_cost"},
		{"fractional cost", "POST", "/check", `{"key":"victim","cost":1.5}`, 400, "invalid_cost"},
		{"exponent cost", "POST", "/check", `{"key":"victim","cost":1e3}`, 400, "invalid_cost"},
		{"absurd cost", "POST", "/check", `{"key":"victim","cost":99999999999999999999999}`, 400, "invalid_cost"},
		{"cost over MaxLimit", "POST", "/check", `{"key":"victim","cost":` + strconv.FormatInt(window.MaxLimit+1, 10) + `}`, 400, "invalid_cost"},
		{"zero limit", "POST", "/check", `{"key":"victim","limit":0}`, 400, "invalid_limit"},
		{"negative limit", "POST", "/check", `{"key":"victim","limit":-5}`, 400, "invalid_limit"},
		{"absurd limit", "POST", "/check", `{"key":"victim","limit":9223372036854775807}`, 400, "invalid_limit"},
		{"limit is bool", "POST", "/check", `{"key":"victim","limit":true}`, 400, "invalid_limit"},
		{"zero window", "POST", "/check", `{"key":"victim","window_ms":0}`, 400, "invalid_window"},
		{"negative window", "POST", "/check", `{"key":"victim","window_ms":-1000}`, 400, "invalid_window"},
		{"absurd window", "POST", "/check", `{"key":"victim","window_ms":` + strconv.FormatInt(window.MaxWindow.Milliseconds()+1, 10) + `}`, 400, "invalid_window"},
		{"unknown field", "POST", "/check", `{"key":"victim","window":1000}`, 400, "unknown_field"},
		{"duplicate field", "POST", "/check", `{"key":"victim","key":"other"}`, 400, "duplicate_field"},
		{"key and checks", "POST", "/check", `{"key":"victim","checks":[]}`, 400, "invalid_request"},
		{"checks not an array", "POST", "/check", `{"checks":{"key":"victim"}}`, 400, "invalid_checks"},
		{"check not an object", "POST", "/check", `{"checks":["victim"]}`, 400, "invalid_checks"},
		{"bad check after good ones", "POST", "/check", `{"checks":[{"key":"victim"},{"key":"victim","cost":-1}]}`, 400, "invalid_cost"},
		{"missing key in a batch", "POST", "/check", `{"checks":[{"key":"victim"},{"cost":1}]}`, 400, "missing_key"},
		{"malformed after good checks", "POST", "/check", `{"checks":[{"key":"victim"},{"key":"victim"}`, 400, "invalid_json"},
		{"batch too large", "POST", "/check", batch.String(), 400, "batch_too_large"},
		{"GET without key", "GET", "/check?cost=1", "", 400, "missing_key"},
		{"GET with empty key", "GET", "/check?key=", "", 400, "missing_key"},
		{"GET bad cost", "GET", "/check?key=victim&cost=abc", "", 400, "invalid_cost"},
		{"GET negative cost", "GET", "/check?key=victim&cost=-1", "", 400, "invalid_cost"},
		{"GET empty cost", "GET", "/check?key=victim&cost=", "", 400, "invalid_cost"},
		{"GET bad limit", "GET", "/check?key=victim&limit=0", "", 400, "invalid_limit"},
		{"GET bad window", "GET", "/check?key=victim&window_ms=1.5", "", 400, "invalid_window"},
		{"GET key too long", "GET", "/check?key=" + long, "", 400, "key_too_long"},
		{"GET key not UTF-8", "GET", "/check?key=%FF", "", 400, "invalid_key"},
		{"list bad limit", "GET", "/api/counters?limit=0", "", 400, "invalid_limit"},
		{"list limit too high", "GET", "/api/counters?limit=1001", "", 400, "invalid_limit"},
		{"list limit not a number", "GET", "/api/counters?limit=ten", "", 400, "invalid_limit"},
		{"bad cursor", "GET", "/api/counters?cursor=%21%21%21", "", 400, "invalid_cursor"},
		{"cursor not UTF-8", "GET", "/api/counters?cursor=_w", "", 400, "invalid_cursor"},
		{"bad prefix", "GET", "/api/counters?prefix=%FF", "", 400, "invalid_prefix"},
		{"bad percent-encoding", "GET", "/api/counters/vic%zztim", "", 400, "invalid_key"},
		{"truncated percent-encoding", "POST", "/api/counters/victim%4/reset", "", 400, "invalid_key"},
		{"empty path key", "POST", "/api/counters//reset", "", 400, "missing_key"},
		{"empty path key GET", "GET", "/api/counters/", "", 400, "missing_key"},
		{"path key too long", "POST", "/api/counters/" + long + "/reset", "", 400, "key_too_long"},
		{"path key not UTF-8", "POST", "/api/counters/%C3%28/reset", "", 400, "invalid_key"},
		{"unknown route", "GET", "/nope", "", 404, "not_found"},
		{"unknown api route", "POST", "/api/counter/victim/reset", "", 404, "not_found"},
		{"wrong method on check", "PUT", "/check", `{"key":"victim"}`, 405, "method_not_allowed"},
		{"wrong method on counters", "DELETE", "/api/counters/victim", "", 405, "method_not_allowed"},
		{"POST on a counter", "POST", "/api/counters/victim", "", 405, "method_not_allowed"},
		{"GET on reset is a lookup of another key", "GET", "/api/counters/victim/reset", "", 404, "counter_not_found"},
		{"POST on healthz", "POST", "/healthz", "", 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.snapshot()
			r := ts.do(tc.method, tc.path, []byte(tc.body))
			requireError(t, r, tc.status, tc.code)
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			ts.requireUnchanged(before, tc.name)
		})
	}
	// The node still serves.
	r := ts.post("/check", `{"key":"victim","cost":0}`)
	var d decisionJSON
	decodeStrict(t, r.body, &d)
	if r.status != 200 || d.Count != 5 {
		t.Errorf("after bad input: %d %s", r.status, r.body)
	}
}

// TestBodyTooLarge: a body over --max-body-bytes gets 413 and changes
// nothing. The request goes out in one write over a raw connection, small
// enough that the server reads all of it with the headers: a server that
// closes a connection with unread bytes makes the kernel answer a reset,
// which a client may see before the 413.
func TestBodyTooLarge(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *window.Config) { c.MaxBodyBytes = 1024 })
	ts.post("/check", `{"key":"victim","cost":5}`)
	before := ts.snapshot()
	body := `{"key":"victim","pad":"` + strings.Repeat("x", 1500) + `"}`
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req := fmt.Sprintf("POST /check HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	requireError(t, response{status: resp.StatusCode, header: resp.Header, body: b}, 413, "body_too_large")
	ts.requireUnchanged(before, "a body over the limit")
}

func TestAdminToken(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *window.Config) { c.AdminToken = "s3cret" })
	ts.post("/check", `{"key":"guarded"}`)
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"no header", nil, 401},
		{"wrong token", []string{"Authorization", "Bearer nope"}, 401},
		{"token prefix", []string{"Authorization", "Bearer s3cre"}, 401},
		{"token longer", []string{"Authorization", "Bearer s3cret2"}, 401},
		{"wrong scheme", []string{"Authorization", "Basic s3cret"}, 401},
		{"bare token", []string{"Authorization", "s3cret"}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := ts.snapshot()
			r := ts.post("/api/counters/guarded/reset", "", tc.header...)
			requireError(t, r, tc.status, "unauthorized")
			if r.header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
			ts.requireUnchanged(before, tc.name)
		})
	}
	// Reads and checks need no token.
	for _, p := range []string{"/api/counters", "/api/counters/guarded", "/api/cluster", "/healthz", "/readyz", "/metrics"} {
		if r := ts.get(p); r.status != 200 {
			t.Errorf("GET %s without token: %d %s", p, r.status, r.body)
		}
	}
	r := ts.post("/api/counters/guarded/reset", "", "Authorization", "bearer s3cret")
	if r.status != 200 || string(r.body) != `{"key":"guarded","reset":true}` {
		t.Errorf("with the token: %d %s", r.status, r.body)
	}
}

func TestStatusHealthMetrics(t *testing.T) {
	ts := startServer(t)
	r := ts.get("/healthz")
	if r.status != 200 || string(r.body) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	r = ts.get("/readyz")
	if r.status != 200 || string(r.body) != `{"status":"ready"}` {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
	r = ts.get("/api/cluster")
	var st ClusterStatus
	decodeStrict(t, r.body, &st)
	want := ClusterStatus{Node: "node-1", Leader: "node-1", LeaderHTTP: ts.addr, State: "Leader",
		Members: []Member{{ID: "node-1", HTTPAddr: ts.addr, GossipState: "alive", Suffrage: "Voter"}}}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Errorf("cluster: %+v, want %+v", st, want)
	}

	// Drive every metric once.
	ts.post("/check", `{"key":"m","limit":5,"cost":4}`) // allowed, near the limit
	ts.post("/check", `{"key":"m","limit":5,"cost":4}`) // denied, near the limit
	ts.post("/check", `{"key":"n"}`)                    // allowed
	ts.post("/api/counters/m/reset", "")
	ts.post("/api/counters/none/reset", "")
	ts.post("/check", `{"key":`)
	ts.get("/nope")
	// Sample at least one latency: the histogram times 1 in 8 checks.
	for range 200 {
		ts.post("/check", `{"key":"o","cost":0}`)
	}
	stats := ts.store.Stats()
	r = ts.get("/metrics")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %q", r.status, r.header.Get("Content-Type"))
	}
	body := string(r.body)
	for _, line := range []string{
		`ringlimit_checks_total{result="allowed"} 202`,
		`ringlimit_checks_total{result="denied"} 1`,
		`ringlimit_checks_near_limit_total 2`,
		`ringlimit_resets_total{result="cleared"} 1`,
		`ringlimit_resets_total{result="noop"} 1`,
		`ringlimit_http_errors_total{status="400",code="invalid_json"} 1`,
		`ringlimit_http_errors_total{status="404",code="not_found"} 1`,
		fmt.Sprintf("ringlimit_keys %d", stats.Keys),
		fmt.Sprintf("ringlimit_keys_created_total %d", stats.Created),
		`ringlimit_evictions_total 0`,
		`ringlimit_hits_dropped_total 0`,
		`# TYPE ringlimit_check_duration_seconds histogram`,
		`ringlimit_check_duration_seconds_bucket{le="1e-06"}`,
		`ringlimit_check_duration_seconds_bucket{le="+Inf"}`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, line+"\n") && !strings.Contains(body, line+" ") {
			t.Errorf("metrics lack %q", line)
		}
	}
	if strings.Contains(body, "ringlimit_check_duration_seconds_count 0\n") {
		t.Error("no latency sampled in 200 checks")
	}
}
