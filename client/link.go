package client

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// LinkConfig configures a Link.
type LinkConfig struct {
	// Client configures each session. Required: Client.Identity.
	Client Config
	// Talkgroups are affiliated on every (re)connect. Empty: every
	// talkgroup the relay says the unit may use.
	Talkgroups []uint32
	// Crypto, if set, fetches the unit's keys on every (re)connect and
	// installs key bundles the relay pushes.
	Crypto *Crypto
	// RetryMin and RetryMax bound the jittered exponential back-off between
	// attempts. Default 200 ms and 15 s.
	RetryMin, RetryMax time.Duration
	// OnState, if set, is told of every connect and disconnect, with the
	// reason. It must not block.
	OnState func(connected bool, err error)
}

// Link keeps a unit connected: it dials, affiliates and fetches keys, and
// when the network or the relay goes away it reconnects by itself with
// jittered back-off. Events and voice of every session arrive on one pair
// of channels. A refusal (the unit was removed, stunned, its certificate
// expired) stops it: retrying would not help.
type Link struct {
	cfg    LinkConfig
	cur    atomic.Pointer[Client]
	events chan *pb.Envelope
	voice  chan []byte
	up     chan struct{} // closed and replaced on each connect
	mu     sync.Mutex    // guards up
	log    *slog.Logger
}

// NewLink returns a Link; call Run to start it.
func NewLink(cfg LinkConfig) *Link {
	if cfg.RetryMin == 0 {
		cfg.RetryMin = 200 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 15 * time.Second
	}
	log := cfg.Client.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Link{
		cfg:    cfg,
		events: make(chan *pb.Envelope, 1024),
		voice:  make(chan []byte, 512),
		up:     make(chan struct{}),
		log:    log,
	}
}

// Client returns the current session, or nil while disconnected.
func (l *Link) Client() *Client { return l.cur.Load() }

// Events delivers the events of every session (key bundles included, after
// they are installed).
func (l *Link) Events() <-chan *pb.Envelope { return l.events }

// Voice delivers the voice datagrams of every session.
func (l *Link) Voice() <-chan []byte { return l.voice }

// Connected returns a channel closed once the link is connected (again).
func (l *Link) Connected() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur.Load() != nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return l.up
}

// Run keeps the link up until ctx is done (it returns nil), the relay
// refuses the unit (it returns the *RefusedError) or the unit connects from
// another device (the *ClosedError with protocol.CloseReplaced).
func (l *Link) Run(ctx context.Context) error {
	backoff := l.cfg.RetryMin
	for ctx.Err() == nil {
		c, err := l.connect(ctx)
		if err == nil {
			backoff = l.cfg.RetryMin
			err = l.pump(ctx, c)
		}
		var refused *RefusedError
		var closed *ClosedError
		if errors.As(err, &refused) || errors.As(err, &closed) && closed.Code == protocol.CloseReplaced || errors.Is(err, pki.ErrServerRejected) {
			// Retrying cannot help: the relay refuses this unit, the same
			// unit is in use on another device, or the relay is not this
			// agency's.
			l.state(false, err)
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		l.state(false, err)
		wait := Jitter(backoff)
		l.log.Info("link down; reconnecting", "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, l.cfg.RetryMax)
	}
	return nil
}

func (l *Link) state(up bool, err error) {
	if l.cfg.OnState != nil {
		l.cfg.OnState(up, err)
	}
}

// connect dials, affiliates and fetches keys.
func (l *Link) connect(ctx context.Context) (*Client, error) {
	c, err := Dial(ctx, l.cfg.Client)
	if err != nil {
		return nil, err
	}
	tgs := l.cfg.Talkgroups
	if len(tgs) == 0 {
		for _, t := range c.Welcome().Allowed {
			tgs = append(tgs, t.Id)
		}
	}
	if len(tgs) > 0 {
		if _, err := c.Affiliate(ctx, tgs...); err != nil {
			c.Close()
			return nil, err
		}
	}
	if l.cfg.Crypto != nil {
		if _, err := l.cfg.Crypto.FetchKeys(ctx, c); err != nil {
			l.log.Warn("fetch keys", "err", err)
		}
	}
	l.mu.Lock()
	l.cur.Store(c)
	close(l.up)
	l.up = make(chan struct{})
	l.mu.Unlock()
	l.state(true, nil)
	return c, nil
}

// pump forwards c's events and voice until the session ends.
func (l *Link) pump(ctx context.Context, c *Client) error {
	defer func() {
		l.cur.Store(nil)
		c.Close()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.Done():
			return c.Err()
		case env := <-c.Events():
			if kb := env.GetKeyBundle(); kb != nil && l.cfg.Crypto != nil {
				if err := l.cfg.Crypto.Install(kb); err != nil {
					l.log.Warn("key bundle refused", "tg", kb.Talkgroup, "err", err)
				}
			}
			if z := env.GetZeroize(); z != nil && l.cfg.Crypto != nil {
				// Stunned: the keys go at once, before anything else.
				l.cfg.Crypto.Zeroize()
				l.log.Warn("keys zeroized by order of the relay", "reason", z.Reason)
			}
			if rc := env.GetRadioCheck(); rc != nil {
				go AnswerRadioCheck(ctx, c, rc)
			}
			if ac := env.GetAffiliationChanged(); ac != nil && l.cfg.Crypto != nil {
				// Keys of talkgroups the unit may no longer use (a dissolved
				// patch, an ended operation) are dropped.
				keep := make(map[uint16]bool, len(ac.Allowed))
				for _, t := range ac.Allowed {
					keep[uint16(t.Id)] = true
				}
				l.cfg.Crypto.ForgetAllBut(keep)
			}
			if tm := env.GetTextMessage(); tm != nil {
				// A delivery receipt: the relay keeps the message queued
				// until the radio has it.
				go c.ConfirmMessage(ctx, tm.Id)
			}
			select {
			case l.events <- env:
			case <-ctx.Done():
				return ctx.Err()
			}
		case b := <-c.Voice():
			select {
			case l.voice <- b:
			default: // the consumer is behind: late voice is worth less than current
			}
		}
	}
}

// Jitter returns a duration uniformly in [d/2, d], so that many radios cut
// off together do not come back in step. Used for every reconnect back-off.
func Jitter(d time.Duration) time.Duration {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d/2)+1))
	if err != nil {
		return d
	}
	return d/2 + time.Duration(n.Int64())
}

// AnswerRadioCheck answers a dispatcher's radio check.
func AnswerRadioCheck(ctx context.Context, c *Client, rc *pb.RadioCheck) error {
	_, err := c.Do(ctx, &pb.Envelope{Body: &pb.Envelope_RadioCheckReply{RadioCheckReply: &pb.RadioCheckReply{Check: rc.Check}}})
	return err
}
