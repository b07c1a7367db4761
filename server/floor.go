package server

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/varta-ptt/varta/protocol/pb"
)

// talkgroup is one talkgroup's live state: its affiliated members and its
// floor. The forwarding path reads holder, members and lastMedia without
// locks; everything else is guarded by mu, and every change to holder or
// members is made under mu.
//
// Floor semantics follow 3GPP TS 24.380: a request is granted when the
// floor is idle, pre-empts the holder when its priority is strictly higher,
// and is queued by priority then arrival otherwise. A release (or the
// holder's end-of-burst datagram) frees the floor and grants the head of the
// queue. Timers revoke the floor at the maximum talk time and when the holder
// sends no voice for the end-of-media time, and drop queued requests after
// the queue timeout. Hang time keeps the call ID across bursts.
type talkgroup struct {
	id  uint16
	srv *Server

	holder    atomic.Pointer[session]    // floor holder, nil when idle
	members   atomic.Pointer[[]*session] // copy-on-write snapshot of memberSet
	lastMedia atomic.Int64               // Unix nanoseconds of the holder's last datagram

	mu        sync.Mutex
	name      string
	priority  uint8
	removed   bool
	memberSet map[*session]struct{}
	hold      holdInfo // valid while holder is set
	queue     []*floorReq
	callID    uint64 // current call, 0 when no call is open
	gen       uint64 // bumped at every grant and free; stale timers compare it
	// broadcaster is the initiator of a broadcast group call in progress:
	// until the call ends only it may talk (emergencies excepted).
	broadcaster *session

	releasePending bool // holder asked to release; waiting for its end-of-burst datagram
	talkTimer      *time.Timer
	mediaTimer     *time.Timer
	drainTimer     *time.Timer
	hangTimer      *time.Timer
}

type holdInfo struct {
	prio      int
	emergency pb.Emergency
	granted   time.Time
}

// floorReq is a queued floor request.
type floorReq struct {
	s         *session
	prio      int
	emergency pb.Emergency
	at        time.Time
	timer     *time.Timer
}

func newTalkgroup(srv *Server, id uint16, name string, priority uint8) *talkgroup {
	tg := &talkgroup{id: id, srv: srv, name: name, priority: priority, memberSet: make(map[*session]struct{})}
	empty := []*session{}
	tg.members.Store(&empty)
	return tg
}

// effectivePriority is the priority a request competes with.
func effectivePriority(requested, limit int, em pb.Emergency) int {
	switch em {
	case pb.Emergency_EMERGENCY_EMERGENCY:
		return PriorityEmergency
	case pb.Emergency_EMERGENCY_IMMINENT_PERIL:
		return PriorityImminentPeril
	}
	return min(requested, limit)
}

// join affiliates s. A unit joining while someone talks is told who talks at
// once (late entry) and hears the rest of the burst.
func (tg *talkgroup) join(s *session) error {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.removed {
		return fmt.Errorf("talkgroup %d was removed", tg.id)
	}
	if _, ok := tg.memberSet[s]; ok {
		return nil
	}
	tg.memberSet[s] = struct{}{}
	tg.publishMembersLocked()
	if h := tg.holder.Load(); h != nil && h != s {
		s.send(tg.takenLocked(h))
	}
	return nil
}

// leave de-affiliates s: it leaves the members and the queue, and loses the
// floor if it held it. When notify is set, s (still connected) is told of a
// lost floor with cause.
func (tg *talkgroup) leave(s *session, notify bool, cause pb.Cause, reason string) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if _, ok := tg.memberSet[s]; !ok {
		return
	}
	delete(tg.memberSet, s)
	tg.publishMembersLocked()
	if tg.broadcaster == s {
		tg.broadcaster = nil
	}
	if i := tg.queueIndexLocked(s); i >= 0 {
		tg.dequeueLocked(i)
		if notify {
			s.send(floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_DENIED, Talkgroup: uint32(tg.id), Cause: cause, Reason: reason}))
		}
		tg.sendPositionsLocked()
	}
	if tg.holder.Load() == s {
		if notify {
			tg.srv.counters.floorRevokes.Add(1)
			s.send(floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: uint32(tg.id), Cause: cause, Reason: reason}))
		}
		tg.freeLocked()
	}
}

func (tg *talkgroup) publishMembersLocked() {
	ms := make([]*session, 0, len(tg.memberSet))
	for m := range tg.memberSet {
		ms = append(ms, m)
	}
	tg.members.Store(&ms)
}

// request handles a floor request from s and returns the reply. broadcast
// asks for a broadcast group call (the caller checks the right to).
func (tg *talkgroup) request(s *session, requested int, em pb.Emergency, broadcast bool) *pb.FloorResult {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	deny := func(cause pb.Cause, reason string) *pb.FloorResult {
		tg.srv.counters.floorDenies.Add(1)
		return &pb.FloorResult{Talkgroup: uint32(tg.id), Status: pb.FloorStatus_FLOOR_DENIED, Cause: cause, Reason: reason}
	}
	if _, ok := tg.memberSet[s]; !ok {
		return deny(pb.Cause_CAUSE_NOT_AFFILIATED, fmt.Sprintf("unit %d is not affiliated to talkgroup %d (affiliate first)", s.unit, tg.id))
	}
	if s.prioCap == 0 {
		return deny(pb.Cause_CAUSE_NOT_ALLOWED, fmt.Sprintf("units with role %s may not transmit", s.role))
	}
	prio := effectivePriority(requested, s.prioCap, em)
	now := tg.srv.now()
	if b := tg.broadcaster; b != nil && b != s && em == pb.Emergency_EMERGENCY_NONE {
		return deny(pb.Cause_CAUSE_BROADCAST_CALL, fmt.Sprintf("a broadcast call from %s (unit %d) is in progress: only the caller talks", b.alias, b.unit))
	}
	if broadcast {
		// Tentatively: a request that is not granted does not start it.
		prev := tg.broadcaster
		tg.broadcaster = s
		defer func() {
			if tg.holder.Load() != s {
				tg.broadcaster = prev
			}
		}()
	}
	h := tg.holder.Load()
	if h != s && (h == nil || prio > tg.hold.prio) {
		// A queued unit that is granted or pre-empts leaves the queue.
		if i := tg.queueIndexLocked(s); i >= 0 {
			tg.dequeueLocked(i)
			defer tg.sendPositionsLocked()
		}
	}
	switch {
	case h == s:
		if prio > tg.hold.prio || em > tg.hold.emergency {
			// The talker raised its priority or declared an emergency:
			// the members are told.
			tg.hold.prio, tg.hold.emergency = max(prio, tg.hold.prio), max(em, tg.hold.emergency)
			taken := tg.takenLocked(s)
			for m := range tg.memberSet {
				if m != s {
					m.send(taken)
				}
			}
		}
		return tg.grantedResult()
	case h == nil:
		tg.grantLocked(s, prio, em, now)
		return tg.grantedResult()
	case prio > tg.hold.prio:
		tg.srv.counters.floorRevokes.Add(1)
		h.send(floorEvent(&pb.FloorEvent{
			Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: uint32(tg.id), Cause: pb.Cause_CAUSE_PREEMPTED,
			Reason: fmt.Sprintf("pre-empted by %s from %s (unit %d)", callKind(em), s.alias, s.unit),
		}))
		tg.stopHoldTimersLocked()
		tg.holder.Store(nil)
		tg.gen++
		tg.grantLocked(s, prio, em, now)
		return tg.grantedResult()
	}
	// Queue, or move within the queue when already there.
	if i := tg.queueIndexLocked(s); i >= 0 {
		r := tg.queue[i]
		if prio > r.prio {
			r.prio, r.emergency = prio, em
			tg.sortQueueLocked()
			tg.sendPositionsLocked()
		}
	} else {
		if len(tg.queue) >= tg.srv.cfg.MaxQueue {
			return deny(pb.Cause_CAUSE_QUEUE_FULL, fmt.Sprintf("the floor queue of talkgroup %d is full (%d waiting); try again shortly", tg.id, len(tg.queue)))
		}
		r := &floorReq{s: s, prio: prio, emergency: em, at: now}
		tg.queue = append(tg.queue, r)
		tg.sortQueueLocked()
		r.timer = time.AfterFunc(tg.srv.cfg.QueueTimeout, func() { tg.queueTimeout(r) })
		tg.sendPositionsLocked()
	}
	tg.srv.counters.floorQueued.Add(1)
	pos := tg.queueIndexLocked(s) + 1
	return &pb.FloorResult{Talkgroup: uint32(tg.id), Status: pb.FloorStatus_FLOOR_QUEUED, Position: uint32(pos)}
}

func callKind(em pb.Emergency) string {
	switch em {
	case pb.Emergency_EMERGENCY_EMERGENCY:
		return "an emergency call"
	case pb.Emergency_EMERGENCY_IMMINENT_PERIL:
		return "an imminent-peril call"
	}
	return "a higher-priority call"
}

func (tg *talkgroup) grantedResult() *pb.FloorResult {
	return &pb.FloorResult{Talkgroup: uint32(tg.id), Status: pb.FloorStatus_FLOOR_GRANTED, MaxTalkMs: uint32(tg.srv.cfg.MaxTalkTime.Milliseconds())}
}

// grantLocked gives the floor to s, starts the talk and media timers and
// tells the other members who talks. The caller replies to s, or sends it a
// Granted event when the grant comes from the queue.
func (tg *talkgroup) grantLocked(s *session, prio int, em pb.Emergency, now time.Time) {
	tg.srv.counters.floorGrants.Add(1)
	if tg.hangTimer != nil {
		tg.hangTimer.Stop()
		tg.hangTimer = nil
	}
	if tg.callID == 0 {
		tg.callID = tg.srv.nextCall.Add(1)
	}
	tg.gen++
	gen := tg.gen
	tg.hold = holdInfo{prio: prio, emergency: em, granted: now}
	tg.releasePending = false
	tg.lastMedia.Store(now.UnixNano())
	tg.holder.Store(s)
	tg.talkTimer = time.AfterFunc(tg.srv.cfg.MaxTalkTime, func() { tg.talkTimeout(gen) })
	tg.mediaTimer = time.AfterFunc(tg.srv.cfg.EndOfMedia, func() { tg.mediaCheck(gen) })
	taken := tg.takenLocked(s)
	for m := range tg.memberSet {
		if m != s {
			m.send(taken)
		}
	}
}

func (tg *talkgroup) takenLocked(h *session) *pb.Envelope {
	return floorEvent(&pb.FloorEvent{
		Kind: pb.FloorEventKind_FLOOR_EVENT_TAKEN, Talkgroup: uint32(tg.id),
		Talker: h.unit, TalkerAlias: h.alias, Priority: uint32(tg.hold.prio), Emergency: tg.hold.emergency, CallId: tg.callID,
		Broadcast: tg.broadcaster == h,
	})
}

func (tg *talkgroup) stopHoldTimersLocked() {
	for _, t := range []**time.Timer{&tg.talkTimer, &tg.mediaTimer, &tg.drainTimer} {
		if *t != nil {
			(*t).Stop()
			*t = nil
		}
	}
}

// freeLocked ends the holder's burst: the floor goes idle and the head of the
// queue, if any, is granted; otherwise hang time starts.
func (tg *talkgroup) freeLocked() {
	tg.stopHoldTimersLocked()
	tg.holder.Store(nil)
	tg.releasePending = false
	tg.gen++
	idle := floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_IDLE, Talkgroup: uint32(tg.id), CallId: tg.callID})
	for m := range tg.memberSet {
		m.send(idle)
	}
	if tg.removed {
		return
	}
	if len(tg.queue) > 0 {
		r := tg.queue[0]
		tg.dequeueLocked(0)
		now := tg.srv.now()
		tg.grantLocked(r.s, r.prio, r.emergency, now)
		tg.srv.metrics.observeAccess(r.at, now)
		r.s.send(floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_GRANTED, Talkgroup: uint32(tg.id), MaxTalkMs: uint32(tg.srv.cfg.MaxTalkTime.Milliseconds())}))
		tg.sendPositionsLocked()
		return
	}
	gen := tg.gen
	tg.hangTimer = time.AfterFunc(tg.srv.cfg.HangTime, func() { tg.hangEnd(gen) })
}

// revokeLocked takes the floor from its holder with cause.
func (tg *talkgroup) revokeLocked(cause pb.Cause, reason string) {
	h := tg.holder.Load()
	if h == nil {
		return
	}
	tg.srv.counters.floorRevokes.Add(1)
	h.send(floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: uint32(tg.id), Cause: cause, Reason: reason}))
	tg.freeLocked()
}

// release handles a release request from s: a queued request is withdrawn;
// the holder's floor is freed once its end-of-burst datagram has arrived, or
// after ReleaseDrain when that datagram was lost.
func (tg *talkgroup) release(s *session) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if i := tg.queueIndexLocked(s); i >= 0 {
		tg.dequeueLocked(i)
		tg.sendPositionsLocked()
		return
	}
	if tg.holder.Load() != s || tg.releasePending {
		return
	}
	tg.releasePending = true
	gen := tg.gen
	tg.drainTimer = time.AfterFunc(tg.srv.cfg.ReleaseDrain, func() {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		if tg.gen == gen && tg.releasePending {
			tg.freeLocked()
		}
	})
}

// endOfBurst is called from the forwarding path after the holder's
// end-of-burst datagram was queued to every listener.
func (tg *talkgroup) endOfBurst(s *session) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.holder.Load() == s {
		tg.freeLocked()
	}
}

func (tg *talkgroup) talkTimeout(gen uint64) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.gen != gen || tg.holder.Load() == nil {
		return
	}
	tg.revokeLocked(pb.Cause_CAUSE_MAX_TALK_TIME, fmt.Sprintf("the maximum talk time of %s was reached", tg.srv.cfg.MaxTalkTime))
}

func (tg *talkgroup) mediaCheck(gen uint64) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.gen != gen || tg.holder.Load() == nil {
		return
	}
	quiet := tg.srv.now().Sub(time.Unix(0, tg.lastMedia.Load()))
	if quiet >= tg.srv.cfg.EndOfMedia {
		tg.revokeLocked(pb.Cause_CAUSE_NO_MEDIA, fmt.Sprintf("no voice was received for %s", tg.srv.cfg.EndOfMedia))
		return
	}
	tg.mediaTimer = time.AfterFunc(tg.srv.cfg.EndOfMedia-quiet, func() { tg.mediaCheck(gen) })
}

func (tg *talkgroup) hangEnd(gen uint64) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.gen != gen || tg.holder.Load() != nil || tg.callID == 0 {
		return
	}
	ev := floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_CALL_END, Talkgroup: uint32(tg.id), CallId: tg.callID})
	tg.callID = 0
	tg.broadcaster = nil
	tg.hangTimer = nil
	for m := range tg.memberSet {
		m.send(ev)
	}
}

func (tg *talkgroup) queueTimeout(r *floorReq) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	i := slices.Index(tg.queue, r)
	if i < 0 {
		return
	}
	tg.dequeueLocked(i)
	tg.srv.counters.floorDenies.Add(1)
	r.s.send(floorEvent(&pb.FloorEvent{
		Kind: pb.FloorEventKind_FLOOR_EVENT_DENIED, Talkgroup: uint32(tg.id), Cause: pb.Cause_CAUSE_QUEUE_TIMEOUT,
		Reason: fmt.Sprintf("waited %s in the queue without getting the floor; press again to retry", tg.srv.cfg.QueueTimeout),
	}))
	tg.sendPositionsLocked()
}

func (tg *talkgroup) queueIndexLocked(s *session) int {
	return slices.IndexFunc(tg.queue, func(r *floorReq) bool { return r.s == s })
}

// dequeueLocked removes queue entry i and stops its timer.
func (tg *talkgroup) dequeueLocked(i int) {
	if t := tg.queue[i].timer; t != nil {
		t.Stop()
	}
	tg.queue = slices.Delete(tg.queue, i, i+1)
}

// sortQueueLocked orders the queue by priority, then arrival.
func (tg *talkgroup) sortQueueLocked() {
	slices.SortStableFunc(tg.queue, func(a, b *floorReq) int {
		if a.prio != b.prio {
			return b.prio - a.prio
		}
		return a.at.Compare(b.at)
	})
}

// sendPositionsLocked tells every queued unit its position.
func (tg *talkgroup) sendPositionsLocked() {
	for i, r := range tg.queue {
		r.s.send(floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_QUEUED, Talkgroup: uint32(tg.id), Position: uint32(i + 1)}))
	}
}

// remove marks the talkgroup removed: every member is told, the floor and
// the queue are dropped. The caller has already taken it out of the
// server's map, so no new member can join.
func (tg *talkgroup) remove(reason string) []*session {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.removed = true
	for len(tg.queue) > 0 {
		r := tg.queue[0]
		tg.dequeueLocked(0)
		r.s.send(floorEvent(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_DENIED, Talkgroup: uint32(tg.id), Cause: pb.Cause_CAUSE_DEAFFILIATED, Reason: reason}))
	}
	if tg.holder.Load() != nil {
		tg.revokeLocked(pb.Cause_CAUSE_DEAFFILIATED, reason)
	}
	if tg.hangTimer != nil {
		tg.hangTimer.Stop()
		tg.hangTimer = nil
	}
	members := make([]*session, 0, len(tg.memberSet))
	for m := range tg.memberSet {
		members = append(members, m)
	}
	clear(tg.memberSet)
	tg.publishMembersLocked()
	return members
}

// stop cancels every timer; used at shutdown.
func (tg *talkgroup) stop() {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.removed = true
	tg.stopHoldTimersLocked()
	if tg.hangTimer != nil {
		tg.hangTimer.Stop()
	}
	for _, r := range tg.queue {
		if r.timer != nil {
			r.timer.Stop()
		}
	}
}

func floorEvent(ev *pb.FloorEvent) *pb.Envelope {
	return &pb.Envelope{Body: &pb.Envelope_FloorEvent{FloorEvent: ev}}
}
