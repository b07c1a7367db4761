package store

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/tidwall/buntdb"
)

// Location queries.
//
// Positions are indexed in BuntDB's spatial index (an R-tree) as points in
// ECEF coordinates, metres (geo.go). Nearest walks BuntDB's Nearby iterator,
// which yields the indexed points in order of straight-line distance c from
// the query point (it reports c²), and ranks each candidate by its
// great-circle (haversine) distance d.
//
// When to stop. On a sphere of radius R, d = 2R·asin(c/2R) exactly, and
// that is increasing in c. Every candidate still to come has c at least the
// current candidate's c, so its d is at least arcOfChord(c) of the current
// candidate. Once n units are ranked and arcOfChord(c) exceeds the n-th best
// d by more than the rounding of the two formulas (rankSlack), no unit yet
// to come can tie or beat it, and the walk stops. Without a filter, the walk
// examines the n nearest units and about one more; a filter that accepts a
// fraction f of the units makes that about n/f.
//
// A map projection would need a looser rule: Web Mercator scales lengths by
// 1/cos(lat) (2.9 at 70°N), so a projected distance D only bounds d by
// D·cos(lat) for the highest latitude the geodesic reaches, and the x axis
// wraps at the antimeridian, where near neighbours are a world apart. The
// ECEF chord has neither problem.
//
// Expired positions stay in the index until BuntDB's once-a-second sweep
// removes them; both queries skip them by their TTL.

// Nearby is a unit found by Nearest.
type Nearby struct {
	Position
	// DistanceM is the great-circle distance from the query point, in
	// metres (on the sphere of the Earth's mean radius).
	DistanceM float64
	// Status is the unit's status code, or "" if it has none.
	Status string
}

// checkQueryPoint checks a latitude and longitude given to a query.
func checkQueryPoint(what string, lat, lon float64) error {
	if !(lat >= -90 && lat <= 90) {
		return invalidf("latitude %v of the %s is out of range (a finite number of degrees from -90 to 90)", lat, what)
	}
	if !(lon >= -180 && lon <= 180) {
		return invalidf("longitude %v of the %s is out of range (a finite number of degrees from -180 to 180)", lon, what)
	}
	return nil
}

// candidate is a unit ranked by Nearest.
type candidate struct {
	d      float64
	unit   uint32
	key    string
	val    string
	status string
}

func compareCandidates(a, b candidate) int {
	if c := cmp.Compare(a.d, b.d); c != 0 {
		return c
	}
	return cmp.Compare(a.unit, b.unit)
}

// Nearest returns the n units with a current (unexpired) position nearest
// to lat, lon, nearest first, among those that filter accepts; fewer if
// there are fewer. Units at the same distance are in order of unit ID.
// filter is given each candidate's unit and status code ("" if it has
// none); a nil filter accepts every unit. The relay passes
// status == StatusAvailable.
//
// filter is called while the live store is read-locked, in the calling
// goroutine: it must be quick and must not call the Store. Nearest returns
// an error matching ErrInvalid if lat or lon is out of range or n < 1.
func (s *Store) Nearest(lat, lon float64, n int, filter func(unit uint32, status string) bool) ([]Nearby, error) {
	if err := checkQueryPoint("query point", lat, lon); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, invalidf("Nearest was asked for %d units; ask for 1 or more", n)
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	q := ecef(lat, lon)
	target := buntdb.Point(q[:]...)
	var best []candidate // sorted by compareCandidates, at most n
	var out []Nearby
	err := s.live.View(func(tx *buntdb.Tx) error {
		var ierr error
		err := tx.Nearby(positionIndex, target, func(key, val string, dist2 float64) bool {
			if len(best) == n {
				worst := best[n-1].d
				if arcOfChord(math.Sqrt(dist2)) > worst+rankSlack(worst) {
					return false
				}
			}
			if _, err := tx.TTL(key); err != nil {
				return true // expired, not yet swept
			}
			c, err := s.rank(tx, lat, lon, key, val, filter)
			if err != nil {
				ierr = err
				return false
			}
			if c.key == "" {
				return true
			}
			i, _ := slices.BinarySearchFunc(best, c, compareCandidates)
			if i < n {
				best = slices.Insert(best, i, c)
				best = best[:min(len(best), n)]
			}
			return true
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return err
		}
		out = make([]Nearby, 0, len(best))
		for _, c := range best {
			p, err := readPosition(c.key, c.val)
			if err != nil {
				return err
			}
			if filter == nil {
				if c.status, err = statusCodeOf(tx, c.unit); err != nil {
					return err
				}
			}
			out = append(out, Nearby{Position: p, DistanceM: c.d, Status: c.status})
		}
		return nil
	})
	if err != nil {
		return nil, dbErr(err)
	}
	return out, nil
}

// rank returns the candidate for the position record key, val, or a
// candidate with no key if filter refuses it. It reads the unit's status
// only if there is a filter to give it to.
func (s *Store) rank(tx *buntdb.Tx, lat, lon float64, key, val string, filter func(uint32, string) bool) (candidate, error) {
	unit, ok := unitOfKey(key, positionPfx)
	if !ok {
		return candidate{}, fmt.Errorf("store: internal error: %q in the position index", key)
	}
	var status string
	if filter != nil {
		var err error
		if status, err = statusCodeOf(tx, unit); err != nil {
			return candidate{}, err
		}
		if !filter(unit, status) {
			return candidate{}, nil
		}
	}
	plat, plon, ok := scanLatLon(val)
	if !ok {
		return candidate{}, fmt.Errorf("store: internal error: %s is not in canonical form", key)
	}
	return candidate{d: haversine(lat, lon, plat, plon), unit: unit, key: key, val: val, status: status}, nil
}

// Within returns the current (unexpired) positions inside the box from
// minLat to maxLat and from minLon eastwards to maxLon, edges included,
// sorted by unit ID. If minLon is greater than maxLon the box crosses the
// antimeridian, as in a GeoJSON bbox (RFC 7946, section 5.2): Within(50,
// 170, 60, -170) covers 20 degrees of longitude around 180. A point on the
// antimeridian (longitude 180 or -180) is inside a box that reaches it from
// either side. Within returns an error matching ErrInvalid if a coordinate
// is out of range or minLat is greater than maxLat.
func (s *Store) Within(minLat, minLon, maxLat, maxLon float64) ([]Position, error) {
	if err := checkQueryPoint("box's south-west corner", minLat, minLon); err != nil {
		return nil, err
	}
	if err := checkQueryPoint("box's north-east corner", maxLat, maxLon); err != nil {
		return nil, err
	}
	if minLat > maxLat {
		return nil, invalidf("the box's southern edge (latitude %v) is north of its northern edge (%v)", minLat, maxLat)
	}
	if s.closed.Load() {
		return nil, ErrClosed
	}
	arc := lonArc{west: minLon, east: maxLon}
	lo, hi := ecefBox(minLat, maxLat, arc)
	bounds := buntdb.Rect(lo[:], hi[:])
	var out []Position
	err := s.live.View(func(tx *buntdb.Tx) error {
		var ierr error
		err := tx.Intersects(positionIndex, bounds, func(key, val string) bool {
			if _, err := tx.TTL(key); err != nil {
				return true // expired, not yet swept
			}
			p, err := readPosition(key, val)
			if err != nil {
				ierr = err
				return false
			}
			if p.Lat < minLat || p.Lat > maxLat || !arc.contains(p.Lon) {
				return true
			}
			out = append(out, p)
			return true
		})
		if err == nil {
			err = ierr
		}
		return err
	})
	if err != nil {
		return nil, dbErr(err)
	}
	slices.SortFunc(out, func(a, b Position) int { return cmp.Compare(a.Unit, b.Unit) })
	return out, nil
}
