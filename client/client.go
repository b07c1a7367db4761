// Package client is the session library that radios, consoles and tools use
// to talk to a Varta relay.
//
// Flow: Dial opens a QUIC connection with the unit's identity, opens the
// control stream, says Hello and waits for Welcome. Requests (Affiliate,
// RequestFloor, ReleaseFloor, Ping) block until their reply. Events pushed
// by the relay arrive on Events; voice datagrams arrive on Voice. When the
// session ends, Done is closed and Err says why, in words for a person.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// Config configures a client session.
type Config struct {
	// Identity is the unit's identity bundle. Required.
	Identity *pki.Identity
	// Addr is the relay's address, host:port. Default: Identity.Server.
	Addr string
	// Software names the client in Hello. Default "varta".
	Software string
	// Logger receives the client's logs. Default: discard.
	Logger *slog.Logger
	// DialTimeout bounds the handshake and Welcome. Default 10 s.
	DialTimeout time.Duration
	// IdleTimeout closes a silent connection; keep-alives go at a third of
	// it. Default 30 s.
	IdleTimeout time.Duration
	// EventBuffer is the size of the Events channel. When it is full the
	// client stops reading the control stream until there is room. Default 1024.
	EventBuffer int
	// VoiceBuffer is the size of the Voice channel; datagrams that find it
	// full are dropped and counted. Default 512.
	VoiceBuffer int
	// PacketConn, if set, is used instead of a new UDP socket. The caller
	// owns it and closes it after Close.
	PacketConn net.PacketConn
	// TLSClock, if set, is the time used to check the relay's certificate.
	TLSClock func() time.Time
}

// Client is one session with a relay. Its methods are safe for concurrent use.
type Client struct {
	cfg     Config
	conn    *quic.Conn
	str     *quic.Stream
	udp     net.PacketConn // owned when we created it
	tr      *quic.Transport
	mmu     sync.Mutex        // guards extraTr
	extraTr []*quic.Transport // transports of migrated paths, closed with the client
	welcome *pb.Welcome
	nextID  atomic.Uint64

	mu      sync.Mutex
	pending map[uint64]chan *pb.Envelope

	out    chan *pb.Envelope
	events chan *pb.Envelope
	voice  chan []byte

	voiceDropped atomic.Uint64

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup
}

// Dial connects to the relay, authenticates and starts the session. A
// refusal by the relay returns a *RefusedError whose message says why.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Identity == nil {
		return nil, errors.New("client: no identity")
	}
	if cfg.Addr == "" {
		cfg.Addr = cfg.Identity.Server
	}
	if cfg.Addr == "" {
		return nil, errors.New("client: no relay address (give --server or put one in the identity file)")
	}
	if cfg.Software == "" {
		cfg.Software = "varta"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.EventBuffer == 0 {
		cfg.EventBuffer = 1024
	}
	if cfg.VoiceBuffer == 0 {
		cfg.VoiceBuffer = 512
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("client: relay address %q: %w", cfg.Addr, err)
	}
	c := &Client{
		cfg:     cfg,
		pending: make(map[uint64]chan *pb.Envelope),
		out:     make(chan *pb.Envelope, 64),
		events:  make(chan *pb.Envelope, cfg.EventBuffer),
		voice:   make(chan []byte, cfg.VoiceBuffer),
	}
	pc := cfg.PacketConn
	if pc == nil {
		laddr := &net.UDPAddr{IP: net.IPv4zero}
		if raddr.IP.To4() == nil {
			laddr = &net.UDPAddr{IP: net.IPv6zero}
		}
		udp, err := net.ListenUDP("udp", laddr)
		if err != nil {
			return nil, fmt.Errorf("client: open UDP socket: %w", err)
		}
		c.udp, pc = udp, udp
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	tlsConf := pki.ClientTLSConfig(cfg.Identity, cfg.TLSClock)
	c.tr = &quic.Transport{Conn: pc}
	conn, err := c.tr.Dial(dctx, raddr, tlsConf, &quic.Config{
		HandshakeIdleTimeout: cfg.DialTimeout,
		MaxIdleTimeout:       cfg.IdleTimeout,
		KeepAlivePeriod:      cfg.IdleTimeout / 3,
		EnableDatagrams:      true,
	})
	if err != nil {
		c.closeUDP()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("client: no answer from the relay at %s within %s (is it running, and is the address right?)", cfg.Addr, cfg.DialTimeout)
		}
		return nil, explain(err)
	}
	c.conn = conn
	if err := c.start(dctx); err != nil {
		conn.CloseWithError(quic.ApplicationErrorCode(protocol.CloseNormal), "")
		c.closeUDP()
		return nil, err
	}
	return c, nil
}

func (c *Client) closeUDP() {
	if c.tr != nil {
		c.tr.Close()
	}
	c.mmu.Lock()
	for _, t := range c.extraTr {
		t.Close()
		t.Conn.Close()
	}
	c.mmu.Unlock()
	if c.udp != nil {
		c.udp.Close()
	}
}

// Migrate moves the session to a new local socket, as a radio does when it
// changes network (Wi-Fi to LTE): the new path is validated with the relay
// and the connection switches to it without a new handshake, keeping the
// session, its affiliations and any call in progress. The client owns pc
// from then on and closes it with the session.
func (c *Client) Migrate(ctx context.Context, pc net.PacketConn) error {
	tr := &quic.Transport{Conn: pc}
	path, err := c.conn.AddPath(tr)
	if err != nil {
		tr.Close()
		return fmt.Errorf("client: add path: %w", err)
	}
	if err := path.Probe(ctx); err != nil {
		path.Close()
		tr.Close()
		return fmt.Errorf("client: the relay did not answer on the new path: %w", err)
	}
	if err := path.Switch(); err != nil {
		path.Close()
		tr.Close()
		return fmt.Errorf("client: switch path: %w", err)
	}
	c.mmu.Lock()
	c.extraTr = append(c.extraTr, tr)
	c.mmu.Unlock()
	return nil
}

// start opens the control stream, exchanges Hello and Welcome and starts the
// session's goroutines.
func (c *Client) start(ctx context.Context) error {
	str, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		return explain(err)
	}
	c.str = str
	b, err := protocol.AppendMessage(nil, &pb.Envelope{Id: 1, Body: &pb.Envelope_Hello{Hello: &pb.Hello{Software: c.cfg.Software}}})
	if err != nil {
		return err
	}
	c.nextID.Store(1)
	if _, err := str.Write(b); err != nil {
		return explain(err)
	}
	r := protocol.NewReader(str)
	r.SetLimit(c.limit())
	type result struct {
		env *pb.Envelope
		err error
	}
	done := make(chan result, 1)
	go func() {
		env, err := r.Read()
		done <- result{env, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		str.CancelRead(0)
		<-done
		return fmt.Errorf("client: the relay did not answer in time: %w", ctx.Err())
	}
	if res.err != nil {
		return explain(res.err)
	}
	switch b := res.env.Body.(type) {
	case *pb.Envelope_Welcome:
		c.welcome = b.Welcome
	case *pb.Envelope_Error:
		return &RefusedError{Reason: b.Error.Reason}
	default:
		return errors.New("client: the relay's first answer was not Welcome")
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	c.wg.Go(func() { c.readControl(r) })
	c.wg.Go(c.writeControl)
	c.wg.Go(c.readVoice)
	context.AfterFunc(c.conn.Context(), func() {
		c.cancel(explain(context.Cause(c.conn.Context())))
	})
	return nil
}

// limit is the largest control message either way: a KMF exchanges whole
// talkgroups' certificates and keys.
func (c *Client) limit() int {
	if c.cfg.Identity.Role == pki.RoleKMF {
		return protocol.MaxKMFMessageSize
	}
	return protocol.MaxMessageSize
}

// Welcome returns what the relay said about this unit at the start.
func (c *Client) Welcome() *pb.Welcome { return c.welcome }

// Unit returns this client's unit ID.
func (c *Client) Unit() uint32 { return c.cfg.Identity.UnitID }

// Events delivers the relay's events (floor events, affiliation changes).
// Read it: a full channel stalls the control stream.
func (c *Client) Events() <-chan *pb.Envelope { return c.events }

// Voice delivers received voice datagrams, header included. Each slice is
// the receiver's to keep.
func (c *Client) Voice() <-chan []byte { return c.voice }

// VoiceDropped counts datagrams dropped because Voice was full.
func (c *Client) VoiceDropped() uint64 { return c.voiceDropped.Load() }

// Done is closed when the session has ended.
func (c *Client) Done() <-chan struct{} { return c.ctx.Done() }

// Err says why the session ended, or nil while it runs.
func (c *Client) Err() error {
	if c.ctx.Err() == nil {
		return nil
	}
	return context.Cause(c.ctx)
}

// Conn returns the underlying QUIC connection, for tests and diagnostics.
func (c *Client) Conn() *quic.Conn { return c.conn }

// Close ends the session and waits for its goroutines.
func (c *Client) Close() error {
	c.cancel(ErrClosed)
	c.conn.CloseWithError(quic.ApplicationErrorCode(protocol.CloseNormal), "client closed")
	c.wg.Wait()
	c.closeUDP()
	return nil
}

// writeControl is the control stream's only writer.
func (c *Client) writeControl() {
	var buf []byte
	for {
		select {
		case <-c.ctx.Done():
			return
		case env := <-c.out:
			var err error
			if buf, err = protocol.AppendMessageLimit(buf[:0], env, c.limit()); err != nil {
				c.fail(env.Id, err)
				continue
			}
			if _, err := c.str.Write(buf); err != nil {
				c.cancel(explain(err))
				return
			}
		}
	}
}

func (c *Client) readControl(r *protocol.Reader) {
	for {
		env, err := r.Read()
		if err != nil {
			c.cancel(explain(err))
			return
		}
		if env.Id != 0 {
			c.mu.Lock()
			ch := c.pending[env.Id]
			delete(c.pending, env.Id)
			c.mu.Unlock()
			if ch != nil {
				ch <- env
			}
			continue
		}
		select {
		case c.events <- env:
		case <-c.ctx.Done():
			return
		}
	}
}

func (c *Client) readVoice() {
	for {
		b, err := c.conn.ReceiveDatagram(c.ctx)
		if err != nil {
			return
		}
		select {
		case c.voice <- b:
		default:
			c.voiceDropped.Add(1)
		}
	}
}

// fail answers a pending request locally with an error.
func (c *Client) fail(id uint64, err error) {
	c.mu.Lock()
	ch := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- &pb.Envelope{Id: id, Body: &pb.Envelope_Error{Error: &pb.Error{Code: pb.ErrorCode_ERROR_BAD_REQUEST, Reason: err.Error()}}}
	}
}

// Do sends a request and waits for its reply. An Error reply is returned as
// a *RequestError. The request's ID is assigned here.
func (c *Client) Do(ctx context.Context, env *pb.Envelope) (*pb.Envelope, error) {
	env.Id = c.nextID.Add(1)
	ch := make(chan *pb.Envelope, 1)
	c.mu.Lock()
	c.pending[env.Id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, env.Id)
		c.mu.Unlock()
	}()
	select {
	case c.out <- env:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	}
	select {
	case reply := <-ch:
		if e := reply.GetError(); e != nil {
			return nil, &RequestError{Code: e.Code, Reason: e.Reason}
		}
		return reply, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	}
}

// Affiliate sets the unit's affiliations to tgs and returns the relay's
// answer for each.
func (c *Client) Affiliate(ctx context.Context, tgs ...uint32) (*pb.AffiliateResult, error) {
	return request(ctx, c, &pb.Envelope{Body: &pb.Envelope_Affiliate{Affiliate: &pb.Affiliate{Talkgroups: tgs}}}, (*pb.Envelope).GetAffiliateResult, "Affiliate")
}

// request sends env like Do and returns the body of the reply that get
// picks out, or an error saying the reply to what was unexpected when the
// relay answered with another body.
func request[T any](ctx context.Context, c *Client, env *pb.Envelope, get func(*pb.Envelope) *T, what string) (*T, error) {
	reply, err := c.Do(ctx, env)
	if err != nil {
		return nil, err
	}
	if r := get(reply); r != nil {
		return r, nil
	}
	return nil, errors.New("client: unexpected reply to " + what)
}

// RequestFloor asks for the floor of tg. The result is Granted, Queued (a
// later Granted event follows) or Denied with a cause and reason.
func (c *Client) RequestFloor(ctx context.Context, tg, priority uint32, em pb.Emergency) (*pb.FloorResult, error) {
	return c.requestFloor(ctx, &pb.FloorRequest{Talkgroup: tg, Priority: priority, Emergency: em})
}

func (c *Client) requestFloor(ctx context.Context, fr *pb.FloorRequest) (*pb.FloorResult, error) {
	return request(ctx, c, &pb.Envelope{Body: &pb.Envelope_FloorRequest{FloorRequest: fr}}, (*pb.Envelope).GetFloorResult, "FloorRequest")
}

// ReleaseFloor releases the floor of tg, or withdraws a queued request.
func (c *Client) ReleaseFloor(ctx context.Context, tg uint32) error {
	_, err := c.Do(ctx, &pb.Envelope{Body: &pb.Envelope_FloorRelease{FloorRelease: &pb.FloorRelease{Talkgroup: tg}}})
	return err
}

// Ping measures the control round trip.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	_, err := c.Do(ctx, &pb.Envelope{Body: &pb.Envelope_Ping{Ping: &pb.Ping{ClientTimeMs: start.UnixMilli()}}})
	return time.Since(start), err
}

// SendVoice sends one voice datagram (header and sealed frame). It blocks
// while quic-go's datagram queue is full.
func (c *Client) SendVoice(b []byte) error {
	if err := c.conn.SendDatagram(b); err != nil {
		return fmt.Errorf("client: send voice: %w", err)
	}
	return nil
}
