package position

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseNMEA(t *testing.T) {
	tests := []struct {
		in       string
		lat, lon float64
		err      bool
		noFix    bool
	}{
		{in: "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", lat: 48.1173, lon: 11.516666},
		{in: "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A", lat: 48.1173, lon: 11.516666},
		{in: "$GNGGA,101010,5130.432,N,00007.656,W,1,10,1.0,20,M,45,M,,", lat: 51.5072, lon: -0.1276},
		{in: "$GPGGA,123519,4807.038,N,01131.000,E,0,00,,,M,,M,,", noFix: true},
		{in: "$GPRMC,123519,V,4807.038,N,01131.000,E,,,230394,,", noFix: true},
		{in: "$GPGSV,3,1,11,03,03,111,00", noFix: true},
		{in: "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*00", err: true},
		{in: "GPGGA,garbage", err: true},
		{in: "$GPGGA,123519,48XX.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", err: true},
	}
	for _, tt := range tests {
		f, err := ParseNMEA(tt.in)
		switch {
		case tt.noFix:
			if err != ErrNoFix {
				t.Errorf("%s: got %v, want no fix", tt.in, err)
			}
		case tt.err:
			if err == nil || err == ErrNoFix {
				t.Errorf("%s: got %v, want an error", tt.in, err)
			}
		default:
			if err != nil || math.Abs(f.Lat-tt.lat) > 1e-4 || math.Abs(f.Lon-tt.lon) > 1e-4 {
				t.Errorf("%s: got %+v %v, want %f,%f", tt.in, f, err, tt.lat, tt.lon)
			}
		}
	}
}

func TestRouteReplay(t *testing.T) {
	route, err := ReadRoute(strings.NewReader("# patrol\n51.5,-0.12\n51.51,-0.13,0.01\n\n"), 10*time.Millisecond)
	if err != nil || len(route) != 2 || route[1].Dwell != 10*time.Millisecond {
		t.Fatalf("route %v %v", route, err)
	}
	for _, bad := range []string{"", "51.5", "91,0", "51,0,-1", "a,b"} {
		if _, err := ReadRoute(strings.NewReader(bad), time.Second); err == nil {
			t.Errorf("route %q accepted", bad)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan Fix)
	go Replay(ctx, route, out)
	var got []Fix
	for range 3 {
		got = append(got, <-out)
	}
	if got[0].Lat != 51.5 || got[1].Lat != 51.51 || got[2].Lat != 51.5 {
		t.Fatalf("replay order %v", got)
	}
}

func FuzzParseNMEA(f *testing.F) {
	f.Add("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47")
	f.Add("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A")
	f.Fuzz(func(t *testing.T, s string) {
		if fix, err := ParseNMEA(s); err == nil && !valid(fix) {
			t.Fatalf("invalid fix accepted: %+v", fix)
		}
	})
}
