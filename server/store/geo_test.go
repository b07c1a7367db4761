package store

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestHaversine(t *testing.T) {
	t.Parallel()
	const R = earthRadius
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64
	}{
		{"same point", 59.9, 10.7, 59.9, 10.7, 0},
		{"one degree of a meridian", 10, 20, 11, 20, R * degree},
		{"one degree of the equator", 0, 20, 0, 21, R * degree},
		{"across the antimeridian", 0, 179.5, 0, -179.5, R * degree},
		{"across a pole", 89, 0, 89, 180, 2 * R * degree},
		{"pole to equator", 90, 0, 0, 123, R * math.Pi / 2},
		{"antipodes", 30, 40, -30, -140, R * math.Pi},
		// On the parallel at 60°N, one degree of longitude is about half
		// a degree of the equator (a little less along the great circle).
		{"one degree along 60°N", 60, 10, 60, 11, 2 * R * math.Asin(math.Cos(60*degree)*math.Sin(degree/2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := haversine(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
			if math.Abs(got-tt.want) > 1e-9*max(1, tt.want) {
				t.Errorf("haversine = %.9f m, want %.9f m", got, tt.want)
			}
			if back := haversine(tt.lat2, tt.lon2, tt.lat1, tt.lon1); back != got {
				t.Errorf("not symmetric: %v and %v", got, back)
			}
		})
	}
}

// TestChordMatchesHaversine checks the relation the stopping rule of Nearest
// rests on: the great-circle distance of two ECEF points is arcOfChord of
// their straight-line distance, within rankSlack.
func TestChordMatchesHaversine(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	point := func() (float64, float64) {
		return math.Asin(2*rng.Float64()-1) / degree, 360*rng.Float64() - 180
	}
	for i := range 100_000 {
		lat1, lon1 := point()
		lat2, lon2 := point()
		if i%3 == 0 { // near neighbours
			lat2 = max(-90, min(90, lat1+(rng.Float64()-0.5)*1e-3))
			lon2 = lon1 + (rng.Float64()-0.5)*1e-3
		}
		a, b := ecef(lat1, lon1), ecef(lat2, lon2)
		chord := math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
		d, arc := haversine(lat1, lon1, lat2, lon2), arcOfChord(chord)
		if math.Abs(d-arc) > rankSlack(d)/4 {
			t.Fatalf("(%v, %v) to (%v, %v): haversine %.6f m, chord gives %.6f m", lat1, lon1, lat2, lon2, d, arc)
		}
	}
}

// TestECEFBox checks that the ECEF box of a lat/lon box holds every point
// of the lat/lon box, including boxes across the antimeridian, the equator
// and the poles.
func TestECEFBox(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	inBox := func(p, lo, hi [3]float64) bool {
		for i := range 3 {
			if p[i] < lo[i] || p[i] > hi[i] {
				return false
			}
		}
		return true
	}
	edges := []float64{-180, -90, 0, 90, 180}
	for range 2000 {
		lat1, lat2 := 180*rng.Float64()-90, 180*rng.Float64()-90
		if lat1 > lat2 {
			lat1, lat2 = lat2, lat1
		}
		arc := lonArc{360*rng.Float64() - 180, 360*rng.Float64() - 180}
		if rng.IntN(4) == 0 {
			arc.west = edges[rng.IntN(len(edges))]
		}
		lo, hi := ecefBox(lat1, lat2, arc)
		for range 50 {
			lat := lat1 + (lat2-lat1)*rng.Float64()
			lon := 360*rng.Float64() - 180
			switch rng.IntN(4) {
			case 0:
				lon = arc.west
			case 1:
				lon = arc.east
			}
			if rng.IntN(8) == 0 {
				lat = lat2
			}
			if arc.contains(lon) && !inBox(ecef(lat, lon), lo, hi) {
				t.Fatalf("(%v, %v) is in the box %v..%v, %+v but its ECEF point %v is outside %v..%v", lat, lon, lat1, lat2, arc, ecef(lat, lon), lo, hi)
			}
		}
	}
}

func TestLonArc(t *testing.T) {
	t.Parallel()
	tests := []struct {
		arc  lonArc
		lon  float64
		want bool
	}{
		{lonArc{10, 20}, 10, true},
		{lonArc{10, 20}, 20, true},
		{lonArc{10, 20}, 20.0001, false},
		{lonArc{10, 20}, 9.9999, false},
		{lonArc{170, -170}, 175, true},
		{lonArc{170, -170}, -175, true},
		{lonArc{170, -170}, 0, false},
		{lonArc{170, -170}, 180, true},
		{lonArc{170, -170}, -180, true},
		{lonArc{170, 180}, -180, true}, // the same meridian as 180
		{lonArc{-180, -170}, 180, true},
		{lonArc{-180, 180}, 0, true},
		{lonArc{-170, 170}, 180, false},
	}
	for _, tt := range tests {
		if got := tt.arc.contains(tt.lon); got != tt.want {
			t.Errorf("%+v contains %v = %v, want %v", tt.arc, tt.lon, got, tt.want)
		}
	}
}
