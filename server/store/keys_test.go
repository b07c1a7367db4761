package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// kmfCert stands in for the DER of the KMF's certificate.
var kmfCert = []byte("certificate of the KMF")

// keyFor stands in for the sealed, signed key of unit for epoch.
func keyFor(unit, epoch uint32) []byte {
	return fmt.Appendf(nil, "key of unit %d for epoch %d", unit, epoch)
}

// enrolled returns a unit with credentials and a certificate.
func enrolled(id uint32, tgs ...uint16) Unit {
	cert := fmt.Appendf(nil, "certificate of unit %d", id)
	return Unit{
		ID: id, Alias: fmt.Sprintf("Car %d", id), Role: RoleOfficer, Talkgroups: tgs,
		CertFingerprint: certFP(cert), HPKEPublicKey: []byte{byte(id), 1}, SigningPublicKey: []byte{byte(id), 2}, Cert: cert,
	}
}

// putKeys stores epoch of tg with a key for each of units.
func putKeys(t testing.TB, s *Store, tg uint16, epoch uint32, units ...uint32) {
	t.Helper()
	keys := make(map[uint32][]byte)
	for _, u := range units {
		keys[u] = keyFor(u, epoch)
	}
	if err := s.PutKeys(tg, epoch, kmfCert, keys); err != nil {
		t.Fatalf("PutKeys(%d, %d): %v", tg, epoch, err)
	}
}

// populateKeys adds talkgroups 100 and 200; units 101 (enrolled, in 100),
// 102 (enrolled, in 100 and 200) and 103 (no credentials, in 100); and epoch
// 1 of both talkgroups, with keys for 101 and 102 in 100 and for 102 in 200.
func populateKeys(t testing.TB, s *Store) {
	t.Helper()
	for _, tg := range []Talkgroup{{ID: 100, Name: "Patrol"}, {ID: 200, Name: "Fire"}} {
		if err := s.AddTalkgroup(tg); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []Unit{enrolled(101, 100), enrolled(102, 100, 200), {ID: 103, Alias: "Spare", Role: RoleOfficer, Talkgroups: []uint16{100}}} {
		if err := s.AddUnit(u); err != nil {
			t.Fatal(err)
		}
	}
	putKeys(t, s, 100, 1, 101, 102)
	putKeys(t, s, 200, 1, 102)
}

// keyHolders returns, for each talkgroup with an epoch, the units that have
// a key for it, after checking that each key is the one keyFor made.
func keyHolders(t *testing.T, s *Store) map[uint16][]uint32 {
	t.Helper()
	states, err := s.KeyStates()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[uint16][]uint32)
	for _, st := range states {
		if st.Epoch == 0 {
			continue
		}
		out[st.Talkgroup] = []uint32{}
		for u := uint32(100); u < 110; u++ {
			mk, err := s.MemberKey(st.Talkgroup, u)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("MemberKey(%d, %d): %v", st.Talkgroup, u, err)
			}
			want := MemberKey{Talkgroup: st.Talkgroup, Epoch: st.Epoch, Key: keyFor(u, st.Epoch), KMFCert: kmfCert}
			if !reflect.DeepEqual(mk, want) {
				t.Fatalf("MemberKey(%d, %d) = %+v, want %+v", st.Talkgroup, u, mk, want)
			}
			out[st.Talkgroup] = append(out[st.Talkgroup], u)
		}
	}
	return out
}

// lastCommit returns the keys the last commit of the roster file in dir
// wrote (the marker aside), sorted, and the file's size.
func lastCommit(t *testing.T, dir string) ([]string, int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, rosterFile))
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parseFile(data, false)
	if err != nil {
		t.Fatal(err)
	}
	// BuntDB writes a commit's records in no particular order: the
	// last commit begins where its marker says.
	var m commitMarker
	for _, r := range pf.records {
		if r.key == metaCommitKey {
			if m, err = decodeMarker(r.val); err != nil {
				t.Fatal(err)
			}
		}
	}
	var keys []string
	for _, r := range pf.records {
		if r.off >= m.At && r.key != metaCommitKey {
			keys = append(keys, r.key)
		}
	}
	if len(keys)+1 != m.Records {
		t.Fatalf("the last commit has %d records, its marker says %d", len(keys)+1, m.Records)
	}
	slices.Sort(keys)
	return keys, len(data)
}

// TestKeysStaleness makes each roster change and checks which talkgroups'
// keys it made stale and with what reason, which member keys it deleted, that
// it did so in the same commit as the change itself, and that all of it
// survives a reopen.
func TestKeysStaleness(t *testing.T) {
	t.Parallel()
	reissue := func(id uint32, sameHPKE bool) func(t *testing.T, s *Store) error {
		return func(t *testing.T, s *Store) error {
			u, err := s.Unit(id)
			if err != nil {
				return err
			}
			cert := fmt.Appendf(nil, "re-issued certificate of unit %d", id)
			hpke := []byte{byte(id), 9}
			if sameHPKE {
				hpke = u.HPKEPublicKey
			}
			_, err = s.ReplaceUnitCredentials(id, certFP(cert), hpke, []byte{byte(id), 8}, cert)
			return err
		}
	}
	both := func(reason string) map[uint16]string { return map[uint16]string{100: reason, 200: reason} }
	tests := []struct {
		name string
		do   func(t *testing.T, s *Store) error
		// stale names the talkgroups whose keys are stale afterwards, with
		// the reason; the others are fresh.
		stale map[uint16]string
		// holders are the units with a member key afterwards, by
		// talkgroup; nil means unchanged.
		holders map[uint16][]uint32
		// commit is what the change's commit wrote; nil means that the
		// change wrote nothing.
		commit []string
	}{
		{name: "add enrolled unit",
			do:     func(t *testing.T, s *Store) error { return s.AddUnit(enrolled(104, 200)) },
			stale:  map[uint16]string{200: "unit 104 joined"},
			commit: []string{"keys:00200", "unit:00000104"}},
		{name: "add unit without credentials",
			do: func(t *testing.T, s *Store) error {
				return s.AddUnit(Unit{ID: 104, Alias: "Car 4", Role: RoleOfficer, Talkgroups: []uint16{100, 200}})
			},
			commit: []string{"unit:00000104"}},
		{name: "add stunned unit",
			do: func(t *testing.T, s *Store) error {
				u := enrolled(104, 100, 200)
				u.Stunned = true
				return s.AddUnit(u)
			},
			commit: []string{"unit:00000104"}},
		{name: "remove unit",
			do:      func(t *testing.T, s *Store) error { return s.RemoveUnit(102) },
			stale:   both("unit 102 removed"),
			holders: map[uint16][]uint32{100: {101}, 200: {}},
			commit:  []string{"keys:00100", "keys:00200", "unit:00000102"}},
		{name: "remove unit without credentials",
			do:     func(t *testing.T, s *Store) error { return s.RemoveUnit(103) },
			commit: []string{"unit:00000103"}},
		{name: "move unit",
			do: func(t *testing.T, s *Store) error {
				_, err := s.SetUnitTalkgroups(101, []uint16{200})
				return err
			},
			stale:   map[uint16]string{100: "unit 101 left", 200: "unit 101 joined"},
			holders: map[uint16][]uint32{100: {102}, 200: {102}},
			commit:  []string{"keys:00100", "keys:00200", "unit:00000101"}},
		{name: "leave every talkgroup",
			do: func(t *testing.T, s *Store) error {
				_, err := s.SetUnitTalkgroups(102, nil)
				return err
			},
			stale:   both("unit 102 left"),
			holders: map[uint16][]uint32{100: {101}, 200: {}},
			commit:  []string{"keys:00100", "keys:00200", "unit:00000102"}},
		{name: "same talkgroups",
			do: func(t *testing.T, s *Store) error {
				_, err := s.SetUnitTalkgroups(102, []uint16{200, 100})
				return err
			}},
		{name: "move unit without credentials",
			do: func(t *testing.T, s *Store) error {
				_, err := s.SetUnitTalkgroups(103, []uint16{200})
				return err
			},
			commit: []string{"unit:00000103"}},
		{name: "stun",
			do: func(t *testing.T, s *Store) error {
				_, err := s.SetUnitStunned(102, true)
				return err
			},
			stale:   both("unit 102 stunned"),
			holders: map[uint16][]uint32{100: {101}, 200: {}},
			commit:  []string{"keys:00100", "keys:00200", "unit:00000102"}},
		{name: "stun unit without credentials",
			do: func(t *testing.T, s *Store) error {
				_, err := s.SetUnitStunned(103, true)
				return err
			},
			commit: []string{"unit:00000103"}},
		{name: "move stunned unit",
			do: func(t *testing.T, s *Store) error {
				if _, err := s.SetUnitStunned(101, true); err != nil {
					return err
				}
				putKeys(t, s, 100, 2, 102)
				_, err := s.SetUnitTalkgroups(101, []uint16{200})
				return err
			},
			holders: map[uint16][]uint32{100: {102}, 200: {102}},
			commit:  []string{"unit:00000101"}},
		{name: "revive",
			do: func(t *testing.T, s *Store) error {
				if _, err := s.SetUnitStunned(101, true); err != nil {
					return err
				}
				putKeys(t, s, 100, 2, 102)
				_, err := s.SetUnitStunned(101, false)
				return err
			},
			stale:   map[uint16]string{100: "unit 101 revived"},
			holders: map[uint16][]uint32{100: {102}, 200: {102}},
			commit:  []string{"keys:00100", "unit:00000101"}},
		{name: "re-issue",
			do:      reissue(102, false),
			stale:   both("unit 102 re-issued"),
			holders: map[uint16][]uint32{100: {101}, 200: {}},
			commit:  []string{"keys:00100", "keys:00200", "unit:00000102"}},
		{name: "re-issue keeping the HPKE key",
			do:     reissue(101, true),
			stale:  map[uint16]string{100: "unit 101 re-issued"},
			commit: []string{"keys:00100", "unit:00000101"}},
		{name: "first enrolment by re-issue",
			do:     reissue(103, false),
			stale:  map[uint16]string{100: "unit 103 re-issued"},
			commit: []string{"keys:00100", "unit:00000103"}},
		{name: "add talkgroup",
			do:     func(t *testing.T, s *Store) error { return s.AddTalkgroup(Talkgroup{ID: 300, Name: "Traffic"}) },
			stale:  map[uint16]string{300: "no key yet"},
			commit: []string{"keys:00300", "tg:00300"}},
		{name: "join talkgroup without a key",
			do: func(t *testing.T, s *Store) error {
				if err := s.AddTalkgroup(Talkgroup{ID: 300, Name: "Traffic"}); err != nil {
					return err
				}
				return s.AddUnit(enrolled(104, 300))
			},
			stale:  map[uint16]string{300: "no key yet"},
			commit: []string{"unit:00000104"}},
		{name: "remove talkgroup",
			do:      func(t *testing.T, s *Store) error { return s.RemoveTalkgroup(200) },
			holders: map[uint16][]uint32{100: {101, 102}},
			commit:  []string{"keys:00200", "tg:00200", "unit:00000102"}},
		{name: "first reason stands",
			do: func(t *testing.T, s *Store) error {
				if _, err := s.SetUnitTalkgroups(101, nil); err != nil {
					return err
				}
				return s.AddUnit(enrolled(104, 100))
			},
			stale:   map[uint16]string{100: "unit 101 left"},
			holders: map[uint16][]uint32{100: {102}, 200: {102}},
			commit:  []string{"unit:00000104"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			populateKeys(t, s)
			if st, err := s.KeyStates(); err != nil || !reflect.DeepEqual(st, []KeyState{{100, 1, false, ""}, {200, 1, false, ""}}) {
				t.Fatalf("KeyStates before = %+v, %v", st, err)
			}
			_, sizeBefore := lastCommit(t, dir)
			if err := tt.do(t, s); err != nil {
				t.Fatal(err)
			}

			commit, size := lastCommit(t, dir)
			switch {
			case tt.commit == nil && size != sizeBefore:
				t.Errorf("the change wrote %v, want nothing", commit)
			case tt.commit != nil && !reflect.DeepEqual(commit, tt.commit):
				t.Errorf("the change's commit wrote %v, want %v", commit, tt.commit)
			}
			check := func(s *Store) {
				t.Helper()
				states, err := s.KeyStates()
				if err != nil {
					t.Fatal(err)
				}
				for _, st := range states {
					reason, stale := tt.stale[st.Talkgroup]
					if st.Stale != stale || st.Reason != reason {
						t.Errorf("talkgroup %d: Stale %v, Reason %q; want %v, %q", st.Talkgroup, st.Stale, st.Reason, stale, reason)
					}
					if one, err := s.KeyState(st.Talkgroup); err != nil || one != st {
						t.Errorf("KeyState(%d) = %+v, %v; KeyStates says %+v", st.Talkgroup, one, err, st)
					}
				}
				want := map[uint16][]uint32{100: {101, 102}, 200: {102}}
				if tt.holders != nil {
					want = tt.holders
				}
				if got := keyHolders(t, s); !reflect.DeepEqual(got, want) {
					t.Errorf("member keys held by %v, want %v", got, want)
				}
			}
			check(s)
			want := stateOf(t, s)
			mustClose(t, s)
			s = openStore(t, dir)
			if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
				t.Fatalf("after reopen roster = %+v\nwant %+v", got, want)
			}
			check(s)
		})
	}
}

func TestPutKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	for _, tg := range []Talkgroup{{ID: 100, Name: "Patrol"}, {ID: 200, Name: "Fire"}} {
		if err := s.AddTalkgroup(tg); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []Unit{enrolled(101, 100), enrolled(102, 100, 200)} {
		if err := s.AddUnit(u); err != nil {
			t.Fatal(err)
		}
	}
	noKey := []KeyState{{100, 0, true, "no key yet"}, {200, 0, true, "no key yet"}}
	if got, err := s.KeyStates(); err != nil || !reflect.DeepEqual(got, noKey) {
		t.Fatalf("KeyStates = %+v, %v; want %+v", got, err, noKey)
	}
	if _, err := s.MemberKey(100, 101); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "talkgroup 100 has no key yet") {
		t.Fatalf("MemberKey before any epoch = %v, want ErrNotFound", err)
	}

	keys := map[uint32][]byte{101: keyFor(101, 5), 102: keyFor(102, 5)}
	cert := bytes.Clone(kmfCert)
	if err := s.PutKeys(100, 5, cert, keys); err != nil {
		t.Fatal(err)
	}
	// PutKeys keeps copies, and MemberKey hands out copies.
	keys[101][0], cert[0] = 'X', 'X'
	mk, err := s.MemberKey(100, 101)
	if want := (MemberKey{Talkgroup: 100, Epoch: 5, Key: keyFor(101, 5), KMFCert: kmfCert}); err != nil || !reflect.DeepEqual(mk, want) {
		t.Fatalf("MemberKey(100, 101) = %+v, %v; want %+v", mk, err, want)
	}
	mk.Key[0] = 'Y'
	if mk, _ := s.MemberKey(100, 101); !bytes.Equal(mk.Key, keyFor(101, 5)) {
		t.Fatal("MemberKey shares its slices")
	}
	if mk, err := s.MemberKey(100, 102); err != nil || !bytes.Equal(mk.Key, keyFor(102, 5)) {
		t.Fatalf("MemberKey(100, 102) = %+v, %v", mk, err)
	}
	want := []KeyState{{100, 5, false, ""}, {200, 0, true, "no key yet"}}
	if got, err := s.KeyStates(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("KeyStates = %+v, %v; want %+v", got, err, want)
	}

	// A newer epoch replaces the keys entirely; a member with a
	// certificate that it leaves out keeps the key stale.
	putKeys(t, s, 100, 6, 101)
	if _, err := s.MemberKey(100, 102); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "unit 102 has no key for epoch 6 of talkgroup 100") {
		t.Fatalf("MemberKey(100, 102) after an epoch without it = %v, want ErrNotFound", err)
	}
	if st, err := s.KeyState(100); err != nil || st != (KeyState{100, 6, true, "unit 102 has no key for epoch 6"}) {
		t.Fatalf("KeyState(100) = %+v, %v", st, err)
	}
	// A unit without a certificate (enrolled before Varta stored them)
	// cannot be sealed to; leaving it out does not keep the key stale.
	if err := s.AddUnit(Unit{ID: 103, Alias: "Old", Role: RoleOfficer, Talkgroups: []uint16{100},
		CertFingerprint: fp1, HPKEPublicKey: []byte{1}, SigningPublicKey: []byte{2}}); err != nil {
		t.Fatal(err)
	}
	putKeys(t, s, 100, 7, 101, 102)
	if st, err := s.KeyState(100); err != nil || st != (KeyState{100, 7, false, ""}) {
		t.Fatalf("KeyState(100) = %+v, %v", st, err)
	}
	// An epoch without keys is stored; it is stale if it leaves out
	// members, fresh if there are none.
	if err := s.PutKeys(200, 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKeys(100, 8, nil, map[uint32][]byte{}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTalkgroup(Talkgroup{ID: 300, Name: "Empty"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKeys(300, 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	want = []KeyState{{100, 8, true, "units 101, 102 have no key for epoch 8"}, {200, 1, true, "unit 102 has no key for epoch 1"}, {300, 1, false, ""}}
	if got, err := s.KeyStates(); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("KeyStates = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.MemberKey(200, 102); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MemberKey(200, 102) = %v, want ErrNotFound", err)
	}
	all := stateOf(t, s)
	mustClose(t, s)
	s = openStore(t, dir)
	if got := stateOf(t, s); !reflect.DeepEqual(got, all) {
		t.Fatalf("after reopen roster = %+v\nwant %+v", got, all)
	}
}

// populatePutKeys adds talkgroups 100 and 200; units 101 (enrolled, in
// 100), 102 (enrolled, in 100 and 200), 103 (no credentials, in 100) and 104
// (enrolled and stunned, in 100); and epoch 5 of talkgroup 100 with keys for
// 101 and 102.
func populatePutKeys(t *testing.T, s *Store) {
	t.Helper()
	for _, tg := range []Talkgroup{{ID: 100, Name: "Patrol"}, {ID: 200, Name: "Fire"}} {
		if err := s.AddTalkgroup(tg); err != nil {
			t.Fatal(err)
		}
	}
	stunned := enrolled(104, 100)
	stunned.Stunned = true
	for _, u := range []Unit{enrolled(101, 100), enrolled(102, 100, 200), {ID: 103, Alias: "Spare", Role: RoleOfficer, Talkgroups: []uint16{100}}, stunned} {
		if err := s.AddUnit(u); err != nil {
			t.Fatal(err)
		}
	}
	putKeys(t, s, 100, 5, 101, 102)
}

// TestPutKeysRosterChanged stores epochs that do not match who may hold the
// key, as when the roster changes while the KMF makes an epoch: the keys of
// units that may not hold it are not stored, and the key stays stale.
func TestPutKeysRosterChanged(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		before  func(s *Store) error
		tg      uint16
		units   []uint32
		want    KeyState
		holders []uint32
	}{
		{name: "unit not in the roster", tg: 100, units: []uint32{101, 102, 999},
			want:    KeyState{100, 6, true, "epoch 6 was sealed to unit 999, which may not hold it (it is not in the roster)"},
			holders: []uint32{101, 102}},
		{name: "not a member", tg: 200, units: []uint32{101, 102},
			want:    KeyState{200, 6, true, "epoch 6 was sealed to unit 101, which may not hold it (it is not a member)"},
			holders: []uint32{102}},
		{name: "stunned", tg: 100, units: []uint32{101, 102, 104},
			want:    KeyState{100, 6, true, "epoch 6 was sealed to unit 104, which may not hold it (it is stunned)"},
			holders: []uint32{101, 102}},
		{name: "no credentials", tg: 100, units: []uint32{101, 102, 103},
			want:    KeyState{100, 6, true, "epoch 6 was sealed to unit 103, which may not hold it (it has no credentials)"},
			holders: []uint32{101, 102}},
		{name: "several", tg: 100, units: []uint32{101, 102, 103, 104, 999},
			want:    KeyState{100, 6, true, "epoch 6 was sealed to units 103, 104, 999, which may not hold it"},
			holders: []uint32{101, 102}},
		{name: "member left while the KMF sealed", tg: 100, units: []uint32{101, 102},
			before: func(s *Store) error { _, err := s.SetUnitTalkgroups(102, []uint16{200}); return err },
			want:   KeyState{100, 6, true, "epoch 6 was sealed to unit 102, which may not hold it (it is not a member)"}, holders: []uint32{101}},
		{name: "member joined while the KMF sealed", tg: 100, units: []uint32{101, 102},
			before: func(s *Store) error { return s.AddUnit(enrolled(105, 100)) },
			want:   KeyState{100, 6, true, "unit 105 has no key for epoch 6"}, holders: []uint32{101, 102}},
		{name: "member stunned and another joined", tg: 100, units: []uint32{101, 102},
			before: func(s *Store) error {
				if _, err := s.SetUnitStunned(101, true); err != nil {
					return err
				}
				return s.AddUnit(enrolled(105, 100))
			},
			want: KeyState{100, 6, true, "epoch 6 was sealed to unit 101, which may not hold it (it is stunned)"}, holders: []uint32{102}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			populatePutKeys(t, s)
			if tt.before != nil {
				if err := tt.before(s); err != nil {
					t.Fatal(err)
				}
			}
			putKeys(t, s, tt.tg, 6, tt.units...)
			check := func(s *Store) {
				t.Helper()
				if st, err := s.KeyState(tt.tg); err != nil || st != tt.want {
					t.Errorf("KeyState(%d) = %+v, %v; want %+v", tt.tg, st, err, tt.want)
				}
				if got := keyHolders(t, s)[tt.tg]; !reflect.DeepEqual(got, tt.holders) {
					t.Errorf("member keys of talkgroup %d held by %v, want %v", tt.tg, got, tt.holders)
				}
				for _, u := range tt.units {
					if _, err := s.MemberKey(tt.tg, u); !slices.Contains(tt.holders, u) && !errors.Is(err, ErrNotFound) {
						t.Errorf("MemberKey(%d, %d) of a unit that may not hold it = %v, want ErrNotFound", tt.tg, u, err)
					}
				}
			}
			check(s)
			mustClose(t, s)
			check(openStore(t, dir))
		})
	}
}

// TestPutKeysErrors checks that PutKeys refuses what it must, changing
// nothing, with a sentence that says why.
func TestPutKeysErrors(t *testing.T) {
	t.Parallel()
	big := make([]byte, MaxMemberKeyLen)
	tooMany := make(map[uint32][]byte)
	for u := uint32(1); u <= MaxKeyBundleLen/MaxMemberKeyLen; u++ {
		tooMany[u] = big
	}
	tests := []struct {
		name    string
		tg      uint16
		epoch   uint32
		cert    []byte
		keys    map[uint32][]byte
		want    error
		wantMsg string
	}{
		{"unknown talkgroup", 999, 2, kmfCert, map[uint32][]byte{102: {1}}, ErrNotFound, "talkgroup 999 does not exist"},
		{"talkgroup 0", 0, 2, kmfCert, nil, ErrInvalid, "talkgroup ID 0"},
		{"same epoch", 100, 5, kmfCert, map[uint32][]byte{102: {1}}, ErrInvalid, "epoch 5 is not newer than the stored epoch 5"},
		{"older epoch", 100, 3, kmfCert, map[uint32][]byte{102: {1}}, ErrInvalid, "epoch 3 is not newer than the stored epoch 5"},
		{"epoch 0", 200, 0, kmfCert, map[uint32][]byte{102: {1}}, ErrInvalid, "epoch 0 is not newer than the stored epoch 0"},
		{"empty key", 100, 6, kmfCert, map[uint32][]byte{101: {1}, 102: {}}, ErrInvalid, "the key of unit 102 for epoch 6 of talkgroup 100 is empty"},
		{"nil key", 100, 6, kmfCert, map[uint32][]byte{102: nil}, ErrInvalid, "is empty"},
		{"long key", 100, 6, kmfCert, map[uint32][]byte{102: make([]byte, MaxMemberKeyLen+1)}, ErrInvalid, "at most 8192"},
		{"long KMF certificate", 100, 6, make([]byte, MaxCertLen+1), map[uint32][]byte{102: {1}}, ErrInvalid, "KMF certificate"},
		{"too much together", 100, 6, kmfCert, tooMany, ErrInvalid, "at most 16777216"},
		{"unit 0", 100, 6, kmfCert, map[uint32][]byte{0: {1}}, ErrInvalid, "unit ID 0"},
		{"unit out of range", 100, 6, kmfCert, map[uint32][]byte{MaxUnitID + 1: {1}}, ErrInvalid, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t, t.TempDir())
			populatePutKeys(t, s)
			before := stateOf(t, s)
			err := s.PutKeys(tt.tg, tt.epoch, tt.cert, tt.keys)
			if !errors.Is(err, tt.want) {
				t.Fatalf("PutKeys = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q, want it to start with \"store: \" and contain %q", err, tt.wantMsg)
			}
			if after := stateOf(t, s); !reflect.DeepEqual(before, after) {
				t.Errorf("failed PutKeys changed the roster:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestKeysNotFound(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	populateKeys(t, s)
	tests := []struct {
		name    string
		err     error
		want    error
		wantMsg string
	}{
		{"KeyState unknown talkgroup", func() error { _, err := s.KeyState(999); return err }(), ErrNotFound, "talkgroup 999 does not exist"},
		{"KeyState talkgroup 0", func() error { _, err := s.KeyState(0); return err }(), ErrInvalid, "talkgroup ID 0"},
		{"MemberKey unknown talkgroup", func() error { _, err := s.MemberKey(999, 101); return err }(), ErrNotFound, "talkgroup 999 does not exist"},
		{"MemberKey no key for unit", func() error { _, err := s.MemberKey(200, 101); return err }(), ErrNotFound, "unit 101 has no key for epoch 1 of talkgroup 200"},
		{"MemberKey unit without credentials", func() error { _, err := s.MemberKey(100, 103); return err }(), ErrNotFound, "unit 103"},
		{"MemberKey unit 0", func() error { _, err := s.MemberKey(100, 0); return err }(), ErrInvalid, "unit ID 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) || !strings.Contains(tt.err.Error(), tt.wantMsg) {
				t.Fatalf("error = %v, want %v containing %q", tt.err, tt.want, tt.wantMsg)
			}
		})
	}
}

// TestCertificate checks Unit.Cert: stored and returned with the
// credentials, refused when it does not match the fingerprint or comes
// without credentials.
func TestCertificate(t *testing.T) {
	t.Parallel()
	good := enrolled(5)
	tests := []struct {
		name    string
		u       func() Unit
		want    error
		wantMsg string
	}{
		{"with certificate", func() Unit { return good }, nil, ""},
		{"upper-case fingerprint", func() Unit {
			u := good
			u.CertFingerprint = strings.ToUpper(u.CertFingerprint)
			return u
		}, nil, ""},
		{"without certificate", func() Unit {
			u := good
			u.Cert = nil
			return u
		}, nil, ""},
		{"another certificate", func() Unit {
			u := good
			u.Cert = []byte("somebody else's certificate")
			return u
		}, ErrInvalid, "the certificate of unit 5 does not match its fingerprint " + good.CertFingerprint},
		{"certificate without credentials", func() Unit {
			return Unit{ID: 5, Alias: "x", Role: RoleOfficer, Cert: good.Cert}
		}, ErrInvalid, "or none"},
		{"certificate too long", func() Unit {
			u := good
			u.Cert = make([]byte, MaxCertLen+1)
			u.CertFingerprint = certFP(u.Cert)
			return u
		}, ErrInvalid, "at most 16384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			in := tt.u()
			in.Cert = bytes.Clone(in.Cert)
			err := s.AddUnit(in)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("AddUnit = %v, want %v", err, tt.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not contain %q", err, tt.wantMsg)
				}
				if _, err := s.Unit(5); !errors.Is(err, ErrNotFound) {
					t.Errorf("refused unit stored: %v", err)
				}
				return
			}
			want := bytes.Clone(in.Cert)
			if len(in.Cert) > 0 {
				in.Cert[0]++ // the store keeps its own copy
			}
			mustClose(t, s)
			s = openStore(t, dir)
			u, err := s.Unit(5)
			if err != nil || !bytes.Equal(u.Cert, want) || u.CertFingerprint != good.CertFingerprint {
				t.Fatalf("after reopen Unit(5) = %+v, %v; want Cert %q", u, err, want)
			}
		})
	}
}

// appendVersion1 appends a roster.db as Varta wrote it before schema
// version 2: items (version 1 values, sorted by key) as one commit with a
// version 1 marker.
func appendVersion1(buf []byte, items []kv) []byte {
	var sum commitSum
	for _, it := range items {
		buf = appendSetRecord(buf, it.key, it.val)
		sum.add(false, it.key, it.val)
	}
	m := commitMarker{V: 1, Seq: 7, At: 0, Records: len(items) + 1, Sum: sum.String()}
	m.Check = m.check()
	return appendSetRecord(buf, metaCommitKey, mustJSON(m))
}

// TestVersion1File opens a roster.db of schema version 1: units without
// certificates and talkgroups without keys records. It loads, the
// talkgroups have no key yet, and the store carries on.
func TestVersion1File(t *testing.T) {
	t.Parallel()
	v1 := func(val string) string {
		out := strings.Replace(val, fmt.Sprintf(`{"v":%d,`, schemaVersion), `{"v":1,`, 1)
		if out == val {
			t.Fatalf("no version in %s", val)
		}
		return out
	}
	old := enrolled(101, 100)
	old.Cert = nil
	old.Enrolled = newClock().Now()
	data := appendVersion1(nil, []kv{
		{metaSchemaKey, `{"v":1,"created":"2026-01-01T00:00:00Z"}`},
		{talkgroupKey(100), v1(encodeTalkgroup(Talkgroup{ID: 100, Name: "Patrol"}))},
		{unitKey(101), v1(encodeUnit(old))},
	})
	if bytes.Contains(data, []byte(`"v":2`)) || bytes.Contains(data, []byte("keys:")) || bytes.Contains(data, []byte(`"cert"`)) {
		t.Fatalf("not a version 1 file: %q", data)
	}
	dir, _ := writeRoster(t, data)
	s := openStore(t, dir)
	if u, err := s.Unit(101); err != nil || !reflect.DeepEqual(u, old) {
		t.Fatalf("Unit(101) = %+v, %v; want %+v", u, err, old)
	}
	if st, err := s.KeyStates(); err != nil || !reflect.DeepEqual(st, []KeyState{{100, 0, true, "no key yet"}}) {
		t.Fatalf("KeyStates = %+v, %v", st, err)
	}
	if _, err := s.MemberKey(100, 101); !errors.Is(err, ErrNotFound) {
		t.Fatalf("MemberKey = %v, want ErrNotFound", err)
	}
	// A unit without a certificate may still be given a key.
	putKeys(t, s, 100, 1, 101)
	if _, err := s.SetUnitStunned(101, true); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, s)
	if st := want.Keys; !reflect.DeepEqual(st, []KeyState{{100, 1, true, "unit 101 stunned"}}) || len(want.MemberKeys) != 0 {
		t.Fatalf("after stun: %+v", want)
	}
	mustClose(t, s)
	s = openStore(t, dir)
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen roster = %+v\nwant %+v", got, want)
	}
}

// TestKeysInSnapshot restores a snapshot and checks that the key state and
// member keys are those of the moment it was taken.
func TestKeysInSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	populateKeys(t, s)
	if _, err := s.SetUnitStunned(101, true); err != nil {
		t.Fatal(err)
	}
	want := stateOf(t, s)
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	putKeys(t, s, 100, 2, 102)
	if err := s.RemoveTalkgroup(200); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"keys:00100", "keys:00200"} {
		if !bytes.Contains(data, []byte(k)) {
			t.Errorf("the snapshot has no %s", k)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, rosterFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("restored roster = %+v\nwant %+v", got, want)
	}
	if st, _ := s.KeyState(100); st != (KeyState{100, 1, true, "unit 101 stunned"}) {
		t.Fatalf("restored KeyState(100) = %+v", st)
	}
	if got := keyHolders(t, s); !reflect.DeepEqual(got, map[uint16][]uint32{100: {102}, 200: {102}}) {
		t.Fatalf("restored member keys held by %v", got)
	}
	// The restored store carries on.
	putKeys(t, s, 100, 2, 102)
	if st, _ := s.KeyState(100); st != (KeyState{100, 2, false, ""}) {
		t.Fatalf("KeyState(100) after a new epoch = %+v", st)
	}
}

// FuzzDecodeKeys checks that decodeKeys never panics and that what it
// accepts obeys the rules of a keys record and encodes back to itself.
func FuzzDecodeKeys(f *testing.F) {
	k := talkgroupKeys{KeyState: KeyState{Talkgroup: 100, Epoch: 3, Stale: true, Reason: "unit 101 left"}, kmfCert: kmfCert,
		keys: []memberKeyRecord{{Unit: 101, Key: keyFor(101, 3)}, {Unit: 102, Key: keyFor(102, 3)}}}
	f.Add(keysKey(100), encodeKeys(k))
	f.Add(keysKey(100), encodeKeys(noKeys(100)))
	f.Add(keysKey(7), `{"v":1,"tg":7,"epoch":1}`)
	f.Fuzz(func(t *testing.T, key, val string) {
		k, err := decodeKeys(key, val)
		if err != nil {
			return
		}
		if err := k.check(); err != nil || key != keysKey(k.Talkgroup) {
			t.Fatalf("decodeKeys accepted %q as %+v: %v", val, k, err)
		}
		again, err := decodeKeys(key, encodeKeys(k))
		if err != nil || !reflect.DeepEqual(again, k) {
			t.Fatalf("%+v encodes to %q, which decodes to %+v, %v", k, encodeKeys(k), again, err)
		}
	})
}
