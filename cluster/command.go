package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Raft command types: the first byte of every log entry the FSM applies.
// New types are appended; a number is never reused.
const (
	cmdReset byte = 1 // body: uvarint len(key), key, varint at (unix nanos)
)

// maxKeyLen bounds a key in a command or a hit batch, so a corrupt length
// cannot make a decoder allocate much.
const maxKeyLen = 1 << 16

// errCorrupt is wrapped by every decoder error.
var errCorrupt = errors.New("cluster: corrupt encoding")

// resetCommand clears key on every replica at the instant At (unix nanos),
// taken by the leader when it accepted the reset.
type resetCommand struct {
	Key string
	At  int64
}

// encodeReset appends the log entry of c to dst.
func encodeReset(dst []byte, c resetCommand) []byte {
	dst = append(dst, cmdReset)
	dst = binary.AppendUvarint(dst, uint64(len(c.Key)))
	dst = append(dst, c.Key...)
	return binary.AppendVarint(dst, c.At)
}

// decodeCommand decodes one log entry. Every byte must be used.
func decodeCommand(buf []byte) (resetCommand, error) {
	if len(buf) == 0 {
		return resetCommand{}, fmt.Errorf("%w: empty command", errCorrupt)
	}
	switch buf[0] {
	case cmdReset:
		r := reader{buf: buf[1:]}
		key := r.string()
		at := r.varint()
		if err := r.done(); err != nil {
			return resetCommand{}, fmt.Errorf("reset command: %w", err)
		}
		if key == "" {
			return resetCommand{}, fmt.Errorf("%w: reset command with an empty key", errCorrupt)
		}
		return resetCommand{Key: key, At: at}, nil
	default:
		return resetCommand{}, fmt.Errorf("%w: unknown command type %d", errCorrupt, buf[0])
	}
}

// reader decodes varints and length-prefixed strings; the first error
// sticks and later reads return zero values. Overlong varints are
// rejected, so every value has exactly one encoding.
type reader struct {
	buf []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errCorrupt, what)
	}
	r.buf = nil
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf)
	if n <= 0 || (n > 1 && r.buf[n-1] == 0) {
		r.fail("bad uvarint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.buf)
	if n <= 0 || (n > 1 && r.buf[n-1] == 0) {
		r.fail("bad varint")
		return 0
	}
	r.buf = r.buf[n:]
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.buf) == 0 {
		r.fail("short buffer")
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > maxKeyLen || n > uint64(len(r.buf)) {
		r.fail("string length out of range")
		return ""
	}
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

// done reports the sticky error, or an error if bytes are left over.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(r.buf))
	}
	return nil
}
