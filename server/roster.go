package server

import (
	"fmt"
	"maps"
	"slices"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Roster is the set of administrative operations on units and talkgroups.
// *store.Store implements it for a stopped relay; *Server implements it for
// a running one, applying each change to the store (fsynced) first and then
// to the live sessions; AdminClient implements it over the admin socket.
type Roster interface {
	AddTalkgroup(store.Talkgroup) error
	RemoveTalkgroup(id uint16) error
	Talkgroups() ([]store.Talkgroup, error)
	AddUnit(store.Unit) error
	RemoveUnit(id uint32) error
	Unit(id uint32) (store.Unit, error)
	Units() ([]store.Unit, error)
	SetUnitTalkgroups(id uint32, tgs []uint16) (store.Unit, error)
	ReplaceUnitCredentials(id uint32, fingerprint string, hpke, signing, cert []byte) (store.Unit, error)
}

var (
	_ Roster = (*store.Store)(nil)
	_ Roster = (*Server)(nil)
)

// AddTalkgroup stores tg and opens it for affiliation.
func (s *Server) AddTalkgroup(tg store.Talkgroup) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.store.AddTalkgroup(tg); err != nil {
		s.adminAudit("talkgroup.add", fmt.Sprintf("talkgroup %d", tg.ID), err)
		return err
	}
	s.adminAudit("talkgroup.add", fmt.Sprintf("talkgroup %d", tg.ID), nil)
	s.mu.Lock()
	m := maps.Clone(*s.tgs.Load())
	m[tg.ID] = newTalkgroup(s, tg.ID, tg.Name, tg.Priority)
	s.tgs.Store(&m)
	s.mu.Unlock()
	s.log.Info("talkgroup added", "tg", tg.ID)
	s.notifyKMF("talkgroup added")
	return nil
}

// RemoveTalkgroup deletes the talkgroup: its talker loses the floor, every
// member is de-affiliated and told.
func (s *Server) RemoveTalkgroup(id uint16) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.store.RemoveTalkgroup(id); err != nil {
		s.adminAudit("talkgroup.remove", fmt.Sprintf("talkgroup %d", id), err)
		return err
	}
	s.adminAudit("talkgroup.remove", fmt.Sprintf("talkgroup %d", id), nil)
	s.mu.Lock()
	m := maps.Clone(*s.tgs.Load())
	tg := m[id]
	delete(m, id)
	s.tgs.Store(&m)
	sessions := slices.Collect(maps.Values(s.sessions))
	s.mu.Unlock()

	reason := fmt.Sprintf("talkgroup %d was removed by the administrator", id)
	if tg != nil {
		tg.remove(reason)
	}
	for _, sess := range sessions {
		sess.mu.Lock()
		_, allowed := sess.allowed[id]
		delete(sess.allowed, id)
		delete(sess.tgs, id)
		sess.mu.Unlock()
		if allowed {
			s.notifyAffiliation(sess, reason)
		}
	}
	s.log.Info("talkgroup removed", "tg", id)
	return nil
}

// Talkgroups lists the talkgroups.
func (s *Server) Talkgroups() ([]store.Talkgroup, error) { return s.store.Talkgroups() }

// AddUnit enrols a unit.
func (s *Server) AddUnit(u store.Unit) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.store.AddUnit(u); err != nil {
		s.adminAudit("unit.add", fmt.Sprintf("unit %d", u.ID), err)
		return err
	}
	s.adminAudit("unit.add", fmt.Sprintf("unit %d", u.ID), nil)
	s.log.Info("unit added", "unit", u.ID)
	s.notifyKMF("unit added")
	return nil
}

// RemoveUnit deletes a unit and disconnects it if it is connected.
func (s *Server) RemoveUnit(id uint32) error {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	if err := s.store.RemoveUnit(id); err != nil {
		s.adminAudit("unit.remove", fmt.Sprintf("unit %d", id), err)
		return err
	}
	s.adminAudit("unit.remove", fmt.Sprintf("unit %d", id), nil)
	if sess := s.session(id); sess != nil {
		sess.cancel(&closeError{protocol.CloseRosterChange, fmt.Sprintf("unit %d was removed from the roster by the administrator", id)})
	}
	s.log.Info("unit removed", "unit", id)
	s.notifyKMF("unit removed")
	return nil
}

// Unit returns one unit.
func (s *Server) Unit(id uint32) (store.Unit, error) { return s.store.Unit(id) }

// Units lists the units.
func (s *Server) Units() ([]store.Unit, error) { return s.store.Units() }

// SetUnitTalkgroups changes the talkgroups a unit may use. A connected unit
// leaves the talkgroups it lost at once and is told its new set.
func (s *Server) SetUnitTalkgroups(id uint32, tgs []uint16) (store.Unit, error) {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	u, err := s.store.SetUnitTalkgroups(id, tgs)
	s.adminAudit("unit.set-talkgroups", fmt.Sprintf("unit %d", id), err)
	if err != nil {
		return u, err
	}
	if sess := s.session(id); sess != nil {
		allowed := allowedSet(u.Talkgroups)
		sess.mu.Lock()
		sess.allowed = allowed
		var lost []*talkgroup
		for tid, tg := range sess.tgs {
			if !allowed[tid] {
				lost = append(lost, tg)
				delete(sess.tgs, tid)
			}
		}
		sess.mu.Unlock()
		reason := fmt.Sprintf("the administrator changed the talkgroups of unit %d", id)
		for _, tg := range lost {
			tg.leave(sess, true, pb.Cause_CAUSE_DEAFFILIATED, reason)
		}
		s.notifyAffiliation(sess, reason)
	}
	s.log.Info("unit talkgroups changed", "unit", id)
	s.notifyKMF("unit moved between talkgroups")
	return u, nil
}

// notifyAffiliation tells sess its current affiliations and allowed talkgroups.
func (s *Server) notifyAffiliation(sess *session, reason string) {
	sess.mu.Lock()
	affiliated := slices.Sorted(maps.Keys(sess.tgs))
	allowed := slices.Sorted(maps.Keys(sess.allowed))
	sess.mu.Unlock()
	ev := &pb.AffiliationChanged{Allowed: s.talkgroupInfos(allowed), Reason: reason}
	for _, id := range affiliated {
		ev.Talkgroups = append(ev.Talkgroups, uint32(id))
	}
	sess.send(&pb.Envelope{Body: &pb.Envelope_AffiliationChanged{AffiliationChanged: ev}})
}

// ReplaceUnitCredentials enrols a re-issued identity for a unit. The old
// identity file stops working at once: a connected unit using it is
// disconnected.
func (s *Server) ReplaceUnitCredentials(id uint32, fingerprint string, hpke, signing, cert []byte) (store.Unit, error) {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	u, err := s.store.ReplaceUnitCredentials(id, fingerprint, hpke, signing, cert)
	s.adminAudit("unit.reissue", fmt.Sprintf("unit %d", id), err)
	if err != nil {
		return u, err
	}
	if sess := s.session(id); sess != nil {
		sess.cancel(&closeError{protocol.CloseRosterChange, fmt.Sprintf("the identity of unit %d was re-issued; use the new identity file", id)})
	}
	s.log.Info("unit credentials replaced", "unit", id)
	s.notifyKMF("unit identity re-issued")
	return u, nil
}

// adminAudit records an administrator's roster change (actor 0).
func (s *Server) adminAudit(action, target string, err error) {
	s.audit(0, "administrator", action, target, outcome(err), "")
}
