package store

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tidwall/buntdb"
)

// Key distribution (DESIGN.md section 5). The KMF makes a new epoch key for
// a talkgroup, seals it to each member's HPKE public key and signs each
// sealed key; PutKeys stores those member keys, opaque to the relay, in the
// talkgroup's keys: record, and MemberKey hands each member its own.
//
// Who may hold a talkgroup's key is decided by the roster: a unit that is a
// member of the talkgroup, enrolled with credentials and not stunned (see
// mayHoldKey). Every roster change that alters that set for a talkgroup marks
// its key state Stale, in the same commit as the change, so that the KMF
// knows to make a new epoch. The current epoch's member keys stay in place
// while it is stale (the members keep talking until the KMF rekeys), except
// the key of a unit that may no longer hold it (removed, stunned, or gone
// from the talkgroup) or whose HPKE key was re-issued: that key is deleted
// in the same commit, so the relay no longer hands it out. An epoch that
// does not match the holders when PutKeys stores it (the roster changed
// while the KMF was making it) is stored without the keys of units that may
// not hold it, and stays stale.

// KeyState is the state of a talkgroup's end-to-end key.
type KeyState struct {
	Talkgroup uint16
	// Epoch is the newest epoch stored by PutKeys, or 0 if there is none.
	Epoch uint32
	// Stale reports that the KMF should make a new epoch: there is none yet,
	// or the roster changed since Epoch was made in a way that alters who
	// may hold the key (a unit joined, left, was removed, stunned, revived or
	// re-issued), or Epoch was made for other holders than the roster's
	// when it was stored.
	Stale bool
	// Reason says what first made the key stale, such as "unit 101 left" or
	// "no key yet" (when Epoch is 0); "" when not stale.
	Reason string
}

// MemberKey is one member's key for a talkgroup's current epoch: the epoch key
// sealed to the member's HPKE public key and signed by the KMF, as the KMF
// gave it to PutKeys. The relay cannot open it.
type MemberKey struct {
	Talkgroup uint16
	Epoch     uint32
	Key       []byte
	KMFCert   []byte // DER of the KMF's certificate, as given to PutKeys; may be empty
}

// reasonNoKey is the Reason of a talkgroup without an epoch.
const reasonNoKey = "no key yet"

// maxReasonLen bounds KeyState.Reason, in characters.
const maxReasonLen = 200

// maxKeysRecordLen bounds the encoded keys: record of one talkgroup (the
// JSON's base64 makes it about a third larger than MaxKeyBundleLen). It is
// below maxBulk, so that Open can read what PutKeys wrote.
const maxKeysRecordLen = 32 << 20

// talkgroupKeys is what a keys: record holds.
type talkgroupKeys struct {
	KeyState
	kmfCert []byte
	keys    []memberKeyRecord // sorted by unit, unique
}

// noKeys is the key state of a talkgroup without an epoch.
func noKeys(tg uint16) talkgroupKeys {
	return talkgroupKeys{KeyState: KeyState{Talkgroup: tg, Stale: true, Reason: reasonNoKey}}
}

// check enforces the rules a keys: record obeys on its own.
func (k *talkgroupKeys) check() error {
	if err := checkTalkgroupID(k.Talkgroup); err != nil {
		return err
	}
	if k.Epoch == 0 && (!k.Stale || len(k.keys) > 0 || len(k.kmfCert) > 0) {
		return errors.New("epoch 0 with keys, a KMF certificate or not stale")
	}
	if k.Stale != (k.Reason != "") {
		return errors.New("stale without a reason, or a reason without being stale")
	}
	if k.Stale {
		if err := checkText("reason", k.Reason, maxReasonLen); err != nil {
			return err
		}
	}
	if len(k.kmfCert) > MaxCertLen {
		return fmt.Errorf("KMF certificate of %d bytes (at most %d)", len(k.kmfCert), MaxCertLen)
	}
	total := len(k.kmfCert)
	for i, mk := range k.keys {
		if err := checkUnitID(mk.Unit); err != nil {
			return err
		}
		if i > 0 && mk.Unit <= k.keys[i-1].Unit {
			return errors.New("member keys not sorted by unit")
		}
		if len(mk.Key) == 0 || len(mk.Key) > MaxMemberKeyLen {
			return fmt.Errorf("key of unit %d is %d bytes (1 to %d)", mk.Unit, len(mk.Key), MaxMemberKeyLen)
		}
		total += len(mk.Key)
	}
	if total > MaxKeyBundleLen {
		return fmt.Errorf("keys of %d bytes (at most %d)", total, MaxKeyBundleLen)
	}
	return nil
}

// markStale marks k stale for reason, unless it is stale already: the first
// reason stands until the next epoch.
func (k *talkgroupKeys) markStale(reason string) {
	if !k.Stale {
		k.Stale, k.Reason = true, reason
	}
}

// find returns the index of unit's key in k.keys.
func (k *talkgroupKeys) find(unit uint32) (int, bool) {
	return slices.BinarySearchFunc(k.keys, unit, func(mk memberKeyRecord, u uint32) int { return cmp.Compare(mk.Unit, u) })
}

// dropKey deletes unit's key, if there is one.
func (k *talkgroupKeys) dropKey(unit uint32) {
	if i, ok := k.find(unit); ok {
		k.keys = slices.Delete(k.keys, i, i+1)
	}
}

// getKeys reads the keys of talkgroup tg inside tx; stored is false if
// there is no record (a talkgroup from a version 1 file), in which case the
// talkgroup has no key yet. It does not check that the talkgroup exists.
func getKeys(tx *buntdb.Tx, tg uint16) (k talkgroupKeys, stored bool, err error) {
	key := keysKey(tg)
	val, err := tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return noKeys(tg), false, nil
	}
	if err != nil {
		return talkgroupKeys{}, false, err
	}
	k, err = decodeKeys(key, val)
	if err != nil {
		return talkgroupKeys{}, false, fmt.Errorf("store: %s: %w", key, err)
	}
	return k, true, nil
}

// mayHoldKey reports whether u (nil: no unit) may hold the key of talkgroup
// tg: it is a member, enrolled with credentials and not stunned.
func mayHoldKey(u *Unit, tg uint16) bool {
	if u == nil || u.CertFingerprint == "" || u.Stunned {
		return false
	}
	_, ok := slices.BinarySearch(u.Talkgroups, tg)
	return ok
}

// whyNotHolder says why u may not hold the key of a talkgroup.
func whyNotHolder(u *Unit) string {
	switch {
	case u == nil:
		return "it is not in the roster"
	case u.Stunned:
		return "it is stunned"
	case u.CertFingerprint == "":
		return "it has no credentials"
	default:
		return "it is not a member"
	}
}

// keyReasons say why a change of a unit made keys stale, as in "unit 101 " +
// reason: gain when the unit comes to hold a talkgroup's key, loss when it no
// longer may, reissue when it keeps it with new credentials.
type keyReasons struct{ gain, loss, reissue string }

// keyChanges returns the changes to the keys: records that a change of a
// unit from old to new makes (old nil: the unit is added; new nil: it is
// removed). For each talkgroup of either whose holders change, or where the
// unit holds the key with new credentials, it marks the key state stale and
// deletes the unit's member key if the unit may no longer hold it or its
// HPKE key changed.
func keyChanges(tx *buntdb.Tx, old, new *Unit, why keyReasons) ([]change, error) {
	var id uint32
	var tgs []uint16
	for _, u := range []*Unit{old, new} {
		if u != nil {
			id = u.ID
			tgs = append(tgs, u.Talkgroups...)
		}
	}
	slices.Sort(tgs)
	tgs = slices.Compact(tgs)
	reissued, newHPKE := false, false
	if old != nil && new != nil {
		newHPKE = !bytes.Equal(old.HPKEPublicKey, new.HPKEPublicKey)
		reissued = newHPKE || old.CertFingerprint != new.CertFingerprint || !bytes.Equal(old.SigningPublicKey, new.SigningPublicKey)
	}
	var changes []change
	for _, tg := range tgs {
		was, is := mayHoldKey(old, tg), mayHoldKey(new, tg)
		var reason string
		switch {
		case is && !was:
			reason = why.gain
		case was && !is:
			reason = why.loss
		case was && reissued:
			reason = why.reissue
		default:
			continue
		}
		k, stored, err := getKeys(tx, tg)
		if err != nil {
			return nil, err
		}
		if !stored {
			continue // no key yet: nothing to mark or delete
		}
		before := encodeKeys(k)
		k.markStale(fmt.Sprintf("unit %d %s", id, reason))
		if !is || newHPKE {
			k.dropKey(id)
		}
		if val := encodeKeys(k); val != before {
			changes = append(changes, change{key: keysKey(tg), val: val})
		}
	}
	return changes, nil
}

// KeyStates returns the key state of every talkgroup, sorted by talkgroup.
func (s *Store) KeyStates() ([]KeyState, error) {
	var out []KeyState
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		var tgs []uint16
		var derr error
		err := tx.AscendKeys(talkgroupPfx+"*", func(key, _ string) bool {
			id, ok := parseKeyID(key, talkgroupPfx, talkgroupWidth)
			if !ok || id < 1 || id > 1<<16-1 {
				derr = fmt.Errorf("store: unexpected key %q", key)
				return false
			}
			tgs = append(tgs, uint16(id))
			return true
		})
		if err == nil {
			err = derr
		}
		if err != nil {
			return err
		}
		for _, tg := range tgs {
			k, _, err := getKeys(tx, tg)
			if err != nil {
				return err
			}
			out = append(out, k.KeyState)
		}
		return nil
	})
	return out, err
}

// KeyState returns the key state of talkgroup tg, or an error matching
// ErrNotFound if there is no such talkgroup.
func (s *Store) KeyState(tg uint16) (KeyState, error) {
	if err := checkTalkgroupID(tg); err != nil {
		return KeyState{}, err
	}
	var st KeyState
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		if _, err := getTalkgroup(tx, tg); err != nil {
			return err
		}
		k, _, err := getKeys(tx, tg)
		st = k.KeyState
		return err
	})
	return st, err
}

// MemberKey returns unit's key for the current epoch of talkgroup tg. It
// returns an error matching ErrNotFound if there is no such talkgroup, it
// has no epoch yet, or the epoch holds no key for unit. The returned slices
// belong to the caller.
func (s *Store) MemberKey(tg uint16, unit uint32) (MemberKey, error) {
	if err := checkTalkgroupID(tg); err != nil {
		return MemberKey{}, err
	}
	if err := checkUnitID(unit); err != nil {
		return MemberKey{}, err
	}
	var mk MemberKey
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		if _, err := getTalkgroup(tx, tg); err != nil {
			return err
		}
		k, _, err := getKeys(tx, tg)
		if err != nil {
			return err
		}
		if k.Epoch == 0 {
			return errorf(ErrNotFound, "talkgroup %d has no key yet", tg)
		}
		i, ok := k.find(unit)
		if !ok {
			return errorf(ErrNotFound, "unit %d has no key for epoch %d of talkgroup %d", unit, k.Epoch, tg)
		}
		mk = MemberKey{Talkgroup: tg, Epoch: k.Epoch, Key: k.keys[i].Key, KMFCert: k.kmfCert}
		return nil
	})
	return mk, err
}

// maxListed is how many units an error or a reason names before "and N more".
const maxListed = 5

func unitList(units []uint32) string {
	var b strings.Builder
	for i, u := range units {
		if i == maxListed {
			fmt.Fprintf(&b, " and %d more", len(units)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, u)
	}
	return b.String()
}

// PutKeys stores epoch of talkgroup tg: the KMF's certificate kmfCert (DER,
// may be empty) and each member's key (keys, by unit). The new epoch
// replaces the previous one and its keys entirely, in one commit, and is on
// disk when PutKeys returns; PutKeys copies what it keeps.
//
// It returns an error matching ErrNotFound if there is no such talkgroup,
// and ErrInvalid (nothing changed) if epoch is not greater than the stored
// epoch, a unit ID is out of range, a key is empty or longer than
// MaxMemberKeyLen, the certificate is longer than MaxCertLen, or all of them
// together exceed MaxKeyBundleLen.
//
// PutKeys clears Stale, unless the epoch does not match who may hold the key
// now, as when the roster changed while the KMF was making it: then the key
// stays stale, with a reason naming the units, so that the KMF makes another
// epoch. That is when the epoch has a key for a unit that may not hold it
// (not in the roster, not a member, stunned or without credentials), which
// PutKeys does not store, or when a unit that may hold it and has a
// certificate (Unit.Cert, which the KMF needs to seal to it) has no key.
func (s *Store) PutKeys(tg uint16, epoch uint32, kmfCert []byte, keys map[uint32][]byte) error {
	if err := checkTalkgroupID(tg); err != nil {
		return err
	}
	if len(kmfCert) > MaxCertLen {
		return invalidf("the KMF certificate for talkgroup %d is %d bytes long (at most %d)", tg, len(kmfCert), MaxCertLen)
	}
	mks := make([]memberKeyRecord, 0, len(keys))
	for unit, key := range keys {
		mks = append(mks, memberKeyRecord{Unit: unit, Key: key})
	}
	slices.SortFunc(mks, func(a, b memberKeyRecord) int { return cmp.Compare(a.Unit, b.Unit) })
	total := len(kmfCert)
	for _, mk := range mks {
		if err := checkUnitID(mk.Unit); err != nil {
			return err
		}
		if len(mk.Key) == 0 {
			return invalidf("the key of unit %d for epoch %d of talkgroup %d is empty", mk.Unit, epoch, tg)
		}
		if len(mk.Key) > MaxMemberKeyLen {
			return invalidf("the key of unit %d for epoch %d of talkgroup %d is %d bytes long (at most %d)", mk.Unit, epoch, tg, len(mk.Key), MaxMemberKeyLen)
		}
		total += len(mk.Key)
	}
	if total > MaxKeyBundleLen {
		return invalidf("the keys for epoch %d of talkgroup %d are %d bytes long (at most %d)", epoch, tg, total, MaxKeyBundleLen)
	}
	for i := range mks {
		mks[i].Key = slices.Clone(mks[i].Key)
	}
	return s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		if _, err := getTalkgroup(tx, tg); err != nil {
			return nil, err
		}
		k, _, err := getKeys(tx, tg)
		if err != nil {
			return nil, err
		}
		if epoch <= k.Epoch {
			return nil, invalidf("epoch %d is not newer than the stored epoch %d of talkgroup %d (make a new epoch above %d)", epoch, k.Epoch, tg, k.Epoch)
		}
		// Every key should be for a unit that may hold it, and every such
		// unit with a certificate should have one.
		keyed := make(map[uint32]*Unit, len(mks))
		var missing []uint32
		var derr error
		err = tx.AscendKeys(unitPfx+"*", func(key, val string) bool {
			u, err := decodeUnit(key, val)
			if err != nil {
				derr = fmt.Errorf("store: %s: %w", key, err)
				return false
			}
			if _, ok := keys[u.ID]; ok {
				keyed[u.ID] = &u
			} else if mayHoldKey(&u, tg) && len(u.Cert) > 0 {
				missing = append(missing, u.ID)
			}
			return true
		})
		if err == nil {
			err = derr
		}
		if err != nil {
			return nil, err
		}
		var held []memberKeyRecord
		var refused []uint32
		why := ""
		for _, mk := range mks {
			if u := keyed[mk.Unit]; mayHoldKey(u, tg) {
				held = append(held, mk)
			} else {
				refused = append(refused, mk.Unit)
				why = whyNotHolder(u)
			}
		}
		k.Epoch, k.kmfCert, k.keys = epoch, cloneBytes(kmfCert), held
		k.Stale, k.Reason = false, ""
		switch len(refused) {
		case 0:
		case 1:
			k.markStale(fmt.Sprintf("epoch %d was sealed to unit %d, which may not hold it (%s)", epoch, refused[0], why))
		default:
			k.markStale(fmt.Sprintf("epoch %d was sealed to units %s, which may not hold it", epoch, unitList(refused)))
		}
		switch len(missing) {
		case 0:
		case 1:
			k.markStale(fmt.Sprintf("unit %d has no key for epoch %d", missing[0], epoch))
		default:
			k.markStale(fmt.Sprintf("units %s have no key for epoch %d", unitList(missing), epoch))
		}
		if err := k.check(); err != nil {
			return nil, fmt.Errorf("store: internal error: keys of talkgroup %d: %w", tg, err)
		}
		val := encodeKeys(k)
		if len(val) > maxKeysRecordLen {
			return nil, invalidf("the keys for epoch %d of talkgroup %d take %d bytes stored (at most %d)", epoch, tg, len(val), maxKeysRecordLen)
		}
		return []change{{key: keysKey(tg), val: val}}, nil
	})
}
