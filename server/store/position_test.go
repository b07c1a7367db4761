package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// oslo is a point in the metro area the tests use.
var oslo = Position{Unit: 101, Lat: 59.91273, Lon: 10.74609, AccuracyM: 12.5,
	Time: time.Date(2026, 11, 23, 10, 15, 3, 250_000_000, time.FixedZone("CET", 3600))}

func samePosition(a, b Position) bool {
	return a.Unit == b.Unit && a.Lat == b.Lat && a.Lon == b.Lon && a.AccuracyM == b.AccuracyM && a.Time.Equal(b.Time)
}

// identicalPosition also compares the floats' bits and the times' locations.
func identicalPosition(a, b Position) bool {
	return a.Unit == b.Unit && math.Float64bits(a.Lat) == math.Float64bits(b.Lat) &&
		math.Float64bits(a.Lon) == math.Float64bits(b.Lon) && math.Float64bits(a.AccuracyM) == math.Float64bits(b.AccuracyM) &&
		a.Time.Equal(b.Time) && a.Time.Location() == b.Time.Location()
}

// checkScanPosition checks that the scanners read val as decodePosition
// does, which gave p.
func checkScanPosition(t *testing.T, val string, p Position) {
	t.Helper()
	lat, lon, ok := scanLatLon(val)
	if !ok || math.Float64bits(lat) != math.Float64bits(p.Lat) || math.Float64bits(lon) != math.Float64bits(p.Lon) {
		t.Fatalf("scanLatLon(%s) = %v, %v, %v; the decoder reads %v, %v", val, lat, lon, ok, p.Lat, p.Lon)
	}
	if got, ok := scanPosition(val); !ok || !identicalPosition(got, p) {
		t.Fatalf("scanPosition(%s) = %+v, %v; the decoder reads %+v", val, got, ok, p)
	}
}

// checkScanStatus checks that the scanners read val as decodeStatus does,
// which gave st.
func checkScanStatus(t *testing.T, val string, st UnitStatus) {
	t.Helper()
	if code, ok := scanStatusCode(val); !ok || code != st.Code {
		t.Fatalf("scanStatusCode(%s) = %q, %v; the decoder reads %q", val, code, ok, st.Code)
	}
	got, ok := scanStatus(val)
	if !ok || got.Unit != st.Unit || got.Code != st.Code || got.By != st.By || !got.Time.Equal(st.Time) || got.Time.Location() != st.Time.Location() {
		t.Fatalf("scanStatus(%s) = %+v, %v; the decoder reads %+v", val, got, ok, st)
	}
}

func TestPositionValidation(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	nan, inf := math.NaN(), math.Inf(1)
	with := func(f func(p *Position)) Position {
		p := oslo
		f(&p)
		return p
	}
	bad := []struct {
		name string
		p    Position
		want string
	}{
		{"unit 0", with(func(p *Position) { p.Unit = 0 }), "unit ID 0 is out of range"},
		{"unit too large", with(func(p *Position) { p.Unit = MaxUnitID + 1 }), "out of range"},
		{"latitude above 90", with(func(p *Position) { p.Lat = 90.000001 }), "latitude 90.000001 of unit 101 is out of range"},
		{"latitude below -90", with(func(p *Position) { p.Lat = -91 }), "latitude -91"},
		{"latitude NaN", with(func(p *Position) { p.Lat = nan }), "latitude NaN"},
		{"latitude infinite", with(func(p *Position) { p.Lat = -inf }), "latitude -Inf"},
		{"longitude above 180", with(func(p *Position) { p.Lon = 180.5 }), "longitude 180.5"},
		{"longitude NaN", with(func(p *Position) { p.Lon = nan }), "longitude NaN"},
		{"longitude infinite", with(func(p *Position) { p.Lon = inf }), "longitude +Inf"},
		{"negative accuracy", with(func(p *Position) { p.AccuracyM = -1 }), "accuracy -1 m"},
		{"accuracy NaN", with(func(p *Position) { p.AccuracyM = nan }), "accuracy NaN m"},
		{"accuracy infinite", with(func(p *Position) { p.AccuracyM = inf }), "accuracy +Inf m"},
		{"time after 9999", with(func(p *Position) { p.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), "years 0 to 9999"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetPosition(tt.p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "store: ") {
				t.Fatalf("SetPosition = %v, want ErrInvalid saying %q", err, tt.want)
			}
			if tt.p.Unit >= 1 && tt.p.Unit <= MaxUnitID {
				if _, err := s.Position(tt.p.Unit); !errors.Is(err, ErrNotFound) {
					t.Errorf("Position after a refused SetPosition = %v, want ErrNotFound", err)
				}
			}
		})
	}
	good := []Position{
		with(func(p *Position) { p.Lat, p.Lon = 90, 180 }),
		with(func(p *Position) { p.Lat, p.Lon = -90, -180 }),
		with(func(p *Position) { p.Lat, p.Lon, p.AccuracyM, p.Time = 0, 0, 0, time.Time{} }),
		with(func(p *Position) { p.Lat, p.Lon = math.Copysign(0, -1), 1e-300 }),
		with(func(p *Position) { p.Unit, p.AccuracyM = MaxUnitID, 1e21 }),
	}
	for _, p := range good {
		if err := s.SetPosition(p); err != nil {
			t.Errorf("SetPosition(%+v) = %v", p, err)
			continue
		}
		if got, err := s.Position(p.Unit); err != nil || !samePosition(got, p) || math.Signbit(got.Lat) != math.Signbit(p.Lat) {
			t.Errorf("Position = %+v, %v; want %+v", got, err, p)
		}
	}
	for _, id := range []uint32{0, MaxUnitID + 1} {
		if _, err := s.Position(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("Position(%d) = %v, want ErrInvalid", id, err)
		}
	}
}

func TestStatusValidation(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	now := time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)
	bad := []struct {
		name string
		st   UnitStatus
		want string
	}{
		{"unit 0", UnitStatus{Unit: 0, Code: StatusBusy}, "unit ID 0"},
		{"empty code", UnitStatus{Unit: 5, Code: ""}, `status code "" of unit 5 is not valid`},
		{"upper case", UnitStatus{Unit: 5, Code: "Available"}, `"Available"`},
		{"leading hyphen", UnitStatus{Unit: 5, Code: "-busy"}, `"-busy"`},
		{"space", UnitStatus{Unit: 5, Code: "on scene"}, `"on scene"`},
		{"underscore", UnitStatus{Unit: 5, Code: "on_scene"}, `"on_scene"`},
		{"non-ASCII", UnitStatus{Unit: 5, Code: "frei-ü"}, `"frei-ü"`},
		{"trailing newline", UnitStatus{Unit: 5, Code: "busy\n"}, "not valid"},
		{"25 characters", UnitStatus{Unit: 5, Code: strings.Repeat("a", 25)}, "1 to 24"},
		{"setter out of range", UnitStatus{Unit: 5, Code: StatusBusy, By: MaxUnitID + 1}, "the unit that set the status of unit 5"},
		{"time after 9999", UnitStatus{Unit: 5, Code: StatusBusy, Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "years 0 to 9999"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetStatus(tt.st)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SetStatus = %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
	if _, err := s.Status(5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Status after refused writes = %v, want ErrNotFound", err)
	}
	for i, code := range []string{StatusAvailable, StatusBusy, StatusEnRoute, StatusOnScene, StatusOutOfService,
		"10-8", "k9", "0", strings.Repeat("z", 24)} {
		st := UnitStatus{Unit: uint32(10 + i), Code: code, Time: now.In(time.FixedZone("X", -7200)), By: uint32(i)}
		if err := s.SetStatus(st); err != nil {
			t.Errorf("SetStatus(%q) = %v", code, err)
			continue
		}
		got, err := s.Status(st.Unit)
		if err != nil || got.Unit != st.Unit || got.Code != code || !got.Time.Equal(now) || got.Time.Location() != time.UTC || got.By != st.By {
			t.Errorf("Status = %+v, %v; want %+v in UTC", got, err, st)
		}
	}
}

func TestQueryValidation(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	nan := math.NaN()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Nearest n 0", nearestErr(s, 59, 10, 0), "asked for 0 units"},
		{"Nearest n negative", nearestErr(s, 59, 10, -3), "asked for -3 units"},
		{"Nearest latitude", nearestErr(s, 91, 10, 1), "latitude 91 of the query point"},
		{"Nearest latitude NaN", nearestErr(s, nan, 10, 1), "latitude NaN"},
		{"Nearest longitude", nearestErr(s, 59, -180.1, 1), "longitude -180.1 of the query point"},
		{"Within latitudes swapped", withinErr(s, 60, 10, 59, 11), "southern edge (latitude 60) is north of its northern edge (59)"},
		{"Within latitude", withinErr(s, -90.5, 10, 59, 11), "latitude -90.5 of the box's south-west corner"},
		{"Within longitude", withinErr(s, 59, 10, 60, 200), "longitude 200 of the box's north-east corner"},
		{"Within NaN", withinErr(s, 59, nan, 60, 11), "longitude NaN"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrInvalid) || !strings.Contains(tt.err.Error(), tt.want) {
			t.Errorf("%s: %v, want ErrInvalid saying %q", tt.name, tt.err, tt.want)
		}
	}
	s2, err := Open(Config{Dir: t.TempDir(), PositionTTL: -time.Second})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Config.PositionTTL") {
		if s2 != nil {
			s2.Close()
		}
		t.Errorf("Open with a negative PositionTTL = %v, want ErrInvalid", err)
	}
}

func nearestErr(s *Store, lat, lon float64, n int) error {
	_, err := s.Nearest(lat, lon, n, nil)
	return err
}

func withinErr(s *Store, minLat, minLon, maxLat, maxLon float64) error {
	_, err := s.Within(minLat, minLon, maxLat, maxLon)
	return err
}

// TestPositionExpires uses the real clock, as BuntDB does: a position
// recorded with a short TTL is gone from every query once it has passed,
// while the unit's status, which does not expire, stays.
func TestPositionExpires(t *testing.T) {
	t.Parallel()
	const ttl = 400 * time.Millisecond
	s := openStore(t, t.TempDir(), func(c *Config) { c.PositionTTL = ttl })
	start := time.Now()
	if err := s.SetPosition(oslo); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(UnitStatus{Unit: oslo.Unit, Code: StatusAvailable}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Position(oslo.Unit); err != nil {
		if time.Since(start) < ttl {
			t.Fatalf("Position before the TTL = %v", err)
		}
		t.Skip("the machine is too slow to read the position back within its TTL")
	}
	time.Sleep(time.Until(start.Add(ttl + 50*time.Millisecond)))
	if _, err := s.Position(oslo.Unit); !errors.Is(err, ErrNotFound) {
		t.Errorf("Position after the TTL = %v, want ErrNotFound", err)
	}
	if got, err := s.Nearest(oslo.Lat, oslo.Lon, 5, nil); err != nil || len(got) != 0 {
		t.Errorf("Nearest after the TTL = %+v, %v; want none", got, err)
	}
	if got, err := s.Within(-90, -180, 90, 180); err != nil || len(got) != 0 {
		t.Errorf("Within after the TTL = %+v, %v; want none", got, err)
	}
	if st, err := s.Status(oslo.Unit); err != nil || st.Code != StatusAvailable {
		t.Errorf("Status after the position's TTL = %+v, %v; want it kept", st, err)
	}
}

// TestExpiredBeforeSweep checks that the queries skip a position whose TTL
// has passed but which BuntDB's once-a-second sweep has not removed yet.
func TestExpiredBeforeSweep(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	stale := oslo
	stale.Unit = 7
	fresh := oslo
	fresh.Lat += 0.01
	if err := s.setPosition(stale, time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPosition(fresh); err != nil {
		t.Fatal(err)
	}
	got, err := s.Nearest(stale.Lat, stale.Lon, 5, nil)
	if err != nil || len(got) != 1 || got[0].Unit != fresh.Unit {
		t.Fatalf("Nearest = %+v, %v; want only unit %d", got, err, fresh.Unit)
	}
	in, err := s.Within(59, 10, 61, 11)
	if err != nil || len(in) != 1 || in[0].Unit != fresh.Unit {
		t.Fatalf("Within = %+v, %v; want only unit %d", in, err, fresh.Unit)
	}
	if _, err := s.Position(stale.Unit); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Position(stale) = %v, want ErrNotFound", err)
	}
}

func TestPositionsSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	rng := rand.New(rand.NewPCG(5, 6))
	want := make(map[uint32]Position)
	codes := map[uint32]string{}
	for i := range 200 {
		p := Position{Unit: uint32(1000 + i), Lat: 59.8 + 0.2*rng.Float64(), Lon: 10.5 + 0.5*rng.Float64(),
			AccuracyM: 50 * rng.Float64(), Time: time.Unix(1_790_000_000+int64(i), int64(i)*1001)}
		if err := s.SetPosition(p); err != nil {
			t.Fatal(err)
		}
		want[p.Unit] = p
		if i%3 == 0 {
			codes[p.Unit] = []string{StatusAvailable, StatusBusy, "k9"}[i%9/3]
			if err := s.SetStatus(UnitStatus{Unit: p.Unit, Code: codes[p.Unit], By: 7}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Moves replace earlier positions in the file and in the index.
	for u := uint32(1000); u < 1200; u += 2 {
		p := want[u]
		p.Lat, p.Lon = p.Lat-1, p.Lon+1
		if err := s.SetPosition(p); err != nil {
			t.Fatal(err)
		}
		want[u] = p
	}
	before, err := s.Nearest(59.9, 10.7, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	for i := range 2 {
		s = openStore(t, dir)
		for u, p := range want {
			got, err := s.Position(u)
			if err != nil || !samePosition(got, p) {
				t.Fatalf("reopen %d: Position(%d) = %+v, %v; want %+v", i, u, got, err, p)
			}
			st, err := s.Status(u)
			if code, ok := codes[u]; ok != (err == nil) || st.Code != code {
				t.Fatalf("reopen %d: Status(%d) = %+v, %v; want %q", i, u, st, err, code)
			}
		}
		after, err := s.Nearest(59.9, 10.7, 20, nil)
		if err != nil || !reflect.DeepEqual(after, before) {
			t.Fatalf("reopen %d: Nearest = %+v, %v\nwant %+v", i, after, err, before)
		}
		all, err := s.Within(-90, -180, 90, 180)
		if err != nil || len(all) != len(want) {
			t.Fatalf("reopen %d: Within(world) = %d positions, %v; want %d", i, len(all), err, len(want))
		}
		mustClose(t, s)
	}
}

func TestDispatchClosed(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	mustClose(t, s)
	tests := []struct {
		name string
		err  error
	}{
		{"SetPosition", s.SetPosition(oslo)},
		{"Position", func() error { _, err := s.Position(101); return err }()},
		{"SetStatus", s.SetStatus(UnitStatus{Unit: 101, Code: StatusBusy})},
		{"Status", func() error { _, err := s.Status(101); return err }()},
		{"Nearest", nearestErr(s, 59, 10, 1)},
		{"Within", withinErr(s, 59, 10, 60, 11)},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", tt.name, tt.err)
		}
	}
}

// TestScanners checks that the field scanners used by the index and the
// queries read what the decoder reads, for values of every shape the
// encoder writes.
func TestScanners(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	lats := []float64{0, math.Copysign(0, -1), 90, -90, 1e-7, -3.5e-12, 59.912730000000003, 45}
	lons := []float64{0, 180, -180, 1e-300, -1e-7, 10.74609, 179.99999999999997}
	accs := []float64{0, 1e21, 1e-7, 5}
	for i := range 5000 {
		p := Position{Unit: uint32(1 + rng.IntN(MaxUnitID)), Lat: 180*rng.Float64() - 90, Lon: 360*rng.Float64() - 180,
			AccuracyM: accs[rng.IntN(len(accs))], Time: time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9))}
		if i < len(lats)*len(lons) {
			p.Lat, p.Lon = lats[i%len(lats)], lons[i/len(lats)]
		}
		if i%7 == 0 {
			p.Time = time.Time{}
		}
		val := encodePosition(p)
		got, err := decodePosition(positionKey(p.Unit), val)
		if err != nil {
			t.Fatalf("decodePosition(%s) = %v", val, err)
		}
		checkScanPosition(t, val, got)
	}
	for i, code := range []string{StatusAvailable, StatusOutOfService, "0", "10-8", strings.Repeat("x", 24)} {
		st := UnitStatus{Unit: uint32(42 + i), Code: code, By: uint32(i * 1000), Time: time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9))}
		val := encodeStatus(st)
		got, err := decodeStatus(statusKey(st.Unit), val)
		if err != nil {
			t.Fatalf("decodeStatus(%s) = %v", val, err)
		}
		checkScanStatus(t, val, got)
	}
}

// FuzzDecodePosition checks that decodePosition never panics, and that
// what it accepts obeys the rules of a position, encodes back to itself and
// is read alike by scanLatLon.
func FuzzDecodePosition(f *testing.F) {
	f.Add(positionKey(oslo.Unit), encodePosition(oslo))
	f.Add(positionKey(7), encodePosition(Position{Unit: 7, Lat: -90, Lon: 180, AccuracyM: 1e21}))
	f.Add(positionKey(7), `{"v":1,"unit":7,"lat":1.0,"lon":2,"accuracy_m":0,"time":"0001-01-01T00:00:00Z"}`)
	f.Fuzz(func(t *testing.T, key, val string) {
		p, err := decodePosition(key, val)
		if err != nil {
			return
		}
		if err := checkPosition(p); err != nil || key != positionKey(p.Unit) || encodePosition(p) != val {
			t.Fatalf("decodePosition accepted %q as %+v: %v", val, p, err)
		}
		checkScanPosition(t, val, p)
	})
}

// FuzzDecodeStatus is FuzzDecodePosition for status records.
func FuzzDecodeStatus(f *testing.F) {
	f.Add(statusKey(5), encodeStatus(UnitStatus{Unit: 5, Code: StatusOnScene, By: 102}))
	f.Add(statusKey(5), `{"v":1,"unit":5,"code":"k9","time":"0001-01-01T00:00:00Z","by":0}`)
	f.Fuzz(func(t *testing.T, key, val string) {
		st, err := decodeStatus(key, val)
		if err != nil {
			return
		}
		if err := checkStatus(st); err != nil || key != statusKey(st.Unit) || encodeStatus(st) != val {
			t.Fatalf("decodeStatus accepted %q as %+v: %v", val, st, err)
		}
		checkScanStatus(t, val, st)
	})
}

// appendTTLRecord appends a set record with a TTL, as BuntDB writes one.
func appendTTLRecord(buf []byte, key, val string, secs int) []byte {
	buf = append(buf, "*5\r\n$3\r\nset\r\n"...)
	buf = appendBulk(buf, key)
	buf = appendBulk(buf, val)
	buf = appendBulk(buf, "ex")
	return appendBulk(buf, fmt.Sprint(secs))
}

func TestDamagedDispatchRefused(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	s := openStore(t, src)
	p := Position{Unit: 5, Lat: 59.91, Lon: 10.75, AccuracyM: 8, Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	if err := s.SetPosition(p); err != nil {
		t.Fatal(err)
	}
	if err := s.SetStatus(UnitStatus{Unit: 5, Code: StatusAvailable, Time: p.Time}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	good, err := os.ReadFile(filepath.Join(src, liveFile))
	if err != nil {
		t.Fatal(err)
	}
	pos := func(p Position) string { return encodePosition(p) }
	at := func(lat, lon float64) Position { return Position{Unit: 9, Lat: lat, Lon: lon} }
	tests := []struct {
		name    string
		data    func(t *testing.T) []byte
		wantErr string
	}{
		{"position edited out of range", func(t *testing.T) []byte {
			return replaceOnce(t, good, `"lat":59.91`, `"lat":99.91`)
		}, "latitude 99.91 of unit 5 is out of range"},
		{"position garbled", func(t *testing.T) []byte {
			return replaceOnce(t, good, `"unit":5,"lat"`, `"unit":5;"lat"`)
		}, "not valid JSON"},
		{"status edited", func(t *testing.T) []byte {
			return replaceOnce(t, good, `"code":"available"`, `"code":"avail@ble"`)
		}, `status code "avail@ble"`},
		{"position not JSON", func(t *testing.T) []byte {
			return appendTTLRecord(bytes.Clone(good), positionKey(9), "{oops", 60)
		}, "the value of position:00000009 at byte"},
		{"position of another unit", func(t *testing.T) []byte {
			return appendTTLRecord(bytes.Clone(good), positionKey(8), pos(at(1, 2)), 60)
		}, "holds unit 9"},
		{"longitude out of range", func(t *testing.T) []byte {
			return appendTTLRecord(bytes.Clone(good), positionKey(9), pos(at(1, -181)), 60)
		}, "longitude -181"},
		{"negative accuracy", func(t *testing.T) []byte {
			return appendTTLRecord(bytes.Clone(good), positionKey(9), pos(Position{Unit: 9, AccuracyM: -2}), 60)
		}, "accuracy -2 m"},
		{"position with unknown field", func(t *testing.T) []byte {
			v := strings.Replace(pos(at(1, 2)), `{"v":1,`, `{"v":1,"alt":30,`, 1)
			return appendTTLRecord(bytes.Clone(good), positionKey(9), v, 60)
		}, "unknown field"},
		{"position not in canonical form", func(t *testing.T) []byte {
			v := strings.Replace(pos(at(1, 2)), `"lat":1,`, `"lat":1.0,`, 1)
			return appendTTLRecord(bytes.Clone(good), positionKey(9), v, 60)
		}, "not in canonical form"},
		{"position with a bad unit key", func(t *testing.T) []byte {
			return appendTTLRecord(bytes.Clone(good), "position:0000000x", pos(at(1, 2)), 60)
		}, `unexpected key "position:0000000x"`},
		{"status not JSON", func(t *testing.T) []byte {
			return appendSetRecord(bytes.Clone(good), statusKey(9), "[]")
		}, "the value of status:00000009"},
		{"status of another unit", func(t *testing.T) []byte {
			return appendSetRecord(bytes.Clone(good), statusKey(9), encodeStatus(UnitStatus{Unit: 10, Code: StatusBusy}))
		}, "holds unit 10"},
		{"status code upper case", func(t *testing.T) []byte {
			return appendSetRecord(bytes.Clone(good), statusKey(9), encodeStatus(UnitStatus{Unit: 9, Code: "BUSY"}))
		}, `status code "BUSY"`},
		{"status set by unit out of range", func(t *testing.T) []byte {
			return appendSetRecord(bytes.Clone(good), statusKey(9), encodeStatus(UnitStatus{Unit: 9, Code: "busy", By: MaxUnitID + 1}))
		}, "the unit that set the status"},
		{"bad position, then a torn tail", func(t *testing.T) []byte {
			d := appendTTLRecord(bytes.Clone(good), positionKey(9), pos(at(95, 2)), 60)
			return append(d, "*5\r\n$3\r\nset\r\n$17\r\nposition:000"...)
		}, "latitude 95"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, liveFile)
			data := tt.data(t)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Config{Dir: dir})
			var de *DamagedError
			if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) || de.File != path {
				t.Fatalf("Open = %v, want a *DamagedError for %s", err, path)
			}
			if !strings.Contains(de.Err.Error(), tt.wantErr) {
				t.Errorf("Err = %q, want it to contain %q", de.Err, tt.wantErr)
			}
			for _, want := range []string{"store: " + path + " is damaged (", "live state", "move " + path + " aside"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not contain %q", err, want)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Error("Open changed the damaged file")
			}
			if c := tornCopies(t, dir, liveFile); len(c) != 0 {
				t.Errorf("torn copies made of a damaged file: %v", c)
			}
		})
	}

	t.Run("newer schema", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		v := strings.Replace(pos(at(1, 2)), `{"v":1,`, `{"v":99,`, 1)
		data := appendTTLRecord(bytes.Clone(good), positionKey(9), v, 60)
		if err := os.WriteFile(filepath.Join(dir, liveFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrNewerSchema) || errors.Is(err, ErrDamaged) {
			t.Fatalf("Open = %v, want ErrNewerSchema", err)
		}
	})

	// A position record cut short at the end of the file is a transaction
	// a crash interrupted: it is cut off, as for presence.
	t.Run("torn position", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		path := filepath.Join(dir, liveFile)
		rec := appendTTLRecord(nil, positionKey(9), pos(at(1, 2)), 60)
		if err := os.WriteFile(path, append(bytes.Clone(good), rec[:len(rec)-9]...), 0o600); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, dir)
		if got, err := s.Position(5); err != nil || !samePosition(got, p) {
			t.Fatalf("Position(5) = %+v, %v; want %+v", got, err, p)
		}
		if _, err := s.Position(9); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Position(9) = %v, want ErrNotFound", err)
		}
		if got, err := s.Nearest(1, 2, 5, nil); err != nil || len(got) != 1 || got[0].Unit != 5 {
			t.Fatalf("Nearest = %+v, %v; want unit 5 only", got, err)
		}
		if c := tornCopies(t, dir, liveFile); len(c) != 1 {
			t.Fatalf("torn copies %v, want one", c)
		}
	})
}
