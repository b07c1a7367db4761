package geomap

import (
	"math"
	"strconv"
)

// earthRadius is the mean Earth radius in metres (IUGG), used both by
// Distance and by the map projection so the two agree.
const earthRadius = 6371008.8

const degToRad = math.Pi / 180

// Distance returns the great-circle (haversine) distance in metres between
// two points given in degrees. It is 0 for equal points and NaN if any
// argument is NaN.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2 := lat1*degToRad, lat2*degToRad
	dφ := (lat2 - lat1) * degToRad
	dλ := wrapLon(lon2-lon1) * degToRad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	h := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	h = math.Min(1, math.Max(0, h)) // rounding can push h just outside [0, 1]
	return 2 * earthRadius * math.Asin(math.Sqrt(h))
}

// Bearing returns the initial great-circle bearing in degrees, in [0, 360),
// from the first point to the second: 0 is north, 90 east. It is 0 for
// equal points and NaN if any argument is NaN.
func Bearing(lat1, lon1, lat2, lon2 float64) float64 {
	φ1, φ2 := lat1*degToRad, lat2*degToRad
	dλ := wrapLon(lon2-lon1) * degToRad
	y := math.Sin(dλ) * math.Cos(φ2)
	x := math.Cos(φ1)*math.Sin(φ2) - math.Sin(φ1)*math.Cos(φ2)*math.Cos(dλ)
	deg := math.Atan2(y, x) / degToRad
	if deg < 0 {
		deg += 360
	}
	if deg >= 360 { // -tiny + 360 rounds to 360
		deg = 0
	}
	return deg
}

// FormatDistance formats metres for a dispatcher: whole metres below 1 km
// ("850 m"), one decimal below 10 km with a trailing ".0" dropped ("1 km",
// "3.2 km"), whole kilometres above ("12 km"). Negative, NaN and infinite
// distances give "?".
func FormatDistance(m float64) string {
	if !(m >= 0) || math.IsInf(m, 1) {
		return "?"
	}
	if r := math.Round(m); r < 1000 {
		return strconv.FormatFloat(r, 'f', 0, 64) + " m"
	}
	km := m / 1000
	if math.Round(km*10) < 100 {
		s := strconv.FormatFloat(math.Round(km*10)/10, 'f', 1, 64)
		if s[len(s)-2:] == ".0" {
			s = s[:len(s)-2]
		}
		return s + " km"
	}
	return strconv.FormatFloat(math.Round(km), 'f', 0, 64) + " km"
}

var compassPoints = [8]string{"N", "NE", "E", "SE", "S", "SW", "W", "NW"}

// Compass names the nearest of the eight compass points for a bearing in
// degrees ("N", "NE", … "NW"); any finite angle is accepted (-90 is "W").
// NaN and infinities give "".
func Compass(deg float64) string {
	if math.IsNaN(deg) || math.IsInf(deg, 0) {
		return ""
	}
	i := int(math.Mod(math.Round(math.Mod(deg, 360)/45), 8))
	if i < 0 {
		i += 8
	}
	return compassPoints[i]
}

// wrapLon folds a longitude difference into [-180, 180).
func wrapLon(d float64) float64 {
	if d >= -180 && d < 180 {
		return d
	}
	d = math.Mod(d+180, 360)
	if d < 0 {
		d += 360
	}
	return d - 180
}

// projection is the local equirectangular projection around a view's
// centre: x metres east, y metres north.
type projection struct {
	lat0, lon0 float64
	cosLat0    float64
}

// newProjection returns the projection around (lat, lon) and false if the
// centre is not a usable coordinate (NaN or infinite). Latitudes beyond the
// poles are clamped.
func newProjection(lat, lon float64) (projection, bool) {
	if math.IsNaN(lat) || math.IsInf(lat, 0) || math.IsNaN(lon) || math.IsInf(lon, 0) {
		return projection{}, false
	}
	lat = math.Max(-90, math.Min(90, lat))
	return projection{lat0: lat, lon0: lon, cosLat0: math.Cos(lat * degToRad)}, true
}

// xy projects a point, returning false for coordinates that cannot be
// drawn (NaN, infinite, latitude beyond ±90°).
func (p projection) xy(lat, lon float64) (x, y float64, ok bool) {
	if !(lat >= -90 && lat <= 90) || math.IsNaN(lon) || math.IsInf(lon, 0) {
		return 0, 0, false
	}
	dλ := wrapLon(lon - p.lon0)
	if math.IsNaN(dλ) {
		return 0, 0, false
	}
	return dλ * degToRad * p.cosLat0 * earthRadius, (lat - p.lat0) * degToRad * earthRadius, true
}
