package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tidwall/buntdb"
)

// commitRoster runs one roster transaction. build runs inside BuntDB's write
// transaction: it reads what it needs and returns the records to write (an
// error, or no records, writes nothing). commitRoster adds the commit marker
// (see commit.go), and returns only after the transaction is fsynced.
func (s *Store) commitRoster(build func(tx *buntdb.Tx) ([]change, error)) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if s.failed != nil {
		return s.failed
	}
	fi, err := s.rosterFD.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	at := fi.Size() // BuntDB appends here: nothing else writes the file
	wrote := false
	err = s.roster.Update(func(tx *buntdb.Tx) error {
		changes, err := build(tx)
		if err != nil || len(changes) == 0 {
			return err
		}
		var sum commitSum
		seen := make(map[string]bool, len(changes))
		for _, c := range changes {
			if seen[c.key] || c.key == metaCommitKey || (c.del && c.val != "") {
				return fmt.Errorf("store: internal error: bad change to %s", c.key)
			}
			seen[c.key] = true
			if c.del {
				_, err = tx.Delete(c.key)
			} else {
				_, _, err = tx.Set(c.key, c.val, nil)
			}
			if err != nil {
				return fmt.Errorf("store: write %s: %w", c.key, err)
			}
			sum.add(c.del, c.key, c.val)
		}
		_, _, err = tx.Set(metaCommitKey, markerValue(s.seq+1, at, len(changes)+1, sum), nil)
		wrote = err == nil
		return err
	})
	if err != nil {
		return dbErr(err)
	}
	if !wrote {
		return nil
	}
	s.seq++
	// BuntDB has fsynced (SyncPolicy Always) but ignores the result; fsync
	// again and look at it. After a failed fsync the page cache may no
	// longer match the disk, so no further roster change is accepted.
	if err := s.rosterFD.Sync(); err != nil {
		s.failed = fmt.Errorf("store: %s could not be written to disk (%v): roster changes are refused until the relay is restarted", s.rosterFD.Name(), err)
		s.log.Error("store: roster fsync failed", "err", err)
		return s.failed
	}
	return nil
}

// viewRoster runs a read transaction on the roster.
func (s *Store) viewRoster(fn func(tx *buntdb.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return dbErr(s.roster.View(fn))
}

// rosterRecords returns the records with keys from from (inclusive) to to
// (exclusive), in key order, at most limit of them if limit > 0. It holds
// BuntDB's read lock only to collect them.
func (s *Store) rosterRecords(from, to string, limit int) ([]kv, error) {
	var recs []kv
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		return tx.AscendRange("", from, to, func(k, v string) bool {
			recs = append(recs, kv{k, v})
			return limit <= 0 || len(recs) < limit
		})
	})
	return recs, err
}

// decodeRecords decodes every record of recs, naming the first that does
// not decode.
func decodeRecords[T any](recs []kv, decode func(key, val string) (T, error)) ([]T, error) {
	out := make([]T, 0, len(recs))
	for _, r := range recs {
		v, err := decode(r.key, r.val)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", r.key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// deleteRecord deletes key in its own commit, or returns missing if there
// is no such record. The change is on disk when it returns.
func (s *Store) deleteRecord(key string, missing error) error {
	return s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		if _, err := tx.Get(key); errors.Is(err, buntdb.ErrNotFound) {
			return nil, missing
		} else if err != nil {
			return nil, err
		}
		return []change{{key: key, del: true}}, nil
	})
}

// getTalkgroup reads talkgroup id inside tx.
func getTalkgroup(tx *buntdb.Tx, id uint16) (Talkgroup, error) {
	key := talkgroupKey(id)
	val, err := tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return Talkgroup{}, errorf(ErrNotFound, "talkgroup %d does not exist", id)
	}
	if err != nil {
		return Talkgroup{}, err
	}
	tg, err := decodeTalkgroup(key, val)
	if err != nil {
		return Talkgroup{}, fmt.Errorf("store: %s: %w", key, err)
	}
	return tg, nil
}

// getUnit reads unit id inside tx.
func getUnit(tx *buntdb.Tx, id uint32) (Unit, error) {
	key := unitKey(id)
	val, err := tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return Unit{}, errorf(ErrNotFound, "unit %d does not exist", id)
	}
	if err != nil {
		return Unit{}, err
	}
	u, err := decodeUnit(key, val)
	if err != nil {
		return Unit{}, fmt.Errorf("store: %s: %w", key, err)
	}
	return u, nil
}

// checkTalkgroupsExist returns an error matching ErrUnknownTalkgroup that
// names every one of tgs that does not exist.
func checkTalkgroupsExist(tx *buntdb.Tx, tgs []uint16) error {
	var missing []string
	for _, tg := range tgs {
		_, err := tx.Get(talkgroupKey(tg))
		if errors.Is(err, buntdb.ErrNotFound) {
			missing = append(missing, fmt.Sprint(tg))
		} else if err != nil {
			return err
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return errorf(ErrUnknownTalkgroup, "talkgroup %s does not exist (add it before assigning units to it)", missing[0])
	default:
		return errorf(ErrUnknownTalkgroup, "talkgroups %s do not exist (add them before assigning units to them)", strings.Join(missing, ", "))
	}
}

// AddTalkgroup adds tg, with no key yet (KeyState: Epoch 0, Stale). It
// returns an error matching ErrExists if the ID is taken, or ErrInvalid if tg
// breaks a rule. The change is on disk when it returns.
func (s *Store) AddTalkgroup(tg Talkgroup) error {
	if err := checkTalkgroup(tg); err != nil {
		return err
	}
	return s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		key := talkgroupKey(tg.ID)
		if _, err := tx.Get(key); err == nil {
			return nil, errorf(ErrExists, "talkgroup %d already exists", tg.ID)
		} else if !errors.Is(err, buntdb.ErrNotFound) {
			return nil, err
		}
		return []change{
			{key: key, val: encodeTalkgroup(tg)},
			{key: keysKey(tg.ID), val: encodeKeys(noKeys(tg.ID))},
		}, nil
	})
}

// RemoveTalkgroup removes talkgroup id and, in the same transaction, its
// keys, and takes it out of every unit's Talkgroups. It returns an error
// matching ErrNotFound if there is no such talkgroup. The change is on disk
// when it returns.
func (s *Store) RemoveTalkgroup(id uint16) error {
	if err := checkTalkgroupID(id); err != nil {
		return err
	}
	return s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		if _, err := getTalkgroup(tx, id); err != nil {
			return nil, err
		}
		changes := []change{{key: talkgroupKey(id), del: true}}
		if _, err := tx.Get(keysKey(id)); err == nil {
			changes = append(changes, change{key: keysKey(id), del: true})
		} else if !errors.Is(err, buntdb.ErrNotFound) {
			return nil, err
		}
		var derr error
		err := tx.AscendKeys(unitPfx+"*", func(key, val string) bool {
			u, err := decodeUnit(key, val)
			if err != nil {
				derr = fmt.Errorf("store: %s: %w", key, err)
				return false
			}
			if i, ok := slices.BinarySearch(u.Talkgroups, id); ok {
				u.Talkgroups = slices.Delete(u.Talkgroups, i, i+1)
				changes = append(changes, change{key: key, val: encodeUnit(u)})
			}
			return true
		})
		if err == nil {
			err = derr
		}
		return changes, err
	})
}

// Talkgroup returns talkgroup id, or an error matching ErrNotFound.
func (s *Store) Talkgroup(id uint16) (Talkgroup, error) {
	var tg Talkgroup
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		var err error
		tg, err = getTalkgroup(tx, id)
		return err
	})
	return tg, err
}

// Talkgroups returns every talkgroup, sorted by ID.
func (s *Store) Talkgroups() ([]Talkgroup, error) {
	var tgs []Talkgroup
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		var derr error
		err := tx.AscendKeys(talkgroupPfx+"*", func(key, val string) bool {
			tg, err := decodeTalkgroup(key, val)
			if err != nil {
				derr = fmt.Errorf("store: %s: %w", key, err)
				return false
			}
			tgs = append(tgs, tg)
			return true
		})
		if err == nil {
			err = derr
		}
		return err
	})
	return tgs, err
}

// AddUnit adds u. Its Talkgroups are sorted and de-duplicated, and each must
// exist (else an error matching ErrUnknownTalkgroup names them). If u has
// credentials and a zero Enrolled, Enrolled is set to Config.Now. If u has
// credentials and is not stunned, the keys of its talkgroups become stale
// ("unit 101 joined") in the same commit. It returns an error matching
// ErrExists if the ID is taken, or ErrInvalid if u breaks a rule. The change
// is on disk when it returns.
func (s *Store) AddUnit(u Unit) error {
	u, err := normalizeUnit(u)
	if err != nil {
		return err
	}
	if u.Enrolled.IsZero() && u.CertFingerprint != "" {
		u.Enrolled = s.cfg.Now().UTC()
	}
	return s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		key := unitKey(u.ID)
		if _, err := tx.Get(key); err == nil {
			return nil, errorf(ErrExists, "unit %d already exists", u.ID)
		} else if !errors.Is(err, buntdb.ErrNotFound) {
			return nil, err
		}
		if err := checkTalkgroupsExist(tx, u.Talkgroups); err != nil {
			return nil, err
		}
		kc, err := keyChanges(tx, nil, &u, keyReasons{gain: "joined"})
		if err != nil {
			return nil, err
		}
		return append([]change{{key: key, val: encodeUnit(u)}}, kc...), nil
	})
}

// RemoveUnit removes unit id from the roster, and its presence from the live
// state. In the same commit, the keys of the talkgroups it could hold become
// stale ("unit 101 removed"), its own member keys are deleted, and so are the
// messages queued for it (see messages.go) and its emergency (see
// emergency.go). It returns an error matching ErrNotFound if there is no such
// unit. The roster change is on disk when it returns.
func (s *Store) RemoveUnit(id uint32) error {
	if err := checkUnitID(id); err != nil {
		return err
	}
	err := s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		u, err := getUnit(tx, id)
		if err != nil {
			return nil, err
		}
		kc, err := keyChanges(tx, &u, nil, keyReasons{loss: "removed"})
		if err != nil {
			return nil, err
		}
		changes, err := appendMessageDeletes(tx, id, append([]change{{key: unitKey(id), del: true}}, kc...))
		if err != nil {
			return nil, err
		}
		return appendEmergencyDelete(tx, id, changes)
	})
	if err != nil {
		return err
	}
	err = s.live.Update(func(tx *buntdb.Tx) error {
		_, err := tx.Delete(presenceKey(id))
		if errors.Is(err, buntdb.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		// The presence record expires by itself; the removal stands.
		s.log.Warn("store: remove presence of removed unit", "unit", id, "err", err)
	}
	return nil
}

// Unit returns unit id, or an error matching ErrNotFound.
func (s *Store) Unit(id uint32) (Unit, error) {
	var u Unit
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		var err error
		u, err = getUnit(tx, id)
		return err
	})
	return u, err
}

// Units returns every unit, sorted by ID.
func (s *Store) Units() ([]Unit, error) {
	var units []Unit
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		var derr error
		err := tx.AscendKeys(unitPfx+"*", func(key, val string) bool {
			u, err := decodeUnit(key, val)
			if err != nil {
				derr = fmt.Errorf("store: %s: %w", key, err)
				return false
			}
			units = append(units, u)
			return true
		})
		if err == nil {
			err = derr
		}
		return err
	})
	return units, err
}

// UnitsAfter returns at most limit units with IDs above after, in ID
// order: a page of the roster, without reading the rest of it.
func (s *Store) UnitsAfter(after uint32, limit int) ([]Unit, error) {
	if limit <= 0 || after >= MaxUnitID {
		return nil, nil
	}
	var units []Unit
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		var derr error
		err := tx.AscendGreaterOrEqual("", unitKey(after+1), func(key, val string) bool {
			if !strings.HasPrefix(key, unitPfx) {
				return false
			}
			u, err := decodeUnit(key, val)
			if err != nil {
				derr = fmt.Errorf("store: %s: %w", key, err)
				return false
			}
			units = append(units, u)
			return len(units) < limit
		})
		if err == nil {
			err = derr
		}
		return err
	})
	return units, err
}

// updateUnit applies fn to unit id and writes the result if it changed,
// together with the changes to keys that it makes (see keyChanges), which
// why explains. fn may return an error to change nothing.
func (s *Store) updateUnit(id uint32, why keyReasons, fn func(tx *buntdb.Tx, u *Unit) error) (Unit, error) {
	if err := checkUnitID(id); err != nil {
		return Unit{}, err
	}
	var out Unit
	err := s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		u, err := getUnit(tx, id)
		if err != nil {
			return nil, err
		}
		before := u
		before.Talkgroups = slices.Clone(u.Talkgroups)
		old := encodeUnit(u)
		if err := fn(tx, &u); err != nil {
			return nil, err
		}
		out = u
		val := encodeUnit(u)
		if val == old {
			return nil, nil
		}
		kc, err := keyChanges(tx, &before, &u, why)
		if err != nil {
			return nil, err
		}
		return append([]change{{key: unitKey(id), val: val}}, kc...), nil
	})
	if err != nil {
		return Unit{}, err
	}
	return out, nil
}

// SetUnitTalkgroups makes tgs (sorted and de-duplicated) the talkgroups of
// unit id and returns the updated unit. If the unit has credentials and is
// not stunned, the keys of the talkgroups it joins ("unit 101 joined") and
// leaves ("unit 101 left") become stale in the same commit, and its member
// keys of those it leaves are deleted. It returns an error matching
// ErrNotFound if there is no such unit, or ErrUnknownTalkgroup naming the
// talkgroups that do not exist. The change is on disk when it returns.
func (s *Store) SetUnitTalkgroups(id uint32, tgs []uint16) (Unit, error) {
	tgs, err := normalizeTalkgroups(tgs)
	if err != nil {
		return Unit{}, err
	}
	return s.updateUnit(id, keyReasons{gain: "joined", loss: "left"}, func(tx *buntdb.Tx, u *Unit) error {
		if err := checkTalkgroupsExist(tx, tgs); err != nil {
			return err
		}
		u.Talkgroups = tgs
		return nil
	})
}

// SetUnitStunned stuns or revives unit id and returns the updated unit. If
// the unit has credentials, the keys of its talkgroups become stale ("unit
// 101 stunned", "unit 101 revived") in the same commit, and a stunned unit's
// member keys are deleted. It returns an error matching ErrNotFound if there
// is no such unit. The change is on disk when it returns.
func (s *Store) SetUnitStunned(id uint32, stunned bool) (Unit, error) {
	return s.updateUnit(id, keyReasons{gain: "revived", loss: "stunned"}, func(_ *buntdb.Tx, u *Unit) error {
		u.Stunned = stunned
		return nil
	})
}

// ReplaceUnitCredentials re-issues unit id's identity: its new certificate
// (DER) and that certificate's fingerprint (lower-case hex SHA-256, which
// must match), and its new public keys, all required, with Enrolled set to
// Config.Now. The old certificate stops matching at once. If the unit is not
// stunned, the keys of its talkgroups become stale ("unit 101 re-issued") in
// the same commit, and its member keys are deleted if its HPKE key changed.
// It returns the updated unit, or an error matching ErrNotFound or
// ErrInvalid. The change is on disk when it returns.
func (s *Store) ReplaceUnitCredentials(id uint32, fingerprint string, hpke, signing, cert []byte) (Unit, error) {
	if fingerprint == "" || len(hpke) == 0 || len(signing) == 0 || len(cert) == 0 {
		return Unit{}, invalidf("new credentials of unit %d need a certificate, its fingerprint, an HPKE public key and a signing public key", id)
	}
	c, err := normalizeCredentials(id, credentials{fp: fingerprint, hpke: hpke, signing: signing, cert: cert})
	if err != nil {
		return Unit{}, err
	}
	now := s.cfg.Now().UTC()
	return s.updateUnit(id, keyReasons{gain: "re-issued", reissue: "re-issued"}, func(_ *buntdb.Tx, u *Unit) error {
		u.setCredentials(c)
		u.Enrolled = now
		return nil
	})
}
