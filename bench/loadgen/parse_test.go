package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseDecisions(t *testing.T) {
	tests := []struct {
		name           string
		body           string
		allowed, denid int
		ok             bool
	}{
		{"allowed", `{"key":"user:1","allowed":true,"limit":100,"remaining":99,"count":1,"window_ms":60000,"reset_after_ms":60000,"retry_after_ms":0}`, 1, 0, true},
		{"denied", `{"key":"user:1","allowed":false,"limit":1,"remaining":0,"count":1,"window_ms":60000,"reset_after_ms":59000,"retry_after_ms":59000}`, 0, 1, true},
		{"spaces", "{ \"allowed\" :\n\ttrue }", 1, 0, true},
		{"batch", `{"results":[{"key":"a","allowed":true},{"key":"b","allowed":false},{"key":"c","allowed":true}]}`, 2, 1, true},
		{"none", `{"error":{"code":"bad_request","message":"allowed"}}`, 0, 0, true},
		{"empty", ``, 0, 0, true},
		{"key looks like a member", `{"key":"\"allowed\":true","allowed":false}`, 0, 1, true},
		{"escaped backslash before quote", `{"key":"a\\","allowed":true}`, 1, 0, true},
		{"value string allowed", `{"k":"allowed","allowed":true}`, 1, 0, true},
		{"null", `{"allowed":null}`, 0, 0, false},
		{"number", `{"allowed":1}`, 0, 0, false},
		{"truncated value", `{"allowed":tr`, 0, 0, false},
		{"unterminated string", `{"key":"abc`, 0, 0, false},
		{"name at end", `{"allowed"`, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, d, ok := ParseDecisions([]byte(tt.body))
			if ok != tt.ok || (ok && (a != tt.allowed || d != tt.denid)) {
				t.Errorf("ParseDecisions(%s) = %d, %d, %v; want %d, %d, %v", tt.body, a, d, ok, tt.allowed, tt.denid, tt.ok)
			}
		})
	}
}

// decodeDecisions is the reference: it walks the JSON tokens and counts
// the members named "allowed" with a boolean value, in any object.
func decodeDecisions(body []byte) (allowed, denied int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		key    bool // the next token is a member name
	}
	var stack []frame
	expectValueOf := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return allowed, denied, true
		}
		if err != nil {
			return 0, 0, false
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].key {
			if d, isDelim := tok.(json.Delim); isDelim && d == '}' {
				stack = stack[:top]
				continue
			}
			expectValueOf = tok.(string)
			stack[top].key = false
			continue
		}
		name := expectValueOf
		expectValueOf = ""
		if name == "allowed" {
			switch tok {
			case true:
				allowed++
			case false:
				denied++
			default:
				return allowed, denied, false
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		if top = len(stack) - 1; top >= 0 && stack[top].object {
			stack[top].key = true
		}
	}
}

func FuzzParseDecisions(f *testing.F) {
	f.Add([]byte(`{"key":"user:1","allowed":true,"limit":100,"remaining":99,"count":1,"window_ms":60000,"reset_after_ms":60000,"retry_after_ms":0}`))
	f.Add([]byte(`{"results":[{"key":"a","allowed":true},{"key":"b","allowed":false}]}`))
	f.Add([]byte(`{"key":"\"allowed\":true","allowed":false}`))
	f.Add([]byte(`{"allowed":{"allowed":true}}`))
	f.Add([]byte(`["allowed",{"x":"allowed"}]`))
	f.Add([]byte(`{"error":{"code":"bad_request","message":"x"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, d, ok := ParseDecisions(body)
		if a < 0 || d < 0 || (a+d)*len(`"allowed":true`) > len(body) {
			t.Fatalf("ParseDecisions(%q) = %d, %d: impossible counts", body, a, d)
		}
		// On valid JSON without escapes (the reference decodes \u escapes
		// in member names, which the fast parser deliberately does not),
		// both must agree.
		if !json.Valid(body) || bytes.IndexByte(body, '\\') >= 0 {
			return
		}
		ra, rd, rok := decodeDecisions(body)
		if ok != rok || (ok && (a != ra || d != rd)) {
			t.Fatalf("ParseDecisions(%q) = %d, %d, %v; reference %d, %d, %v", body, a, d, ok, ra, rd, rok)
		}
	})
}

func TestDecodeDecisionsReference(t *testing.T) {
	// The fuzz oracle must itself be right.
	body := `{"results":[{"key":"a","allowed":true,"x":{"allowed":false}},{"allowed":false}],"allowed":true}`
	if a, d, ok := decodeDecisions([]byte(body)); !ok || a != 2 || d != 2 {
		t.Fatalf("reference = %d, %d, %v; want 2, 2, true", a, d, ok)
	}
	if _, _, ok := decodeDecisions([]byte(`{"allowed":"yes"}`)); ok {
		t.Fatal("reference accepted a string decision")
	}
	if a, _, ok := decodeDecisions([]byte(strings.Repeat(`{"a":["allowed"]}`, 2))); !ok || a != 0 {
		t.Fatalf("reference counted a string value")
	}
}

func BenchmarkParseDecisionsBatch100(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"results":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"key":"bench:1234","allowed":true,"limit":100,"remaining":99,"count":1,"window_ms":60000,"reset_after_ms":60000,"retry_after_ms":0}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if a, _, ok := ParseDecisions(body); !ok || a != 100 {
			b.Fatal("bad parse")
		}
	}
}
