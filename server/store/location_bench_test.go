package store

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// BenchmarkSetPosition updates the positions of 10,000 units in the metro
// area in turn, as the relay does when their fixes arrive.
func BenchmarkSetPosition(b *testing.B) {
	s := openStore(b, b.TempDir())
	rng := rand.New(rand.NewPCG(1, 1))
	ps := make([]Position, 10_000)
	for i := range ps {
		lat, lon := metro.point(rng)
		ps[i] = Position{Unit: uint32(i + 1), Lat: lat, Lon: lon, AccuracyM: 10, Time: time.Now()}
		if err := s.SetPosition(ps[i]); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		p := &ps[i%len(ps)]
		p.Lat += 1e-5 // about a metre north per update
		if err := s.SetPosition(*p); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// reportLatency reports the median and 99th percentile of durs.
func reportLatency(b *testing.B, durs []time.Duration) {
	slices.Sort(durs)
	at := func(q float64) float64 { return float64(durs[int(q*float64(len(durs)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.50), "p50-us")
	b.ReportMetric(at(0.99), "p99-us")
}

// BenchmarkNearest10k asks for the 5 units nearest to random points among
// 10,000 units (3% of them expired, 80% with a status, about 23% of all
// "available"), with no filter and with the relay's filter, and reports the
// latency of a query at the median and the 99th percentile.
func BenchmarkNearest10k(b *testing.B) {
	available := func(_ uint32, st string) bool { return st == StatusAvailable }
	cases := []struct {
		name   string
		region region
		filter func(uint32, string) bool
	}{
		{"metro/all", metro, nil},
		{"metro/available", metro, available},
		{"continent/available", continent, available},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := openStore(b, b.TempDir())
			populateFleet(b, s, c.region, 10_000, 99)
			rng := rand.New(rand.NewPCG(2, 2))
			queries := make([][2]float64, 1024)
			for i := range queries {
				queries[i][0], queries[i][1] = c.region.point(rng)
			}
			durs := make([]time.Duration, 0, 1<<16)
			i := 0
			for b.Loop() {
				q := queries[i%len(queries)]
				start := time.Now()
				got, err := s.Nearest(q[0], q[1], 5, c.filter)
				durs = append(durs, time.Since(start))
				if err != nil || len(got) != 5 {
					b.Fatalf("Nearest = %d units, %v", len(got), err)
				}
				i++
			}
			reportLatency(b, durs)
		})
	}
}

// BenchmarkWithin10k lists the units in a 2 km by 2 km box (about 20 of
// 10,000 in the metro area) at random places.
func BenchmarkWithin10k(b *testing.B) {
	s := openStore(b, b.TempDir())
	populateFleet(b, s, metro, 10_000, 99)
	rng := rand.New(rand.NewPCG(3, 3))
	const dLat, dLon = 0.009, 0.018 // about 1 km north and east at 60°N
	durs := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		lat, lon := metro.point(rng)
		start := time.Now()
		_, err := s.Within(lat-dLat, lon-dLon, lat+dLat, lon+dLon)
		durs = append(durs, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	reportLatency(b, durs)
}
