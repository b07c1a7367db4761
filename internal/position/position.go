// Package position gives a radio its positions: a fixed point, a route file
// replayed point by point, or an NMEA 0183 source (a GNSS receiver's serial
// device, a pipe or a file) whose GGA and RMC sentences it parses.
package position

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Fix is one position.
type Fix struct {
	Lat, Lon  float64
	AccuracyM float64 // 0 when unknown
}

// ErrNoFix is returned for a sentence without a usable position.
var ErrNoFix = errors.New("position: no fix")

// ParseLatLon parses "LAT,LON" in degrees.
func ParseLatLon(s string) (Fix, error) {
	a, b, ok := strings.Cut(s, ",")
	var f Fix
	var err error
	if ok {
		f.Lat, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
		if err == nil {
			f.Lon, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
		}
	}
	if !ok || err != nil || !valid(f) {
		return Fix{}, fmt.Errorf("position: %q is not LAT,LON in degrees (e.g. 51.5072,-0.1276)", s)
	}
	return f, nil
}

func valid(f Fix) bool {
	return !math.IsNaN(f.Lat) && !math.IsNaN(f.Lon) && f.Lat >= -90 && f.Lat <= 90 && f.Lon >= -180 && f.Lon <= 180
}

// RoutePoint is a point of a route and how long to stay there.
type RoutePoint struct {
	Fix
	Dwell time.Duration
}

// ReadRoute reads a route file: one "LAT,LON[,SECONDS]" per line (seconds
// to stay, default def); blank lines and lines starting with # are skipped.
func ReadRoute(r io.Reader, def time.Duration) ([]RoutePoint, error) {
	var route []RoutePoint
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ",")
		if len(parts) != 2 && len(parts) != 3 {
			return nil, fmt.Errorf("position: route line %d: want LAT,LON[,SECONDS], got %q", n, line)
		}
		f, err := ParseLatLon(parts[0] + "," + parts[1])
		if err != nil {
			return nil, fmt.Errorf("position: route line %d: %w", n, err)
		}
		p := RoutePoint{Fix: f, Dwell: def}
		if len(parts) == 3 {
			s, err := strconv.ParseFloat(strings.TrimSpace(parts[2]), 64)
			if err != nil || s <= 0 || s > 86400 {
				return nil, fmt.Errorf("position: route line %d: %q is not a number of seconds", n, parts[2])
			}
			p.Dwell = time.Duration(s * float64(time.Second))
		}
		route = append(route, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(route) == 0 {
		return nil, errors.New("position: the route file has no points")
	}
	return route, nil
}

// Replay sends each point of route on out, staying Dwell at each, and
// starts again at the end, until ctx is done.
func Replay(ctx context.Context, route []RoutePoint, out chan<- Fix) {
	for {
		for _, p := range route {
			select {
			case out <- p.Fix:
			case <-ctx.Done():
				return
			}
			t := time.NewTimer(p.Dwell)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	}
}

// ParseNMEA parses one NMEA 0183 sentence. GGA and RMC sentences with a
// valid fix give a position (GGA's HDOP times 5 m as a rough accuracy);
// other sentences, and fixes marked invalid, give ErrNoFix. A bad checksum
// is an error.
func ParseNMEA(s string) (Fix, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "$") {
		return Fix{}, fmt.Errorf("position: not an NMEA sentence: %q", s)
	}
	body := s[1:]
	if i := strings.IndexByte(body, '*'); i >= 0 {
		want, err := strconv.ParseUint(body[i+1:], 16, 8)
		if err != nil {
			return Fix{}, fmt.Errorf("position: bad NMEA checksum in %q", s)
		}
		var sum byte
		for j := 0; j < i; j++ {
			sum ^= body[j]
		}
		if sum != byte(want) {
			return Fix{}, fmt.Errorf("position: NMEA checksum mismatch in %q", s)
		}
		body = body[:i]
	}
	f := strings.Split(body, ",")
	if len(f[0]) < 5 {
		return Fix{}, ErrNoFix
	}
	var latS, latH, lonS, lonH string
	var acc float64
	switch f[0][2:] {
	case "GGA":
		if len(f) < 9 || f[6] == "" || f[6] == "0" {
			return Fix{}, ErrNoFix
		}
		latS, latH, lonS, lonH = f[2], f[3], f[4], f[5]
		if h, err := strconv.ParseFloat(f[8], 64); err == nil {
			acc = h * 5
		}
	case "RMC":
		if len(f) < 7 || f[2] != "A" {
			return Fix{}, ErrNoFix
		}
		latS, latH, lonS, lonH = f[3], f[4], f[5], f[6]
	default:
		return Fix{}, ErrNoFix
	}
	lat, err1 := nmeaDegrees(latS, latH, 2)
	lon, err2 := nmeaDegrees(lonS, lonH, 3)
	if err := errors.Join(err1, err2); err != nil {
		return Fix{}, fmt.Errorf("position: %w in %q", err, s)
	}
	fix := Fix{Lat: lat, Lon: lon, AccuracyM: acc}
	if !valid(fix) {
		return Fix{}, fmt.Errorf("position: out of range in %q", s)
	}
	return fix, nil
}

// nmeaDegrees turns ddmm.mmmm (or dddmm.mmmm) and a hemisphere into degrees.
func nmeaDegrees(v, hemi string, degDigits int) (float64, error) {
	if len(v) < degDigits+2 {
		return 0, errors.New("short coordinate")
	}
	d, err := strconv.ParseFloat(v[:degDigits], 64)
	if err != nil {
		return 0, err
	}
	m, err := strconv.ParseFloat(v[degDigits:], 64)
	if err != nil || m >= 60 {
		return 0, errors.New("bad minutes")
	}
	deg := d + m/60
	switch hemi {
	case "N", "E":
	case "S", "W":
		deg = -deg
	default:
		return 0, errors.New("bad hemisphere")
	}
	return deg, nil
}

// FollowNMEA reads sentences from path (a serial device, FIFO or file) and
// sends each new fix on out until the source ends or ctx is done.
func FollowNMEA(ctx context.Context, path string, out chan<- Fix) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("position: open NMEA source: %w", err)
	}
	defer f.Close()
	context.AfterFunc(ctx, func() { f.Close() })
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fix, err := ParseNMEA(sc.Text())
		if err != nil {
			continue
		}
		select {
		case out <- fix:
		case <-ctx.Done():
			return nil
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
