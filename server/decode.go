package server

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/ringlimit/ringlimit/window"
)

// Limits on requests.
const (
	// MaxKeyBytes is the longest key accepted, in bytes.
	MaxKeyBytes = 1024
	// MaxBatch is the most checks one POST /check may carry.
	MaxBatch = 1000
	// MaxListLimit is the most counters one GET /api/counters returns.
	MaxListLimit = 1000
	// DefaultListLimit is the page size of GET /api/counters without ?limit=.
	DefaultListLimit = 100
)

// checkReq is one decoded check. key aliases the request body (it is
// unescaped in place) and is valid only while the handler runs; the store
// copies a key when it creates it.
type checkReq struct {
	key    string
	cost   int64
	limit  int64         // 0: the store's default
	window time.Duration // 0: the store's default
}

// Fields of a check, as bits of a "seen" mask.
const (
	fieldKey = 1 << iota
	fieldCost
	fieldLimit
	fieldWindow
	fieldChecks
)

// decoder reads one POST /check body. It is a strict, allocation-free
// JSON reader for exactly the shapes the API takes:
//
//	{"key":"…","cost":1,"limit":100,"window_ms":60000}
//	{"checks":[{…},{…}]}
//
// Strings are unescaped in place, so buf is modified. The first problem
// met reading left to right is reported: invalid JSON, a field of the
// wrong type or out of range, an unknown or repeated field.
type decoder struct {
	buf []byte
	pos int
}

// decodeCheckBody decodes body. A single check is stored in *single; a
// batch is appended to batch[:0] and returned with isBatch true. The
// returned slice holds whatever was appended, also on error, so that the
// caller can clear it.
func decodeCheckBody(body []byte, single *checkReq, batch []checkReq) (reqs []checkReq, isBatch bool, err *apiError) {
	reqs = batch[:0]
	d := decoder{buf: body}
	d.ws()
	if d.pos >= len(d.buf) {
		return reqs, false, newError(400, codeInvalidJSON, "empty body: expected a JSON object")
	}
	if d.buf[d.pos] != '{' {
		return reqs, false, d.syntax("expected a JSON object")
	}
	d.pos++
	*single = checkReq{cost: 1}
	seen := 0
	for first := true; ; first = false {
		more, e := d.nextMember(first)
		if e != nil {
			return reqs, false, e
		}
		if !more {
			break
		}
		name, e := d.fieldName()
		if e != nil {
			return reqs, false, e
		}
		var bit int
		switch string(name) {
		case "checks":
			bit = fieldChecks
		default:
			bit = fieldBit(name)
		}
		if bit == 0 {
			return reqs, false, newError(400, codeUnknownField, "unknown field %q", name)
		}
		if seen&bit != 0 {
			return reqs, false, newError(400, codeDuplicateField, "field %q appears twice", name)
		}
		seen |= bit
		if bit == fieldChecks {
			if reqs, e = d.checks(reqs); e != nil {
				return reqs, false, e
			}
			continue
		}
		if e := d.field(bit, single, -1); e != nil {
			return reqs, false, e
		}
	}
	d.ws()
	if d.pos != len(d.buf) {
		return reqs, false, d.syntax("data after the JSON object")
	}
	if seen&fieldChecks != 0 {
		if seen != fieldChecks {
			return reqs, false, newError(400, codeInvalidRequest, "a body has either checks or the fields of one check, not both")
		}
		return reqs, true, nil
	}
	if seen&fieldKey == 0 {
		return reqs, false, newError(400, codeMissingKey, "key is required")
	}
	return reqs, false, nil
}

func fieldBit(name []byte) int {
	switch string(name) {
	case "key":
		return fieldKey
	case "cost":
		return fieldCost
	case "limit":
		return fieldLimit
	case "window_ms":
		return fieldWindow
	}
	return 0
}

// checks reads the array of a batch, appending to reqs.
func (d *decoder) checks(reqs []checkReq) ([]checkReq, *apiError) {
	if d.pos >= len(d.buf) || d.buf[d.pos] != '[' {
		if d.valueStart() {
			return reqs, newError(400, codeInvalidChecks, "checks must be an array of objects")
		}
		return reqs, d.syntax("expected a value")
	}
	d.pos++
	for first := true; ; first = false {
		d.ws()
		if d.pos >= len(d.buf) {
			return reqs, d.syntax("unexpected end of body")
		}
		if d.buf[d.pos] == ']' && first {
			d.pos++
			return reqs, nil
		}
		if !first {
			switch d.buf[d.pos] {
			case ']':
				d.pos++
				return reqs, nil
			case ',':
				d.pos++
				d.ws()
			default:
				return reqs, d.syntax("expected ',' or ']'")
			}
		}
		if len(reqs) == MaxBatch {
			return reqs, newError(400, codeBatchTooLarge, "a batch holds at most %d checks", MaxBatch)
		}
		if d.pos >= len(d.buf) || d.buf[d.pos] != '{' {
			if d.pos < len(d.buf) && d.valueStart() {
				return reqs, newError(400, codeInvalidChecks, "checks[%d] must be an object", len(reqs))
			}
			return reqs, d.syntax("expected a value")
		}
		reqs = append(reqs, checkReq{cost: 1})
		if e := d.checkObject(&reqs[len(reqs)-1], len(reqs)-1); e != nil {
			return reqs, e
		}
	}
}

// checkObject reads one {"key":…} object of a batch; idx names it in errors.
func (d *decoder) checkObject(r *checkReq, idx int) *apiError {
	d.pos++ // '{'
	seen := 0
	for first := true; ; first = false {
		more, e := d.nextMember(first)
		if e != nil {
			return e
		}
		if !more {
			break
		}
		name, e := d.fieldName()
		if e != nil {
			return e
		}
		bit := fieldBit(name)
		if bit == 0 {
			return newError(400, codeUnknownField, "checks[%d]: unknown field %q", idx, name)
		}
		if seen&bit != 0 {
			return newError(400, codeDuplicateField, "checks[%d]: field %q appears twice", idx, name)
		}
		seen |= bit
		if e := d.field(bit, r, idx); e != nil {
			return e
		}
	}
	if seen&fieldKey == 0 {
		return newError(400, codeMissingKey, "checks[%d]: key is required", idx)
	}
	return nil
}

// nextMember moves past the ',' before an object's next member, or past
// the '}' that ends the object, and reports whether a member follows. first
// is true right after the '{'.
func (d *decoder) nextMember(first bool) (more bool, e *apiError) {
	d.ws()
	if d.pos >= len(d.buf) {
		return false, d.syntax("unexpected end of body")
	}
	switch c := d.buf[d.pos]; {
	case c == '}':
		d.pos++
		return false, nil
	case first:
		return true, nil
	case c == ',':
		d.pos++
		d.ws()
		return true, nil
	}
	return false, d.syntax("expected ',' or '}'")
}

// fieldName reads `"name"` and the colon after it.
func (d *decoder) fieldName() ([]byte, *apiError) {
	if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
		return nil, d.syntax("expected a field name")
	}
	name, ok := d.str()
	if !ok {
		return nil, d.syntax("invalid string")
	}
	d.ws()
	if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
		return nil, d.syntax("expected ':'")
	}
	d.pos++
	d.ws()
	return name, nil
}

// field reads the value of one field of a check into r. idx >= 0 names
// the check of a batch in errors.
func (d *decoder) field(bit int, r *checkReq, idx int) *apiError {
	if d.pos >= len(d.buf) {
		return d.syntax("unexpected end of body")
	}
	if bit == fieldKey {
		if d.buf[d.pos] != '"' {
			if d.valueStart() {
				return fieldError(codeInvalidKey, idx, "key must be a string")
			}
			return d.syntax("expected a value")
		}
		s, ok := d.str()
		if !ok {
			return d.syntax("invalid string")
		}
		key, e := validKey(s, idx)
		if e != nil {
			return e
		}
		r.key = key
		return nil
	}
	c := d.buf[d.pos]
	if c != '-' && (c < '0' || c > '9') {
		if d.valueStart() {
			return intError(bit, idx)
		}
		return d.syntax("expected a value")
	}
	v, isInt, ok := d.number()
	if !ok {
		return d.syntax("invalid number")
	}
	if !isInt {
		return intError(bit, idx)
	}
	return setInt(bit, v, r, idx)
}

// setInt checks v against the range of the field bit and stores it in r.
func setInt(bit int, v int64, r *checkReq, idx int) *apiError {
	switch bit {
	case fieldCost:
		if v < 0 || v > window.MaxLimit {
			return intError(bit, idx)
		}
		r.cost = v
	case fieldLimit:
		if v < 1 || v > window.MaxLimit {
			return intError(bit, idx)
		}
		r.limit = v
	case fieldWindow:
		if v < 1 || v > int64(window.MaxWindow/time.Millisecond) {
			return intError(bit, idx)
		}
		r.window = time.Duration(v) * time.Millisecond
	}
	return nil
}

// validKey checks a decoded key and returns it as a string aliasing s.
func validKey(s []byte, idx int) (string, *apiError) {
	switch {
	case len(s) == 0:
		return "", fieldError(codeMissingKey, idx, "key must not be empty")
	case len(s) > MaxKeyBytes:
		return "", fieldError(codeKeyTooLong, idx, "key is "+strconv.Itoa(len(s))+" bytes, longer than "+strconv.Itoa(MaxKeyBytes))
	case !utf8.Valid(s):
		return "", fieldError(codeInvalidKey, idx, "key is not valid UTF-8")
	}
	return unsafe.String(unsafe.SliceData(s), len(s)), nil
}

func fieldError(code string, idx int, msg string) *apiError {
	if idx >= 0 {
		return newError(400, code, "checks[%d]: %s", idx, msg)
	}
	return &apiError{400, code, msg}
}

func intError(bit int, idx int) *apiError {
	switch bit {
	case fieldCost:
		return fieldError(codeInvalidCost, idx, "cost must be an integer from 0 to "+strconv.FormatInt(window.MaxLimit, 10))
	case fieldLimit:
		return fieldError(codeInvalidLimit, idx, "limit must be an integer from 1 to "+strconv.FormatInt(window.MaxLimit, 10))
	default:
		return fieldError(codeInvalidWindow, idx, "window_ms must be an integer from 1 to "+strconv.FormatInt(int64(window.MaxWindow/time.Millisecond), 10))
	}
}

func (d *decoder) syntax(msg string) *apiError {
	return newError(400, codeInvalidJSON, "invalid JSON at byte %d: %s", d.pos, msg)
}

// valueStart reports whether the byte at pos can start a JSON value, so
// that a value of the wrong type is told apart from broken JSON.
func (d *decoder) valueStart() bool {
	if d.pos >= len(d.buf) {
		return false
	}
	switch c := d.buf[d.pos]; {
	case c == '"' || c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n' || c == '-':
		return true
	case c >= '0' && c <= '9':
		return true
	}
	return false
}

func (d *decoder) ws() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// number reads a JSON number at pos. ok is false when the bytes are not a
// JSON number; isInt is false when it has a fraction or an exponent or
// does not fit an int64.
func (d *decoder) number() (v int64, isInt, ok bool) {
	b, i := d.buf, d.pos
	neg := false
	if b[i] == '-' {
		neg = true
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' {
		return 0, false, false
	}
	isInt = true
	var u uint64
	if b[i] == '0' {
		i++
	} else {
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			if u > (math.MaxInt64-9)/10 {
				isInt = false // too large; keep reading the digits
				continue
			}
			u = u*10 + uint64(b[i]-'0')
		}
	}
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, false, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, false, false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	d.pos = i
	v = int64(u)
	if neg {
		v = -v
	}
	return v, isInt, true
}

// str reads the JSON string starting at pos (a '"') and returns its
// unescaped bytes, written in place over the escaped ones. Lone UTF-16
// surrogates become U+FFFD, as encoding/json does; raw bytes are passed
// through (keys are checked for UTF-8 afterwards).
func (d *decoder) str() ([]byte, bool) {
	b := d.buf
	start := d.pos + 1
	i := start
	// Fast path: no escapes.
	for ; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			d.pos = i + 1
			return b[start:i], true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			d.pos = i
			return nil, false
		}
	}
	w := i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return b[start:w], true
		case c < 0x20:
			d.pos = i
			return nil, false
		case c != '\\':
			b[w] = c
			w++
			i++
			continue
		}
		// An escape.
		if i+1 >= len(b) {
			d.pos = i
			return nil, false
		}
		switch b[i+1] {
		case '"', '\\', '/':
			b[w] = b[i+1]
		case 'b':
			b[w] = '\b'
		case 'f':
			b[w] = '\f'
		case 'n':
			b[w] = '\n'
		case 'r':
			b[w] = '\r'
		case 't':
			b[w] = '\t'
		case 'u':
			r, ok := hex4(b, i+2)
			if !ok {
				d.pos = i
				return nil, false
			}
			i += 6
			if r >= 0xD800 && r < 0xDC00 {
				// A high surrogate: combine it with a following low one.
				if r2, ok := hex4(b, i+2); ok && i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' && r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				} else {
					r = utf8.RuneError
				}
			} else if r >= 0xDC00 && r < 0xE000 {
				r = utf8.RuneError
			}
			w += utf8.EncodeRune(b[w:], r)
			continue
		default:
			d.pos = i
			return nil, false
		}
		w++
		i += 2
	}
	d.pos = i
	return nil, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
