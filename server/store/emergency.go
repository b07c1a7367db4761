package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tidwall/buntdb"
)

// Emergency alarms. A unit's emergency stays raised until a dispatcher
// clears it, across relay restarts: the relay calls PutEmergency when a unit
// raises its alarm or a dispatcher acknowledges it, before it tells anyone,
// ClearEmergency when a dispatcher clears it, and Emergencies when it starts,
// to raise again the alarms it had.
//
// Each alarm is an emergency:UNIT record (see records.go), written in its
// own commit, so it is on disk when PutEmergency returns, like a roster
// change. A unit has at most one. RemoveUnit deletes the unit's emergency in
// the same commit as the unit. Snapshots and compaction copy the alarms with
// everything else, and Open checks every emergency record and that its unit
// exists.

// Emergency levels (Emergency.Level), as in the protocol's Emergency.
const (
	EmergencyLevelImminentPeril = 1
	EmergencyLevelEmergency     = 2
)

// Emergency states (Emergency.State), as in the protocol's EmergencyState. A
// cleared emergency is not stored: ClearEmergency deletes it.
const (
	EmergencyStateRaised       = 1
	EmergencyStateAcknowledged = 2
)

// Emergency is a unit's emergency alarm.
type Emergency struct {
	// Unit raised the alarm; it must exist in the roster.
	Unit uint32
	// Alias is the unit's alias at the time; may be empty, else it obeys
	// the rules of Unit.Alias.
	Alias string
	// Level is EmergencyLevelImminentPeril or EmergencyLevelEmergency.
	Level int
	// Talkgroup is the talkgroup the unit was on, or 0 if unknown. It is
	// not checked against the roster: the talkgroup may since have been
	// removed.
	Talkgroup uint16
	// State is EmergencyStateRaised or EmergencyStateAcknowledged.
	State int
	// Raised is when the alarm was raised, within the years 1678 to 2262.
	// PutEmergency sets a zero Raised to Config.Now; it is stored, and
	// returned, in UTC.
	Raised time.Time
	// By is the unit that acknowledged the alarm, or 0 for the relay or the
	// administrator; ByAlias is its alias at the time, and may be empty,
	// else it obeys the rules of Unit.Alias. Both are 0 and "" while the
	// alarm is raised.
	By      uint32
	ByAlias string
	// Lat and Lon are the unit's position when it raised the alarm, in WGS
	// 84 degrees as in Position, if HasPosition. Without HasPosition they
	// are not stored, and are returned as 0.
	Lat, Lon    float64
	HasPosition bool
}

// Emergency keys: emergency:UNIT, 8 digits (see records.go).
const emergencyPfx = "emergency:"

func emergencyKey(unit uint32) string { return fmt.Sprintf("%s%08d", emergencyPfx, unit) }

func isEmergencyKey(key string) bool {
	id, ok := parseKeyID(key, emergencyPfx, unitWidth)
	return ok && id >= 1 && id <= MaxUnitID
}

// checkEmergency checks every rule an emergency obeys on its own (not
// whether its unit exists).
func checkEmergency(e *Emergency) error {
	if err := checkUnitID(e.Unit); err != nil {
		return err
	}
	switch {
	case e.Level != EmergencyLevelImminentPeril && e.Level != EmergencyLevelEmergency:
		return invalidf("the emergency of unit %d has level %d (use %d for imminent peril or %d for an emergency)",
			e.Unit, e.Level, EmergencyLevelImminentPeril, EmergencyLevelEmergency)
	case e.State != EmergencyStateRaised && e.State != EmergencyStateAcknowledged:
		return invalidf("the emergency of unit %d has state %d (use %d for raised or %d for acknowledged; clear it to end it)",
			e.Unit, e.State, EmergencyStateRaised, EmergencyStateAcknowledged)
	case e.State == EmergencyStateRaised && (e.By != 0 || e.ByAlias != ""):
		return invalidf("the emergency of unit %d is raised, not acknowledged, but names who acknowledged it (unit %d, %q)",
			e.Unit, e.By, e.ByAlias)
	case e.By > MaxUnitID:
		return invalidf("the emergency of unit %d was acknowledged by %d, which is not a unit ID (1 to %d) or 0 for the relay",
			e.Unit, e.By, MaxUnitID)
	case !inNanoRange(e.Raised):
		return invalidf("the emergency of unit %d was raised at %v, outside the years 1678 to 2262", e.Unit, e.Raised)
	}
	if e.Alias != "" {
		if err := checkText("alias of the unit in an emergency", e.Alias, MaxAliasLen); err != nil {
			return err
		}
	}
	if e.ByAlias != "" {
		if err := checkText("alias of the unit that acknowledged an emergency", e.ByAlias, MaxAliasLen); err != nil {
			return err
		}
	}
	if e.HasPosition {
		return checkQueryPoint(fmt.Sprintf("position of the emergency of unit %d", e.Unit), e.Lat, e.Lon)
	}
	return nil
}

// emergencyRecord is an emergency: value (since version 5).
type emergencyRecord struct {
	V         int                `json:"v"`
	Unit      uint32             `json:"unit"`
	Alias     string             `json:"alias,omitempty"`
	Level     int                `json:"level"`
	Talkgroup uint16             `json:"tg,omitempty"`
	State     int                `json:"state"`
	Raised    time.Time          `json:"raised"`
	By        uint32             `json:"by,omitempty"`
	ByAlias   string             `json:"by_alias,omitempty"`
	Position  *emergencyPosition `json:"position,omitempty"` // absent without HasPosition
}

type emergencyPosition struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

func encodeEmergency(e *Emergency) string {
	r := emergencyRecord{
		V: schemaVersion, Unit: e.Unit, Alias: e.Alias, Level: e.Level, Talkgroup: e.Talkgroup,
		State: e.State, Raised: e.Raised.UTC(), By: e.By, ByAlias: e.ByAlias,
	}
	if e.HasPosition {
		r.Position = &emergencyPosition{Lat: e.Lat, Lon: e.Lon}
	}
	return mustJSON(r)
}

// decodeEmergency decodes and checks an emergency: record; whether its unit
// exists is checked by the caller.
func decodeEmergency(key, val string) (Emergency, error) {
	var r emergencyRecord
	if err := decodeStrictText(val, &r); err != nil {
		return Emergency{}, err
	}
	e := Emergency{
		Unit: r.Unit, Alias: r.Alias, Level: r.Level, Talkgroup: r.Talkgroup,
		State: r.State, Raised: r.Raised.UTC(), By: r.By, ByAlias: r.ByAlias,
	}
	if r.Position != nil {
		e.Lat, e.Lon, e.HasPosition = r.Position.Lat, r.Position.Lon, true
	}
	if key != emergencyKey(e.Unit) {
		return Emergency{}, fmt.Errorf("holds the emergency of unit %d", e.Unit)
	}
	if err := checkEmergency(&e); err != nil {
		return Emergency{}, err
	}
	return e, nil
}

// checkEmergencyRecord is Open's check of an emergency: record in state, the
// roster being loaded: it decodes, and its unit exists.
func checkEmergencyRecord(key, val string, state map[string]record) error {
	e, err := decodeEmergency(key, val)
	if err != nil {
		return err
	}
	if _, ok := state[unitKey(e.Unit)]; !ok {
		return fmt.Errorf("is the emergency of unit %d, which does not exist", e.Unit)
	}
	return nil
}

// PutEmergency stores e as the emergency of unit e.Unit, replacing the one it
// has, in its own commit: it is on disk when PutEmergency returns. A zero
// e.Raised is set to Config.Now; without e.HasPosition, e.Lat and e.Lon are
// not stored. Storing the emergency the unit already has writes nothing. It
// returns an error matching ErrNotFound if the unit does not exist, or
// ErrInvalid if e breaks a rule of Emergency; nothing is written then.
func (s *Store) PutEmergency(e Emergency) error {
	if e.Raised.IsZero() {
		e.Raised = s.cfg.Now()
	}
	e.Raised = e.Raised.UTC()
	if !e.HasPosition {
		e.Lat, e.Lon = 0, 0
	}
	if err := checkEmergency(&e); err != nil {
		return err
	}
	key, val := emergencyKey(e.Unit), encodeEmergency(&e)
	return s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		if _, err := getUnit(tx, e.Unit); err != nil {
			return nil, err
		}
		if old, err := tx.Get(key); err == nil && old == val {
			return nil, nil
		} else if err != nil && !errors.Is(err, buntdb.ErrNotFound) {
			return nil, err
		}
		return []change{{key: key, val: val}}, nil
	})
}

// ClearEmergency deletes unit's emergency, once a dispatcher has cleared it.
// It returns an error matching ErrNotFound if the unit has none. The change
// is on disk when it returns.
func (s *Store) ClearEmergency(unit uint32) error {
	if err := checkUnitID(unit); err != nil {
		return err
	}
	return s.deleteRecord(emergencyKey(unit), errorf(ErrNotFound, "unit %d has no emergency raised", unit))
}

// Emergencies returns every unit's emergency, oldest (by Raised) first, and
// by unit among emergencies raised at the same time. It holds BuntDB's read
// lock only to collect the records.
func (s *Store) Emergencies() ([]Emergency, error) {
	// ';' follows ':', so this is every emergency: key.
	recs, err := s.rosterRecords(emergencyPfx, "emergency;", 0)
	if err != nil {
		return nil, err
	}
	ems, err := decodeRecords(recs, decodeEmergency)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ems, func(a, b Emergency) int {
		return cmp.Or(a.Raised.Compare(b.Raised), cmp.Compare(a.Unit, b.Unit))
	})
	return ems, nil
}

// appendEmergencyDelete appends to changes the deletion of unit's emergency,
// if it has one, for RemoveUnit's commit.
func appendEmergencyDelete(tx *buntdb.Tx, unit uint32, changes []change) ([]change, error) {
	key := emergencyKey(unit)
	if _, err := tx.Get(key); errors.Is(err, buntdb.ErrNotFound) {
		return changes, nil
	} else if err != nil {
		return nil, err
	}
	return append(changes, change{key: key, del: true}), nil
}
