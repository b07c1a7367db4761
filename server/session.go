package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// closeError is why a session ended: the application close code and a
// sentence for the person at the other end.
type closeError struct {
	code   uint64
	reason string
}

func (e *closeError) Error() string {
	return fmt.Sprintf("server: session closed (%s): %s", protocol.CloseCodeName(e.code), e.reason)
}

// session is one authenticated unit's connection.
//
// Goroutines: the connection handler (Server.handle) starts readControl
// and readDatagrams and then writes (write): it is the only writer of the
// control stream and the only caller of SendDatagram; everyone else
// enqueues. When the session ends it closes the connection and waits for
// the readers. A radio check the unit asks for waits for its answer in a
// goroutine of its own (radioCheck), which ends with the session at the
// latest.
type session struct {
	srv     *Server
	conn    *quic.Conn // nil in tests that drive the floor without QUIC
	unit    uint32
	alias   string
	role    store.Role
	prioCap int
	remote  string

	ctx    context.Context
	cancel context.CancelCauseFunc
	ctrlQ  chan *pb.Envelope
	voice  *voiceQueue
	limit  int // largest control message either way (protocol.MaxKMFMessageSize for kmf)

	lastHeard atomic.Int64 // Unix nanoseconds of the last accepted voice datagram

	mu      sync.Mutex // guards tgs and allowed
	tgs     map[uint16]*talkgroup
	allowed map[uint16]bool
}

func (s *Server) newSession(ctx context.Context, conn *quic.Conn, u store.Unit) *session {
	sess := &session{
		srv:     s,
		conn:    conn,
		unit:    u.ID,
		alias:   u.Alias,
		role:    u.Role,
		prioCap: int(s.cfg.PriorityCaps[u.Role]),
		ctrlQ:   make(chan *pb.Envelope, s.cfg.ControlQueueLen),
		voice:   newVoiceQueue(s.cfg.VoiceQueueLen),
		limit:   protocol.MaxMessageSize,
		tgs:     make(map[uint16]*talkgroup),
		allowed: allowedSet(u.Talkgroups),
	}
	if u.Role == store.RoleKMF {
		sess.limit = protocol.MaxKMFMessageSize
	}
	if conn != nil {
		sess.remote = conn.RemoteAddr().String()
	}
	sess.ctx, sess.cancel = context.WithCancelCause(ctx)
	return sess
}

func allowedSet(tgs []uint16) map[uint16]bool {
	m := make(map[uint16]bool, len(tgs))
	for _, t := range tgs {
		m[t] = true
	}
	return m
}

// isAllowed reports whether the unit may use talkgroup tg.
func (sess *session) isAllowed(tg uint16) bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.allowed[tg]
}

// send queues env for the control writer. It never blocks: a peer whose
// queue is full has stopped reading and its session is ended.
func (sess *session) send(env *pb.Envelope) {
	select {
	case sess.ctrlQ <- env:
	default:
		sess.cancel(&closeError{protocol.CloseNotReading, "the radio stopped reading its control stream; reconnect"})
	}
}

func (sess *session) reply(id uint64, env *pb.Envelope) {
	env.Id = id
	sess.send(env)
}

func (sess *session) replyError(id uint64, code pb.ErrorCode, reason string) {
	sess.reply(id, &pb.Envelope{Body: &pb.Envelope_Error{Error: &pb.Error{Code: code, Reason: reason}}})
}

// run serves an authenticated session until it ends, then leaves every
// talkgroup. str is the control stream, r its reader (Hello already read).
func (sess *session) run(str *quic.Stream, r *protocol.Reader) {
	// When the session ends, close the connection at once: that unblocks
	// whatever waits in quic-go (a stalled peer can hold SendDatagram or
	// Write, in the writer below).
	context.AfterFunc(sess.ctx, func() {
		code, reason := closeReason(context.Cause(sess.ctx))
		sess.conn.CloseWithError(quic.ApplicationErrorCode(code), reason)
	})
	var wg sync.WaitGroup
	wg.Go(func() { sess.readControl(r) })
	wg.Go(sess.readDatagrams)
	// This goroutine writes until the session ends. Two readers and one
	// writer per unit: every goroutine costs its stack, and an idle relay
	// is mostly sessions.
	sess.write(str)
	sess.leaveAll(false, pb.Cause_CAUSE_NONE, "")
	wg.Wait()
}

// connEndReason says why a connection ended from the relay's side.
func connEndReason(conn *quic.Conn) string {
	var app *quic.ApplicationError
	if errors.As(context.Cause(conn.Context()), &app) && app.Remote {
		return "the radio closed its session"
	}
	return "connection lost: " + fmt.Sprint(context.Cause(conn.Context()))
}

// closeReason turns a session's cancel cause into a close code and reason.
func closeReason(cause error) (uint64, string) {
	var ce *closeError
	if errors.As(cause, &ce) {
		return ce.code, ce.reason
	}
	return protocol.CloseNormal, "session ended"
}

// write is the session's only writer: of the control stream, and (through
// writeVoice) the only caller of SendDatagram. It returns when the session
// ends.
func (sess *session) write(str *quic.Stream) {
	var buf []byte
	for {
		select {
		case <-sess.ctx.Done():
			return
		case <-sess.voice.ready:
			if !sess.writeVoice() {
				return
			}
		case env := <-sess.ctrlQ:
			var err error
			buf, err = protocol.AppendMessageLimit(buf[:0], env, sess.limit)
			if err != nil {
				sess.srv.log.Error("encode control message", "unit", sess.unit, "err", err)
				continue
			}
			// Coalesce what is already queued into one write.
		drain:
			for len(buf) < 16<<10 {
				select {
				case env := <-sess.ctrlQ:
					if buf, err = protocol.AppendMessageLimit(buf, env, sess.limit); err != nil {
						sess.srv.log.Error("encode control message", "unit", sess.unit, "err", err)
					}
				default:
					break drain
				}
			}
			str.SetWriteDeadline(time.Now().Add(sess.srv.cfg.IdleTimeout))
			if _, err := str.Write(buf); err != nil {
				sess.cancel(&closeError{protocol.CloseNotReading, "the control stream could not be written; reconnect"})
				return
			}
		}
	}
}

// readControl reads and handles requests until the stream ends.
func (sess *session) readControl(r *protocol.Reader) {
	cfg := &sess.srv.cfg
	rate, burst := cfg.ControlRate, cfg.ControlBurst
	if sess.role == store.RoleKMF {
		// The KMF sends two requests per talkgroup it rekeys, for every
		// talkgroup at once after a restart or on the periodic rekey.
		rate, burst = rate*kmfControlFactor, burst*kmfControlFactor
	}
	ctrl := newBucket(rate, burst, sess.srv.now())
	floor := newBucket(cfg.FloorRate, cfg.FloorBurst, sess.srv.now())
	refused := 0
	for {
		env, err := r.Read()
		if err != nil {
			switch {
			case errors.Is(err, protocol.ErrBadMessage):
				// The framing is intact; only this message is bad. Its
				// request ID is unknown, so the error is an event (ID 0).
				if !ctrl.allow(sess.srv.now()) {
					if refused++; refused > cfg.ControlFloodLimit {
						sess.cancel(&closeError{protocol.CloseFlood, "too many control messages; the relay disconnected this radio"})
						return
					}
					continue
				}
				sess.replyError(0, pb.ErrorCode_ERROR_BAD_REQUEST, "a control message could not be decoded and was ignored")
				continue
			case errors.Is(err, io.EOF), sess.ctx.Err() != nil:
				sess.cancel(&closeError{protocol.CloseNormal, "the radio closed its session"})
			case errors.Is(err, protocol.ErrTooLarge):
				sess.cancel(&closeError{protocol.CloseProtocol, fmt.Sprintf("a control message was larger than %d bytes", sess.limit)})
			default:
				sess.cancel(&closeError{protocol.CloseProtocol, "the control stream broke: " + err.Error()})
			}
			return
		}
		if !ctrl.allow(sess.srv.now()) {
			refused++
			if refused > cfg.ControlFloodLimit {
				sess.cancel(&closeError{protocol.CloseFlood, "too many control messages; the relay disconnected this radio"})
				return
			}
			// Every request gets its one reply. ControlBurst plus
			// ControlFloodLimit stays below ControlQueueLen, so a flood
			// ends in CloseFlood before the replies could fill the queue.
			if env.Id != 0 {
				sess.replyError(env.Id, pb.ErrorCode_ERROR_RATE_LIMITED, "too many requests; slow down")
			}
			continue
		}
		refused = 0
		sess.handle(env, &floor)
	}
}

// handle carries out one control message. Called only from readControl.
// A request (a message handler knows) needs a request ID; a message of any
// other type is refused as unsupported if it carries one, else ignored.
func (sess *session) handle(env *pb.Envelope, floor *bucket) {
	do := sess.handler(env, floor)
	switch {
	case do == nil:
		if env.Id != 0 {
			sess.replyError(env.Id, pb.ErrorCode_ERROR_UNSUPPORTED, "this relay does not support that message type")
		}
	case env.Id == 0:
		sess.replyError(0, pb.ErrorCode_ERROR_BAD_REQUEST, "a request arrived without a request ID and was ignored")
	default:
		do()
	}
}

// handler returns what carries out the request env, or nil if env is not
// a request this relay serves: its cases are the list of requests.
func (sess *session) handler(env *pb.Envelope, floor *bucket) func() {
	id := env.Id
	switch b := env.Body.(type) {
	case *pb.Envelope_Hello:
		return func() {
			sess.replyError(id, pb.ErrorCode_ERROR_BAD_REQUEST, "the session has already started")
		}
	case *pb.Envelope_Affiliate:
		return func() {
			if b.Affiliate == nil || len(b.Affiliate.Talkgroups) > maxAffiliations {
				sess.replyError(id, pb.ErrorCode_ERROR_BAD_REQUEST, fmt.Sprintf("a unit may affiliate to at most %d talkgroups at once", maxAffiliations))
				return
			}
			sess.reply(id, &pb.Envelope{Body: &pb.Envelope_AffiliateResult{AffiliateResult: sess.affiliate(b.Affiliate.Talkgroups)}})
		}
	case *pb.Envelope_FloorRequest:
		return func() {
			sess.reply(id, &pb.Envelope{Body: &pb.Envelope_FloorResult{FloorResult: sess.requestFloor(b.FloorRequest, floor)}})
		}
	case *pb.Envelope_FloorRelease:
		return func() {
			if b.FloorRelease != nil && protocol.ValidTalkgroupID(b.FloorRelease.Talkgroup) {
				sess.mu.Lock()
				tg := sess.tgs[uint16(b.FloorRelease.Talkgroup)]
				sess.mu.Unlock()
				if tg != nil {
					tg.release(sess)
				}
			}
			sess.reply(id, ack())
		}
	case *pb.Envelope_Ping:
		return func() {
			var ct int64
			if b.Ping != nil {
				ct = b.Ping.ClientTimeMs
			}
			sess.reply(id, &pb.Envelope{Body: &pb.Envelope_Pong{Pong: &pb.Pong{ClientTimeMs: ct, ServerTimeMs: sess.srv.now().UnixMilli()}}})
		}
	case *pb.Envelope_KeyRequest:
		return func() {
			sess.reply(id, &pb.Envelope{Body: &pb.Envelope_KeyBundles{KeyBundles: sess.keyRequest(b.KeyRequest)}})
		}
	case *pb.Envelope_KmfStatusRequest:
		return func() {
			if sess.requireKMF(id) {
				st, err := sess.kmfStatus()
				sess.replyResult(id, err, func() *pb.Envelope { return &pb.Envelope{Body: &pb.Envelope_KmfStatus{KmfStatus: st}} })
			}
		}
	case *pb.Envelope_KmfMembersRequest:
		return func() {
			if sess.requireKMF(id) {
				m, err := sess.kmfMembers(b.KmfMembersRequest)
				sess.replyResult(id, err, func() *pb.Envelope { return &pb.Envelope{Body: &pb.Envelope_KmfMembers{KmfMembers: m}} })
			}
		}
	case *pb.Envelope_PutKeyBundle:
		return func() {
			if sess.requireKMF(id) {
				err := sess.putKeyBundle(b.PutKeyBundle)
				sess.replyResult(id, err, ack)
			}
		}
	case *pb.Envelope_SetStatus:
		return func() {
			if sess.requireField(id, "report a status") {
				sess.replyResult(id, sess.setStatus(b.SetStatus), ack)
			}
		}
	case *pb.Envelope_ReportPosition:
		return func() {
			if sess.requireField(id, "report a position") {
				sess.replyResult(id, sess.reportPosition(b.ReportPosition), ack)
			}
		}
	case *pb.Envelope_RaiseEmergency:
		return func() {
			if sess.requireField(id, "raise an emergency") {
				sess.replyResult(id, sess.raiseEmergency(b.RaiseEmergency), ack)
			}
		}
	case *pb.Envelope_EmergencyAction:
		return func() {
			if sess.requireDispatcher(id, "acknowledge or clear emergencies", "emergency.action", fmt.Sprintf("unit %d", b.EmergencyAction.GetUnit())) {
				sess.replyResult(id, sess.emergencyAction(b.EmergencyAction), ack)
			}
		}
	case *pb.Envelope_ListEmergencies:
		return func() {
			if sess.requireDispatcher(id, "list emergencies", "emergency.list", "") {
				sess.reply(id, &pb.Envelope{Body: &pb.Envelope_Emergencies{Emergencies: sess.srv.emergencies()}})
			}
		}
	case *pb.Envelope_QueryUnits:
		return func() {
			if sess.requireDispatcher(id, "query units", "units.query", "") {
				ul, err := sess.queryUnits(b.QueryUnits)
				sess.replyResult(id, err, func() *pb.Envelope { return &pb.Envelope{Body: &pb.Envelope_UnitList{UnitList: ul}} })
			}
		}
	case *pb.Envelope_UnitAction:
		return func() {
			ua := b.UnitAction
			if sess.requireDispatcher(id, "stun, revive or radio-check units", unitActionName(ua.GetKind()), fmt.Sprintf("unit %d", ua.GetUnit())) {
				if reply, err := sess.unitAction(id, b.UnitAction); reply {
					sess.replyResult(id, err, ack)
				}
			}
		}
	case *pb.Envelope_SendMessage:
		return func() {
			if sess.requireField(id, "send messages") {
				acc, err := sess.sendMessage(b.SendMessage)
				sess.replyResult(id, err, func() *pb.Envelope { return &pb.Envelope{Body: &pb.Envelope_MessageAccepted{MessageAccepted: acc}} })
			}
		}
	case *pb.Envelope_MessageReceipt:
		return func() {
			sess.replyResult(id, sess.messageReceipt(b.MessageReceipt), ack)
		}
	case *pb.Envelope_Regroup:
		return func() {
			if sess.requireDispatcher(id, "regroup units", "regroup", fmt.Sprintf("talkgroup %d", b.Regroup.GetTalkgroup())) {
				sess.replyResult(id, sess.regroup(b.Regroup), ack)
			}
		}
	case *pb.Envelope_Patch:
		return func() {
			if sess.requireDispatcher(id, "patch talkgroups", "patch", "") {
				pr, err := sess.patch(b.Patch)
				sess.replyResult(id, err, func() *pb.Envelope { return &pb.Envelope{Body: &pb.Envelope_PatchResult{PatchResult: pr}} })
			}
		}
	case *pb.Envelope_PrivateCall:
		return func() {
			if sess.requireField(id, "make private calls") {
				pc, err := sess.privateCall(b.PrivateCall)
				sess.replyResult(id, err, func() *pb.Envelope { return &pb.Envelope{Body: &pb.Envelope_PrivateCallResult{PrivateCallResult: pc}} })
			}
		}
	case *pb.Envelope_UnitCertificatesRequest:
		return func() {
			sess.unitCertificates(id, b.UnitCertificatesRequest)
		}
	case *pb.Envelope_RadioCheckReply:
		return func() {
			sess.radioCheckReply(b.RadioCheckReply)
			sess.reply(id, ack())
		}
	}
	return nil
}

func ack() *pb.Envelope { return &pb.Envelope{Body: &pb.Envelope_Ack{Ack: &pb.Ack{}}} }

// requireField refuses field-unit services (status, position, emergency)
// to infrastructure roles (kmf, recorder).
func (sess *session) requireField(id uint64, what string) bool {
	if !isFieldRole(sess.role) {
		sess.replyError(id, pb.ErrorCode_ERROR_NOT_ALLOWED, fmt.Sprintf("units with role %s may not %s", sess.role, what))
		return false
	}
	return true
}

// replyResult replies with ok() or, when err is set, with an Error whose
// code follows the sentinel err matches (errNotAllowed or the store's).
func (sess *session) replyResult(id uint64, err error, ok func() *pb.Envelope) {
	switch {
	case err == nil:
		sess.reply(id, ok())
	case errors.Is(err, errNotAllowed):
		sess.replyError(id, pb.ErrorCode_ERROR_NOT_ALLOWED, err.Error())
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUnknownTalkgroup):
		sess.replyError(id, pb.ErrorCode_ERROR_NOT_FOUND, err.Error())
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrExists):
		sess.replyError(id, pb.ErrorCode_ERROR_BAD_REQUEST, err.Error())
	default:
		sess.srv.log.Error("request failed", "unit", sess.unit, "err", err)
		sess.replyError(id, pb.ErrorCode_ERROR_INTERNAL, "the relay could not carry out the request; try again")
	}
}

// kmfControlFactor scales the control rate limit for kmf units.
const kmfControlFactor = 50

// maxAffiliations caps one unit's affiliation set.
const maxAffiliations = 64

func (sess *session) requestFloor(req *pb.FloorRequest, floor *bucket) *pb.FloorResult {
	if req == nil {
		return &pb.FloorResult{Status: pb.FloorStatus_FLOOR_DENIED, Cause: pb.Cause_CAUSE_UNKNOWN_TALKGROUP, Reason: "the request named no talkgroup"}
	}
	deny := func(cause pb.Cause, reason string) *pb.FloorResult {
		sess.srv.counters.floorDenies.Add(1)
		return &pb.FloorResult{Talkgroup: req.Talkgroup, Status: pb.FloorStatus_FLOOR_DENIED, Cause: cause, Reason: reason}
	}
	if !floor.allow(sess.srv.now()) {
		return deny(pb.Cause_CAUSE_RATE_LIMITED, "too many floor requests; wait a moment and press again")
	}
	if !protocol.ValidTalkgroupID(req.Talkgroup) {
		return deny(pb.Cause_CAUSE_UNKNOWN_TALKGROUP, fmt.Sprintf("talkgroup %d is out of range (1 to %d)", req.Talkgroup, protocol.MaxTalkgroupID))
	}
	if req.Priority > 255 {
		return deny(pb.Cause_CAUSE_NOT_ALLOWED, fmt.Sprintf("priority %d is out of range (0 to 255)", req.Priority))
	}
	sess.mu.Lock()
	tg := sess.tgs[uint16(req.Talkgroup)]
	if p := sess.srv.patchFor(uint16(req.Talkgroup)); p != 0 && tg != nil && sess.tgs[p] != nil {
		// A patched talkgroup talks on its patch, heard on every patched
		// talkgroup; the result names the patch, which the radio seals for.
		tg = sess.tgs[p]
	}
	sess.mu.Unlock()
	if tg == nil {
		return deny(pb.Cause_CAUSE_NOT_AFFILIATED, fmt.Sprintf("unit %d is not affiliated to talkgroup %d (affiliate first)", sess.unit, req.Talkgroup))
	}
	if req.Broadcast && !isDispatcher(sess.role) {
		return deny(pb.Cause_CAUSE_NOT_ALLOWED, fmt.Sprintf("units with role %s may not start broadcast calls (dispatchers and commanders may)", sess.role))
	}
	start := sess.srv.now()
	res := tg.request(sess, int(req.Priority), req.Emergency, req.Broadcast)
	if res.Status == pb.FloorStatus_FLOOR_GRANTED {
		sess.srv.metrics.observeAccess(start, sess.srv.now())
	}
	return res
}

// affiliate replaces the session's affiliation set with want.
func (sess *session) affiliate(want []uint32) *pb.AffiliateResult {
	res := &pb.AffiliateResult{}
	tgs := *sess.srv.tgs.Load()
	next := make(map[uint16]*talkgroup, len(want))
	sess.mu.Lock()
	for _, id := range want {
		a := &pb.Affiliation{Talkgroup: id}
		res.Results = append(res.Results, a)
		switch {
		case !protocol.ValidTalkgroupID(id):
			a.Reason = fmt.Sprintf("talkgroup %d is out of range (1 to %d)", id, protocol.MaxTalkgroupID)
		case tgs[uint16(id)] == nil:
			a.Reason = fmt.Sprintf("talkgroup %d does not exist on this relay", id)
		case !sess.allowed[uint16(id)]:
			a.Reason = fmt.Sprintf("unit %d is not a member of talkgroup %d (ask the administrator to add it)", sess.unit, id)
		default:
			a.Ok = true
			next[uint16(id)] = tgs[uint16(id)]
		}
	}
	var leave []*talkgroup
	for id, tg := range sess.tgs {
		if next[id] == nil {
			leave = append(leave, tg)
		}
	}
	sess.tgs = next
	sess.mu.Unlock()

	for _, tg := range leave {
		tg.leave(sess, true, pb.Cause_CAUSE_DEAFFILIATED, fmt.Sprintf("unit %d left talkgroup %d", sess.unit, tg.id))
	}
	for _, a := range res.Results {
		if !a.Ok {
			continue
		}
		if err := next[uint16(a.Talkgroup)].join(sess); err != nil {
			a.Ok, a.Reason = false, err.Error()
		}
	}
	return res
}

// leaveAll de-affiliates the session from every talkgroup.
func (sess *session) leaveAll(notify bool, cause pb.Cause, reason string) {
	sess.mu.Lock()
	tgs := sess.tgs
	sess.tgs = make(map[uint16]*talkgroup)
	sess.mu.Unlock()
	for _, tg := range tgs {
		tg.leave(sess, notify, cause, reason)
	}
}

// readDatagrams feeds received voice to the forwarding path.
func (sess *session) readDatagrams() {
	cfg := &sess.srv.cfg
	limit := newBucket(cfg.DatagramRate, cfg.DatagramBurst, sess.srv.now())
	for {
		b, err := sess.conn.ReceiveDatagram(sess.ctx)
		if err != nil {
			if sess.ctx.Err() == nil {
				sess.cancel(&closeError{protocol.CloseNormal, connEndReason(sess.conn)})
			}
			return
		}
		sess.srv.counters.datagramsIn.Add(1)
		now := sess.srv.now()
		if !limit.allow(now) {
			sess.srv.counters.drops[DropRateLimited].Add(1)
			continue
		}
		if sess.srv.forward(sess, b, now.UnixNano()) {
			sess.lastHeard.Store(now.UnixNano())
		}
	}
}

// writeVoice sends what the voice queue holds; write is the only caller
// of SendDatagram for this session. A slow peer blocks only its own
// session's writer; its queue drops the oldest datagrams meanwhile. It
// returns false once the session has ended.
func (sess *session) writeVoice() bool {
	for b := sess.voice.pop(); b != nil; b = sess.voice.pop() {
		if err := sess.conn.SendDatagram(b); err != nil {
			sess.srv.counters.drops[DropSendFailed].Add(1)
			if sess.ctx.Err() != nil {
				return false
			}
			continue
		}
		sess.srv.counters.sent.Add(1)
	}
	return true
}

func (sess *session) logAttrs() []any {
	return []any{slog.Uint64("unit", uint64(sess.unit)), slog.String("remote", sess.remote)}
}
