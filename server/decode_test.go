package server

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringlimit/ringlimit/window"
)

func TestDecodeCheckBody(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		want  []checkReq // one element for a single check
		batch bool
		code  string
	}{
		{name: "key only", body: `{"key":"a"}`, want: []checkReq{{key: "a", cost: 1}}},
		{name: "all fields", body: `{"key":"a","cost":0,"limit":7,"window_ms":1500}`, want: []checkReq{{key: "a", cost: 0, limit: 7, window: 1500 * time.Millisecond}}},
		{name: "any order and spaces", body: " \t\r\n{ \"window_ms\" : 1 , \"key\" : \"a\" } \n", want: []checkReq{{key: "a", cost: 1, window: time.Millisecond}}},
		{name: "minus zero", body: `{"key":"a","cost":-0}`, want: []checkReq{{key: "a", cost: 0}}},
		{name: "largest cost", body: `{"key":"a","cost":` + strconv.FormatInt(window.MaxLimit, 10) + `}`, want: []checkReq{{key: "a", cost: window.MaxLimit}}},
		{name: "escapes", body: `{"key":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac"}`, want: []checkReq{{key: "\"\\/\b\f\n\r\tAé€", cost: 1}}},
		{name: "surrogate pair", body: `{"key":"\ud83c\udf89"}`, want: []checkReq{{key: "🎉", cost: 1}}},
		{name: "lone high surrogate", body: `{"key":"\ud83cx"}`, want: []checkReq{{key: "\ufffdx", cost: 1}}},
		{name: "high surrogate then escape", body: `{"key":"\ud83c\u0041"}`, want: []checkReq{{key: "\ufffdA", cost: 1}}},
		{name: "lone low surrogate", body: `{"key":"\udf89"}`, want: []checkReq{{key: "\ufffd", cost: 1}}},
		{name: "escaped field name", body: `{"k\u0065y":"a"}`, want: []checkReq{{key: "a", cost: 1}}},
		{name: "raw UTF-8", body: `{"key":"ключ"}`, want: []checkReq{{key: "ключ", cost: 1}}},
		{name: "longest key", body: `{"key":"` + strings.Repeat("k", MaxKeyBytes) + `"}`, want: []checkReq{{key: strings.Repeat("k", MaxKeyBytes), cost: 1}}},
		{name: "batch", body: `{"checks":[{"key":"a"},{"cost":2,"key":"b"}]}`, batch: true, want: []checkReq{{key: "a", cost: 1}, {key: "b", cost: 2}}},
		{name: "empty batch", body: `{"checks":[ ]}`, batch: true},

		{name: "empty", body: "", code: codeInvalidJSON},
		{name: "spaces", body: "  ", code: codeInvalidJSON},
		{name: "array", body: `[{"key":"a"}]`, code: codeInvalidJSON},
		{name: "unterminated", body: `{"key":"a"`, code: codeInvalidJSON},
		{name: "unterminated string", body: `{"key":"a`, code: codeInvalidJSON},
		{name: "no colon", body: `{"key" "a"}`, code: codeInvalidJSON},
		{name: "trailing comma", body: `{"key":"a",}`, code: codeInvalidJSON},
		{name: "leading comma", body: `{,"key":"a"}`, code: codeInvalidJSON},
		{name: "bad escape", body: `{"key":"\q"}`, code: codeInvalidJSON},
		{name: "short unicode escape", body: `{"key":"\u00"}`, code: codeInvalidJSON},
		{name: "raw newline", body: "{\"key\":\"a\nb\"}", code: codeInvalidJSON},
		{name: "leading zero", body: `{"key":"a","cost":00}`, code: codeInvalidJSON},
		{name: "bare minus", body: `{"key":"a","cost":-}`, code: codeInvalidJSON},
		{name: "dot without digits", body: `{"key":"a","cost":1.}`, code: codeInvalidJSON},
		{name: "exponent without digits", body: `{"key":"a","cost":1e}`, code: codeInvalidJSON},
		{name: "garbage value", body: `{"key":"a","cost":@}`, code: codeInvalidJSON},
		{name: "garbage after", body: `{"key":"a"}}`, code: codeInvalidJSON},
		{name: "batch unterminated", body: `{"checks":[{"key":"a"}`, code: codeInvalidJSON},
		{name: "batch missing comma", body: `{"checks":[{"key":"a"} {"key":"b"}]}`, code: codeInvalidJSON},
		{name: "checks at end", body: `{"checks":`, code: codeInvalidJSON},
		{name: "key number", body: `{"key":1}`, code: codeInvalidKey},
		{name: "key object", body: `{"key":{}}`, code: codeInvalidKey},
		{name: "key invalid UTF-8", body: "{\"key\":\"\xc3\x28\"}", code: codeInvalidKey},
		{name: "missing key", body: `{"cost":1}`, code: codeMissingKey},
		{name: "empty key", body: `{"key":""}`, code: codeMissingKey},
		{name: "key too long", body: `{"key":"` + strings.Repeat("k", MaxKeyBytes+1) + `"}`, code: codeKeyTooLong},
		{name: "escaped key fits", body: `{"key":"` + strings.Repeat(`\u0041`, MaxKeyBytes) + `"}`, want: []checkReq{{key: strings.Repeat("A", MaxKeyBytes), cost: 1}}},
		{name: "cost string", body: `{"key":"a","cost":"1"}`, code: codeInvalidCost},
		{name: "cost null", body: `{"key":"a","cost":null}`, code: codeInvalidCost},
		{name: "cost negative", body: `{"key":"a","cost":-3}`, code: codeInvalidCost},
		{name: "cost fraction", body: `{"key":"a","cost":0.5}`, code: codeInvalidCost},
		{name: "cost exponent", body: `{"key":"a","cost":1E1}`, code: codeInvalidCost},
		{name: "cost over max", body: `{"key":"a","cost":` + strconv.FormatInt(window.MaxLimit+1, 10) + `}`, code: codeInvalidCost},
		{name: "limit over max", body: `{"key":"a","limit":` + strconv.FormatInt(window.MaxLimit+1, 10) + `}`, code: codeInvalidLimit},
		{name: "largest window", body: `{"key":"a","window_ms":` + strconv.FormatInt(window.MaxWindow.Milliseconds(), 10) + `}`, want: []checkReq{{key: "a", cost: 1, window: window.MaxWindow}}},
		{name: "cost overflow", body: `{"key":"a","cost":123456789012345678901234567890}`, code: codeInvalidCost},
		{name: "limit zero", body: `{"key":"a","limit":0}`, code: codeInvalidLimit},
		{name: "limit array", body: `{"key":"a","limit":[1]}`, code: codeInvalidLimit},
		{name: "window zero", body: `{"key":"a","window_ms":0}`, code: codeInvalidWindow},
		{name: "window over max", body: `{"key":"a","window_ms":` + strconv.FormatInt(window.MaxWindow.Milliseconds()+1, 10) + `}`, code: codeInvalidWindow},
		{name: "unknown field", body: `{"key":"a","ttl":1}`, code: codeUnknownField},
		{name: "case matters", body: `{"Key":"a"}`, code: codeUnknownField},
		{name: "duplicate", body: `{"key":"a","cost":1,"cost":2}`, code: codeDuplicateField},
		{name: "checks and key", body: `{"checks":[],"key":"a"}`, code: codeInvalidRequest},
		{name: "checks string", body: `{"checks":"a"}`, code: codeInvalidChecks},
		{name: "check array", body: `{"checks":[[]]}`, code: codeInvalidChecks},
		{name: "nested checks", body: `{"checks":[{"checks":[]}]}`, code: codeUnknownField},
		{name: "check without key", body: `{"checks":[{}]}`, code: codeMissingKey},
		{name: "check duplicate", body: `{"checks":[{"key":"a","key":"a"}]}`, code: codeDuplicateField},
		{name: "batch too large", body: `{"checks":[` + strings.Repeat(`{"key":"a"},`, MaxBatch) + `{"key":"a"}]}`, code: codeBatchTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var one checkReq
			reqs, isBatch, e := decodeCheckBody([]byte(tc.body), &one, nil)
			if tc.code != "" {
				if e == nil {
					t.Fatalf("accepted: %+v %+v", one, reqs)
				}
				if e.code != tc.code || e.status != 400 || e.message == "" {
					t.Fatalf("error %+v, want code %s", e, tc.code)
				}
				return
			}
			if e != nil {
				t.Fatalf("error %v", e)
			}
			if isBatch != tc.batch {
				t.Fatalf("batch %v, want %v", isBatch, tc.batch)
			}
			got := reqs
			if !isBatch {
				got = []checkReq{one}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("check %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                `"plain"`,
		"q\"b\\":               `"q\"b\\"`,
		"\n\r\t\x01\x1f":       `"\n\r\t\u0001\u001f"`,
		"é€🎉":                  `"é€🎉"`,
		"bad\xffutf8":          `"bad\ufffdutf8"`,
		"line\u2028para\u2029": `"line\u2028para\u2029"`,
		"":                     `""`,
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

func TestCoarseClock(t *testing.T) {
	c := NewCoarseClock(time.Millisecond)
	defer c.Stop()
	first := c.Now()
	if d := time.Since(first); d < 0 || d > time.Second {
		t.Fatalf("clock starts %v away from now", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !c.Now().After(first) {
		if time.Now().After(deadline) {
			t.Fatal("the clock did not tick in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	// It never goes backwards.
	c.Stop()
	stopped := c.Now()
	c.tick(stopped.Add(-time.Hour).UnixNano())
	if !c.Now().Equal(stopped) {
		t.Errorf("a backwards tick moved the clock from %v to %v", stopped, c.Now())
	}
	c.tick(stopped.Add(time.Second).UnixNano())
	if !c.Now().Equal(stopped.Add(time.Second)) {
		t.Errorf("a forward tick: %v", c.Now())
	}
	c.Stop() // twice is fine
}
