package store

import (
	"cmp"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// region is where a test scatters its units and query points.
type region struct {
	name           string
	minLat, maxLat float64
	west, lonSpan  float64 // longitudes west..west+lonSpan, wrapped into -180..180
}

var (
	// metro is about 45 km by 45 km around Oslo.
	metro = region{"metro", 59.7, 60.1, 10.35, 0.8}
	// continent is northern Eurasia from 20°E across the antimeridian to
	// 170°W, 55°N to 70°N: about 7,700 km wide, where Web Mercator
	// stretches distances 1.7 to 2.9 times.
	continent = region{"continent", 55, 70, 20, 170}
)

func wrapLon(lon float64) float64 {
	if lon > 180 {
		return lon - 360
	}
	return lon
}

func (r region) point(rng *rand.Rand) (lat, lon float64) {
	return r.minLat + (r.maxLat-r.minLat)*rng.Float64(), wrapLon(r.west + r.lonSpan*rng.Float64())
}

// fleet is the live state a test wrote, to check the queries against.
type fleet struct {
	pos    map[uint32]Position // current positions (expired ones left out)
	status map[uint32]string   // status codes; units without one are absent
}

var testCodes = []string{StatusAvailable, StatusAvailable, StatusBusy, StatusEnRoute, StatusOnScene, StatusOutOfService, "k9-unit"}

// populateFleet writes units positions scattered over r: every unit once,
// a third of them moved, some (3%) with a position that has already
// expired, some sharing another unit's exact position, and most with a
// status.
func populateFleet(t testing.TB, s *Store, r region, units int, seed uint64) fleet {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	f := fleet{pos: make(map[uint32]Position), status: make(map[uint32]string)}
	ids := make([]uint32, 0, units)
	seen := make(map[uint32]bool)
	for len(ids) < units {
		id := uint32(1 + rng.IntN(MaxUnitID))
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i, id := range ids {
		lat, lon := r.point(rng)
		if i > 0 && rng.IntN(100) == 0 { // the same spot as another unit
			other := f.pos[ids[rng.IntN(i)]]
			lat, lon = other.Lat, other.Lon
		}
		p := Position{Unit: id, Lat: lat, Lon: lon, AccuracyM: float64(rng.IntN(100)), Time: t0.Add(time.Duration(i) * time.Second)}
		if rng.IntN(100) < 3 {
			if err := s.setPosition(p, time.Nanosecond); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := s.SetPosition(p); err != nil {
				t.Fatal(err)
			}
			f.pos[id] = p
		}
		if rng.IntN(10) < 8 {
			code := testCodes[rng.IntN(len(testCodes))]
			if err := s.SetStatus(UnitStatus{Unit: id, Code: code, Time: t0}); err != nil {
				t.Fatal(err)
			}
			f.status[id] = code
		}
	}
	for _, id := range ids {
		if _, ok := f.pos[id]; ok && rng.IntN(3) == 0 {
			p := f.pos[id]
			p.Lat, p.Lon = r.point(rng)
			p.Time = p.Time.Add(time.Hour)
			if err := s.SetPosition(p); err != nil {
				t.Fatal(err)
			}
			f.pos[id] = p
		}
	}
	return f
}

// nearestBrute ranks every current position by haversine distance, then
// unit ID, and returns the first n.
func (f fleet) nearestBrute(lat, lon float64, n int, filter func(uint32, string) bool) []Nearby {
	compare := func(a, b Nearby) int {
		if c := cmp.Compare(a.DistanceM, b.DistanceM); c != 0 {
			return c
		}
		return cmp.Compare(a.Unit, b.Unit)
	}
	var top []Nearby // the best so far, sorted, at most n
	for id, p := range f.pos {
		if filter != nil && !filter(id, f.status[id]) {
			continue
		}
		c := Nearby{Position: p, DistanceM: haversine(lat, lon, p.Lat, p.Lon), Status: f.status[id]}
		if len(top) == n && compare(c, top[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, c, compare)
		top = slices.Insert(top, i, c)
		top = top[:min(len(top), n)]
	}
	return top
}

// withinBrute returns the current positions in a box, by unit.
func (f fleet) withinBrute(minLat, minLon, maxLat, maxLon float64) []Position {
	var out []Position
	for _, p := range f.pos {
		inLon := p.Lon >= minLon && p.Lon <= maxLon
		if minLon > maxLon {
			inLon = p.Lon >= minLon || p.Lon <= maxLon
		}
		if math.Abs(p.Lon) == 180 { // the antimeridian, reached from either side
			inLon = minLon > maxLon || maxLon == 180 || minLon == -180
		}
		if p.Lat >= minLat && p.Lat <= maxLat && inLon {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Position) int { return cmp.Compare(a.Unit, b.Unit) })
	return out
}

func checkNearby(t *testing.T, what string, got, want []Nearby) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d units, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Unit != w.Unit {
			t.Fatalf("%s: #%d is unit %d at %.3f m, want unit %d at %.3f m", what, i, g.Unit, g.DistanceM, w.Unit, w.DistanceM)
		}
		if math.Abs(g.DistanceM-w.DistanceM) > 1e-6*w.DistanceM {
			t.Fatalf("%s: unit %d at %v m, want %v m", what, g.Unit, g.DistanceM, w.DistanceM)
		}
		if !samePosition(g.Position, w.Position) || g.Status != w.Status {
			t.Fatalf("%s: #%d = %+v, want %+v", what, i, g, w)
		}
	}
}

// TestNearestMatchesBruteForce ranks 10,000 units scattered over a metro
// area, and over a continent at high latitude across the antimeridian, and
// compares every answer with a brute-force haversine ranking: the same
// units in the same order.
func TestNearestMatchesBruteForce(t *testing.T) {
	t.Parallel()
	available := func(_ uint32, st string) bool { return st == StatusAvailable }
	rolling := func(_ uint32, st string) bool { return st == StatusAvailable || st == StatusEnRoute }
	odd := func(u uint32, _ string) bool { return u%2 == 1 }
	filters := []struct {
		name string
		f    func(uint32, string) bool
	}{{"all", nil}, {"available", available}, {"available or en route", rolling}, {"odd IDs", odd}}
	for i, r := range []region{metro, continent} {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, t.TempDir())
			f := populateFleet(t, s, r, 10_000, uint64(10+i))
			rng := rand.New(rand.NewPCG(uint64(20+i), 0))
			// Query points in the region, beyond its edges, and on the
			// units themselves.
			wide := r
			wide.minLat, wide.maxLat = r.minLat-1, min(90, r.maxLat+1)
			wide.west, wide.lonSpan = r.west-2, r.lonSpan+4
			units := make([]Position, 0, len(f.pos))
			for _, p := range f.pos {
				units = append(units, p)
			}
			slices.SortFunc(units, func(a, b Position) int { return cmp.Compare(a.Unit, b.Unit) })
			for q := range 300 {
				lat, lon := wide.point(rng)
				if q%10 == 0 {
					u := units[rng.IntN(len(units))]
					lat, lon = u.Lat, u.Lon
				}
				n := []int{1, 5, 5, 10, 37, 500}[rng.IntN(6)]
				fl := filters[q%len(filters)]
				got, err := s.Nearest(lat, lon, n, fl.f)
				if err != nil {
					t.Fatal(err)
				}
				checkNearby(t, fl.name, got, f.nearestBrute(lat, lon, n, fl.f))
			}
			// More units asked for than there are: all of them, in order.
			got, err := s.Nearest(r.minLat, r.west, 20_000, available)
			if err != nil {
				t.Fatal(err)
			}
			checkNearby(t, "every available unit", got, f.nearestBrute(r.minLat, r.west, 20_000, available))
			// A filter that refuses every unit.
			got, err = s.Nearest(r.minLat, r.west, 5, func(uint32, string) bool { return false })
			if err != nil || len(got) != 0 {
				t.Fatalf("Nearest with a filter that refuses all = %+v, %v", got, err)
			}
		})
	}
}

// TestNearestEdges covers ties, the antimeridian, the poles and a query on
// the far side of the Earth.
func TestNearestEdges(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	f := fleet{pos: make(map[uint32]Position), status: map[uint32]string{}}
	add := func(id uint32, lat, lon float64) {
		t.Helper()
		p := Position{Unit: id, Lat: lat, Lon: lon}
		if err := s.SetPosition(p); err != nil {
			t.Fatal(err)
		}
		f.pos[id] = p
	}
	// Four units at one spot, and four more 1 km north and south of it.
	for id := uint32(40); id > 36; id-- {
		add(id, 10, 20)
	}
	add(50, 10+1000/(earthRadius*degree), 20)
	add(51, 10-1000/(earthRadius*degree), 20)
	add(52, 10+1000/(earthRadius*degree), 20)
	add(53, 10-1000/(earthRadius*degree), 20)
	// Both sides of the antimeridian, and the poles.
	add(60, 65, 179.99)
	add(61, 65, -179.99)
	add(62, 65, 180)
	add(63, 65, -180)
	add(64, 65, 179)
	add(70, 90, 0)
	add(71, 89.999, 45)
	add(72, -90, 0)
	add(73, -89.9, -135)
	queries := []struct{ lat, lon float64 }{
		{10, 20}, {10.001, 20}, {65, 180}, {65, -180}, {65, -179.999}, {89.9999, -170}, {-90, 77}, {-10, -160}, {0, 0},
	}
	for _, q := range queries {
		for _, n := range []int{1, 3, 4, 6, 8, 30} {
			got, err := s.Nearest(q.lat, q.lon, n, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkNearby(t, "edges", got, f.nearestBrute(q.lat, q.lon, n, nil))
		}
	}
	got, err := s.Nearest(10, 20, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint32
	for _, g := range got {
		ids = append(ids, g.Unit)
	}
	if !reflect.DeepEqual(ids, []uint32{37, 38, 39, 40}) {
		t.Errorf("units at the same spot in order %v, want by unit ID", ids)
	}
	got, err = s.Nearest(65, -179.995, 2, nil)
	if err != nil || len(got) != 2 || got[0].DistanceM > 300 || got[1].DistanceM > 300 {
		t.Errorf("Nearest across the antimeridian = %+v, %v; want units 60 and 61, 237 m away each", got, err)
	}
}

// TestWithinMatchesBruteForce compares Within with a brute-force filter,
// over the metro area and over the continent with boxes across the
// antimeridian.
func TestWithinMatchesBruteForce(t *testing.T) {
	t.Parallel()
	for i, r := range []region{metro, continent} {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, t.TempDir())
			f := populateFleet(t, s, r, 10_000, uint64(30+i))
			// Units on the antimeridian and on the edges of a box.
			for id, ll := range map[uint32][2]float64{1: {60, 180}, 2: {61, -180}, 3: {59.9, 10.5}, 4: {60, 10.75}} {
				p := Position{Unit: id, Lat: ll[0], Lon: ll[1]}
				if err := s.SetPosition(p); err != nil {
					t.Fatal(err)
				}
				f.pos[id] = p
			}
			rng := rand.New(rand.NewPCG(uint64(40+i), 0))
			boxes := [][4]float64{
				{59.9, 10.5, 60, 10.75},  // units 3 and 4 on its corners
				{50, 170, 70, -170},      // across the antimeridian
				{50, 175, 70, 180},       // up to it from the west
				{50, -180, 70, -175},     // up to it from the east
				{-90, -180, 90, 180},     // the world
				{60, 10.6, 60, 10.6},     // a point
				{59.95, 10.7, 60.0, 5.0}, // across the antimeridian the long way
			}
			for range 200 {
				lat1, lon1 := r.point(rng)
				lat2, lon2 := r.point(rng)
				boxes = append(boxes, [4]float64{min(lat1, lat2), lon1, max(lat1, lat2), lon2})
			}
			for _, b := range boxes {
				got, err := s.Within(b[0], b[1], b[2], b[3])
				if err != nil {
					t.Fatal(err)
				}
				want := f.withinBrute(b[0], b[1], b[2], b[3])
				if len(got) != len(want) {
					t.Fatalf("Within%v: %d positions, want %d", b, len(got), len(want))
				}
				for j := range want {
					if !samePosition(got[j], want[j]) {
						t.Fatalf("Within%v: #%d = %+v, want %+v", b, j, got[j], want[j])
					}
				}
			}
		})
	}
}
