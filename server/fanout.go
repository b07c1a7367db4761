package server

import (
	"errors"

	"github.com/varta-ptt/varta/protocol"
)

// forward is the hot path: one voice datagram b received from session from.
// It parses the clear header, checks that from is the unit named in it and
// holds the floor of its talkgroup, and queues b, unchanged and shared, to
// every other affiliated member. It reports whether b was accepted.
//
// It takes no global lock, does not log, does not touch the store and does
// not allocate. Called only from from's datagram reader.
func (s *Server) forward(from *session, b []byte, nowNanos int64) bool {
	h, _, err := protocol.ParseVoiceHeader(b)
	if err != nil {
		if errors.Is(err, protocol.ErrTooLarge) {
			s.counters.drops[DropOversize].Add(1)
		} else {
			s.counters.drops[DropMalformed].Add(1)
		}
		return false
	}
	if h.Sender != from.unit {
		s.counters.drops[DropSpoofed].Add(1)
		return false
	}
	tg := (*s.tgs.Load())[h.Talkgroup]
	if tg == nil {
		s.counters.drops[DropUnknownTG].Add(1)
		return false
	}
	if tg.holder.Load() != from {
		s.counters.drops[DropNotHolder].Add(1)
		return false
	}
	tg.lastMedia.Store(nowNanos)
	var out, dropped uint64
	for _, m := range *tg.members.Load() {
		if m == from {
			continue
		}
		if m.voice.push(b) {
			dropped++
		}
		out++
	}
	s.counters.forwarded.Add(1)
	s.counters.queuedOut.Add(out)
	if dropped > 0 {
		s.counters.drops[DropQueueFull].Add(dropped)
	}
	if h.Flags&protocol.FlagEndOfBurst != 0 {
		tg.endOfBurst(from)
	}
	return true
}
