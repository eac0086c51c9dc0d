package loadgen

import "bytes"

var allowedName = []byte("allowed")

// ParseDecisions counts the decisions in a response body of POST /check:
// every object member named "allowed" whose value is true or false. A
// single decision has one; a batch answer {"results":[...]} has one per
// result. ok is false when a member named "allowed" has any other value
// or a string is not terminated.
//
// It does not validate the rest of the JSON: it jumps from quote to quote
// with bytes.IndexByte (so the scan costs little even for a batch of
// 1000 decisions) and relies on the server for well-formed JSON. Escaped
// quotes inside strings are honoured, so a key containing the text
// "allowed":true is never counted; a member name written with \u escapes
// is not recognised.
func ParseDecisions(body []byte) (allowed, denied int, ok bool) {
	i := 0
	for {
		q := bytes.IndexByte(body[i:], '"')
		if q < 0 {
			return allowed, denied, true
		}
		start := i + q + 1
		end, closed := stringEnd(body, start)
		if !closed {
			return allowed, denied, false
		}
		i = end + 1
		if !bytes.Equal(body[start:end], allowedName) {
			continue
		}
		j := skipSpace(body, i)
		if j >= len(body) || body[j] != ':' {
			// A string value "allowed", not a member name.
			continue
		}
		j = skipSpace(body, j+1)
		switch {
		case bytes.HasPrefix(body[j:], []byte("true")):
			allowed++
			i = j + 4
		case bytes.HasPrefix(body[j:], []byte("false")):
			denied++
			i = j + 5
		default:
			return allowed, denied, false
		}
	}
}

// stringEnd returns the index of the quote that closes the string whose
// contents start at start, skipping escaped quotes.
func stringEnd(b []byte, start int) (int, bool) {
	i := start
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return 0, false
		}
		e := i + q
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := e - 1; k >= start && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return e, true
		}
		i = e + 1
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
