package store

import "math"

// Geometry of the location index (see nearest.go for how it is searched).
//
// Distances are great-circle distances on a sphere of radius earthRadius,
// computed with the haversine formula. The spatial index holds each position
// as the point on that sphere in Earth-centred, Earth-fixed coordinates
// (ECEF, metres): x towards 0°N 0°E, y towards 0°N 90°E, z towards the
// North Pole. Unlike a map projection (Web Mercator, equirectangular) this
// one does not distort distance with latitude, has no seam at the
// antimeridian and no singularity at the poles: the straight-line (chord)
// distance c between two indexed points is a strictly increasing function of
// their great-circle distance d, d = 2R·asin(c/2R), so ordering by c is
// ordering by d.
//
// The ellipsoid (WGS 84) differs from the sphere by up to about 0.5% in
// distance; for ranking units around an incident that is far below the
// accuracy of a handheld's fix.

// earthRadius is the Earth's mean radius (IUGG), in metres.
const earthRadius = 6371008.8

const degree = math.Pi / 180

// ecef returns the point at lat, lon (degrees) on the sphere of radius
// earthRadius, in metres.
func ecef(lat, lon float64) [3]float64 {
	sinLat, cosLat := math.Sincos(lat * degree)
	sinLon, cosLon := math.Sincos(lon * degree)
	rho := earthRadius * cosLat
	return [3]float64{rho * cosLon, rho * sinLon, earthRadius * sinLat}
}

// haversine returns the great-circle distance in metres between two points
// given in degrees. It is the distance every query reports and ranks by.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	phi1, phi2 := lat1*degree, lat2*degree
	sinDLat := math.Sin((phi2 - phi1) / 2)
	sinDLon := math.Sin((lon2 - lon1) * degree / 2)
	h := sinDLat*sinDLat + math.Cos(phi1)*math.Cos(phi2)*sinDLon*sinDLon
	return 2 * earthRadius * math.Asin(math.Sqrt(min(1, h)))
}

// arcOfChord returns the great-circle distance of two points on the sphere
// whose straight-line distance is chord (metres).
func arcOfChord(chord float64) float64 {
	return 2 * earthRadius * math.Asin(min(1, chord/(2*earthRadius)))
}

// rankSlack is how much farther than the n-th best distance d a candidate's
// lower bound must be before Nearest stops: 1 mm plus 1e-6·d. It covers the
// rounding of the haversine and chord formulas, which is largest near
// antipodal distances (about 0.3 m at 20,000 km), so that a unit whose
// computed distance ties or beats the n-th best is never left unexamined.
func rankSlack(d float64) float64 { return 1e-3 + 1e-6*d }

// lonArc is the arc of longitudes from west eastwards to east, in degrees;
// if west > east it crosses the antimeridian.
type lonArc struct{ west, east float64 }

func (a lonArc) in(lon float64) bool {
	if a.west <= a.east {
		return a.west <= lon && lon <= a.east
	}
	return lon >= a.west || lon <= a.east
}

// contains reports whether the meridian lon lies on the arc, with 180 and
// -180 being the same meridian.
func (a lonArc) contains(lon float64) bool {
	if lon == 180 || lon == -180 {
		return a.in(180) || a.in(-180)
	}
	return a.in(lon)
}

// boxPad widens the ECEF box of a lat/lon box, in metres, so that rounding
// never leaves out a point on its edge; Within filters the candidates by
// their exact latitude and longitude.
const boxPad = 1.0

// ecefBox returns an axis-aligned box in ECEF coordinates that holds every
// point of the sphere with latitude in [minLat, maxLat] and longitude on arc.
// Each coordinate is a product of factors whose ranges over the box are
// known (z = R·sin lat; x = R·cos lat·cos lon; y = R·cos lat·sin lon), so
// its extremes are at the corners of those ranges.
func ecefBox(minLat, maxLat float64, arc lonArc) (lo, hi [3]float64) {
	cosMin, cosMax := math.Cos(minLat*degree), math.Cos(maxLat*degree)
	rhoLo, rhoHi := earthRadius*min(cosMin, cosMax), earthRadius*max(cosMin, cosMax)
	if minLat <= 0 && 0 <= maxLat {
		rhoHi = earthRadius
	}
	sinW, cosW := math.Sincos(arc.west * degree)
	sinE, cosE := math.Sincos(arc.east * degree)
	cLo, cHi := min(cosW, cosE), max(cosW, cosE)
	sLo, sHi := min(sinW, sinE), max(sinW, sinE)
	if arc.contains(0) {
		cHi = 1
	}
	if arc.contains(180) {
		cLo = -1
	}
	if arc.contains(90) {
		sHi = 1
	}
	if arc.contains(-90) {
		sLo = -1
	}
	xLo, xHi := productRange(rhoLo, rhoHi, cLo, cHi)
	yLo, yHi := productRange(rhoLo, rhoHi, sLo, sHi)
	lo = [3]float64{xLo - boxPad, yLo - boxPad, earthRadius*math.Sin(minLat*degree) - boxPad}
	hi = [3]float64{xHi + boxPad, yHi + boxPad, earthRadius*math.Sin(maxLat*degree) + boxPad}
	return lo, hi
}

// productRange returns the range of a·b for a in [aLo, aHi], b in [bLo, bHi].
func productRange(aLo, aHi, bLo, bHi float64) (lo, hi float64) {
	p := [4]float64{aLo * bLo, aLo * bHi, aHi * bLo, aHi * bHi}
	lo, hi = p[0], p[0]
	for _, v := range p[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}
