package server

import (
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/server/store"
)

// Config configures a relay. The zero value of every field but Store and
// Identity is usable; New fills in the defaults given in the comments.
type Config struct {
	// Store holds the roster and live state. Required. The server does not
	// close it.
	Store *store.Store
	// Identity is the relay's own certificate and key. Required.
	Identity *pki.Identity
	// Logger receives the relay's logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time

	// MaxTalkTime is the longest a unit may hold the floor. Default 60 s.
	MaxTalkTime time.Duration
	// EndOfMedia frees the floor when its holder sends no voice for this
	// long. Default 4 s.
	EndOfMedia time.Duration
	// QueueTimeout drops a queued floor request after this long. Default 30 s.
	QueueTimeout time.Duration
	// HangTime keeps a call open after the floor goes idle, so that a reply
	// within it belongs to the same call. Default 3 s.
	HangTime time.Duration
	// ReleaseDrain is how long a release waits for the holder's end-of-burst
	// datagram before it frees the floor anyway, so that a release on the
	// control stream cannot cut off the last frames of the burst. Default 150 ms.
	ReleaseDrain time.Duration
	// MaxQueue is the longest floor queue per talkgroup. Default 8.
	MaxQueue int

	// VoiceQueueLen is each listener's voice queue, in datagrams. Default 64
	// (1.28 s of one talker).
	VoiceQueueLen int
	// ControlQueueLen is each session's outgoing control queue, in messages.
	// A peer that lets it fill is not reading and is disconnected. Default 256.
	ControlQueueLen int
	// FloorRate and FloorBurst limit floor requests per unit. Default 5/s, burst 10.
	FloorRate  float64
	FloorBurst int
	// ControlRate and ControlBurst limit control messages per unit. A unit that
	// goes over ControlFloodLimit refused messages in a row is disconnected.
	// Default 50/s, burst 100, flood limit 100.
	ControlRate       float64
	ControlBurst      int
	ControlFloodLimit int
	// DatagramRate and DatagramBurst limit voice datagrams per unit (a talker
	// sends 50/s). Default 150/s, burst 300.
	DatagramRate  float64
	DatagramBurst int

	// AllowedRoles are the roles that may connect. Default: all five roles.
	AllowedRoles []store.Role
	// PriorityCaps is the highest normal floor priority per role. Emergency
	// calls use 255 and imminent-peril calls 254 whatever the cap. Default:
	// officer 100, dispatcher 200, commander 220, kmf and recorder 0 (they
	// may not transmit).
	PriorityCaps map[store.Role]uint8

	// HandshakeTimeout bounds the QUIC handshake and the wait for Hello.
	// Default 10 s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes a connection that has been silent this long; clients
	// send keep-alives at a third of it. Default 30 s.
	IdleTimeout time.Duration
	// PresenceFlush is how often last-heard times are written to the store.
	// Default 1 s.
	PresenceFlush time.Duration
}

// DefaultPriorityCaps returns the default PriorityCaps.
func DefaultPriorityCaps() map[store.Role]uint8 {
	return map[store.Role]uint8{
		store.RoleOfficer:    100,
		store.RoleDispatcher: 200,
		store.RoleCommander:  220,
		store.RoleKMF:        0,
		store.RoleRecorder:   0,
	}
}

// Emergency priorities, above any normal cap.
const (
	PriorityEmergency     = 255
	PriorityImminentPeril = 254
)

func (c *Config) setDefaults() error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	dur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	dur(&c.MaxTalkTime, 60*time.Second)
	dur(&c.EndOfMedia, 4*time.Second)
	dur(&c.QueueTimeout, 30*time.Second)
	dur(&c.HangTime, 3*time.Second)
	dur(&c.ReleaseDrain, 150*time.Millisecond)
	dur(&c.HandshakeTimeout, 10*time.Second)
	dur(&c.IdleTimeout, 30*time.Second)
	dur(&c.PresenceFlush, time.Second)
	num := func(n *int, def int) {
		if *n == 0 {
			*n = def
		}
	}
	num(&c.MaxQueue, 8)
	num(&c.VoiceQueueLen, 64)
	num(&c.ControlQueueLen, 256)
	num(&c.FloorBurst, 10)
	num(&c.ControlBurst, 100)
	num(&c.ControlFloodLimit, 100)
	num(&c.DatagramBurst, 300)
	rate := func(r *float64, def float64) {
		if *r == 0 {
			*r = def
		}
	}
	rate(&c.FloorRate, 5)
	rate(&c.ControlRate, 50)
	rate(&c.DatagramRate, 150)
	if len(c.AllowedRoles) == 0 {
		c.AllowedRoles = []store.Role{store.RoleOfficer, store.RoleDispatcher, store.RoleCommander, store.RoleKMF, store.RoleRecorder}
	}
	if c.PriorityCaps == nil {
		c.PriorityCaps = DefaultPriorityCaps()
	}
	if c.MaxTalkTime < 0 || c.EndOfMedia < 0 || c.QueueTimeout < 0 || c.HangTime < 0 || c.ReleaseDrain < 0 {
		return fmt.Errorf("server: timers must not be negative")
	}
	if c.VoiceQueueLen < 1 || c.ControlQueueLen < 1 || c.MaxQueue < 0 {
		return fmt.Errorf("server: queue lengths must be positive")
	}
	return nil
}
