package geomap

import "math"

// ladder holds the round MetresPerCell values Fit, ZoomIn and ZoomOut use,
// smallest first.
var ladder = [...]float64{
	10, 20, 50, 100, 200, 500,
	1000, 2000, 5000, 10000, 20000, 50000, 100000,
}

// defaultMetresPerCell is what the zoom functions fall back to for a NaN
// scale: about a city district on a typical console.
const defaultMetresPerCell = 100

// ZoomIn returns the next ladder value below mpc (10, 20, 50, 100, 200,
// 500 m, 1, 2, 5, 10, 20, 50, 100 km), or the smallest one if there is
// none. A value between rungs steps to the rung below it; NaN gives 100 m.
func ZoomIn(mpc float64) float64 {
	if math.IsNaN(mpc) {
		return defaultMetresPerCell
	}
	for i := len(ladder) - 1; i >= 0; i-- {
		if ladder[i] < mpc*(1-1e-9) {
			return ladder[i]
		}
	}
	return ladder[0]
}

// ZoomOut returns the next ladder value above mpc, or the largest one if
// there is none. A value between rungs steps to the rung above it; NaN
// gives 100 m.
func ZoomOut(mpc float64) float64 {
	if math.IsNaN(mpc) {
		return defaultMetresPerCell
	}
	for _, l := range ladder {
		if l > mpc*(1+1e-9) {
			return l
		}
	}
	return ladder[len(ladder)-1]
}

// Fit returns the smallest ladder value at which every drawable point in
// pts lies inside a v.Width×v.Height window centred on (v.Lat, v.Lon),
// keeping two columns and one row clear of the border (where arrows for
// off-window points go). v.MetresPerCell is ignored except when there is
// nothing to fit (no drawable points, or a bad centre): then it is returned
// snapped to the nearest ladder value. If the points do not fit even at
// 100 km per cell, or the window is too small to hold anything beside its
// centre, Fit returns 100 km.
func Fit(v View, pts []Point) float64 {
	proj, ok := newProjection(v.Lat, v.Lon)
	var maxX, maxY float64
	n := 0
	if ok {
		for i := range pts {
			x, y, ok := proj.xy(pts[i].Lat, pts[i].Lon)
			if !ok {
				continue
			}
			maxX, maxY = math.Max(maxX, math.Abs(x)), math.Max(maxY, math.Abs(y))
			n++
		}
	}
	if n == 0 {
		return snap(v.MetresPerCell)
	}
	cx, cy := v.Width/2, v.Height/2
	hx := float64(min(cx, v.Width-1-cx) - 2)  // columns usable each side of the centre
	hy := float64(min(cy, v.Height-1-cy) - 1) // rows usable above and below
	need := 0.0
	if maxX > 0 {
		if hx <= 0 {
			return ladder[len(ladder)-1]
		}
		need = maxX / hx
	}
	if maxY > 0 {
		if hy <= 0 {
			return ladder[len(ladder)-1]
		}
		need = math.Max(need, maxY/(2*hy))
	}
	for _, l := range ladder {
		if l >= need {
			return l
		}
	}
	return ladder[len(ladder)-1]
}

// snap returns the ladder value nearest to mpc on a log scale; NaN, zero,
// negative and infinite values give 100 m.
func snap(mpc float64) float64 {
	if !(mpc > 0) || math.IsInf(mpc, 1) {
		return defaultMetresPerCell
	}
	best, bestD := ladder[0], math.Inf(1)
	for _, l := range ladder {
		if d := math.Abs(math.Log(mpc / l)); d < bestD {
			best, bestD = l, d
		}
	}
	return best
}
