package agency

import (
	"fmt"

	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

// auditedStore is the roster of a stopped relay: the store itself, with
// every change the administrator makes written to the audit log, as the
// running relay does for changes made through its admin socket.
type auditedStore struct {
	*store.Store
}

var _ server.Roster = auditedStore{}

// audit records the outcome err of action on target and returns err, or,
// when the change was made but could not be audited, an error that says so.
func (a auditedStore) audit(action, target string, err error) error {
	outcome := "ok"
	if err != nil {
		outcome = err.Error()
	}
	_, aerr := a.Store.Audit(store.AuditEntry{Actor: 0, ActorName: "administrator", Action: action, Target: target, Outcome: outcome})
	if err == nil && aerr != nil {
		return fmt.Errorf("agency: %s of %s was made, but the audit log could not record it: %w", action, target, aerr)
	}
	return err
}

func (a auditedStore) AddTalkgroup(tg store.Talkgroup) error {
	err := a.Store.AddTalkgroup(tg)
	return a.audit("talkgroup.add", fmt.Sprintf("talkgroup %d", tg.ID), err)
}

func (a auditedStore) RemoveTalkgroup(id uint16) error {
	err := a.Store.RemoveTalkgroup(id)
	return a.audit("talkgroup.remove", fmt.Sprintf("talkgroup %d", id), err)
}

func (a auditedStore) AddUnit(u store.Unit) error {
	err := a.Store.AddUnit(u)
	return a.audit("unit.add", fmt.Sprintf("unit %d", u.ID), err)
}

func (a auditedStore) RemoveUnit(id uint32) error {
	err := a.Store.RemoveUnit(id)
	return a.audit("unit.remove", fmt.Sprintf("unit %d", id), err)
}

func (a auditedStore) SetUnitTalkgroups(id uint32, tgs []uint16) (store.Unit, error) {
	u, err := a.Store.SetUnitTalkgroups(id, tgs)
	return u, a.audit("unit.set-talkgroups", fmt.Sprintf("unit %d", id), err)
}

func (a auditedStore) ReplaceUnitCredentials(id uint32, fingerprint string, hpke, signing, cert []byte) (store.Unit, error) {
	u, err := a.Store.ReplaceUnitCredentials(id, fingerprint, hpke, signing, cert)
	return u, a.audit("unit.reissue", fmt.Sprintf("unit %d", id), err)
}
