package cluster

import (
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/ringlimit/ringlimit/window"
)

// replicateLoop drains the store's local hits every SyncInterval and sends
// them to every alive peer as UDP packets (memberlist SendBestEffort,
// encrypted with the gossip key). It runs beside the hot path: checks only
// append to the store's hit buffer, never wait for this loop.
func (n *Node) replicateLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.SyncInterval)
	defer tick.Stop()
	var (
		hits    []window.Hit
		packets [][]byte
		peers   []member
		idx     = make(map[hitGroup]int)
	)
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		hits = n.store.DrainHits(hits[:0])
		if len(hits) == 0 {
			continue
		}
		peers = n.members.alivePeers(peers[:0])
		if len(peers) == 0 {
			continue // alone: nobody to tell
		}
		hits = aggregateHits(hits, idx)
		packets = appendHitPackets(packets[:0], hits, maxHitPacket)
		n.sendPackets(peers, packets, len(hits))
		clear(hits) // drop key references until the next drain
	}
}

// sendPackets sends every packet to every peer. A packet too big for one
// datagram (a single hit with a huge key) goes over TCP instead.
func (n *Node) sendPackets(peers []member, packets [][]byte, hits int) {
	for _, p := range peers {
		ok := true
		for _, pkt := range packets {
			var err error
			if len(pkt) <= maxHitPacket {
				err = n.ml.SendToAddress(memberlist.Address{Addr: p.GossipAddr, Name: p.Name}, pkt)
			} else {
				err = n.sendReliable(p, pkt)
			}
			if err != nil {
				ok = false
				n.stats.sendErrors.Add(1)
				n.logger.Debug("replicate: send failed", "peer", p.Name, "err", err)
				continue
			}
			n.stats.packetsSent.Add(1)
		}
		if ok {
			n.stats.hitsSent.Add(uint64(hits))
		}
	}
}

func (n *Node) sendReliable(p member, pkt []byte) error {
	host, ps, err := net.SplitHostPort(p.GossipAddr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return err
	}
	return n.ml.SendReliable(&memberlist.Node{Name: p.Name, Addr: net.ParseIP(host), Port: uint16(port)}, pkt)
}

// receiveHits merges a peer's hit packet into the store. memberlist calls
// it from its packet handler; it must not block, and merging is a few
// map operations per hit.
func (n *Node) receiveHits(buf []byte) {
	hits, err := decodeHits(nil, buf)
	if err != nil {
		n.stats.badPackets.Add(1)
		n.logger.Warn("replicate: dropped a corrupt hit packet", "len", len(buf), "err", err)
		return
	}
	now := time.Now()
	var newest int64
	for _, h := range hits {
		if err := n.store.Merge(h.Key, h.Stamp, h.Cost, h.Limit, h.Window); err != nil {
			n.stats.badPackets.Add(1)
			n.logger.Warn("replicate: peer hit rejected", "key", h.Key, "err", err)
			continue
		}
		n.stats.hitsMerged.Add(1)
		newest = max(newest, h.Stamp.UnixNano())
	}
	if newest > 0 {
		n.stats.lastMerge.Store(now.UnixNano())
		n.stats.lastLagNanos.Store(now.UnixNano() - newest)
	}
}
