package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/buntdb"
)

// Live state lives in live.db, synced to disk about once a second: a change
// acknowledged less than a second before a crash may be lost. Each presence
// record expires Config.PresenceTTL after its last write.

func (s *Store) presenceTTL() *buntdb.SetOptions {
	return &buntdb.SetOptions{Expires: true, TTL: s.cfg.PresenceTTL}
}

// SetPresence records p, replacing the unit's previous presence. The unit
// need not be in the roster.
func (s *Store) SetPresence(p Presence) error {
	if err := checkUnitID(p.Unit); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	val := encodePresence(p)
	return dbErr(s.live.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(presenceKey(p.Unit), val, s.presenceTTL())
		return err
	}))
}

// Presence returns the presence of unit, or an error matching ErrNotFound if
// none was recorded or it expired. Times are in UTC.
func (s *Store) Presence(unit uint32) (Presence, error) {
	if err := checkUnitID(unit); err != nil {
		return Presence{}, err
	}
	if s.closed.Load() {
		return Presence{}, ErrClosed
	}
	var p Presence
	err := s.live.View(func(tx *buntdb.Tx) error {
		var err error
		p, err = getPresence(tx, unit)
		return err
	})
	return p, dbErr(err)
}

func getPresence(tx *buntdb.Tx, unit uint32) (Presence, error) {
	key := presenceKey(unit)
	val, err := tx.Get(key)
	if errors.Is(err, buntdb.ErrNotFound) {
		return Presence{}, errorf(ErrNotFound, "no presence recorded for unit %d", unit)
	}
	if err != nil {
		return Presence{}, err
	}
	p, err := decodePresence(key, val)
	if err != nil {
		return Presence{}, fmt.Errorf("store: %s: %w", key, err)
	}
	return p, nil
}

// SetLastHeard sets when unit was last heard, and renews its presence
// record's TTL. If the unit has no presence record, it creates one with only
// LastHeard set (Online false).
func (s *Store) SetLastHeard(unit uint32, t time.Time) error {
	if err := checkUnitID(unit); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return dbErr(s.live.Update(func(tx *buntdb.Tx) error {
		p, err := getPresence(tx, unit)
		if errors.Is(err, ErrNotFound) {
			p, err = Presence{Unit: unit}, nil
		}
		if err != nil {
			return err
		}
		p.LastHeard = t
		_, _, err = tx.Set(presenceKey(unit), encodePresence(p), s.presenceTTL())
		return err
	}))
}
