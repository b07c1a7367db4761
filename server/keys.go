package server

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Key distribution. The relay stores each talkgroup's current epoch as one
// signed, HPKE-sealed key per member, made by the KMF, and hands each member
// its own. It can open none of them: it holds no HPKE private key of any
// unit. The store marks a talkgroup's keys stale whenever its membership
// changes (a unit added, removed, moved, stunned or re-issued); the relay
// then tells every connected KMF, which makes a new epoch.

// keyRequest answers a unit's request for its keys.
func (sess *session) keyRequest(req *pb.KeyRequest) *pb.KeyBundles {
	sess.mu.Lock()
	var tgs []uint16
	if req == nil || len(req.Talkgroups) == 0 {
		tgs = slices.Sorted(maps.Keys(sess.allowed))
	} else {
		for _, t := range req.Talkgroups {
			if protocol.ValidTalkgroupID(t) && sess.allowed[uint16(t)] {
				tgs = append(tgs, uint16(t))
			}
		}
	}
	sess.mu.Unlock()
	out := &pb.KeyBundles{}
	for _, tg := range tgs {
		mk, err := sess.srv.store.MemberKey(tg, sess.unit)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				sess.srv.log.Warn("read member key", "unit", sess.unit, "tg", tg, "err", err)
			}
			continue
		}
		out.Bundles = append(out.Bundles, memberKeyBundle(mk))
	}
	return out
}

func memberKeyBundle(mk store.MemberKey) *pb.KeyBundle {
	return &pb.KeyBundle{Talkgroup: uint32(mk.Talkgroup), Epoch: mk.Epoch, MemberKey: mk.Key, KmfCertificate: mk.KMFCert}
}

// requireKMF refuses a request from a unit whose role is not kmf.
func (sess *session) requireKMF(id uint64) bool {
	if sess.role == store.RoleKMF {
		return true
	}
	sess.replyError(id, pb.ErrorCode_ERROR_NOT_ALLOWED, fmt.Sprintf("only the key management facility may do that; unit %d has role %s", sess.unit, sess.role))
	return false
}

func (sess *session) kmfStatus() (*pb.KmfStatus, error) {
	states, err := sess.srv.store.KeyStates()
	if err != nil {
		return nil, err
	}
	out := &pb.KmfStatus{}
	for _, st := range states {
		out.Talkgroups = append(out.Talkgroups, &pb.TalkgroupKeyState{Talkgroup: uint32(st.Talkgroup), Epoch: st.Epoch, Stale: st.Stale, Reason: st.Reason})
	}
	return out, nil
}

// kmfMembers lists the units that must receive a talkgroup's key: its
// members that are enrolled with credentials and not stunned.
func (sess *session) kmfMembers(req *pb.KmfMembersRequest) (*pb.KmfMembers, error) {
	if req == nil || !protocol.ValidTalkgroupID(req.Talkgroup) {
		return nil, fmt.Errorf("%w: no valid talkgroup named", store.ErrInvalid)
	}
	tg := uint16(req.Talkgroup)
	st, err := sess.srv.store.KeyState(tg) // ErrNotFound if there is no such talkgroup
	if err != nil {
		return nil, err
	}
	units, err := sess.srv.store.Units()
	if err != nil {
		return nil, err
	}
	out := &pb.KmfMembers{Talkgroup: req.Talkgroup, Epoch: st.Epoch}
	for _, u := range units {
		if u.Stunned || len(u.Cert) == 0 || !slices.Contains(u.Talkgroups, tg) {
			continue
		}
		out.Members = append(out.Members, &pb.Member{Unit: u.ID, Certificate: u.Cert})
	}
	return out, nil
}

// putKeyBundle stores a new epoch and pushes each online member its key.
func (sess *session) putKeyBundle(req *pb.PutKeyBundle) error {
	if req == nil || !protocol.ValidTalkgroupID(req.Talkgroup) || req.Epoch == 0 {
		return fmt.Errorf("%w: a key bundle needs a talkgroup and an epoch above 0", store.ErrInvalid)
	}
	keys := make(map[uint32][]byte, len(req.Keys))
	for _, k := range req.Keys {
		if k == nil || !protocol.ValidUnitID(k.Unit) || len(k.MemberKey) == 0 {
			return fmt.Errorf("%w: a member key names no valid unit or is empty", store.ErrInvalid)
		}
		if _, dup := keys[k.Unit]; dup {
			return fmt.Errorf("%w: unit %d has two keys in the bundle", store.ErrInvalid, k.Unit)
		}
		keys[k.Unit] = k.MemberKey
	}
	tg := uint16(req.Talkgroup)
	if err := sess.srv.store.PutKeys(tg, req.Epoch, req.KmfCertificate, keys); err != nil {
		return err
	}
	sess.srv.log.Info("new talkgroup epoch stored", "tg", tg, "epoch", req.Epoch, "members", len(keys))
	sess.srv.metrics.keyEvents.WithLabelValues("epoch_stored").Inc()
	for unit, key := range keys {
		if m := sess.srv.session(unit); m != nil && m.isAllowed(tg) {
			sess.srv.metrics.keyEvents.WithLabelValues("member_key_pushed").Inc()
			m.send(&pb.Envelope{Body: &pb.Envelope_KeyBundle{KeyBundle: memberKeyBundle(store.MemberKey{
				Talkgroup: tg, Epoch: req.Epoch, Key: key, KMFCert: req.KmfCertificate,
			})}})
		}
	}
	return nil
}

// notifyKMF tells every connected KMF to look at the key state: a roster
// change has made some talkgroup's keys stale. Talkgroup 0 means "check
// every talkgroup".
func (s *Server) notifyKMF(reason string) {
	s.mu.Lock()
	var kmfs []*session
	for _, sess := range s.sessions {
		if sess.role == store.RoleKMF {
			kmfs = append(kmfs, sess)
		}
	}
	s.mu.Unlock()
	s.metrics.keyEvents.WithLabelValues("rekey_notice").Add(float64(len(kmfs)))
	for _, k := range kmfs {
		k.send(&pb.Envelope{Body: &pb.Envelope_RekeyNeeded{RekeyNeeded: &pb.RekeyNeeded{Reason: reason}}})
	}
}
