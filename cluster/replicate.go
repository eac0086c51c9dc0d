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

// receiveMsg handles a user message from a peer. memberlist calls it from
// its packet handler (UDP) or a stream handler (TCP); it must not block.
func (n *Node) receiveMsg(buf []byte) {
	if len(buf) > 0 && buf[0] == msgLeave {
		name, err := decodeLeave(buf)
		if err != nil {
			n.stats.badPackets.Add(1)
			n.logger.Warn("gossip: dropped a corrupt leave notice", "err", err)
			return
		}
		n.members.markLeaving(name)
		return
	}
	n.receiveHits(buf)
}

// announceLeave tells every alive peer, over TCP, that this node is
// leaving gracefully, so that they record it as left rather than dead
// once memberlist reports it gone. It waits at most d.
func (n *Node) announceLeave(d time.Duration) {
	peers := n.members.alivePeers(nil)
	if len(peers) == 0 {
		return
	}
	msg := encodeLeave(n.cfg.NodeID)
	done := make(chan struct{}, len(peers))
	for _, p := range peers {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := n.sendReliable(p, msg); err != nil {
				n.logger.Warn("gossip: leave notice not delivered", "peer", p.Name, "err", err)
			}
		}()
	}
	timeout := time.After(d)
	for range peers {
		select {
		case <-done:
		case <-timeout:
			n.logger.Warn("gossip: leave notices still pending", "after", d)
			return
		}
	}
}

// receiveHits merges a peer's hit packet into the store; merging is a few
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
