package server

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ringlimit/ringlimit/window"
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD (keys are checked for UTF-8 on the way in, so this only guards).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ceilDiv returns d/unit rounded up, for d >= 0; negative d is returned as -1.
func ceilDiv(d, unit time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64((d + unit - 1) / unit)
}

// appendDecision appends the JSON of one decision:
// {"key","allowed","limit","remaining","count","window_ms","reset_after_ms","retry_after_ms"}.
// Durations are in milliseconds rounded up; retry_after_ms is -1 when the
// cost exceeds the limit and no wait helps.
func appendDecision(b []byte, key string, d *window.Decision) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, key)
	if d.Allowed {
		b = append(b, `,"allowed":true,"limit":`...)
	} else {
		b = append(b, `,"allowed":false,"limit":`...)
	}
	b = strconv.AppendInt(b, d.Limit, 10)
	b = append(b, `,"remaining":`...)
	b = strconv.AppendInt(b, d.Remaining, 10)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, d.Count, 10)
	b = append(b, `,"window_ms":`...)
	b = strconv.AppendInt(b, ceilDiv(d.Window, time.Millisecond), 10)
	b = append(b, `,"reset_after_ms":`...)
	b = strconv.AppendInt(b, ceilDiv(d.ResetAfter, time.Millisecond), 10)
	b = append(b, `,"retry_after_ms":`...)
	b = strconv.AppendInt(b, ceilDiv(d.RetryAfter, time.Millisecond), 10)
	return append(b, '}')
}

// appendCounter appends the JSON of one counter:
// {"key","count","limit","remaining","window_ms","reset_after_ms"}.
func appendCounter(b []byte, c *window.Counter) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, c.Key)
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, c.Count, 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, c.Limit, 10)
	b = append(b, `,"remaining":`...)
	b = strconv.AppendInt(b, c.Remaining, 10)
	b = append(b, `,"window_ms":`...)
	b = strconv.AppendInt(b, ceilDiv(c.Window, time.Millisecond), 10)
	b = append(b, `,"reset_after_ms":`...)
	b = strconv.AppendInt(b, ceilDiv(c.ResetAfter, time.Millisecond), 10)
	return append(b, '}')
}

// appendPolicy appends the RateLimit-Policy value `"default";q=<limit>;w=<window s>`.
func appendPolicy(b []byte, d *window.Decision) []byte {
	b = append(b, `"default";q=`...)
	b = strconv.AppendInt(b, d.Limit, 10)
	b = append(b, ";w="...)
	return strconv.AppendInt(b, ceilDiv(d.Window, time.Second), 10)
}

// appendRateLimit appends the RateLimit value `"default";r=<remaining>;t=<reset s>`.
func appendRateLimit(b []byte, d *window.Decision) []byte {
	b = append(b, `"default";r=`...)
	b = strconv.AppendInt(b, d.Remaining, 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, ceilDiv(d.ResetAfter, time.Second), 10)
}

// appendError appends {"error":{"code":…,"message":…}}.
func appendError(b []byte, e *apiError) []byte {
	b = append(b, '{')
	b = appendErrorField(b, e)
	return append(b, '}')
}

// appendErrorField appends "error":{"code":…,"message":…}.
func appendErrorField(b []byte, e *apiError) []byte {
	b = append(b, `"error":{"code":`...)
	b = appendJSONString(b, e.code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.message)
	return append(b, '}')
}
