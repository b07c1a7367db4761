package store

import (
	"bytes"
	"errors"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// peril returns unit's raised imminent-peril alarm on talkgroup 100, at
// Oslo Central Station.
func peril(unit uint32, alias string, at time.Time) Emergency {
	return Emergency{
		Unit: unit, Alias: alias, Level: EmergencyLevelImminentPeril, Talkgroup: 100,
		State: EmergencyStateRaised, Raised: at, Lat: 59.910999, Lon: 10.752245, HasPosition: true,
	}
}

func putAll(t testing.TB, s *Store, ems ...Emergency) {
	t.Helper()
	for _, e := range ems {
		if err := s.PutEmergency(e); err != nil {
			t.Fatalf("PutEmergency(unit %d): %v", e.Unit, err)
		}
	}
}

func emergenciesOf(t testing.TB, s *Store) []Emergency {
	t.Helper()
	ems, err := s.Emergencies()
	if err != nil {
		t.Fatalf("Emergencies: %v", err)
	}
	return ems
}

func emergencyUnits(ems []Emergency) []uint32 {
	units := make([]uint32, len(ems))
	for i, e := range ems {
		units[i] = e.Unit
	}
	return units
}

// TestEmergencies raises, acknowledges and clears alarms, and checks that
// each change is its own commit in the file when the call returns and that
// the alarms survive a reopen.
func TestEmergencies(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	if err := s.AddUnit(Unit{ID: 103, Alias: "Car 3", Role: RoleOfficer}); err != nil {
		t.Fatal(err)
	}
	if got := emergenciesOf(t, s); len(got) != 0 {
		t.Fatalf("Emergencies of a new roster = %+v", got)
	}
	t0 := c.Now()
	ist := time.FixedZone("IST", 5*3600+1800)

	car1 := peril(101, "Car 1", t0.Add(5*time.Second).In(ist))
	car1.Level = EmergencyLevelEmergency
	// Raised zero: Config.Now. Without HasPosition, Lat and Lon are not kept.
	disp := Emergency{Unit: 102, Level: EmergencyLevelImminentPeril, State: EmergencyStateRaised, Lat: 12, Lon: 34}
	car3 := Emergency{Unit: 103, Alias: "Car 3", Level: EmergencyLevelEmergency, State: EmergencyStateRaised, Raised: t0}
	for _, e := range []Emergency{car1, disp, car3} {
		putAll(t, s, e)
		if keys, _ := lastCommit(t, dir); !slices.Equal(keys, []string{emergencyKey(e.Unit)}) {
			t.Fatalf("after PutEmergency(unit %d) the last commit in the file writes %v", e.Unit, keys)
		}
	}
	car1.Raised = car1.Raised.UTC() // stored and returned in UTC
	disp.Raised, disp.Lat, disp.Lon = t0, 0, 0
	want := []Emergency{disp, car3, car1} // by Raised, then unit
	if got := emergenciesOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("Emergencies =\n%+v\nwant\n%+v", got, want)
	}

	// A dispatcher acknowledges: the alarm is replaced, in its own commit.
	acked := car1
	acked.State, acked.By, acked.ByAlias = EmergencyStateAcknowledged, 102, "Dispatch"
	putAll(t, s, acked)
	if keys, _ := lastCommit(t, dir); !slices.Equal(keys, []string{emergencyKey(101)}) {
		t.Fatalf("after acknowledging, the last commit in the file writes %v", keys)
	}
	want = []Emergency{disp, car3, acked}
	if got := emergenciesOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after acknowledging, Emergencies =\n%+v\nwant\n%+v", got, want)
	}
	// Storing the same alarm again writes nothing.
	before := readRoster(t, dir)
	putAll(t, s, acked)
	if !bytes.Equal(readRoster(t, dir), before) {
		t.Fatal("storing an unchanged emergency wrote to roster.db")
	}

	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	if got := emergenciesOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen Emergencies =\n%+v\nwant\n%+v", got, want)
	}

	if err := s.ClearEmergency(101); err != nil {
		t.Fatalf("ClearEmergency(101): %v", err)
	}
	if keys, _ := lastCommit(t, dir); !slices.Equal(keys, []string{emergencyKey(101)}) {
		t.Fatalf("after ClearEmergency the last commit in the file writes %v", keys)
	}
	for _, unit := range []uint32{101, 555, MaxUnitID} {
		err := s.ClearEmergency(unit)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "has no emergency raised") {
			t.Errorf("ClearEmergency(%d) without an emergency = %v, want ErrNotFound", unit, err)
		}
	}
	if err := s.ClearEmergency(0); !errors.Is(err, ErrInvalid) {
		t.Errorf("ClearEmergency(0) = %v, want ErrInvalid", err)
	}
	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	if got := emergenciesOf(t, s); !reflect.DeepEqual(got, []Emergency{disp, car3}) {
		t.Fatalf("after clearing unit 101 and reopening, Emergencies are of units %v; want [102 103]", emergencyUnits(got))
	}

	// A cleared unit may raise its alarm again.
	again := peril(101, "Car 1", t0.Add(time.Hour))
	putAll(t, s, again)
	if got := emergenciesOf(t, s); !reflect.DeepEqual(got, []Emergency{disp, car3, again}) {
		t.Fatalf("after raising again, Emergencies =\n%+v", got)
	}
	mustClose(t, s)
	if _, err := s.Emergencies(); !errors.Is(err, ErrClosed) {
		t.Errorf("Emergencies after Close = %v, want ErrClosed", err)
	}
	if err := s.PutEmergency(again); !errors.Is(err, ErrClosed) {
		t.Errorf("PutEmergency after Close = %v, want ErrClosed", err)
	}
}

func TestPutEmergencyValidation(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	good := peril(101, "Car 1", c.Now())
	with := func(fn func(e *Emergency)) Emergency {
		e := good
		fn(&e)
		return e
	}
	tests := []struct {
		name string
		e    Emergency
		kind error
		want string
	}{
		{"unknown unit", with(func(e *Emergency) { e.Unit = 555 }), ErrNotFound, "store: unit 555 does not exist"},
		{"unit 0", with(func(e *Emergency) { e.Unit = 0 }), ErrInvalid, "unit ID 0 is out of range"},
		{"unit too large", with(func(e *Emergency) { e.Unit = MaxUnitID + 1 }), ErrInvalid, "out of range"},
		{"no level", with(func(e *Emergency) { e.Level = 0 }), ErrInvalid, "the emergency of unit 101 has level 0"},
		{"level 3", with(func(e *Emergency) { e.Level = 3 }), ErrInvalid, "has level 3 (use 1 for imminent peril or 2 for an emergency)"},
		{"no state", with(func(e *Emergency) { e.State = 0 }), ErrInvalid, "has state 0"},
		{"state cleared", with(func(e *Emergency) { e.State = 3 }), ErrInvalid, "clear it to end it"},
		{"raised but acknowledged by", with(func(e *Emergency) { e.By = 102 }), ErrInvalid, "is raised, not acknowledged, but names who acknowledged it"},
		{"raised but acknowledged by alias", with(func(e *Emergency) { e.ByAlias = "Dispatch" }), ErrInvalid, "is raised, not acknowledged"},
		{"acknowledged by no unit", with(func(e *Emergency) { e.State, e.By = EmergencyStateAcknowledged, MaxUnitID+1 }), ErrInvalid,
			"was acknowledged by 16777216, which is not a unit ID"},
		{"alias spaced", with(func(e *Emergency) { e.Alias = "Car 1 " }), ErrInvalid, "alias of the unit in an emergency"},
		{"alias bad UTF-8", with(func(e *Emergency) { e.Alias = "Car \xff" }), ErrInvalid, "not valid UTF-8"},
		{"acknowledging alias too long", with(func(e *Emergency) {
			e.State, e.By, e.ByAlias = EmergencyStateAcknowledged, 102, strings.Repeat("x", MaxAliasLen+1)
		}), ErrInvalid, "alias of the unit that acknowledged an emergency"},
		{"raised out of range", with(func(e *Emergency) { e.Raised = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }), ErrInvalid,
			"outside the years 1678 to 2262"},
		{"latitude", with(func(e *Emergency) { e.Lat = 90.5 }), ErrInvalid, "latitude 90.5 of the position of the emergency of unit 101 is out of range"},
		{"latitude NaN", with(func(e *Emergency) { e.Lat = math.NaN() }), ErrInvalid, "latitude NaN"},
		{"longitude", with(func(e *Emergency) { e.Lon = -180.5 }), ErrInvalid, "longitude -180.5 of the position"},
		{"longitude infinite", with(func(e *Emergency) { e.Lon = math.Inf(1) }), ErrInvalid, "longitude +Inf"},
	}
	before := readRoster(t, dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutEmergency(tt.e)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("PutEmergency = %v, want %v saying %q", err, tt.kind, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("error %q does not begin with the package name", err)
			}
		})
	}
	if !bytes.Equal(readRoster(t, dir), before) {
		t.Fatal("refused emergencies changed roster.db")
	}
	if got := emergenciesOf(t, s); len(got) != 0 {
		t.Fatalf("refused emergencies are stored: %+v", got)
	}

	// The limits themselves are accepted.
	for _, u := range []Unit{{ID: 103, Alias: "Car 3", Role: RoleOfficer}, {ID: MaxUnitID, Alias: "Last", Role: RoleOfficer}} {
		if err := s.AddUnit(u); err != nil {
			t.Fatal(err)
		}
	}
	edges := []Emergency{
		with(func(e *Emergency) {
			e.Alias, e.Lat, e.Lon, e.Talkgroup = strings.Repeat("é", MaxAliasLen), -90, 180, 65535
		}),
		with(func(e *Emergency) {
			e.Unit, e.Alias, e.State, e.By, e.ByAlias = 102, "", EmergencyStateAcknowledged, 0, "Administrator"
			e.Lat, e.Lon, e.Raised = 90, -180, time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
		}),
		with(func(e *Emergency) {
			e.Unit, e.Level, e.Talkgroup = MaxUnitID, EmergencyLevelEmergency, 0
			e.State, e.By, e.ByAlias = EmergencyStateAcknowledged, MaxUnitID, strings.Repeat("x", MaxAliasLen)
			e.Raised = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
		}),
	}
	putAll(t, s, edges...)
	// Without HasPosition, even a position out of range is not looked at.
	noPos := with(func(e *Emergency) { e.Unit, e.Lat, e.Lon, e.HasPosition = 103, math.NaN(), 500, false })
	putAll(t, s, noPos)
	noPos.Lat, noPos.Lon = 0, 0
	want := []Emergency{edges[1], edges[0], noPos, edges[2]} // by Raised, then unit
	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	if got := emergenciesOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen the emergencies at the limits are\n%+v\nwant\n%+v", got, want)
	}
}

// TestRemoveUnitClearsEmergency checks that RemoveUnit deletes the unit's
// emergency in its own commit, and only that unit's.
func TestRemoveUnitClearsEmergency(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	putAll(t, s, peril(101, "Car 1", c.Now()), peril(102, "Dispatch", c.Now()))
	queueAll(t, s, textTo(101, 1, "one", c.Now()))
	if err := s.RemoveUnit(101); err != nil {
		t.Fatal(err)
	}
	keys, _ := lastCommit(t, dir)
	for _, k := range []string{unitKey(101), emergencyKey(101), messageKey(101, 1)} {
		if !slices.Contains(keys, k) {
			t.Errorf("RemoveUnit's commit does not delete %s; it writes %v", k, keys)
		}
	}
	if slices.Contains(keys, emergencyKey(102)) {
		t.Errorf("RemoveUnit(101) wrote unit 102's emergency")
	}
	if got := emergencyUnits(emergenciesOf(t, s)); !slices.Equal(got, []uint32{102}) {
		t.Fatalf("after RemoveUnit(101) the emergencies are of units %v; want [102]", got)
	}
	if err := s.ClearEmergency(101); !errors.Is(err, ErrNotFound) {
		t.Errorf("ClearEmergency of a removed unit = %v, want ErrNotFound", err)
	}
	if err := s.PutEmergency(peril(101, "Car 1", c.Now())); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutEmergency of a removed unit = %v, want ErrNotFound", err)
	}
	// A unit without an emergency is removed as before.
	if err := s.AddUnit(Unit{ID: 103, Alias: "Car 3", Role: RoleOfficer}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUnit(103); err != nil {
		t.Fatalf("RemoveUnit of a unit without an emergency: %v", err)
	}

	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	if got := emergencyUnits(emergenciesOf(t, s)); !slices.Equal(got, []uint32{102}) {
		t.Fatalf("after reopening, the emergencies are of units %v; want [102]", got)
	}
	// A unit added again under the same ID has no emergency.
	if err := s.AddUnit(Unit{ID: 101, Alias: "Car 1 again", Role: RoleOfficer}); err != nil {
		t.Fatal(err)
	}
	if got := emergencyUnits(emergenciesOf(t, s)); !slices.Equal(got, []uint32{102}) {
		t.Fatalf("a re-added unit inherits an emergency: units %v", got)
	}
}

// TestEmergencyRecordsOnOpen checks Open's handling of emergency records: an
// edited one is damage, a torn commit that was writing one is cut off, and a
// record that breaks a rule is damage even with a valid checksum.
func TestEmergencyRecordsOnOpen(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	e := peril(101, "Car 1", c.Now())
	e.Level = EmergencyLevelEmergency
	putAll(t, s, e)
	mustClose(t, s)
	good := readRoster(t, dir)

	// Someone quietly downgrades the emergency to imminent peril.
	editedData := replaceOnce(t, good, `"level":2`, `"level":1`)
	edited, path := writeRoster(t, editedData)
	_, err := Open(Config{Dir: edited})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "does not match its checksum") {
		t.Fatalf("Open of a roster.db with an edited emergency = %v, want ErrDamaged", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, editedData) {
		t.Error("Open changed a damaged file")
	}

	lost := peril(102, "Dispatch", c.Now())
	torn := appendCommit(t, good, change{key: emergencyKey(102), val: encodeEmergency(&lost)})
	d, _ := writeRoster(t, torn[:len(torn)-20])
	s = openStore(t, d)
	if got := emergencyUnits(emergenciesOf(t, s)); !slices.Equal(got, []uint32{101}) {
		t.Fatalf("after cutting a torn emergency commit, the emergencies are of units %v; want [101]", got)
	}
	if len(tornCopies(t, d, rosterFile)) != 1 {
		t.Fatal("no copy of the torn file")
	}

	rec := func(fn func(r *emergencyRecord)) string {
		r := emergencyRecord{
			V: schemaVersion, Unit: 102, Alias: "Dispatch", Level: EmergencyLevelImminentPeril, State: EmergencyStateRaised,
			Raised: c.Now(), Position: &emergencyPosition{Lat: 1, Lon: 2},
		}
		fn(&r)
		return mustJSON(r)
	}
	ok := rec(func(*emergencyRecord) {})
	key := emergencyKey(102)
	for _, tt := range []struct {
		name    string
		changes []change
		want    string
	}{
		{"level", []change{{key: key, val: rec(func(r *emergencyRecord) { r.Level = 3 })}}, "has level 3"},
		{"state", []change{{key: key, val: rec(func(r *emergencyRecord) { r.State = 0 })}}, "has state 0"},
		{"raised, acknowledged by", []change{{key: key, val: rec(func(r *emergencyRecord) { r.By = 101 })}}, "is raised, not acknowledged"},
		{"alias bad UTF-8", []change{{key: key, val: strings.Replace(ok, `"Dispatch"`, "\"Disp\xff\"", 1)}}, "not valid UTF-8"},
		{"alias spaced", []change{{key: key, val: rec(func(r *emergencyRecord) { r.Alias = " Dispatch" })}}, "begins or ends with a space"},
		{"latitude", []change{{key: key, val: rec(func(r *emergencyRecord) { r.Position.Lat = 91 })}}, "latitude 91"},
		{"no time", []change{{key: key, val: strings.Replace(ok, `,"raised":"2026-11-23T10:15:00Z"`, "", 1)}}, "outside the years"},
		{"other unit", []change{{key: key, val: rec(func(r *emergencyRecord) { r.Unit = 101 })}}, "holds the emergency of unit 101"},
		{"short key", []change{{key: "emergency:102", val: ok}}, "holds the emergency of unit 102"},
		{"unknown unit", []change{{key: emergencyKey(555), val: rec(func(r *emergencyRecord) { r.Unit = 555 })}},
			"is the emergency of unit 555, which does not exist"},
		{"left behind by a removed unit", []change{{key: unitKey(101), del: true}}, "is the emergency of unit 101, which does not exist"},
		{"unknown field", []change{{key: key, val: strings.Replace(ok, `"level":1,`, `"level":1,"silent":true,`, 1)}}, "unknown field"},
		{"not JSON", []change{{key: key, val: "{"}}, "the value of emergency:00000102"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := appendCommit(t, good, tt.changes...)
			d, path := writeRoster(t, data)
			_, err := Open(Config{Dir: d})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want ErrDamaged saying %q", err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Error("Open changed the file")
			}
		})
	}

	// The record as written, with a valid checksum, is accepted.
	d, _ = writeRoster(t, appendCommit(t, good, change{key: key, val: ok}))
	s = openStore(t, d)
	if got := emergencyUnits(emergenciesOf(t, s)); !slices.Equal(got, []uint32{101, 102}) {
		t.Fatalf("after appending unit 102's emergency, the emergencies are of units %v", got)
	}

	// An emergency record from a newer version is not damage.
	newer := rec(func(r *emergencyRecord) { r.V = schemaVersion + 1 })
	d, _ = writeRoster(t, appendCommit(t, good, change{key: key, val: newer}))
	if _, err := Open(Config{Dir: d}); !errors.Is(err, ErrNewerSchema) || errors.Is(err, ErrDamaged) {
		t.Fatalf("Open of a newer emergency record = %v, want ErrNewerSchema", err)
	}
}

// TestEmergenciesInSnapshot restores a snapshot and finds the alarms as they
// were when it was taken.
func TestEmergenciesInSnapshot(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	acked := peril(102, "Dispatch", c.Now().Add(time.Second))
	acked.State, acked.By, acked.ByAlias = EmergencyStateAcknowledged, 102, "Dispatch"
	putAll(t, s, peril(101, "Car 1", c.Now()), acked)
	want := emergenciesOf(t, s)
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the snapshot are lost by the restore.
	if err := s.ClearEmergency(101); err != nil {
		t.Fatal(err)
	}
	putAll(t, s, peril(102, "Dispatch", c.Now().Add(time.Hour)))
	mustClose(t, s)

	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	restored, _ := writeRoster(t, data)
	s = openStore(t, restored)
	if got := emergenciesOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored emergencies =\n%+v\nwant\n%+v", got, want)
	}
	// The restored store carries on.
	if err := s.ClearEmergency(101); err != nil {
		t.Fatalf("ClearEmergency after restore: %v", err)
	}
}

// FuzzDecodeEmergency checks that decodeEmergency never panics and that what
// it accepts obeys the rules of an emergency and encodes back to itself.
func FuzzDecodeEmergency(f *testing.F) {
	t0 := newClock().Now()
	acked := Emergency{
		Unit: MaxUnitID, Level: EmergencyLevelEmergency, Talkgroup: 65535, State: EmergencyStateAcknowledged,
		Raised: t0, By: 102, ByAlias: "Dispatch <&> \u2028",
	}
	for _, e := range []Emergency{peril(101, "Car 1", t0), acked} {
		f.Add(emergencyKey(e.Unit), encodeEmergency(&e))
	}
	f.Add(emergencyKey(7), `{"v":5,"unit":7,"alias":"\ud800","level":1,"state":1,"raised":"2026-01-01T00:00:00+02:00","position":null}`)
	f.Fuzz(func(t *testing.T, key, val string) {
		e, err := decodeEmergency(key, val)
		if err != nil {
			return
		}
		if err := checkEmergency(&e); err != nil || key != emergencyKey(e.Unit) || !isEmergencyKey(key) {
			t.Fatalf("decodeEmergency accepted %q, %q as %+v: %v", key, val, e, err)
		}
		again, err := decodeEmergency(key, encodeEmergency(&e))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("%+v encodes to %q, which decodes to %+v, %v", e, encodeEmergency(&e), again, err)
		}
	})
}
