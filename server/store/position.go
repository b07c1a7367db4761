package store

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/buntdb"
)

// Position is a unit's location fix.
type Position struct {
	Unit uint32
	// Lat and Lon are WGS 84 degrees: Lat from -90 to 90, Lon from -180 to
	// 180 (both ends allowed, both finite).
	Lat, Lon float64
	// AccuracyM is the fix's horizontal accuracy radius in metres, finite
	// and not negative; 0 if unknown.
	AccuracyM float64
	// Time is when the fix was taken (any year from 0 to 9999; zero if
	// unknown). It is stored and returned in UTC. It does not decide when
	// the position expires: see SetPosition.
	Time time.Time
}

// positionRecord is the value of position:<unit>. Its fields are written in
// this order, which scanLatLon relies on.
type positionRecord struct {
	V         int       `json:"v"`
	Unit      uint32    `json:"unit"`
	Lat       float64   `json:"lat"`
	Lon       float64   `json:"lon"`
	AccuracyM float64   `json:"accuracy_m"`
	Time      time.Time `json:"time"`
}

// positionIndex is the spatial index over position:* in live.db.
const positionIndex = "positions"

func encodePosition(p Position) string {
	return mustJSON(positionRecord{
		V: liveSchemaVersion, Unit: p.Unit, Lat: p.Lat, Lon: p.Lon, AccuracyM: p.AccuracyM, Time: p.Time.UTC(),
	})
}

func decodePosition(key, val string) (Position, error) {
	var r positionRecord
	if err := decodeStrict(val, &r); err != nil {
		return Position{}, err
	}
	if key != positionKey(r.Unit) {
		return Position{}, fmt.Errorf("holds unit %d", r.Unit)
	}
	p := Position{Unit: r.Unit, Lat: r.Lat, Lon: r.Lon, AccuracyM: r.AccuracyM, Time: r.Time}
	if err := checkPosition(p); err != nil {
		return Position{}, err
	}
	if encodePosition(p) != val {
		return Position{}, errors.New("not in canonical form")
	}
	return p, nil
}

// fieldScanner reads the fields of a value in canonical form (see
// dispatch.go) in the order the encoder writes them, without the JSON
// decoder. Once a field is missing, ok is false and every later field is "".
type fieldScanner struct {
	rest string
	ok   bool
}

// next reads the field that follows: prefix, then everything up to the next
// end byte.
func (f *fieldScanner) next(prefix string, end byte) string {
	if !f.ok {
		return ""
	}
	r, ok := strings.CutPrefix(f.rest, prefix)
	i := strings.IndexByte(r, end)
	if !ok || i < 0 {
		f.ok = false
		return ""
	}
	f.rest = r[i:]
	return r[:i]
}

// scanLatLon reads the latitude and longitude of a position value in
// canonical form, {"v":1,"unit":101,"lat":59.91,"lon":10.75,...}.
func scanLatLon(val string) (lat, lon float64, ok bool) {
	f := fieldScanner{rest: val, ok: true}
	f.next(`{"v":`, ',')
	f.next(`,"unit":`, ',')
	latS, lonS := f.next(`,"lat":`, ','), f.next(`,"lon":`, ',')
	if !f.ok {
		return 0, 0, false
	}
	lat, err1 := strconv.ParseFloat(latS, 64)
	lon, err2 := strconv.ParseFloat(lonS, 64)
	return lat, lon, err1 == nil && err2 == nil
}

// scanPosition reads a position value in canonical form, as decodePosition
// would but some twenty times faster, for the queries: every value in live.db
// has passed decodePosition (Open) or was written by encodePosition.
func scanPosition(val string) (Position, bool) {
	f := fieldScanner{rest: val, ok: true}
	f.next(`{"v":`, ',')
	unitS := f.next(`,"unit":`, ',')
	latS, lonS := f.next(`,"lat":`, ','), f.next(`,"lon":`, ',')
	accS := f.next(`,"accuracy_m":`, ',')
	timeS := f.next(`,"time":"`, '"')
	if !f.ok || f.rest != `"}` {
		return Position{}, false
	}
	unit, err1 := strconv.ParseUint(unitS, 10, 32)
	lat, err2 := strconv.ParseFloat(latS, 64)
	lon, err3 := strconv.ParseFloat(lonS, 64)
	acc, err4 := strconv.ParseFloat(accS, 64)
	t, err5 := time.Parse(time.RFC3339Nano, timeS)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return Position{}, false
	}
	return Position{Unit: uint32(unit), Lat: lat, Lon: lon, AccuracyM: acc, Time: t}, true
}

// readPosition reads the position value of key from the live store.
func readPosition(key, val string) (Position, error) {
	p, ok := scanPosition(val)
	if !ok {
		return Position{}, fmt.Errorf("store: internal error: %s is not in canonical form", key)
	}
	return p, nil
}

// positionRect is the spatial index's rect function. BuntDB calls it with
// a stored position value, to index it at its ECEF point (geo.go), and with
// the "[x y z]" or "[x y z],[x y z]" string of a query (Nearest, Within),
// which buntdb.IndexRect parses.
func positionRect(s string) (min, max []float64) {
	if strings.HasPrefix(s, "[") {
		return buntdb.IndexRect(s)
	}
	lat, lon, ok := scanLatLon(s)
	if !ok {
		// Not reached: Open and SetPosition admit only canonical values.
		return nil, nil
	}
	p := ecef(lat, lon)
	return p[:], p[:]
}

// indexPositions creates the spatial index over the positions in live.db;
// BuntDB builds it from the loaded records and keeps it in memory.
func (s *Store) indexPositions() error {
	if err := s.live.CreateSpatialIndex(positionIndex, positionPfx+"*", positionRect); err != nil {
		return fmt.Errorf("store: index the positions in %s: %w", s.path(liveFile), err)
	}
	return nil
}

// checkCoord checks a latitude or longitude against ±limit degrees.
func checkCoord(what string, unit uint32, v, limit float64) error {
	if !(v >= -limit && v <= limit) {
		return invalidf("%s %v of unit %d is out of range (a finite number of degrees from %v to %v)", what, v, unit, -limit, limit)
	}
	return nil
}

func checkPosition(p Position) error {
	if err := checkUnitID(p.Unit); err != nil {
		return err
	}
	if err := checkCoord("latitude", p.Unit, p.Lat, 90); err != nil {
		return err
	}
	if err := checkCoord("longitude", p.Unit, p.Lon, 180); err != nil {
		return err
	}
	if !(p.AccuracyM >= 0) || math.IsInf(p.AccuracyM, 1) {
		return invalidf("accuracy %v m of the position of unit %d is out of range (a finite number of metres, 0 or more)", p.AccuracyM, p.Unit)
	}
	return checkTime(fmt.Sprintf("time of the position of unit %d", p.Unit), p.Time)
}

// SetPosition records p as its unit's latest position, replacing the
// previous one whatever its Time: the caller passes fixes in the order it
// wants them kept. The position expires Config.PositionTTL after this call
// (by the real clock); until then it is returned by Position, Nearest and
// Within. The unit need not be in the roster. It returns an error matching
// ErrInvalid, and records nothing, if p breaks a rule of Position.
func (s *Store) SetPosition(p Position) error {
	if err := checkPosition(p); err != nil {
		return err
	}
	return s.setPosition(p, s.cfg.PositionTTL)
}

func (s *Store) setPosition(p Position, ttl time.Duration) error {
	if s.closed.Load() {
		return ErrClosed
	}
	val := encodePosition(p)
	return dbErr(s.live.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(positionKey(p.Unit), val, &buntdb.SetOptions{Expires: true, TTL: ttl})
		return err
	}))
}

// Position returns unit's latest position, or an error matching ErrNotFound
// if none was recorded or it expired.
func (s *Store) Position(unit uint32) (Position, error) {
	if err := checkUnitID(unit); err != nil {
		return Position{}, err
	}
	if s.closed.Load() {
		return Position{}, ErrClosed
	}
	var p Position
	err := s.live.View(func(tx *buntdb.Tx) error {
		key := positionKey(unit)
		val, err := tx.Get(key)
		if errors.Is(err, buntdb.ErrNotFound) {
			return errorf(ErrNotFound, "no current position of unit %d (none was recorded in the last %v)", unit, s.cfg.PositionTTL)
		}
		if err != nil {
			return err
		}
		p, err = readPosition(key, val)
		return err
	})
	return p, dbErr(err)
}
