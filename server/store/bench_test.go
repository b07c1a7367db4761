package store

import (
	"testing"
	"time"
)

func BenchmarkSetPresence(b *testing.B) {
	s := openStore(b, b.TempDir())
	now := time.Now()
	i := 0
	for b.Loop() {
		p := Presence{Unit: uint32(i%1000 + 1), Online: true, Remote: "192.0.2.7:4433", Since: now, LastHeard: now}
		if err := s.SetPresence(p); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkSetLastHeard(b *testing.B) {
	s := openStore(b, b.TempDir())
	now := time.Now()
	for u := uint32(1); u <= 1000; u++ {
		if err := s.SetPresence(Presence{Unit: u, Online: true, Since: now}); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	for b.Loop() {
		if err := s.SetLastHeard(uint32(i%1000+1), now.Add(time.Duration(i))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkAddUnit measures a roster change, fsync included.
func BenchmarkAddUnit(b *testing.B) {
	s := openStore(b, b.TempDir())
	i := uint32(0)
	for b.Loop() {
		i++
		if err := s.AddUnit(Unit{ID: i, Alias: "Car", Role: RoleOfficer}); err != nil {
			b.Fatal(err)
		}
	}
}
