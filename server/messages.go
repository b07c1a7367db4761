package server

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// Text messages and call alerts. Every message is queued in the store,
// durably, for each recipient before the sender is told it was accepted,
// and leaves the queue only when the recipient's radio confirms it
// (MessageReceipt); the sender then gets a DeliveryReceipt. A recipient
// that is offline gets its queue when it connects.

// nextMessageID returns an ID unique across restarts: the clock in
// nanoseconds, forced to increase.
func (s *Server) nextMessageID() uint64 {
	now := uint64(s.now().UnixNano())
	for {
		last := s.lastMsgID.Load()
		id := max(now, last+1)
		if s.lastMsgID.CompareAndSwap(last, id) {
			return id
		}
	}
}

func (sess *session) sendMessage(req *pb.SendMessage) (*pb.MessageAccepted, error) {
	s := sess.srv
	if req == nil || (req.ToUnit == 0) == (req.ToTalkgroup == 0) {
		return nil, fmt.Errorf("%w: a message goes to one unit or one talkgroup", store.ErrInvalid)
	}
	if len(req.Text) > store.MaxMessageTextLen || !utf8.ValidString(req.Text) || (req.Text == "" && !req.Alert) {
		return nil, fmt.Errorf("%w: a message needs 1 to %d bytes of UTF-8 text (or is a call alert)", store.ErrInvalid, store.MaxMessageTextLen)
	}
	var recipients []uint32
	target := ""
	switch {
	case req.ToUnit != 0:
		if _, err := s.store.Unit(req.ToUnit); err != nil {
			return nil, err
		}
		recipients = []uint32{req.ToUnit}
		target = fmt.Sprintf("unit %d", req.ToUnit)
	default:
		if !protocol.ValidTalkgroupID(req.ToTalkgroup) {
			return nil, fmt.Errorf("%w: talkgroup %d is out of range", store.ErrInvalid, req.ToTalkgroup)
		}
		tg := uint16(req.ToTalkgroup)
		if _, err := s.store.Talkgroup(tg); err != nil {
			return nil, err
		}
		if !isDispatcher(sess.role) && !sess.isAllowed(tg) {
			return nil, fmt.Errorf("%w: unit %d is not a member of talkgroup %d", errNotAllowed, sess.unit, tg)
		}
		units, err := s.store.Units()
		if err != nil {
			return nil, err
		}
		for _, u := range units {
			if u.ID != sess.unit && slices.Contains(u.Talkgroups, tg) && !u.Stunned && isFieldRole(u.Role) {
				recipients = append(recipients, u.ID)
			}
		}
		target = fmt.Sprintf("talkgroup %d", tg)
	}
	m := store.Message{
		ID: s.nextMessageID(), From: sess.unit, FromAlias: sess.alias, ToTalkgroup: uint16(req.ToTalkgroup),
		Text: req.Text, Alert: req.Alert, Time: s.now(),
	}
	acc := &pb.MessageAccepted{Id: m.ID}
	var errs []error
	for _, r := range recipients {
		m.ToUnit = r
		if err := s.store.QueueMessage(m); err != nil {
			errs = append(errs, fmt.Errorf("unit %d: %w", r, err))
			continue
		}
		if dst := s.session(r); dst != nil {
			dst.send(textMessage(m))
			acc.Delivered++
		} else {
			acc.Queued++
		}
	}
	action := "message"
	if req.Alert {
		action = "call-alert"
	}
	err := errors.Join(errs...)
	s.audit(sess.unit, sess.alias, action, target, outcome(err), fmt.Sprintf("id %d, %d online, %d queued", m.ID, acc.Delivered, acc.Queued))
	if err != nil && acc.Delivered+acc.Queued == 0 {
		return nil, err
	}
	return acc, nil
}

func textMessage(m store.Message) *pb.Envelope {
	return &pb.Envelope{Body: &pb.Envelope_TextMessage{TextMessage: &pb.TextMessage{
		Id: m.ID, From: m.From, FromAlias: m.FromAlias, ToUnit: m.ToUnit, ToTalkgroup: uint32(m.ToTalkgroup),
		Text: m.Text, Alert: m.Alert, TimeMs: m.Time.UnixMilli(),
	}}}
}

// messageReceipt takes a recipient's confirmation: the message leaves its
// queue and the sender is told.
func (sess *session) messageReceipt(req *pb.MessageReceipt) error {
	s := sess.srv
	if req == nil {
		return fmt.Errorf("%w: no message named", store.ErrInvalid)
	}
	pending, err := s.store.PendingMessages(sess.unit)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(pending, func(m store.Message) bool { return m.ID == req.Id })
	if i < 0 {
		return nil // already confirmed: receipts may repeat after a reconnect
	}
	if err := s.store.DeleteMessage(sess.unit, req.Id); err != nil {
		return err
	}
	if from := s.session(pending[i].From); from != nil {
		from.send(&pb.Envelope{Body: &pb.Envelope_DeliveryReceipt{DeliveryReceipt: &pb.DeliveryReceipt{
			Id: req.Id, Unit: sess.unit, Alias: sess.alias, TimeMs: s.now().UnixMilli(),
		}}})
	}
	return nil
}

// deliverPending sends a newly connected unit what waited for it.
func (s *Server) deliverPending(sess *session) {
	pending, err := s.store.PendingMessages(sess.unit)
	if err != nil {
		s.log.Warn("read queued messages", "unit", sess.unit, "err", err)
		return
	}
	for _, m := range pending {
		sess.send(textMessage(m))
	}
}

// regroup moves units into a talkgroup for an operation, or back out.
func (sess *session) regroup(req *pb.Regroup) error {
	s := sess.srv
	if req == nil || !protocol.ValidTalkgroupID(req.Talkgroup) || len(req.Units) == 0 {
		return fmt.Errorf("%w: name a talkgroup and the units to regroup", store.ErrInvalid)
	}
	tg := uint16(req.Talkgroup)
	if _, err := s.store.Talkgroup(tg); err != nil {
		return err
	}
	action := "regroup"
	if req.Undo {
		action = "regroup.undo"
	}
	var errs []error
	for _, id := range req.Units {
		err := s.regroupUnit(tg, id, req.Undo)
		s.audit(sess.unit, sess.alias, action, fmt.Sprintf("unit %d", id), outcome(err), fmt.Sprintf("talkgroup %d", tg))
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// regroupUnit adds tg to a unit's talkgroups and affiliates it at once,
// remembering that the regroup added it; undo removes only what a regroup
// added.
func (s *Server) regroupUnit(tg uint16, unit uint32, undo bool) error {
	u, err := s.store.Unit(unit)
	if err != nil {
		return err
	}
	has := slices.Contains(u.Talkgroups, tg)
	s.dispatch.mu.Lock()
	added := s.dispatch.regrouped[tg]
	if added == nil {
		added = make(map[uint32]bool)
		s.dispatch.regrouped[tg] = added
	}
	wasAdded := added[unit]
	s.dispatch.mu.Unlock()
	switch {
	case !undo && !has:
		if err := s.joinTalkgroup(unit, tg, false, fmt.Sprintf("regrouped into talkgroup %d by dispatch", tg)); err != nil {
			return err
		}
	case undo && has && wasAdded:
		if err := s.joinTalkgroup(unit, tg, true, fmt.Sprintf("the operation on talkgroup %d ended; regrouping undone", tg)); err != nil {
			return err
		}
	case undo && has:
		return fmt.Errorf("%w: unit %d was not moved into talkgroup %d by a regroup (or the relay restarted since) and stays a member; use vartad unit set-talkgroups to change it", store.ErrInvalid, unit, tg)
	default:
		return nil // already where it should be
	}
	s.dispatch.mu.Lock()
	if undo {
		delete(added, unit)
	} else {
		added[unit] = true
	}
	s.dispatch.mu.Unlock()
	return nil
}
