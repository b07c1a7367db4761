package store

import (
	"fmt"
	"strings"
	"time"
)

// Live state for dispatch: each unit's latest position (position.go), its
// status (status.go), and the queries over positions (nearest.go). Both live
// in live.db next to presence, one record per unit, each written by a
// transaction of its own (so live.db's torn-tail rule, checkLive, holds):
//
//	position:00000101   positionRecord, with a TTL of Config.PositionTTL
//	status:00000101     statusRecord, no TTL
//
// Their values are stored in canonical form: exactly what the encoder
// writes, which Open checks by encoding every decoded value again. That lets
// the spatial index and the queries read them with a small scanner
// (fieldScanner) instead of the JSON decoder, some twenty times faster, and
// be certain to read what the decoder would. FuzzDecodePosition and
// FuzzDecodeStatus check that they do.

const (
	positionPfx = "position:"
	statusPfx   = "status:"
)

// defaultPositionTTL is Config.PositionTTL's default.
const defaultPositionTTL = 30 * time.Minute

func positionKey(id uint32) string { return fmt.Sprintf("%s%08d", positionPfx, id) }
func statusKey(id uint32) string   { return fmt.Sprintf("%s%08d", statusPfx, id) }

// unitOfKey returns the unit ID of a key such as "position:00000101".
func unitOfKey(key, prefix string) (uint32, bool) {
	id, ok := parseKeyID(key, prefix, unitWidth)
	if !ok || id < 1 || id > MaxUnitID {
		return 0, false
	}
	return uint32(id), true
}

// isDispatchKey reports whether key is a position or status key of live.db.
func isDispatchKey(key string) bool {
	if _, ok := unitOfKey(key, positionPfx); ok {
		return true
	}
	_, ok := unitOfKey(key, statusPfx)
	return ok
}

// checkDispatchRecord checks a record of live.db whose key isDispatchKey:
// a set must hold a valid value in canonical form.
func checkDispatchRecord(r record) error {
	var err error
	switch {
	case r.del:
	case strings.HasPrefix(r.key, positionPfx):
		_, err = decodePosition(r.key, r.val)
	default:
		_, err = decodeStatus(r.key, r.val)
	}
	return err
}

// fillDispatch validates and defaults the Config fields of this file's
// features.
func (c *Config) fillDispatch() error {
	switch {
	case c.PositionTTL < 0:
		return invalidf("Config.PositionTTL is %v; it must be positive, or 0 for the default", c.PositionTTL)
	case c.PositionTTL == 0:
		c.PositionTTL = defaultPositionTTL
	}
	return nil
}

// checkTime refuses a time that cannot be stored (JSON holds years 0 to
// 9999 only).
func checkTime(what string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return invalidf("%s %v is out of range (years 0 to 9999)", what, t)
	}
	return nil
}
