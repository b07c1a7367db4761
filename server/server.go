package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Server is a Varta relay. Create it with New, hand it a packet connection
// with Serve, and stop it with Shutdown.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	tls      *tls.Config
	counters counters
	metrics  *metrics
	nextCall atomic.Uint64
	dispatch dispatchState
	// lastMsgID is the last message ID handed out (see nextMessageID).
	lastMsgID atomic.Uint64

	// tgs is the copy-on-write map of live talkgroups, read by the
	// forwarding path without locks. Writers hold mu.
	tgs atomic.Pointer[map[uint16]*talkgroup]

	// adminMu serializes roster changes. It is held across store writes and
	// is never taken on the session or voice paths.
	adminMu sync.Mutex

	mu       sync.Mutex // guards sessions, listener, closing, and writes of tgs
	sessions map[uint32]*session
	listener *quic.Listener
	closing  bool

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // connection handlers and background loops
}

// New validates cfg, fills its defaults and loads the talkgroups from the store.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	if cfg.Identity == nil {
		return nil, ErrNoIdentity
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		store:    cfg.Store,
		tls:      pki.ServerTLSConfig(cfg.Identity, cfg.Now),
		sessions: make(map[uint32]*session),
		metrics:  newMetrics(),
		dispatch: newDispatchState(),
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	tgs, err := s.store.Talkgroups()
	if err != nil {
		return nil, fmt.Errorf("server: load talkgroups: %w", err)
	}
	m := make(map[uint16]*talkgroup, len(tgs))
	for _, t := range tgs {
		m[t.ID] = newTalkgroup(s, t.ID, t.Name, t.Priority)
	}
	s.tgs.Store(&m)
	s.loadPatches(tgs)
	if err := s.loadEmergencies(); err != nil {
		return nil, fmt.Errorf("server: load emergencies: %w", err)
	}
	if err := s.clearStalePresence(); err != nil {
		return nil, err
	}
	return s, nil
}

// clearStalePresence marks offline every unit the store still shows online:
// a relay that was killed could not say they left.
func (s *Server) clearStalePresence() error {
	units, err := s.store.Units()
	if err != nil {
		return fmt.Errorf("server: load units: %w", err)
	}
	now := s.now()
	for _, u := range units {
		p, err := s.store.Presence(u.ID)
		if err != nil || !p.Online {
			continue
		}
		p.Online, p.Since = false, now
		if err := s.store.SetPresence(p); err != nil {
			return fmt.Errorf("server: clear presence of unit %d: %w", u.ID, err)
		}
	}
	return nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// Stats returns a snapshot of the relay's counters.
func (s *Server) Stats() Stats { return s.counters.snapshot() }

// QUICConfig returns the QUIC settings the relay listens with. Clients use
// the same idle timeout and keep-alive.
func (s *Server) QUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  s.cfg.HandshakeTimeout,
		MaxIdleTimeout:        s.cfg.IdleTimeout,
		KeepAlivePeriod:       s.cfg.IdleTimeout / 3,
		EnableDatagrams:       true,
		Allow0RTT:             false,
		MaxIncomingStreams:    1,
		MaxIncomingUniStreams: -1,
	}
}

// Serve accepts connections on pc until ctx is done or Shutdown is called.
// The caller owns pc and closes it after Serve returns.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn) error {
	ln, err := quic.Listen(pc, s.tls, s.QUICConfig())
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.listener = ln
	s.mu.Unlock()
	s.log.Info("relay listening", "addr", pc.LocalAddr().String())

	s.wg.Go(func() { s.flushPresence(s.ctx) })
	stop := context.AfterFunc(ctx, func() { s.Shutdown(context.Background(), "the relay is shutting down") })
	defer stop()
	for {
		conn, err := ln.Accept(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("server: accept: %w", err)
		}
		s.wg.Go(func() { s.handle(conn) })
	}
}

// Shutdown stops accepting connections, tells every connected unit why, and
// waits for the sessions to end or for ctx. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context, reason string) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.cancel(&closeError{protocol.CloseShutdown, reason})
		if s.listener != nil {
			s.listener.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, tg := range *s.tgs.Load() {
		tg.stop()
	}
	return nil
}

// refusal is a reason to refuse a connection, for the person at the radio.
type refusal struct{ reason string }

func (r *refusal) Error() string { return "server: refused: " + r.reason }

// authenticate maps the connection's client certificate to a unit of the
// roster. The TLS layer has already verified the chain to the agency CA and
// the validity period.
func (s *Server) authenticate(conn *quic.Conn) (store.Unit, error) {
	certs := conn.ConnectionState().TLS.PeerCertificates
	if len(certs) == 0 {
		return store.Unit{}, &refusal{"the radio presented no certificate"}
	}
	cert := certs[0]
	if pki.IsServerCert(cert) {
		return store.Unit{}, &refusal{"a relay's own certificate may not connect as a unit"}
	}
	id, err := pki.UnitIDFromCert(cert)
	if err != nil {
		return store.Unit{}, &refusal{"the certificate names no unit (ask the administrator for a new identity file)"}
	}
	u, err := s.store.Unit(id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Unit{}, &refusal{fmt.Sprintf("unit %d is not enrolled in this agency: it was removed or never added (ask the administrator)", id)}
	}
	if err != nil {
		return store.Unit{}, fmt.Errorf("server: look up unit %d: %w", id, err)
	}
	if u.CertFingerprint != pki.Fingerprint(cert) {
		return store.Unit{}, &refusal{fmt.Sprintf("this identity file for unit %d (%s) has been replaced by a newer one (ask the administrator for the current file)", id, u.Alias)}
	}
	if u.Stunned {
		return store.Unit{}, &refusal{fmt.Sprintf("unit %d (%s) is stunned: dispatch has disabled this radio", id, u.Alias)}
	}
	if !slices.Contains(s.cfg.AllowedRoles, u.Role) {
		return store.Unit{}, &refusal{fmt.Sprintf("units with role %s may not connect to this relay", u.Role)}
	}
	return u, nil
}

// handle runs one connection from handshake to close.
func (s *Server) handle(conn *quic.Conn) {
	remote := conn.RemoteAddr().String()
	u, err := s.authenticate(conn)
	if err != nil {
		s.counters.refused.Add(1)
		var r *refusal
		if errors.As(err, &r) {
			s.log.Info("connection refused", "remote", remote, "err", r.reason)
			conn.CloseWithError(quic.ApplicationErrorCode(protocol.CloseRefused), r.reason)
			return
		}
		s.log.Error("authenticate", "remote", remote, "err", err)
		conn.CloseWithError(quic.ApplicationErrorCode(protocol.CloseRefused), "the relay could not check this radio's enrolment; try again")
		return
	}
	sess := s.newSession(s.ctx, conn, u)
	str, r, err := s.openControl(sess)
	if err != nil {
		s.log.Info("session did not start", append(sess.logAttrs(), "err", err)...)
		conn.CloseWithError(quic.ApplicationErrorCode(protocol.CloseProtocol), err.Error())
		return
	}
	if err := s.register(sess); err != nil {
		conn.CloseWithError(quic.ApplicationErrorCode(protocol.CloseShutdown), err.Error())
		return
	}
	// The roster may have changed while the unit said Hello, before roster
	// changes could see this session: check again now that they can.
	if u2, err := s.authenticate(conn); err != nil {
		reason := "the relay could not check this radio's enrolment; try again"
		var r *refusal
		if errors.As(err, &r) {
			reason = r.reason
		}
		sess.cancel(&closeError{protocol.CloseRefused, reason})
	} else if !slices.Equal(u2.Talkgroups, u.Talkgroups) {
		sess.mu.Lock()
		sess.allowed = allowedSet(u2.Talkgroups)
		sess.mu.Unlock()
		s.notifyAffiliation(sess, fmt.Sprintf("the administrator changed the talkgroups of unit %d", u.ID))
	}
	s.counters.sessions.Add(1)
	s.log.Info("unit connected", sess.logAttrs()...)
	s.deliverPending(sess)
	s.setPresence(sess, true)
	sess.run(str, r)
	s.unregister(sess)
	s.counters.sessions.Add(-1)
	s.setPresence(sess, false)
	code, reason := closeReason(context.Cause(sess.ctx))
	s.log.Info("unit disconnected", append(sess.logAttrs(), "code", protocol.CloseCodeName(code), "err", reason)...)
}

// openControl accepts the control stream, reads Hello and queues Welcome.
func (s *Server) openControl(sess *session) (*quic.Stream, *protocol.Reader, error) {
	ctx, cancel := context.WithTimeout(sess.ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	str, err := sess.conn.AcceptStream(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("the radio did not open its control stream in time")
	}
	str.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	r := protocol.NewReader(str)
	r.SetLimit(sess.limit)
	env, err := r.Read()
	if errors.Is(err, protocol.ErrBadMessage) {
		return nil, nil, fmt.Errorf("the first control message could not be decoded; it must be Hello")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the first control message could not be read: %v", err)
	}
	if env.GetHello() == nil || env.Id == 0 {
		return nil, nil, fmt.Errorf("the first control message must be Hello with a request ID")
	}
	str.SetReadDeadline(time.Time{})
	w, err := s.welcome(sess)
	if err != nil {
		return nil, nil, err
	}
	sess.reply(env.Id, &pb.Envelope{Body: &pb.Envelope_Welcome{Welcome: w}})
	return str, r, nil
}

func (s *Server) welcome(sess *session) (*pb.Welcome, error) {
	sess.mu.Lock()
	allowed := make([]uint16, 0, len(sess.allowed))
	for id := range sess.allowed {
		allowed = append(allowed, id)
	}
	sess.mu.Unlock()
	slices.Sort(allowed)
	w := &pb.Welcome{
		Unit: sess.unit, Alias: sess.alias, Role: string(sess.role),
		MaxDatagram:  protocol.MaxVoiceDatagram,
		MaxTalkMs:    uint32(s.cfg.MaxTalkTime.Milliseconds()),
		EndOfMediaMs: uint32(s.cfg.EndOfMedia.Milliseconds()),
		ServerTimeMs: s.now().UnixMilli(),
		PriorityCap:  uint32(sess.prioCap),
		Allowed:      s.talkgroupInfos(allowed),
	}
	return w, nil
}

// talkgroupInfos describes the listed talkgroups that exist.
func (s *Server) talkgroupInfos(ids []uint16) []*pb.TalkgroupInfo {
	tgs := *s.tgs.Load()
	var out []*pb.TalkgroupInfo
	for _, id := range ids {
		if tg := tgs[id]; tg != nil {
			tg.mu.Lock()
			out = append(out, &pb.TalkgroupInfo{Id: uint32(id), Name: tg.name, Priority: uint32(tg.priority)})
			tg.mu.Unlock()
		}
	}
	return out
}

// register makes sess the unit's session, ending an older one.
func (s *Server) register(sess *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errors.New("the relay is shutting down; reconnect later")
	}
	if old := s.sessions[sess.unit]; old != nil {
		old.cancel(&closeError{protocol.CloseReplaced, fmt.Sprintf("unit %d connected again from %s; this connection was closed", sess.unit, sess.remote)})
	}
	s.sessions[sess.unit] = sess
	return nil
}

func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[sess.unit] == sess {
		delete(s.sessions, sess.unit)
	}
}

// session returns the unit's live session, or nil.
func (s *Server) session(unit uint32) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[unit]
}

func (s *Server) setPresence(sess *session, online bool) {
	now := s.now()
	p := store.Presence{Unit: sess.unit, Online: online, Remote: sess.remote, Since: now}
	if h := sess.lastHeard.Load(); h != 0 {
		p.LastHeard = time.Unix(0, h)
	} else if old, err := s.store.Presence(sess.unit); err == nil {
		p.LastHeard = old.LastHeard
	}
	if err := s.store.SetPresence(p); err != nil {
		s.log.Warn("store presence", "unit", sess.unit, "err", err)
	}
}

// flushPresence writes changed last-heard times to the live store every
// PresenceFlush, so the forwarding path never touches the store.
func (s *Server) flushPresence(ctx context.Context) {
	t := time.NewTicker(s.cfg.PresenceFlush)
	defer t.Stop()
	written := make(map[*session]int64)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		live := make([]*session, 0, len(s.sessions))
		for _, sess := range s.sessions {
			live = append(live, sess)
		}
		s.mu.Unlock()
		seen := make(map[*session]int64, len(live))
		for _, sess := range live {
			h := sess.lastHeard.Load()
			seen[sess] = h
			if h != 0 && h != written[sess] {
				if err := s.store.SetLastHeard(sess.unit, time.Unix(0, h)); err != nil {
					s.log.Warn("store last heard", "unit", sess.unit, "err", err)
				}
			}
		}
		written = seen
	}
}
