package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/buntdb"
)

// appendDel appends a RESP del record as BuntDB writes one.
func appendDel(buf []byte, key string) []byte {
	buf = append(buf, "*2\r\n$3\r\ndel\r\n"...)
	return appendBulk(buf, key)
}

// appendCommit appends to a roster file a well-formed commit group, as the
// Store writes one, with the next sequence number.
func appendCommit(t *testing.T, data []byte, changes ...change) []byte {
	t.Helper()
	pf, err := parseFile(data, false)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := checkRoster(pf)
	if err != nil {
		t.Fatal(err)
	}
	return appendCommitSeq(data, rc.lastSeq+1, changes...)
}

// appendCommitSeq appends a commit group with sequence number seq.
func appendCommitSeq(data []byte, seq uint64, changes ...change) []byte {
	at := int64(len(data))
	var sum commitSum
	for _, c := range changes {
		if c.del {
			data = appendDel(data, c.key)
		} else {
			data = appendSetRecord(data, c.key, c.val)
		}
		sum.add(c.del, c.key, c.val)
	}
	return appendSetRecord(data, metaCommitKey, markerValue(seq, at, len(changes)+1, sum))
}

// populatedFile returns the bytes of a roster.db holding populate's roster,
// and the roster.
func populatedFile(t *testing.T) ([]byte, rosterState) {
	t.Helper()
	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	st := stateOf(t, s)
	mustClose(t, s)
	data, err := os.ReadFile(filepath.Join(dir, rosterFile))
	if err != nil {
		t.Fatal(err)
	}
	return data, st
}

// writeRoster makes a store directory whose roster.db holds data.
func writeRoster(t *testing.T, data []byte) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, rosterFile)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func tornCopies(t *testing.T, dir, file string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, file+".torn-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// replaceOnce replaces the single occurrence of old in data.
func replaceOnce(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(data, []byte(old)); n != 1 {
		t.Fatalf("%q occurs %d times", old, n)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

func TestDamagedRosterRefused(t *testing.T) {
	t.Parallel()
	good, _ := populatedFile(t)
	unit := func(id uint32, tgs ...uint16) string {
		return encodeUnit(Unit{ID: id, Alias: "x", Role: RoleOfficer, Talkgroups: tgs})
	}
	// keys is a keys record of tg at epoch 3, fresh, with the member keys
	// of units.
	keys := func(tg uint16, units ...uint32) string {
		k := talkgroupKeys{KeyState: KeyState{Talkgroup: tg, Epoch: 3}}
		for _, u := range units {
			k.keys = append(k.keys, memberKeyRecord{Unit: u, Key: []byte("secret key")})
		}
		return encodeKeys(k)
	}
	tests := []struct {
		name    string
		damage  func(t *testing.T, data []byte) []byte
		wantErr string // in DamagedError.Err
	}{
		{"garbage in the middle", func(t *testing.T, d []byte) []byte {
			d = bytes.Clone(d)
			copy(d[len(d)/2:], "GARBAGE!")
			return d
		}, "byte"},
		{"garbage at the start", func(t *testing.T, d []byte) []byte {
			return append([]byte("hello\r\n"), d...)
		}, "bad data at byte 0"},
		{"value edited, still JSON", func(t *testing.T, d []byte) []byte {
			return replaceOnce(t, d, `"alias":"Car 1"`, `"alias":"Car 9"`)
		}, "does not match its checksum"},
		{"value length edited", func(t *testing.T, d []byte) []byte {
			v := encodeTalkgroup(Talkgroup{ID: 100, Name: "Patrol", Priority: 1})
			return replaceOnce(t, d, fmt.Sprintf("$%d\r\n%s", len(v), v), fmt.Sprintf("$%d\r\n%s", len(v)+900, v))
		}, "byte"},
		{"NUL bytes between records", func(t *testing.T, d []byte) []byte {
			i := bytes.Index(d, []byte("*3\r\n$3\r\nset\r\n$8\r\ntg:00200"))
			return append(append(bytes.Clone(d[:i]), 0, 0, 0, 0), d[i:]...)
		}, "bad data at byte"},
		{"value not JSON", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: unitKey(7), val: "{not json"})
		}, "the value of unit:00000007 at byte"},
		{"value not JSON, then a torn tail", func(t *testing.T, d []byte) []byte {
			d = appendCommit(t, d, change{key: unitKey(7), val: "{not json"})
			return append(d, "*3\r\n$3\r\nset\r\n$13\r\nunit:000"...)
		}, "the value of unit:00000007 at byte"},
		{"value of another unit", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: unitKey(7), val: unit(8)})
		}, "holds unit 8"},
		{"value names missing talkgroup", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: unitKey(7), val: unit(7, 100, 999)})
		}, "names talkgroup 999"},
		{"value with unknown field", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: talkgroupKey(7), val: `{"v":1,"id":7,"name":"x","colour":"red"}`})
		}, "unknown field"},
		{"value without version", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: talkgroupKey(7), val: `{"id":7,"name":"x"}`})
		}, "no schema version"},
		{"keys value edited, still JSON", func(t *testing.T, d []byte) []byte {
			return replaceOnce(t, d, `"tg":200,"epoch":0`, `"tg":200,"epoch":1`)
		}, "does not match its checksum"},
		{"member key edited", func(t *testing.T, d []byte) []byte {
			d = appendCommit(t, d, change{key: keysKey(100), val: keys(100, 102)})
			return replaceOnce(t, d, "c2VjcmV0IGtleQ==", "c2VjcmV0IGtleA==")
		}, "does not match its checksum"},
		{"keys of a missing talkgroup", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: keysKey(7), val: keys(7)})
		}, "holds the keys of talkgroup 7, which does not exist"},
		{"keys of another talkgroup", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: keysKey(100), val: keys(200, 102)})
		}, "holds the keys of talkgroup 200"},
		{"key for a unit without credentials", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: keysKey(100), val: keys(100, 101, 102)})
		}, "holds a key for unit 101, which may not hold it (it has no credentials)"},
		{"key for a unit not in the roster", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: keysKey(100), val: keys(100, 102, 999)})
		}, "holds a key for unit 999, which may not hold it (it is not in the roster)"},
		{"key for a stunned unit", func(t *testing.T, d []byte) []byte {
			u := encodeUnit(Unit{ID: 102, Alias: "Dispatch", Role: RoleDispatcher, Talkgroups: []uint16{100, 200},
				CertFingerprint: fp1, HPKEPublicKey: []byte{1, 2, 3}, SigningPublicKey: []byte{4, 5, 6}, Stunned: true})
			return appendCommit(t, d, change{key: unitKey(102), val: u}, change{key: keysKey(100), val: keys(100, 102)})
		}, "(it is stunned)"},
		{"keys without an epoch", func(t *testing.T, d []byte) []byte {
			k := noKeys(100)
			k.keys = []memberKeyRecord{{Unit: 102, Key: []byte{1}}}
			return appendCommit(t, d, change{key: keysKey(100), val: encodeKeys(k)})
		}, "epoch 0 with keys"},
		{"member keys out of order", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: keysKey(100), val: strings.Replace(keys(100, 102, 103), `"unit":103`, `"unit":101`, 1)})
		}, "not sorted"},
		{"empty member key", func(t *testing.T, d []byte) []byte {
			k := talkgroupKeys{KeyState: KeyState{Talkgroup: 100, Epoch: 3}, keys: []memberKeyRecord{{Unit: 102}}}
			return appendCommit(t, d, change{key: keysKey(100), val: encodeKeys(k)})
		}, "key of unit 102 is 0 bytes"},
		{"stale without a reason", func(t *testing.T, d []byte) []byte {
			k := talkgroupKeys{KeyState: KeyState{Talkgroup: 100, Epoch: 3, Stale: true}}
			return appendCommit(t, d, change{key: keysKey(100), val: encodeKeys(k)})
		}, "stale without a reason"},
		{"certificate of another unit", func(t *testing.T, d []byte) []byte {
			u := encodeUnit(Unit{ID: 7, Alias: "x", Role: RoleOfficer,
				CertFingerprint: fp1, HPKEPublicKey: []byte{1}, SigningPublicKey: []byte{2}, Cert: []byte("another certificate")})
			return appendCommit(t, d, change{key: unitKey(7), val: u})
		}, "does not match its fingerprint"},
		{"unknown key", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: "bogus", val: "{}"})
		}, "unknown key"},
		{"schema record deleted", func(t *testing.T, d []byte) []byte {
			return appendCommit(t, d, change{key: metaSchemaKey, del: true})
		}, "no schema record"},
		{"commit out of sequence", func(t *testing.T, d []byte) []byte {
			return appendCommitSeq(bytes.Clone(d), 9, change{key: talkgroupKey(7), val: encodeTalkgroup(Talkgroup{ID: 7, Name: "x"})})
		}, "commit 9 at byte"},
		{"commit marker edited, still JSON", func(t *testing.T, d []byte) []byte {
			// The last commit claims one more record than it has: without
			// the marker's own check it would look cut short.
			pf, err := parseFile(d, false)
			if err != nil {
				t.Fatal(err)
			}
			last := pf.records[len(pf.records)-1]
			for _, r := range pf.records {
				if r.key == metaCommitKey {
					last = r
				}
			}
			return replaceOnce(t, d, last.val, strings.Replace(last.val, `"records":2`, `"records":3`, 1))
		}, "does not match its own check"},
		{"records without a commit marker", func(t *testing.T, d []byte) []byte {
			// Complete records after the last commit, with no sign of a cut:
			// only a cut can explain them, and a cut leaves no complete
			// record of a second unit.
			d = appendSetRecord(bytes.Clone(d), unitKey(7), unit(7))
			return appendSetRecord(d, unitKey(7), unit(7))
		}, "written twice"},
		{"a file without commits", func(t *testing.T, d []byte) []byte {
			return appendSetRecord(appendSetRecord(nil, metaSchemaKey, `{"v":1,"created":"2026-01-01T00:00:00Z"}`), unitKey(7), unit(7))
		}, "precedes any complete commit"},
		{"torn tail of garbage", func(t *testing.T, d []byte) []byte {
			return append(bytes.Clone(d), "*3\r\n$3\r\nsXt"...)
		}, "unknown command"},
		{"torn tail with a newline inside a value", func(t *testing.T, d []byte) []byte {
			return append(bytes.Clone(d), "*3\r\n$3\r\nset\r\n$13\r\nunit:00000007\r\n$50\r\n{\"v\":1\n,"...)
		}, "CR, LF or NUL"},
		{"huge length at the end", func(t *testing.T, d []byte) []byte {
			return append(bytes.Clone(d), "*3\r\n$3\r\nset\r\n$99999999999\r\n"...)
		}, "out of range"},
		{"record of too many parts", func(t *testing.T, d []byte) []byte {
			return append(bytes.Clone(d), "*9\r\n"...)
		}, "out of range"},
		{"TTL record in the roster", func(t *testing.T, d []byte) []byte {
			return append(bytes.Clone(d), "*5\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nex\r\n$1\r\n9\r\n"...)
		}, "record of 5 parts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.damage(t, good)
			dir, path := writeRoster(t, data)
			_, err := Open(Config{Dir: dir})
			var de *DamagedError
			if !errors.As(err, &de) || !errors.Is(err, ErrDamaged) {
				t.Fatalf("Open = %v, want a *DamagedError", err)
			}
			if de.File != path {
				t.Errorf("File = %q, want %q", de.File, path)
			}
			if !strings.Contains(de.Err.Error(), tt.wantErr) {
				t.Errorf("Err = %q, want it to contain %q", de.Err, tt.wantErr)
			}
			msg := err.Error()
			for _, want := range []string{"store: " + path + " is damaged (", "the relay will not start on it", "docs/OPERATIONS.md"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after, data) {
				t.Errorf("Open changed the damaged file (%d bytes, was %d)", len(after), len(data))
			}
			if c := tornCopies(t, dir, rosterFile); len(c) != 0 {
				t.Errorf("torn copies made of a damaged file: %v", c)
			}
			// The lock was released: a second Open reports the damage again.
			if _, err := Open(Config{Dir: dir}); !errors.Is(err, ErrDamaged) {
				t.Errorf("second Open = %v, want ErrDamaged", err)
			}
		})
	}
}

func TestDamagedMessage(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	for range 2 {
		if _, err := s.Snapshot(); err != nil {
			t.Fatal(err)
		}
		c.Advance(15 * 60e9)
	}
	mustClose(t, s)
	path := filepath.Join(dir, rosterFile)
	data, _ := os.ReadFile(path)
	copy(data[100:], "XXXX")
	os.WriteFile(path, data, 0o600)

	_, err := Open(Config{Dir: dir})
	var de *DamagedError
	if !errors.As(err, &de) {
		t.Fatalf("Open = %v, want *DamagedError", err)
	}
	snaps := filepath.Join(dir, "snapshots")
	want := fmt.Sprintf("store: %s is damaged (%v): the relay will not start on it. "+
		"Stop the relay, move the file aside, and copy the newest snapshot from %s (roster-20261123T103000Z.db) to %s; "+
		"see docs/OPERATIONS.md \"Restoring from a snapshot\".", path, de.Err, snaps, path)
	if err.Error() != want {
		t.Errorf("message:\n%s\nwant:\n%s", err, want)
	}
	if de.Snapshot != filepath.Join(snaps, "roster-20261123T103000Z.db") {
		t.Errorf("Snapshot = %q", de.Snapshot)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	good, _ := populatedFile(t)
	newer := schemaVersion + 1
	tests := []struct {
		name string
		data []byte
	}{
		{"talkgroup", appendCommit(t, good, change{key: talkgroupKey(7), val: fmt.Sprintf(`{"v":%d,"id":7,"name":"x","colour":"red"}`, newer)})},
		{"keys", appendCommit(t, good, change{key: keysKey(100), val: fmt.Sprintf(`{"v":%d,"tg":100,"epoch":9,"ratchet":"x"}`, newer)})},
		{"commit marker", func() []byte {
			// As an older Varta sees a roster.db that this one changed.
			at := int64(len(good))
			d := appendSetRecord(bytes.Clone(good), talkgroupKey(7), encodeTalkgroup(Talkgroup{ID: 7, Name: "x"}))
			var sum commitSum
			sum.add(false, talkgroupKey(7), encodeTalkgroup(Talkgroup{ID: 7, Name: "x"}))
			pf, _ := parseFile(good, false)
			rc, _ := checkRoster(pf)
			m := commitMarker{V: newer, Seq: rc.lastSeq + 1, At: at, Records: 2, Sum: sum.String()}
			m.Check = m.check()
			return appendSetRecord(d, metaCommitKey, mustJSON(m))
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, path := writeRoster(t, tt.data)
			_, err := Open(Config{Dir: dir})
			if !errors.Is(err, ErrNewerSchema) || errors.Is(err, ErrDamaged) {
				t.Fatalf("Open = %v, want ErrNewerSchema", err)
			}
			if !strings.Contains(err.Error(), "written by a newer version of Varta") {
				t.Errorf("message %q does not say a newer version wrote the file", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tt.data) {
				t.Error("Open changed the file")
			}
		})
	}
}

func TestDamagedLiveRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	if err := s.SetPresence(Presence{Unit: 5, Online: true}); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	path := filepath.Join(dir, liveFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"garbage", append([]byte("GARBAGE\r\n"), good...)},
		{"value not JSON", appendSetRecord(bytes.Clone(good), presenceKey(9), "{oops")},
		{"unknown key", appendSetRecord(bytes.Clone(good), unitKey(9), "{}")},
		{"value not JSON, then a torn tail", append(appendSetRecord(bytes.Clone(good), presenceKey(9), "{oops"), "*3\r\n$3\r\nset"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Config{Dir: dir})
			var de *DamagedError
			if !errors.As(err, &de) || de.File != path {
				t.Fatalf("Open = %v, want a *DamagedError for %s", err, path)
			}
			if !strings.Contains(err.Error(), "live state") {
				t.Errorf("message %q does not explain that live.db holds only live state", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tt.data) {
				t.Error("Open changed the file")
			}
			if c := tornCopies(t, dir, liveFile); len(c) != 0 {
				t.Errorf("torn copies made of a damaged file: %v", c)
			}
		})
	}
}

// TestTornRosterTail cuts a roster.db short and opens it. Cut at the end of
// a commit, it opens unchanged. Cut inside a commit, that commit was never
// acknowledged: Open keeps a copy of the cut file, cuts the whole commit off
// (not only its last record) and opens with the roster as it was after the
// commit before.
func TestTornRosterTail(t *testing.T) {
	t.Parallel()
	src := t.TempDir()
	s := openStore(t, src)
	path := filepath.Join(src, rosterFile)
	states := map[int]rosterState{} // by file size after a commit
	mark := func() {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		states[int(fi.Size())] = stateOf(t, s)
	}
	mark() // the empty store after Open's first commit
	for _, tg := range []Talkgroup{{ID: 100, Name: "Patrol"}, {ID: 200, Name: "Fire"}} {
		if err := s.AddTalkgroup(tg); err != nil {
			t.Fatal(err)
		}
		mark()
	}
	for _, u := range []Unit{
		{ID: 101, Alias: "Car 1", Role: RoleOfficer, Talkgroups: []uint16{100, 200}},
		{ID: 102, Alias: "Car 2", Role: RoleOfficer, Talkgroups: []uint16{100}},
	} {
		if err := s.AddUnit(u); err != nil {
			t.Fatal(err)
		}
		mark()
	}
	// A commit of five records: the talkgroup, its keys, two units, the
	// marker.
	if err := s.RemoveTalkgroup(100); err != nil {
		t.Fatal(err)
	}
	mark()
	if _, err := s.SetUnitStunned(101, true); err != nil {
		t.Fatal(err)
	}
	mark()
	if err := s.AddUnit(enrolled(103, 200)); err != nil {
		t.Fatal(err)
	}
	mark()
	putKeys(t, s, 200, 1, 103)
	mark()
	// The unit, and the keys of talkgroup 200 made stale without its key.
	if _, err := s.SetUnitStunned(103, true); err != nil {
		t.Fatal(err)
	}
	mark()
	mustClose(t, s)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parseFile(full, false)
	if err != nil {
		t.Fatal(err)
	}
	// keepAt is where a file cut at n must be cut back to: the last commit
	// boundary at or before n.
	keepAt := func(n int) int {
		keep := 0
		for b := range states {
			if b <= n && b > keep {
				keep = b
			}
		}
		return keep
	}

	t.Run("every cut", func(t *testing.T) {
		for n := 0; n <= len(full); n++ {
			pf, err := parseFile(full[:n], false)
			if err != nil {
				t.Fatalf("cut at %d: parse: %v", n, err)
			}
			rc, err := checkRoster(pf)
			if err != nil {
				t.Fatalf("cut at %d: %v", n, err)
			}
			if want := keepAt(n); rc.keep != int64(want) {
				t.Fatalf("cut at %d: keep %d bytes, want %d", n, rc.keep, want)
			}
		}
	})

	t.Run("open", func(t *testing.T) {
		// Every record boundary and the middle of every record.
		cuts := map[int]bool{0: true}
		for _, r := range pf.records {
			cuts[int(r.end)] = true
			cuts[int(r.off+r.end)/2] = true
		}
		for n := range cuts {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				t.Parallel()
				dir, rpath := writeRoster(t, full[:n])
				keep := keepAt(n)
				s, err := Open(Config{Dir: dir})
				if err != nil {
					t.Fatalf("cut at %d of %d: Open: %v", n, len(full), err)
				}
				if got, want := stateOf(t, s), states[keep]; !reflect.DeepEqual(got, want) {
					t.Fatalf("cut at %d: roster = %+v\nwant %+v", n, got, want)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				after, err := os.ReadFile(rpath)
				if err != nil {
					t.Fatal(err)
				}
				if keep > 0 && !bytes.Equal(after, full[:keep]) {
					t.Fatalf("cut at %d: roster.db is %d bytes, want the first %d", n, len(after), keep)
				}
				if keep == 0 && !bytes.HasPrefix(after, []byte("*3\r\n$3\r\nset\r\n")) {
					// Cut inside the first commit: a new store was created.
					t.Fatalf("cut at %d: roster.db was not created afresh: %q", n, after)
				}
				copies := tornCopies(t, dir, rosterFile)
				if n == keep {
					if len(copies) != 0 {
						t.Fatalf("cut at %d (a commit boundary): torn copies %v", n, copies)
					}
					return
				}
				if len(copies) != 1 {
					t.Fatalf("cut at %d: torn copies %v, want one", n, copies)
				}
				if c, _ := os.ReadFile(copies[0]); !bytes.Equal(c, full[:n]) {
					t.Fatalf("cut at %d: the torn copy does not hold the file as it was", n)
				}
			})
		}
	})
}

func TestTornTailNulBytes(t *testing.T) {
	t.Parallel()
	good, st := populatedFile(t)
	tests := []struct {
		name string
		tail string
	}{
		{"NUL tail", "\x00\x00\x00\x00"},
		{"record start then NUL tail", "*3\r\n$3\r\nset\r\n$13\r\nunit:000\x00\x00\x00\x00\x00\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, path := writeRoster(t, append(bytes.Clone(good), tt.tail...))
			s := openStore(t, dir)
			if got := stateOf(t, s); !reflect.DeepEqual(got, st) {
				t.Fatalf("roster = %+v, want %+v", got, st)
			}
			mustClose(t, s)
			if after, _ := os.ReadFile(path); !bytes.Equal(after, good) {
				t.Errorf("roster.db not cut back to its last commit")
			}
			if c := tornCopies(t, dir, rosterFile); len(c) != 1 {
				t.Errorf("torn copies %v, want one", c)
			}
		})
	}
}

func TestTornLiveTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	p := Presence{Unit: 5, Online: true, Remote: "192.0.2.1:1"}
	if err := s.SetPresence(p); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	path := filepath.Join(dir, liveFile)
	good, _ := os.ReadFile(path)
	torn := append(bytes.Clone(good), "*5\r\n$3\r\nset\r\n$17\r\npresence:00000006\r\n$40\r\n{\"v\":1,"...)
	os.WriteFile(path, torn, 0o600)
	s = openStore(t, dir)
	if got, err := s.Presence(5); err != nil || got.Remote != p.Remote {
		t.Fatalf("Presence(5) = %+v, %v", got, err)
	}
	if _, err := s.Presence(6); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Presence(6) = %v, want ErrNotFound", err)
	}
	if c := tornCopies(t, dir, liveFile); len(c) != 1 {
		t.Fatalf("torn copies %v, want one", c)
	}
}

// FuzzOpen checks that Open, on any roster.db and live.db, either refuses
// them with both files unchanged or accepts them, and that what it accepts
// reopens with the same roster.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	s.AddTalkgroup(Talkgroup{ID: 1, Name: "a"})
	s.AddUnit(Unit{ID: 2, Alias: "b", Role: RoleOfficer, Talkgroups: []uint16{1}})
	s.RemoveTalkgroup(1)
	s.AddTalkgroup(Talkgroup{ID: 3, Name: "c"})
	s.AddUnit(enrolled(4, 3))
	s.PutKeys(3, 1, kmfCert, map[uint32][]byte{4: keyFor(4, 1)})
	s.SetUnitStunned(4, true)
	s.SetPresence(Presence{Unit: 2, Online: true, Remote: "192.0.2.1:1"})
	s.Close()
	roster, _ := os.ReadFile(filepath.Join(dir, rosterFile))
	live, _ := os.ReadFile(filepath.Join(dir, liveFile))
	f.Add(roster, live)
	f.Add(roster[:len(roster)-7], live[:len(live)-5])
	f.Fuzz(func(t *testing.T, roster, live []byte) {
		dir, rpath := writeRoster(t, roster)
		lpath := filepath.Join(dir, liveFile)
		if err := os.WriteFile(lpath, live, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Config{Dir: dir})
		if err != nil {
			r, _ := os.ReadFile(rpath)
			l, _ := os.ReadFile(lpath)
			if !bytes.Equal(r, roster) || !bytes.Equal(l, live) {
				t.Fatalf("Open failed (%v) and changed a file", err)
			}
			return
		}
		st := stateOf(t, s)
		s.Close()
		s, err = Open(Config{Dir: dir})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if got := stateOf(t, s); !reflect.DeepEqual(got, st) {
			t.Fatalf("reopen changed the roster")
		}
		s.Close()
	})
}

// FuzzCheckRoster checks the file check against BuntDB's own loader: what
// parseFile and checkRoster accept (after cutting a torn tail) checks clean
// a second time, and BuntDB loads from it exactly the keys and values the
// check found, with nothing left over for BuntDB to truncate.
func FuzzCheckRoster(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	s.AddTalkgroup(Talkgroup{ID: 1, Name: "a"})
	s.AddUnit(Unit{ID: 2, Alias: "b", Role: RoleOfficer, Talkgroups: []uint16{1}})
	s.RemoveTalkgroup(1)
	s.AddTalkgroup(Talkgroup{ID: 3, Name: "c"})
	s.AddUnit(enrolled(4, 3))
	s.PutKeys(3, 1, kmfCert, map[uint32][]byte{4: keyFor(4, 1)})
	s.SetUnitStunned(4, true)
	s.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, rosterFile))
	f.Add(seed)
	f.Add(seed[:len(seed)-7])
	f.Add(append(bytes.Clone(seed), 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := parseFile(data, false)
		if err != nil {
			return
		}
		rc, err := checkRoster(pf)
		if err != nil {
			return
		}
		kept := data[:rc.keep]
		pf2, err := parseFile(kept, false)
		if err != nil {
			t.Fatalf("kept part does not parse: %v", err)
		}
		rc2, err := checkRoster(pf2)
		if err != nil || rc2.keep != rc.keep || pf2.fragment || pf2.nulTail {
			t.Fatalf("kept part does not check clean: %+v, %v", rc2, err)
		}
		db, err := buntdb.Open(":memory:")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Load(bytes.NewReader(kept)); err != nil {
			t.Fatalf("BuntDB does not load what the check accepted: %v", err)
		}
		want := applyRecords(pf.records[:rc.keepRecords])
		n := 0
		db.View(func(tx *buntdb.Tx) error {
			return tx.Ascend("", func(key, val string) bool {
				n++
				if r, ok := want[key]; !ok || r.val != val {
					t.Errorf("BuntDB loaded %s = %q, the check %q", key, val, r.val)
				}
				return true
			})
		})
		if n != len(want) {
			t.Errorf("BuntDB loaded %d keys, the check %d", n, len(want))
		}
	})
}
