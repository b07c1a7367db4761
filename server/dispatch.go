package server

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Dispatch services: unit status, positions, emergency alarms, queries for
// dispatchers, stun, revive and radio check. Dispatchers and commanders
// receive alarms and status changes as events; every dispatch action is
// written to the audit log.

// radioCheckWait is a radio check waiting for the checked unit's answer.
type radioCheckWait struct {
	unit     uint32
	answered chan struct{}
}

// dispatchState is the relay's live dispatch state.
type dispatchState struct {
	mu          sync.Mutex // guards the fields below; never held across I/O
	emergencies map[uint32]*pb.EmergencyAlarm
	checks      map[uint64]radioCheckWait
	nextCheck   uint64
	regrouped   map[uint16]map[uint32]bool // per talkgroup, the units a regroup added
	patchOf     map[uint16]uint16          // patched talkgroup -> its patch talkgroup
}

// isDispatcher reports whether a role may use the dispatcher services.
func isDispatcher(r store.Role) bool {
	return r == store.RoleDispatcher || r == store.RoleCommander
}

func newDispatchState() dispatchState {
	return dispatchState{
		emergencies: make(map[uint32]*pb.EmergencyAlarm), checks: make(map[uint64]radioCheckWait),
		regrouped: make(map[uint16]map[uint32]bool), patchOf: make(map[uint16]uint16),
	}
}

// isFieldRole reports whether a role is a radio that people use, not
// infrastructure (kmf, recorder): it may send messages, take calls and
// report status, and dispatchers look for it.
func isFieldRole(r store.Role) bool {
	return r != store.RoleKMF && r != store.RoleRecorder
}

// requireDispatcher refuses a request from a unit whose role may not
// dispatch, says why, and records the refusal in the audit log as action
// on target.
func (sess *session) requireDispatcher(id uint64, what, action, target string) bool {
	if isDispatcher(sess.role) {
		return true
	}
	reason := fmt.Sprintf("units with role %s may not %s (dispatchers and commanders may)", sess.role, what)
	sess.replyError(id, pb.ErrorCode_ERROR_NOT_ALLOWED, reason)
	sess.srv.audit(sess.unit, sess.alias, action, target, "refused: "+reason, "")
	return false
}

// unitActionName names a unit action for the audit log.
func unitActionName(k pb.UnitActionKind) string {
	switch k {
	case pb.UnitActionKind_UNIT_STUN:
		return "stun"
	case pb.UnitActionKind_UNIT_REVIVE:
		return "revive"
	case pb.UnitActionKind_UNIT_RADIO_CHECK:
		return "radio-check"
	}
	return "unit-action"
}

// toDispatchers sends env to every connected dispatcher and commander.
func (s *Server) toDispatchers(env *pb.Envelope) {
	s.mu.Lock()
	var ds []*session
	for _, sess := range s.sessions {
		if isDispatcher(sess.role) {
			ds = append(ds, sess)
		}
	}
	s.mu.Unlock()
	for _, d := range ds {
		d.send(env)
	}
}

// audit records an action in the audit log; a failure is logged, never
// hidden.
func (s *Server) audit(actor uint32, actorName, action, target, outcome, detail string) {
	if _, err := s.store.Audit(store.AuditEntry{Actor: actor, ActorName: actorName, Action: action, Target: target, Outcome: outcome, Detail: detail}); err != nil {
		s.log.Error("audit log write failed", "unit", actor, "err", err)
	}
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func (sess *session) setStatus(req *pb.SetStatus) error {
	if req == nil {
		return fmt.Errorf("%w: no status given", store.ErrInvalid)
	}
	now := sess.srv.now()
	err := sess.srv.store.SetStatus(store.UnitStatus{Unit: sess.unit, Code: req.Code, Time: now, By: sess.unit})
	sess.srv.audit(sess.unit, sess.alias, "status", fmt.Sprintf("unit %d", sess.unit), outcome(err), req.Code)
	if err != nil {
		return err
	}
	sess.srv.toDispatchers(&pb.Envelope{Body: &pb.Envelope_UnitStatus{UnitStatus: &pb.UnitStatusEvent{
		Unit: sess.unit, Alias: sess.alias, Code: req.Code, TimeMs: now.UnixMilli(),
	}}})
	return nil
}

func (sess *session) reportPosition(req *pb.ReportPosition) error {
	if req == nil || req.Position == nil {
		return fmt.Errorf("%w: no position given", store.ErrInvalid)
	}
	p := req.Position
	t := time.UnixMilli(p.TimeMs)
	if p.TimeMs == 0 || t.After(sess.srv.now().Add(time.Minute)) {
		t = sess.srv.now()
	}
	return sess.srv.store.SetPosition(store.Position{Unit: sess.unit, Lat: p.Lat, Lon: p.Lon, AccuracyM: p.AccuracyM, Time: t})
}

// raiseEmergency raises the unit's alarm and tells every dispatcher, with
// the unit's last known position.
func (sess *session) raiseEmergency(req *pb.RaiseEmergency) error {
	if req == nil || req.Level == pb.Emergency_EMERGENCY_NONE {
		return fmt.Errorf("%w: an emergency needs a level (emergency or imminent peril)", store.ErrInvalid)
	}
	s := sess.srv
	if req.Position != nil {
		if err := sess.reportPosition(&pb.ReportPosition{Position: req.Position}); err != nil {
			s.log.Warn("emergency position refused", "unit", sess.unit, "err", err)
		}
	}
	alarm := &pb.EmergencyAlarm{
		Unit: sess.unit, Alias: sess.alias, Level: req.Level, Talkgroup: req.Talkgroup,
		State: pb.EmergencyState_EMERGENCY_RAISED, RaisedMs: s.now().UnixMilli(),
		Position: s.lastPosition(sess.unit),
	}
	s.dispatch.mu.Lock()
	if old := s.dispatch.emergencies[sess.unit]; old != nil && old.Level > alarm.Level {
		alarm.Level = old.Level // imminent peril does not downgrade a raised emergency
	}
	s.dispatch.emergencies[sess.unit] = alarm
	s.dispatch.mu.Unlock()
	if err := s.storeEmergency(alarm); err != nil {
		// The alarm still goes out: a store failure must not silence it.
		s.log.Error("store emergency", "unit", sess.unit, "err", err)
	}
	s.audit(sess.unit, sess.alias, "emergency.raise", fmt.Sprintf("unit %d", sess.unit), "ok", req.Level.String())
	s.log.Warn("EMERGENCY raised", "unit", sess.unit, "tg", req.Talkgroup, "level", req.Level.String())
	env := &pb.Envelope{Body: &pb.Envelope_EmergencyAlarm{EmergencyAlarm: alarm}}
	s.toDispatchers(env)
	if !isDispatcher(sess.role) {
		sess.send(env)
	}
	return nil
}

// storeEmergency writes an alarm to the store, so that it stays raised
// across relay restarts until a dispatcher clears it.
func (s *Server) storeEmergency(a *pb.EmergencyAlarm) error {
	e := store.Emergency{
		Unit: a.Unit, Alias: a.Alias, Level: int(a.Level), Talkgroup: uint16(a.Talkgroup),
		State: int(a.State), Raised: time.UnixMilli(a.RaisedMs), By: a.By, ByAlias: a.ByAlias,
	}
	if a.Position != nil {
		e.Lat, e.Lon, e.HasPosition = a.Position.Lat, a.Position.Lon, true
	}
	return s.store.PutEmergency(e)
}

// loadEmergencies restores the raised alarms at start.
func (s *Server) loadEmergencies() error {
	es, err := s.store.Emergencies()
	if err != nil {
		return err
	}
	for _, e := range es {
		a := &pb.EmergencyAlarm{
			Unit: e.Unit, Alias: e.Alias, Level: pb.Emergency(e.Level), Talkgroup: uint32(e.Talkgroup),
			State: pb.EmergencyState(e.State), RaisedMs: e.Raised.UnixMilli(), By: e.By, ByAlias: e.ByAlias,
		}
		if e.HasPosition {
			a.Position = &pb.Position{Lat: e.Lat, Lon: e.Lon}
		}
		s.dispatch.emergencies[e.Unit] = a
	}
	return nil
}

// lastPosition returns a unit's fresh position, or nil.
func (s *Server) lastPosition(unit uint32) *pb.Position {
	p, err := s.store.Position(unit)
	if err != nil {
		return nil
	}
	return &pb.Position{Lat: p.Lat, Lon: p.Lon, AccuracyM: p.AccuracyM, TimeMs: p.Time.UnixMilli()}
}

// emergencyAction acknowledges or clears a unit's emergency.
func (sess *session) emergencyAction(req *pb.EmergencyAction) error {
	if req == nil || (req.Kind != pb.EmergencyActionKind_EMERGENCY_ACK && req.Kind != pb.EmergencyActionKind_EMERGENCY_CLEAR) {
		return fmt.Errorf("%w: say which unit's emergency to acknowledge or clear", store.ErrInvalid)
	}
	s := sess.srv
	action := "emergency.ack"
	if req.Kind == pb.EmergencyActionKind_EMERGENCY_CLEAR {
		action = "emergency.clear"
	}
	pos := s.lastPosition(req.Unit) // read before the lock: it reads the store
	s.dispatch.mu.Lock()
	a := s.dispatch.emergencies[req.Unit]
	if a == nil {
		s.dispatch.mu.Unlock()
		err := fmt.Errorf("%w: unit %d has no emergency raised", store.ErrNotFound, req.Unit)
		s.audit(sess.unit, sess.alias, action, fmt.Sprintf("unit %d", req.Unit), outcome(err), "")
		return err
	}
	next := &pb.EmergencyAlarm{
		Unit: a.Unit, Alias: a.Alias, Level: a.Level, Talkgroup: a.Talkgroup, Position: pos,
		RaisedMs: a.RaisedMs, By: sess.unit, ByAlias: sess.alias, State: pb.EmergencyState_EMERGENCY_ACKNOWLEDGED,
	}
	if next.Position == nil {
		next.Position = a.Position
	}
	if req.Kind == pb.EmergencyActionKind_EMERGENCY_CLEAR {
		next.State = pb.EmergencyState_EMERGENCY_CLEARED
		delete(s.dispatch.emergencies, req.Unit)
	} else {
		s.dispatch.emergencies[req.Unit] = next
	}
	s.dispatch.mu.Unlock()
	var serr error
	if req.Kind == pb.EmergencyActionKind_EMERGENCY_CLEAR {
		serr = s.store.ClearEmergency(req.Unit)
	} else {
		serr = s.storeEmergency(next)
	}
	if serr != nil && !errors.Is(serr, store.ErrNotFound) {
		s.log.Error("store emergency", "unit", req.Unit, "err", serr)
	}
	s.audit(sess.unit, sess.alias, action, fmt.Sprintf("unit %d", req.Unit), "ok", "")
	env := &pb.Envelope{Body: &pb.Envelope_EmergencyAlarm{EmergencyAlarm: next}}
	s.toDispatchers(env)
	if u := s.session(req.Unit); u != nil && !isDispatcher(u.role) {
		u.send(env)
	}
	return nil
}

func (s *Server) emergencies() *pb.Emergencies {
	s.dispatch.mu.Lock()
	defer s.dispatch.mu.Unlock()
	out := &pb.Emergencies{}
	for _, a := range s.dispatch.emergencies {
		out.Alarms = append(out.Alarms, a)
	}
	slices.SortFunc(out.Alarms, func(a, b *pb.EmergencyAlarm) int { return int(a.RaisedMs - b.RaisedMs) })
	return out
}

// queryUnits lists units, or the nearest ones to a point.
func (sess *session) queryUnits(req *pb.QueryUnits) (*pb.UnitList, error) {
	s := sess.srv
	if req == nil {
		req = &pb.QueryUnits{}
	}
	roster := func() (map[uint32]store.Unit, error) {
		units, err := s.store.Units()
		if err != nil {
			return nil, err
		}
		byID := make(map[uint32]store.Unit, len(units))
		for _, u := range units {
			byID[u.ID] = u
		}
		return byID, nil
	}
	status := func(id uint32) string {
		st, err := s.store.Status(id)
		if err != nil {
			return ""
		}
		return st.Code
	}
	info := func(u store.Unit) *pb.UnitInfo {
		ui := &pb.UnitInfo{Unit: u.ID, Alias: u.Alias, Role: string(u.Role), Status: status(u.ID), Stunned: u.Stunned, Position: s.lastPosition(u.ID)}
		for _, t := range u.Talkgroups {
			ui.Talkgroups = append(ui.Talkgroups, uint32(t))
		}
		ui.Online = s.session(u.ID) != nil
		if p, err := s.store.Presence(u.ID); err == nil && !p.LastHeard.IsZero() {
			ui.LastHeardMs = p.LastHeard.UnixMilli()
		}
		return ui
	}
	out := &pb.UnitList{}
	if a := req.Area; a != nil {
		byID, err := roster()
		if err != nil {
			return nil, err
		}
		inside, err := s.store.Within(a.MinLat, a.MinLon, a.MaxLat, a.MaxLon)
		if err != nil {
			return nil, err
		}
		size := 0
		for _, p := range inside {
			u, ok := byID[p.Unit]
			if !ok || (req.AvailableOnly && status(u.ID) != "available") {
				continue
			}
			ui := info(u)
			if size += proto.Size(ui) + 4; size > unitPageBytes {
				break // one page at most: a smaller box lists the rest
			}
			out.Units = append(out.Units, ui)
			if req.Count > 0 && len(out.Units) == int(req.Count) {
				break
			}
		}
		return out, nil
	}
	if req.Near {
		byID, err := roster()
		if err != nil {
			return nil, err
		}
		n := int(req.Count)
		if n == 0 {
			n = 10
		}
		near, err := s.store.Nearest(req.Lat, req.Lon, n, func(unit uint32, st string) bool {
			u, ok := byID[unit]
			if !ok || u.Stunned || !isFieldRole(u.Role) {
				return false
			}
			return !req.AvailableOnly || st == "available"
		})
		if err != nil {
			return nil, err
		}
		for _, nb := range near {
			ui := info(byID[nb.Unit])
			ui.DistanceM = nb.DistanceM
			out.Units = append(out.Units, ui)
		}
		return out, nil
	}
	// All units, in pages that each fit a control message, read from the
	// roster a chunk at a time (a page of a large roster does not read the
	// whole of it).
	size, after := 0, req.After
	for {
		chunk, err := s.store.UnitsAfter(after, unitChunk)
		if err != nil {
			return nil, err
		}
		for _, u := range chunk {
			after = u.ID
			if req.AvailableOnly && status(u.ID) != "available" {
				continue
			}
			ui := info(u)
			n := proto.Size(ui) + 4 // field tag and length
			if size+n > unitPageBytes && len(out.Units) > 0 {
				out.Next = out.Units[len(out.Units)-1].Unit
				return out, nil
			}
			out.Units = append(out.Units, ui)
			size += n
			if req.Count > 0 && len(out.Units) == int(req.Count) {
				return out, nil
			}
		}
		if len(chunk) < unitChunk {
			return out, nil
		}
	}
}

// unitChunk is how many units a page reads from the roster at a time.
const unitChunk = 256

// unitPageBytes bounds one page of a unit list, well inside a control
// message.
const unitPageBytes = 48 << 10

// unitAction stuns, revives or radio-checks a unit. A radio check answers
// later (from its own goroutine), so it returns reply == false.
func (sess *session) unitAction(id uint64, req *pb.UnitAction) (reply bool, err error) {
	if req == nil {
		return true, fmt.Errorf("%w: no action given", store.ErrInvalid)
	}
	s := sess.srv
	target := fmt.Sprintf("unit %d", req.Unit)
	switch req.Kind {
	case pb.UnitActionKind_UNIT_STUN:
		var err error
		if req.Unit == sess.unit {
			err = fmt.Errorf("%w: a unit may not stun itself", store.ErrInvalid)
		} else if u, uerr := s.store.Unit(req.Unit); uerr == nil && u.Role == store.RoleKMF {
			err = fmt.Errorf("%w: unit %d is the key management facility; stunning it would stop all key distribution (remove or re-issue it with vartad instead)", store.ErrInvalid, req.Unit)
		} else {
			err = s.Stun(req.Unit, fmt.Sprintf("stunned by %s (unit %d)", sess.alias, sess.unit))
		}
		s.audit(sess.unit, sess.alias, "stun", target, outcome(err), "")
		return true, err
	case pb.UnitActionKind_UNIT_REVIVE:
		err := s.Revive(req.Unit)
		s.audit(sess.unit, sess.alias, "revive", target, outcome(err), "")
		return true, err
	case pb.UnitActionKind_UNIT_RADIO_CHECK:
		go sess.radioCheck(id, req.Unit)
		return false, nil
	}
	return true, fmt.Errorf("%w: unknown unit action", store.ErrInvalid)
}

// radioCheckTimeout bounds how long a radio check waits for the radio.
const radioCheckTimeout = 5 * time.Second

func (sess *session) radioCheck(id uint64, unit uint32) {
	s := sess.srv
	res := &pb.RadioCheckResult{Unit: unit}
	defer func() {
		s.audit(sess.unit, sess.alias, "radio-check", fmt.Sprintf("unit %d", unit), "ok", fmt.Sprintf("answered=%v %s", res.Answered, res.Reason))
		sess.reply(id, &pb.Envelope{Body: &pb.Envelope_RadioCheckResult{RadioCheckResult: res}})
	}()
	target := s.session(unit)
	if target == nil {
		res.Reason = fmt.Sprintf("unit %d is not connected", unit)
		return
	}
	s.dispatch.mu.Lock()
	s.dispatch.nextCheck++
	check := s.dispatch.nextCheck
	answered := make(chan struct{})
	s.dispatch.checks[check] = radioCheckWait{unit: unit, answered: answered}
	s.dispatch.mu.Unlock()
	defer func() {
		s.dispatch.mu.Lock()
		delete(s.dispatch.checks, check)
		s.dispatch.mu.Unlock()
	}()
	start := time.Now()
	target.send(&pb.Envelope{Body: &pb.Envelope_RadioCheck{RadioCheck: &pb.RadioCheck{Check: check, From: sess.unit, FromAlias: sess.alias}}})
	t := time.NewTimer(radioCheckTimeout)
	defer t.Stop()
	select {
	case <-answered:
		res.Answered = true
		res.RoundTripMs = uint32(time.Since(start).Milliseconds())
	case <-t.C:
		res.Reason = fmt.Sprintf("unit %d did not answer within %s", unit, radioCheckTimeout)
	case <-target.ctx.Done():
		res.Reason = fmt.Sprintf("unit %d disconnected before answering", unit)
	case <-sess.ctx.Done():
	}
}

func (sess *session) radioCheckReply(req *pb.RadioCheckReply) {
	if req == nil {
		return
	}
	s := sess.srv
	s.dispatch.mu.Lock()
	w, ok := s.dispatch.checks[req.Check]
	if ok && w.unit == sess.unit {
		// Only the checked radio can answer its check.
		delete(s.dispatch.checks, req.Check)
		close(w.answered)
	}
	s.dispatch.mu.Unlock()
}

// zeroizeGrace is how long a stunned radio has to receive its zeroize
// order before the relay closes the connection.
const zeroizeGrace = 300 * time.Millisecond

// Stun disables a unit: the relay refuses it from now on (across restarts),
// closes its connection after ordering it to zeroize its keys, and every
// talkgroup it was in gets a new epoch without it.
func (s *Server) Stun(unit uint32, reason string) error {
	s.adminMu.Lock()
	u, err := s.store.SetUnitStunned(unit, true)
	s.adminMu.Unlock()
	if err != nil {
		return err
	}
	if sess := s.session(unit); sess != nil {
		sess.send(&pb.Envelope{Body: &pb.Envelope_Zeroize{Zeroize: &pb.Zeroize{Reason: reason}}})
		time.AfterFunc(zeroizeGrace, func() {
			sess.cancel(&closeError{protocol.CloseRefused, fmt.Sprintf("unit %d (%s) is stunned: dispatch has disabled this radio", unit, u.Alias)})
		})
	}
	s.log.Warn("unit stunned", "unit", unit)
	s.notifyKMF("unit stunned")
	return nil
}

// Revive undoes a stun; the KMF gives the unit keys again.
func (s *Server) Revive(unit uint32) error {
	s.adminMu.Lock()
	u, err := s.store.SetUnitStunned(unit, false)
	s.adminMu.Unlock()
	if err != nil {
		return err
	}
	if !u.Stunned {
		s.log.Info("unit revived", "unit", unit)
	}
	s.notifyKMF("unit revived")
	return nil
}
