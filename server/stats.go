package server

import "sync/atomic"

// DropReason says why the relay dropped a voice datagram.
type DropReason int

// Drop reasons, counted separately.
const (
	DropMalformed   DropReason = iota // header does not parse (short, bad kind, bad ID)
	DropOversize                      // larger than protocol.MaxVoiceDatagram
	DropSpoofed                       // sender field is not the connection's unit
	DropUnknownTG                     // no such talkgroup
	DropNotHolder                     // sender does not hold the talkgroup's floor
	DropRateLimited                   // sender exceeded its datagram rate
	DropQueueFull                     // a listener's queue was full; its oldest datagram was dropped
	DropSendFailed                    // quic-go refused the datagram (too large for the path, closed)
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropMalformed:   "malformed",
	DropOversize:    "oversize",
	DropSpoofed:     "spoofed-sender",
	DropUnknownTG:   "unknown-talkgroup",
	DropNotHolder:   "not-floor-holder",
	DropRateLimited: "rate-limited",
	DropQueueFull:   "listener-queue-full",
	DropSendFailed:  "send-failed",
}

// String names the reason.
func (r DropReason) String() string {
	if r < 0 || r >= numDropReasons {
		return "unknown"
	}
	return dropNames[r]
}

// counters are the relay's running totals, updated with atomics on the hot path.
type counters struct {
	datagramsIn  atomic.Uint64
	forwarded    atomic.Uint64 // datagrams accepted from a floor holder
	queuedOut    atomic.Uint64 // copies queued for listeners
	sent         atomic.Uint64 // copies handed to quic-go
	drops        [numDropReasons]atomic.Uint64
	floorGrants  atomic.Uint64
	floorDenies  atomic.Uint64
	floorQueued  atomic.Uint64
	floorRevokes atomic.Uint64
	sessions     atomic.Int64
	refused      atomic.Uint64
}

// Stats is a snapshot of the relay's counters.
type Stats struct {
	DatagramsIn  uint64
	Forwarded    uint64
	QueuedOut    uint64
	Sent         uint64
	Drops        map[string]uint64 // by DropReason name; zero counts included
	FloorGrants  uint64
	FloorDenies  uint64
	FloorQueued  uint64
	FloorRevokes uint64
	Sessions     int64
	Refused      uint64
}

// Dropped returns the count for one reason.
func (s Stats) Dropped(r DropReason) uint64 { return s.Drops[r.String()] }

func (c *counters) snapshot() Stats {
	st := Stats{
		DatagramsIn:  c.datagramsIn.Load(),
		Forwarded:    c.forwarded.Load(),
		QueuedOut:    c.queuedOut.Load(),
		Sent:         c.sent.Load(),
		Drops:        make(map[string]uint64, numDropReasons),
		FloorGrants:  c.floorGrants.Load(),
		FloorDenies:  c.floorDenies.Load(),
		FloorQueued:  c.floorQueued.Load(),
		FloorRevokes: c.floorRevokes.Load(),
		Sessions:     c.sessions.Load(),
		Refused:      c.refused.Load(),
	}
	for i := range c.drops {
		st.Drops[DropReason(i).String()] = c.drops[i].Load()
	}
	return st
}
