package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// metaVersion is the first byte of the node metadata.
const metaVersion byte = 1

// nodeMeta is what a node gossips about itself in memberlist's node
// metadata (at most memberlist.MetaMaxSize = 512 bytes).
type nodeMeta struct {
	HTTPAddr string // where its HTTP API answers forwarded resets
	RaftAddr string // its Raft transport address
	RaftID   string // its Raft server ID
}

// encodeMeta encodes m: a version byte and three length-prefixed strings.
func encodeMeta(m nodeMeta) ([]byte, error) {
	buf := make([]byte, 0, 8+len(m.HTTPAddr)+len(m.RaftAddr)+len(m.RaftID))
	buf = append(buf, metaVersion)
	for _, s := range []string{m.HTTPAddr, m.RaftAddr, m.RaftID} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	if len(buf) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, more than memberlist's %d: shorten the node ID or addresses", len(buf), memberlist.MetaMaxSize)
	}
	return buf, nil
}

// decodeMeta decodes node metadata. Bytes after the three fields are
// ignored, so version 1 can grow fields at its end.
func decodeMeta(buf []byte) (nodeMeta, error) {
	r := reader{buf: buf}
	if v := r.byte(); r.err == nil && v != metaVersion {
		return nodeMeta{}, fmt.Errorf("%w: node metadata version %d", errCorrupt, v)
	}
	m := nodeMeta{HTTPAddr: r.string(), RaftAddr: r.string(), RaftID: r.string()}
	if r.err != nil {
		return nodeMeta{}, fmt.Errorf("node metadata: %w", r.err)
	}
	return m, nil
}
