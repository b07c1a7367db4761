// Package geomap draws unit positions on a terminal character map for the
// dispatcher's console.
//
// Flow: the caller describes the window (View: centre, metres per cell,
// size in cells) and the things to show (Points), and Render returns the
// map as Height styled lines, each exactly Width cells wide, ready to join
// into a Bubble Tea view. Render projects every point with a local
// equirectangular projection around the centre (correct across the
// antimeridian), gathers points that share a cell into one marker or a
// count, points the way to anything outside the window with an arrow on
// the border, then places labels beside markers where they fit, most
// important first (emergencies, then units in service, then dim ones).
//
// Fit, ZoomIn and ZoomOut choose MetresPerCell from one ladder of round
// values (10 m … 100 km), so the scale bar always reads as a round number.
// Distance, Bearing, FormatDistance and Compass are the small geodesy
// helpers the console also shows in its unit list ("3.2 km NE").
//
// Nothing here does I/O or keeps state; every function is safe to call
// from any goroutine.
package geomap
