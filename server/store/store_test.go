package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/buntdb"
)

// clock is an injectable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openStore opens a store in dir and closes it when the test ends.
func openStore(t testing.TB, dir string, opts ...func(*Config)) *Store {
	t.Helper()
	cfg := Config{Dir: dir}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func withClock(c *clock) func(*Config) { return func(cfg *Config) { cfg.Now = c.Now } }

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

const (
	fp1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	fp2 = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

// certFP is the fingerprint of a certificate's DER.
func certFP(cert []byte) string {
	sum := sha256.Sum256(cert)
	return hex.EncodeToString(sum[:])
}

// cert2 stands in for the DER of a re-issued certificate of unit 102.
var cert2 = []byte("certificate of unit 102, re-issued")

// populate adds talkgroups 100 and 200 and units 101 (in 100) and 102 (in
// 100 and 200, with credentials).
func populate(t testing.TB, s *Store) {
	t.Helper()
	for _, tg := range []Talkgroup{{ID: 100, Name: "Patrol", Priority: 1}, {ID: 200, Name: "Fire", Priority: 5}} {
		if err := s.AddTalkgroup(tg); err != nil {
			t.Fatalf("AddTalkgroup(%d): %v", tg.ID, err)
		}
	}
	units := []Unit{
		{ID: 101, Alias: "Car 1", Role: RoleOfficer, Talkgroups: []uint16{100}},
		{ID: 102, Alias: "Dispatch", Role: RoleDispatcher, Talkgroups: []uint16{200, 100},
			CertFingerprint: fp1, HPKEPublicKey: []byte{1, 2, 3}, SigningPublicKey: []byte{4, 5, 6}},
	}
	for _, u := range units {
		if err := s.AddUnit(u); err != nil {
			t.Fatalf("AddUnit(%d): %v", u.ID, err)
		}
	}
}

// rosterState is everything the roster holds.
type rosterState struct {
	Talkgroups []Talkgroup
	Units      []Unit
	Keys       []KeyState
	// MemberKeys are the keys of every unit in every talkgroup with an
	// epoch, by talkgroup, then unit.
	MemberKeys []MemberKey
}

func stateOf(t testing.TB, s *Store) rosterState {
	t.Helper()
	tgs, err := s.Talkgroups()
	if err != nil {
		t.Fatalf("Talkgroups: %v", err)
	}
	units, err := s.Units()
	if err != nil {
		t.Fatalf("Units: %v", err)
	}
	keys, err := s.KeyStates()
	if err != nil {
		t.Fatalf("KeyStates: %v", err)
	}
	var mks []MemberKey
	for _, st := range keys {
		if st.Epoch == 0 {
			continue
		}
		for _, u := range units {
			mk, err := s.MemberKey(st.Talkgroup, u.ID)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("MemberKey(%d, %d): %v", st.Talkgroup, u.ID, err)
			}
			mks = append(mks, mk)
		}
	}
	return rosterState{tgs, units, keys, mks}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Role
		wantErr bool
	}{
		{"officer", RoleOfficer, false},
		{"Dispatcher", RoleDispatcher, false},
		{" commander ", RoleCommander, false},
		{"kmf", RoleKMF, false},
		{"recorder", RoleRecorder, false},
		{"chief", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRole(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("ParseRole(%q) error = %v, want ErrInvalid", tt.in, err)
				}
				for _, r := range roles {
					if !strings.Contains(err.Error(), string(r)) {
						t.Errorf("error %q does not list role %s", err, r)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRole(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no dir", Config{}},
		{"negative keep", Config{Dir: t.TempDir(), SnapshotKeep: -1}},
		{"negative ttl", Config{Dir: t.TempDir(), PresenceTTL: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.cfg)
			if !errors.Is(err, ErrInvalid) {
				if s != nil {
					s.Close()
				}
				t.Fatalf("Open error = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestOpenCreatesPrivateDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s := openStore(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, want 0700", fi.Mode().Perm())
	}
	for _, name := range []string{rosterFile, liveFile, lockFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s mode = %v, want no group or other access", name, fi.Mode().Perm())
		}
	}
	var schema string
	if err := s.viewRoster(func(tx *buntdb.Tx) error {
		var err error
		schema, err = tx.Get(metaSchemaKey)
		return err
	}); err != nil {
		t.Fatalf("meta:schema: %v", err)
	}
	if _, err := decodeSchema(schema); err != nil {
		t.Fatalf("meta:schema %q: %v", schema, err)
	}
}

func TestAddTalkgroupValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tg   Talkgroup
		want error
	}{
		{"ok", Talkgroup{ID: 300, Name: "Traffic", Priority: 9}, nil},
		{"max id", Talkgroup{ID: 65535, Name: "Last"}, nil},
		{"unicode name", Talkgroup{ID: 301, Name: "Südwache 3"}, nil},
		{"zero id", Talkgroup{ID: 0, Name: "Zero"}, ErrInvalid},
		{"empty name", Talkgroup{ID: 302, Name: ""}, ErrInvalid},
		{"long name", Talkgroup{ID: 302, Name: strings.Repeat("x", 65)}, ErrInvalid},
		{"control char", Talkgroup{ID: 302, Name: "bell\a"}, ErrInvalid},
		{"newline", Talkgroup{ID: 302, Name: "two\nlines"}, ErrInvalid},
		{"leading space", Talkgroup{ID: 302, Name: " Patrol"}, ErrInvalid},
		{"invalid utf-8", Talkgroup{ID: 302, Name: "\xff"}, ErrInvalid},
		{"exists", Talkgroup{ID: 100, Name: "Again"}, ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, t.TempDir())
			populate(t, s)
			before := stateOf(t, s)
			err := s.AddTalkgroup(tt.tg)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("AddTalkgroup(%+v) = %v, want %v", tt.tg, err, tt.want)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "store: ") {
					t.Errorf("error %q does not start with \"store: \"", err)
				}
				if after := stateOf(t, s); !reflect.DeepEqual(before, after) {
					t.Errorf("failed AddTalkgroup changed the roster:\nbefore %+v\nafter  %+v", before, after)
				}
				return
			}
			got, err := s.Talkgroup(tt.tg.ID)
			if err != nil || got != tt.tg {
				t.Fatalf("Talkgroup(%d) = %+v, %v; want %+v", tt.tg.ID, got, err, tt.tg)
			}
		})
	}
}

func TestAddUnitValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		u       Unit
		want    error
		wantMsg string // in the error text
	}{
		{name: "ok", u: Unit{ID: 1, Alias: "Car 7", Role: RoleOfficer}},
		{name: "max id", u: Unit{ID: MaxUnitID, Alias: "Top", Role: RoleKMF}},
		{name: "zero id", u: Unit{ID: 0, Alias: "Zero", Role: RoleOfficer}, want: ErrInvalid, wantMsg: "out of range"},
		{name: "id too big", u: Unit{ID: MaxUnitID + 1, Alias: "Big", Role: RoleOfficer}, want: ErrInvalid, wantMsg: "16777215"},
		{name: "empty alias", u: Unit{ID: 5, Role: RoleOfficer}, want: ErrInvalid, wantMsg: "alias is empty"},
		{name: "long alias", u: Unit{ID: 5, Alias: strings.Repeat("a", 33), Role: RoleOfficer}, want: ErrInvalid, wantMsg: "at most 32"},
		{name: "control alias", u: Unit{ID: 5, Alias: "a\x00b", Role: RoleOfficer}, want: ErrInvalid, wantMsg: "non-printable"},
		{name: "bad role", u: Unit{ID: 5, Alias: "x", Role: "chief"}, want: ErrInvalid, wantMsg: "officer, dispatcher"},
		{name: "talkgroup zero", u: Unit{ID: 5, Alias: "x", Role: RoleOfficer, Talkgroups: []uint16{0, 100}}, want: ErrInvalid},
		{name: "unknown talkgroup", u: Unit{ID: 5, Alias: "x", Role: RoleOfficer, Talkgroups: []uint16{100, 999}},
			want: ErrUnknownTalkgroup, wantMsg: "talkgroup 999 does not exist"},
		{name: "unknown talkgroups", u: Unit{ID: 5, Alias: "x", Role: RoleOfficer, Talkgroups: []uint16{998, 999}},
			want: ErrUnknownTalkgroup, wantMsg: "talkgroups 998, 999 do not exist"},
		{name: "partial credentials", u: Unit{ID: 5, Alias: "x", Role: RoleOfficer, CertFingerprint: fp1},
			want: ErrInvalid, wantMsg: "or none"},
		{name: "bad fingerprint", u: Unit{ID: 5, Alias: "x", Role: RoleOfficer, CertFingerprint: "abc",
			HPKEPublicKey: []byte{1}, SigningPublicKey: []byte{2}}, want: ErrInvalid, wantMsg: "SHA-256"},
		{name: "huge key", u: Unit{ID: 5, Alias: "x", Role: RoleOfficer, CertFingerprint: fp1,
			HPKEPublicKey: make([]byte, MaxPublicKeyLen+1), SigningPublicKey: []byte{2}}, want: ErrInvalid},
		{name: "exists", u: Unit{ID: 101, Alias: "Again", Role: RoleOfficer}, want: ErrExists, wantMsg: "unit 101 already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, t.TempDir())
			populate(t, s)
			before := stateOf(t, s)
			err := s.AddUnit(tt.u)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("AddUnit = %v, want %v", err, tt.want)
			}
			if err == nil {
				if _, err := s.Unit(tt.u.ID); err != nil {
					t.Fatalf("Unit(%d) after AddUnit: %v", tt.u.ID, err)
				}
				return
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("error %q, want it to start with \"store: \" and contain %q", err, tt.wantMsg)
			}
			if after := stateOf(t, s); !reflect.DeepEqual(before, after) {
				t.Errorf("failed AddUnit changed the roster:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestAddUnitNormalizes(t *testing.T) {
	t.Parallel()
	c := newClock()
	s := openStore(t, t.TempDir(), withClock(c))
	populate(t, s)
	in := Unit{ID: 7, Alias: "Car 7", Role: RoleCommander, Talkgroups: []uint16{200, 100, 200},
		CertFingerprint: strings.ToUpper(fp2), HPKEPublicKey: []byte{9}, SigningPublicKey: []byte{8}}
	if err := s.AddUnit(in); err != nil {
		t.Fatal(err)
	}
	in.HPKEPublicKey[0] = 0 // the store must not share the caller's slices
	got, err := s.Unit(7)
	if err != nil {
		t.Fatal(err)
	}
	want := Unit{ID: 7, Alias: "Car 7", Role: RoleCommander, Talkgroups: []uint16{100, 200},
		CertFingerprint: fp2, HPKEPublicKey: []byte{9}, SigningPublicKey: []byte{8}, Enrolled: c.Now()}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Unit(7) = %+v\nwant %+v", got, want)
	}
}

func TestRosterUpdates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		do      func(s *Store, c *clock) (Unit, error)
		want    error
		wantMsg string
		check   func(t *testing.T, c *clock, u Unit)
	}{
		{name: "set talkgroups", do: func(s *Store, _ *clock) (Unit, error) { return s.SetUnitTalkgroups(101, []uint16{200, 100, 100}) },
			check: func(t *testing.T, _ *clock, u Unit) {
				if !reflect.DeepEqual(u.Talkgroups, []uint16{100, 200}) {
					t.Errorf("Talkgroups = %v, want [100 200]", u.Talkgroups)
				}
			}},
		{name: "clear talkgroups", do: func(s *Store, _ *clock) (Unit, error) { return s.SetUnitTalkgroups(102, nil) },
			check: func(t *testing.T, _ *clock, u Unit) {
				if len(u.Talkgroups) != 0 {
					t.Errorf("Talkgroups = %v, want none", u.Talkgroups)
				}
			}},
		{name: "set talkgroups unknown", do: func(s *Store, _ *clock) (Unit, error) { return s.SetUnitTalkgroups(101, []uint16{100, 555}) },
			want: ErrUnknownTalkgroup, wantMsg: "555"},
		{name: "set talkgroups no unit", do: func(s *Store, _ *clock) (Unit, error) { return s.SetUnitTalkgroups(999, []uint16{100}) },
			want: ErrNotFound, wantMsg: "unit 999"},
		{name: "stun", do: func(s *Store, _ *clock) (Unit, error) { return s.SetUnitStunned(101, true) },
			check: func(t *testing.T, _ *clock, u Unit) {
				if !u.Stunned {
					t.Error("not stunned")
				}
			}},
		{name: "stun no unit", do: func(s *Store, _ *clock) (Unit, error) { return s.SetUnitStunned(999, true) }, want: ErrNotFound},
		{name: "replace credentials", do: func(s *Store, c *clock) (Unit, error) {
			c.Advance(time.Hour)
			return s.ReplaceUnitCredentials(102, strings.ToUpper(certFP(cert2)), []byte{7, 7}, []byte{8, 8}, cert2)
		}, check: func(t *testing.T, c *clock, u Unit) {
			if u.CertFingerprint != certFP(cert2) || !bytes.Equal(u.HPKEPublicKey, []byte{7, 7}) ||
				!bytes.Equal(u.SigningPublicKey, []byte{8, 8}) || !bytes.Equal(u.Cert, cert2) || !u.Enrolled.Equal(c.Now()) {
				t.Errorf("credentials not replaced: %+v", u)
			}
		}},
		{name: "replace credentials empty", do: func(s *Store, _ *clock) (Unit, error) {
			return s.ReplaceUnitCredentials(102, "", []byte{1}, []byte{1}, cert2)
		},
			want: ErrInvalid},
		{name: "replace credentials bad fingerprint", do: func(s *Store, _ *clock) (Unit, error) {
			return s.ReplaceUnitCredentials(102, "zz", []byte{1}, []byte{1}, cert2)
		},
			want: ErrInvalid},
		{name: "replace credentials without certificate", do: func(s *Store, _ *clock) (Unit, error) {
			return s.ReplaceUnitCredentials(102, fp2, []byte{1}, []byte{1}, nil)
		},
			want: ErrInvalid, wantMsg: "need a certificate"},
		{name: "replace credentials with another certificate", do: func(s *Store, _ *clock) (Unit, error) {
			return s.ReplaceUnitCredentials(102, fp2, []byte{1}, []byte{1}, cert2)
		},
			want: ErrInvalid, wantMsg: "does not match its fingerprint " + fp2},
		{name: "replace credentials no unit", do: func(s *Store, _ *clock) (Unit, error) {
			return s.ReplaceUnitCredentials(999, certFP(cert2), []byte{1}, []byte{1}, cert2)
		},
			want: ErrNotFound},
		{name: "unit out of range", do: func(s *Store, _ *clock) (Unit, error) { return s.SetUnitStunned(0, true) }, want: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock()
			dir := t.TempDir()
			s := openStore(t, dir, withClock(c))
			populate(t, s)
			before := stateOf(t, s)
			u, err := tt.do(s, c)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not contain %q", err, tt.wantMsg)
				}
				if after := stateOf(t, s); !reflect.DeepEqual(before, after) {
					t.Errorf("failed update changed the roster:\nbefore %+v\nafter  %+v", before, after)
				}
				return
			}
			tt.check(t, c, u)
			// The returned unit is what is stored, and survives a reopen.
			mustClose(t, s)
			s = openStore(t, dir)
			got, err := s.Unit(u.ID)
			if err != nil || !reflect.DeepEqual(got, u) {
				t.Fatalf("after reopen Unit(%d) = %+v, %v\nwant %+v", u.ID, got, err, u)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	populate(t, s)
	tests := []struct {
		name string
		err  error
	}{
		{"Unit", func() error { _, err := s.Unit(999); return err }()},
		{"Talkgroup", func() error { _, err := s.Talkgroup(999); return err }()},
		{"RemoveUnit", s.RemoveUnit(999)},
		{"RemoveTalkgroup", s.RemoveTalkgroup(999)},
		{"Presence", func() error { _, err := s.Presence(999); return err }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, ErrNotFound) {
				t.Fatalf("error = %v, want ErrNotFound", tt.err)
			}
			if !strings.Contains(tt.err.Error(), "999") {
				t.Errorf("error %q does not name 999", tt.err)
			}
		})
	}
}

func TestRemoveUnit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	if err := s.SetPresence(Presence{Unit: 101, Online: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveUnit(101); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Unit(101); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Unit(101) after remove: %v", err)
	}
	if _, err := s.Presence(101); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Presence(101) after remove: %v", err)
	}
	mustClose(t, s)
	s = openStore(t, dir)
	units, err := s.Units()
	if err != nil || len(units) != 1 || units[0].ID != 102 {
		t.Fatalf("Units after reopen = %+v, %v; want only 102", units, err)
	}
}

func TestRemoveTalkgroupStripsMembers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	if err := s.AddUnit(Unit{ID: 103, Alias: "Car 3", Role: RoleOfficer, Talkgroups: []uint16{200}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTalkgroup(100); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		if _, err := s.Talkgroup(100); !errors.Is(err, ErrNotFound) {
			t.Errorf("Talkgroup(100) after remove: %v", err)
		}
		want := map[uint32][]uint16{101: nil, 102: {200}, 103: {200}}
		units, err := s.Units()
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			if !reflect.DeepEqual(u.Talkgroups, want[u.ID]) {
				t.Errorf("unit %d talkgroups = %v, want %v", u.ID, u.Talkgroups, want[u.ID])
			}
		}
		// The talkgroup can be added again, and units assigned to it.
	}
	check(s)
	mustClose(t, s)
	s = openStore(t, dir)
	check(s)
	if err := s.AddTalkgroup(Talkgroup{ID: 100, Name: "Patrol 2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetUnitTalkgroups(101, []uint16{100}); err != nil {
		t.Fatal(err)
	}
}

func TestListsSortedByID(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	for _, id := range []uint16{9, 65535, 10, 1, 100} {
		if err := s.AddTalkgroup(Talkgroup{ID: id, Name: "tg"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []uint32{MaxUnitID, 9, 10, 1, 100000} {
		if err := s.AddUnit(Unit{ID: id, Alias: "u", Role: RoleOfficer}); err != nil {
			t.Fatal(err)
		}
	}
	st := stateOf(t, s)
	var tgs []uint16
	for _, tg := range st.Talkgroups {
		tgs = append(tgs, tg.ID)
	}
	var units []uint32
	for _, u := range st.Units {
		units = append(units, u.ID)
	}
	if !reflect.DeepEqual(tgs, []uint16{1, 9, 10, 100, 65535}) {
		t.Errorf("Talkgroups order %v", tgs)
	}
	if !reflect.DeepEqual(units, []uint32{1, 9, 10, 100000, MaxUnitID}) {
		t.Errorf("Units order %v", units)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	if _, err := s.SetUnitStunned(101, true); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, s)
	mustClose(t, s)
	for i := range 3 {
		s = openStore(t, dir)
		if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("reopen %d: roster = %+v\nwant %+v", i, got, want)
		}
		mustClose(t, s)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	populate(t, s)
	mustClose(t, s)
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	tests := []struct {
		name string
		err  error
	}{
		{"AddTalkgroup", s.AddTalkgroup(Talkgroup{ID: 5, Name: "x"})},
		{"AddUnit", s.AddUnit(Unit{ID: 5, Alias: "x", Role: RoleOfficer})},
		{"Unit", func() error { _, err := s.Unit(101); return err }()},
		{"Units", func() error { _, err := s.Units(); return err }()},
		{"SetPresence", s.SetPresence(Presence{Unit: 101})},
		{"SetLastHeard", s.SetLastHeard(101, time.Now())},
		{"Snapshot", func() error { _, err := s.Snapshot(); return err }()},
		{"KeyStates", func() error { _, err := s.KeyStates(); return err }()},
		{"KeyState", func() error { _, err := s.KeyState(100); return err }()},
		{"MemberKey", func() error { _, err := s.MemberKey(100, 102); return err }()},
		{"PutKeys", s.PutKeys(100, 1, nil, map[uint32][]byte{102: {1}})},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", tt.name, tt.err)
		}
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if Locked(dir) {
		t.Fatal("Locked before Open")
	}
	s := openStore(t, dir)
	if !Locked(dir) {
		t.Fatal("Locked = false while open")
	}
	s2, err := Open(Config{Dir: dir})
	if !errors.Is(err, ErrLocked) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	want := "store: " + dir + " is in use by another process (is vartad serve running?)"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// The failed Open must not have released the first Store's lock.
	if !Locked(dir) {
		t.Fatal("Locked = false after a failed second Open")
	}
	mustClose(t, s)
	if Locked(dir) {
		t.Fatal("Locked = true after Close")
	}
	s = openStore(t, dir)
	mustClose(t, s)
	if Locked(filepath.Join(dir, "missing")) {
		t.Error("Locked on a missing directory")
	}
}

func TestPresence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	since := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	heard := since.Add(90 * time.Second)
	p := Presence{Unit: 101, Online: true, Remote: "192.0.2.7:4433", Since: since, LastHeard: heard}
	if err := s.SetPresence(p); err != nil {
		t.Fatal(err)
	}
	equal := func(a, b Presence) bool {
		return a.Unit == b.Unit && a.Online == b.Online && a.Remote == b.Remote &&
			a.Since.Equal(b.Since) && a.LastHeard.Equal(b.LastHeard)
	}
	got, err := s.Presence(101)
	if err != nil || !equal(got, p) {
		t.Fatalf("Presence = %+v, %v; want %+v", got, err, p)
	}
	if got.Since.Location() != time.UTC {
		t.Errorf("Since is in %v, want UTC", got.Since.Location())
	}

	later := heard.Add(time.Minute)
	if err := s.SetLastHeard(101, later); err != nil {
		t.Fatal(err)
	}
	p.LastHeard = later
	if got, err := s.Presence(101); err != nil || !equal(got, p) {
		t.Fatalf("after SetLastHeard Presence = %+v, %v; want %+v", got, err, p)
	}

	// A unit heard without a presence record gets one.
	if err := s.SetLastHeard(202, later); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Presence(202); err != nil || !equal(got, Presence{Unit: 202, LastHeard: later}) {
		t.Fatalf("Presence(202) = %+v, %v", got, err)
	}

	for _, id := range []uint32{0, MaxUnitID + 1} {
		if err := s.SetPresence(Presence{Unit: id}); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetPresence(unit %d) = %v, want ErrInvalid", id, err)
		}
		if err := s.SetLastHeard(id, later); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetLastHeard(unit %d) = %v, want ErrInvalid", id, err)
		}
	}

	// Presence survives a clean restart.
	mustClose(t, s)
	s = openStore(t, dir)
	if got, err := s.Presence(101); err != nil || !equal(got, p) {
		t.Fatalf("after reopen Presence = %+v, %v; want %+v", got, err, p)
	}
}

func TestPresenceExpires(t *testing.T) {
	t.Parallel()
	// BuntDB expires by the real clock; a TTL of 1ns has passed by the time
	// the record is read back.
	s := openStore(t, t.TempDir(), func(c *Config) { c.PresenceTTL = time.Nanosecond })
	if err := s.SetPresence(Presence{Unit: 5, Online: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Presence(5); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Presence after TTL = %v, want ErrNotFound", err)
	}
}

// UnitsAfter pages through the roster in ID order without skipping or
// repeating a unit, whatever the page size; talkgroups and other records
// never appear in it.
func TestUnitsAfter(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	if err := s.AddTalkgroup(Talkgroup{ID: 100, Name: "Patrol"}); err != nil {
		t.Fatal(err)
	}
	ids := []uint32{1, 2, 9, 10, 99, 100, 101, 5000, 70000, MaxUnitID}
	for _, id := range ids {
		if err := s.AddUnit(Unit{ID: id, Alias: fmt.Sprintf("U-%d", id), Role: RoleOfficer, Talkgroups: []uint16{100}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 3, 4, 100} {
		var got []uint32
		after := uint32(0)
		for range 20 {
			page, err := s.UnitsAfter(after, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, u := range page {
				got = append(got, u.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, ids) {
			t.Errorf("limit %d: pages gave %v, want %v", limit, got, ids)
		}
	}
	if page, err := s.UnitsAfter(100, 2); err != nil || len(page) != 2 || page[0].ID != 101 || page[1].ID != 5000 {
		t.Errorf("after 100: %v %v", page, err)
	}
	if page, err := s.UnitsAfter(MaxUnitID, 5); err != nil || len(page) != 0 {
		t.Errorf("after the last ID: %v %v", page, err)
	}
}
