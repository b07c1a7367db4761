package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Private (unit-to-unit) calls. A call gets a talkgroup of its own,
// "call:101,102", whose only members are the two units; the KMF keys it for
// them alone, so nobody else (the relay included) can hear it. It ends when
// either party ends it, or the relay removes it when the caller or the
// callee leaves the roster.

const (
	callNamePrefix = "call:"
	callIDFloor    = 59000
	callIDCeiling  = 59999
)

func (sess *session) privateCall(req *pb.PrivateCall) (*pb.PrivateCallResult, error) {
	s := sess.srv
	if req == nil || (req.ToUnit == 0) == (req.End == 0) {
		return nil, fmt.Errorf("%w: name the unit to call, or the call to end", store.ErrInvalid)
	}
	if req.End != 0 {
		res, err := s.endPrivateCall(sess, uint16(req.End))
		s.audit(sess.unit, sess.alias, "private-call.end", fmt.Sprintf("talkgroup %d", req.End), outcome(err), "")
		return res, err
	}
	res, err := s.startPrivateCall(sess, req.ToUnit)
	s.audit(sess.unit, sess.alias, "private-call", fmt.Sprintf("unit %d", req.ToUnit), outcome(err), "")
	return res, err
}

func (s *Server) startPrivateCall(caller *session, callee uint32) (*pb.PrivateCallResult, error) {
	if !protocol.ValidUnitID(callee) || callee == caller.unit {
		return nil, fmt.Errorf("%w: unit %d cannot be called", store.ErrInvalid, callee)
	}
	u, err := s.store.Unit(callee)
	if err != nil {
		return nil, err
	}
	if u.Stunned || !isFieldRole(u.Role) {
		return nil, fmt.Errorf("%w: unit %d (%s) cannot take calls", store.ErrInvalid, callee, u.Alias)
	}
	name := callNamePrefix + strconv.Itoa(int(caller.unit)) + "," + strconv.Itoa(int(callee))
	id := uint16(0)
	for cand := callIDFloor; cand <= callIDCeiling; cand++ {
		if _, err := s.store.Talkgroup(uint16(cand)); errors.Is(err, store.ErrNotFound) {
			id = uint16(cand)
			break
		}
	}
	if id == 0 {
		return nil, fmt.Errorf("%w: too many private calls in progress", store.ErrInvalid)
	}
	if err := s.AddTalkgroup(store.Talkgroup{ID: id, Name: name, Priority: 0}); err != nil {
		return nil, err
	}
	reason := fmt.Sprintf("private call between %s (unit %d) and %s (unit %d) on talkgroup %d", caller.alias, caller.unit, u.Alias, callee, id)
	for _, unit := range []uint32{caller.unit, callee} {
		if err := s.joinTalkgroup(unit, id, false, reason); err != nil {
			s.RemoveTalkgroup(id)
			return nil, err
		}
	}
	s.log.Info("private call", "tg", id, "unit", caller.unit)
	return &pb.PrivateCallResult{Talkgroup: uint32(id), Caller: caller.unit, Callee: callee}, nil
}

// endPrivateCall ends a call; only its two parties may.
func (s *Server) endPrivateCall(by *session, tg uint16) (*pb.PrivateCallResult, error) {
	t, err := s.store.Talkgroup(tg)
	if err != nil {
		return nil, err
	}
	parties, ok := strings.CutPrefix(t.Name, callNamePrefix)
	a, b, ok2 := strings.Cut(parties, ",")
	if !ok || !ok2 {
		return nil, fmt.Errorf("%w: talkgroup %d is not a private call", store.ErrInvalid, tg)
	}
	caller, _ := strconv.ParseUint(a, 10, 32)
	callee, _ := strconv.ParseUint(b, 10, 32)
	if by.unit != uint32(caller) && by.unit != uint32(callee) {
		return nil, fmt.Errorf("%w: unit %d is not a party to the call on talkgroup %d", errNotAllowed, by.unit, tg)
	}
	if err := s.RemoveTalkgroup(tg); err != nil {
		return nil, err
	}
	return &pb.PrivateCallResult{Talkgroup: uint32(tg), Caller: uint32(caller), Callee: uint32(callee)}, nil
}
