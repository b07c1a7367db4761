package server

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Patches. A patch bridges talkgroups through a talkgroup of its own: its
// members are the union of the patched talkgroups' members, so the KMF
// gives it an epoch key sealed to that union, and the relay never
// re-encrypts anything. While a talkgroup is patched, a floor request on
// it is granted on the patch, so its talker seals for the patch and is
// heard on every patched talkgroup. The patch lives in the store as a
// talkgroup named "patch:100,200" from the top of the ID range, so it
// survives a relay restart; dissolving it removes that talkgroup, its
// memberships and its key.

const (
	patchNamePrefix = "patch:"
	// patchIDFloor is the lowest ID a patch talkgroup takes; patches count
	// down from 65535.
	patchIDFloor = 60000
)

func patchName(tgs []uint16) string {
	s := make([]string, len(tgs))
	for i, t := range tgs {
		s[i] = strconv.Itoa(int(t))
	}
	return patchNamePrefix + strings.Join(s, ",")
}

// parsePatchName returns the talkgroups of a patch talkgroup's name.
func parsePatchName(name string) ([]uint16, bool) {
	rest, ok := strings.CutPrefix(name, patchNamePrefix)
	if !ok {
		return nil, false
	}
	var tgs []uint16
	for _, f := range strings.Split(rest, ",") {
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, false
		}
		tgs = append(tgs, uint16(n))
	}
	return tgs, len(tgs) >= 2
}

// loadPatches rebuilds the patch map from the store at start.
func (s *Server) loadPatches(tgs []store.Talkgroup) {
	for _, t := range tgs {
		if members, ok := parsePatchName(t.Name); ok {
			for _, m := range members {
				s.dispatch.patchOf[m] = t.ID
			}
		}
	}
}

// patchFor returns the patch talkgroup tg is in, or 0.
func (s *Server) patchFor(tg uint16) uint16 {
	s.dispatch.mu.Lock()
	defer s.dispatch.mu.Unlock()
	return s.dispatch.patchOf[tg]
}

func (sess *session) patch(req *pb.Patch) (*pb.PatchResult, error) {
	s := sess.srv
	if req == nil {
		return nil, fmt.Errorf("%w: name the talkgroups to patch or the patch to dissolve", store.ErrInvalid)
	}
	if req.Dissolve != 0 {
		tgs, err := s.Unpatch(uint16(req.Dissolve))
		s.audit(sess.unit, sess.alias, "patch.dissolve", fmt.Sprintf("talkgroup %d", req.Dissolve), outcome(err), "")
		if err != nil {
			return nil, err
		}
		return &pb.PatchResult{Patch: req.Dissolve, Talkgroups: tgs}, nil
	}
	var tgs []uint16
	for _, t := range req.Talkgroups {
		if !protocol.ValidTalkgroupID(t) {
			return nil, fmt.Errorf("%w: talkgroup %d is out of range", store.ErrInvalid, t)
		}
		tgs = append(tgs, uint16(t))
	}
	p, err := s.CreatePatch(tgs)
	s.audit(sess.unit, sess.alias, "patch.create", patchName(tgs), outcome(err), fmt.Sprintf("patch talkgroup %d", p))
	if err != nil {
		return nil, err
	}
	return &pb.PatchResult{Patch: uint32(p), Talkgroups: req.Talkgroups}, nil
}

// CreatePatch bridges talkgroups and returns the patch talkgroup.
func (s *Server) CreatePatch(tgs []uint16) (uint16, error) {
	tgs = slices.Clone(tgs)
	slices.Sort(tgs)
	tgs = slices.Compact(tgs)
	if len(tgs) < 2 {
		return 0, fmt.Errorf("%w: a patch needs two or more talkgroups", store.ErrInvalid)
	}
	for _, t := range tgs {
		if _, err := s.store.Talkgroup(t); err != nil {
			return 0, err
		}
		if p := s.patchFor(t); p != 0 {
			return 0, fmt.Errorf("%w: talkgroup %d is already in patch %d (dissolve it first)", store.ErrInvalid, t, p)
		}
		if t >= patchIDFloor {
			return 0, fmt.Errorf("%w: talkgroup %d is itself a patch", store.ErrInvalid, t)
		}
	}
	id := uint16(0)
	for cand := uint32(protocol.MaxTalkgroupID); cand >= patchIDFloor; cand-- {
		if _, err := s.store.Talkgroup(uint16(cand)); errors.Is(err, store.ErrNotFound) {
			id = uint16(cand)
			break
		}
	}
	if id == 0 {
		return 0, fmt.Errorf("%w: no free patch talkgroup ID", store.ErrInvalid)
	}
	if err := s.AddTalkgroup(store.Talkgroup{ID: id, Name: patchName(tgs), Priority: 255}); err != nil {
		return 0, err
	}
	s.dispatch.mu.Lock()
	for _, t := range tgs {
		s.dispatch.patchOf[t] = id
	}
	s.dispatch.mu.Unlock()
	units, err := s.store.Units()
	if err != nil {
		return id, err
	}
	reason := fmt.Sprintf("talkgroups %s are patched together as talkgroup %d", strings.TrimPrefix(patchName(tgs), patchNamePrefix), id)
	for _, u := range units {
		if !slices.ContainsFunc(u.Talkgroups, func(t uint16) bool { return slices.Contains(tgs, t) }) {
			continue
		}
		if err := s.joinTalkgroup(u.ID, id, false, reason); err != nil {
			s.log.Warn("patch member", "unit", u.ID, "tg", id, "err", err)
		}
	}
	s.log.Info("patch created", "tg", id, "talkgroups", patchName(tgs))
	return id, nil
}

// Unpatch dissolves a patch: its talkgroup, memberships and key go.
func (s *Server) Unpatch(p uint16) ([]uint32, error) {
	t, err := s.store.Talkgroup(p)
	if err != nil {
		return nil, err
	}
	tgs, ok := parsePatchName(t.Name)
	if !ok {
		return nil, fmt.Errorf("%w: talkgroup %d is not a patch", store.ErrInvalid, p)
	}
	s.dispatch.mu.Lock()
	for _, m := range tgs {
		if s.dispatch.patchOf[m] == p {
			delete(s.dispatch.patchOf, m)
		}
	}
	s.dispatch.mu.Unlock()
	if err := s.RemoveTalkgroup(p); err != nil {
		return nil, err
	}
	out := make([]uint32, len(tgs))
	for i, m := range tgs {
		out[i] = uint32(m)
	}
	s.log.Info("patch dissolved", "tg", p)
	return out, nil
}

// joinTalkgroup adds tg to a unit's talkgroups (or removes it with leave)
// and affiliates a connected unit at once; shared by regrouping and
// patches.
func (s *Server) joinTalkgroup(unit uint32, tg uint16, leave bool, reason string) error {
	s.adminMu.Lock()
	u, err := s.store.Unit(unit)
	if err != nil {
		s.adminMu.Unlock()
		return err
	}
	has := slices.Contains(u.Talkgroups, tg)
	if has != leave {
		s.adminMu.Unlock()
		return nil
	}
	next := slices.Clone(u.Talkgroups)
	if leave {
		next = slices.DeleteFunc(next, func(t uint16) bool { return t == tg })
	} else {
		next = append(next, tg)
	}
	u, err = s.store.SetUnitTalkgroups(unit, next)
	s.adminMu.Unlock()
	if err != nil {
		return err
	}
	if sess := s.session(unit); sess != nil {
		sess.mu.Lock()
		sess.allowed = allowedSet(u.Talkgroups)
		var ids []uint32
		for t := range sess.tgs {
			if t != tg {
				ids = append(ids, uint32(t))
			}
		}
		sess.mu.Unlock()
		if !leave {
			ids = append(ids, uint32(tg))
		}
		sess.affiliate(ids)
		s.notifyAffiliation(sess, reason)
	}
	s.notifyKMF(reason)
	return nil
}
