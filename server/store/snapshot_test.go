package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/synctest"
	"time"
)

func TestSnapshotsCreatedAndPruned(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c), func(cfg *Config) { cfg.SnapshotKeep = 3 })
	populate(t, s)
	snaps := filepath.Join(dir, "snapshots")
	// A file in the snapshot directory that is not a snapshot is left alone.
	os.MkdirAll(snaps, 0o700)
	os.WriteFile(filepath.Join(snaps, "notes.txt"), []byte("x"), 0o600)

	var paths []string
	for i := range 5 {
		path, err := s.Snapshot()
		if err != nil {
			t.Fatalf("Snapshot %d: %v", i, err)
		}
		paths = append(paths, path)
		c.Advance(time.Hour)
	}
	want := []string{"roster-20261123T101500Z.db", "roster-20261123T111500Z.db", "roster-20261123T121500Z.db",
		"roster-20261123T131500Z.db", "roster-20261123T141500Z.db"}
	for i, p := range paths {
		if p != filepath.Join(snaps, want[i]) {
			t.Errorf("snapshot %d at %s, want %s", i, p, want[i])
		}
	}
	if got := snapshots(snaps); !reflect.DeepEqual(got, want[2:]) {
		t.Errorf("snapshots kept = %v, want %v", got, want[2:])
	}
	if _, err := os.Stat(filepath.Join(snaps, "notes.txt")); err != nil {
		t.Errorf("pruning removed a file that is not a snapshot: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(snaps, ".*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

func TestSnapshotRestores(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	if _, err := s.SetUnitStunned(102, true); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, s)
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the snapshot are lost by the restore.
	if err := s.RemoveTalkgroup(200); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUnit(Unit{ID: 555, Alias: "Late", Role: RoleOfficer}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	rpath := filepath.Join(dir, rosterFile)
	if err := os.WriteFile(rpath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored roster = %+v\nwant %+v", got, want)
	}
	// The restored store carries on: it takes changes, reopens, and
	// snapshots again.
	if err := s.AddUnit(Unit{ID: 556, Alias: "After", Role: RoleOfficer, Talkgroups: []uint16{200}}); err != nil {
		t.Fatal(err)
	}
	want = stateOf(t, s)
	mustClose(t, s)
	s = openStore(t, dir)
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restore and reopen roster = %+v\nwant %+v", got, want)
	}
	if _, err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if c := tornCopies(t, dir, rosterFile); len(c) != 0 {
		t.Errorf("torn copies after a restore: %v", c)
	}
}

func TestCompaction(t *testing.T) {
	old := compactMinSize
	compactMinSize = 0
	t.Cleanup(func() { compactMinSize = old })

	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	for i := range 20 {
		if _, err := s.SetUnitStunned(101, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	want := stateOf(t, s)
	mustClose(t, s)
	rpath := filepath.Join(dir, rosterFile)
	before, _ := os.ReadFile(rpath)

	s = openStore(t, dir)
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction roster = %+v\nwant %+v", got, want)
	}
	after, _ := os.ReadFile(rpath)
	if len(after)*compactRatio > len(before) {
		t.Fatalf("roster.db is %d bytes after compaction, was %d", len(after), len(before))
	}
	if err := s.AddTalkgroup(Talkgroup{ID: 9, Name: "New"}); err != nil {
		t.Fatal(err)
	}
	want = stateOf(t, s)
	mustClose(t, s)
	s = openStore(t, dir)
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after compaction and a change, roster = %+v\nwant %+v", got, want)
	}
	mustClose(t, s)
	// A compacted file that is already small is not rewritten.
	again, _ := os.ReadFile(rpath)
	s = openStore(t, dir)
	mustClose(t, s)
	if now, _ := os.ReadFile(rpath); !bytes.Equal(now, again) {
		t.Error("Open rewrote a roster.db that needed no compaction")
	}
}

func TestRunSnapshots(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(Config{Dir: dir, SnapshotKeep: 2})
		if err != nil {
			t.Fatal(err)
		}
		populate(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			s.RunSnapshots(ctx, time.Hour)
			close(done)
		}()
		snaps := filepath.Join(dir, "snapshots")
		synctest.Wait()
		if n := len(snapshots(snaps)); n != 0 {
			t.Fatalf("%d snapshots before the first period", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := snapshots(snaps); len(got) != 1 {
			t.Fatalf("after one period, snapshots %v", got)
		}
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		got := snapshots(snaps)
		want := []string{
			"roster-" + time.Now().Add(-time.Hour).UTC().Format(stampLayout) + ".db",
			"roster-" + time.Now().UTC().Format(stampLayout) + ".db",
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after three periods, snapshots %v, want %v", got, want)
		}
		cancel()
		<-done
		mustClose(t, s)
		// BuntDB's background goroutines notice Close on their next
		// one-second tick; let the bubble's clock reach it.
		time.Sleep(2 * time.Second)
	})
}
