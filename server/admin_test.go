package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/server/store"
)

func newStoreServer(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca, err := pki.NewCA("Admin Test", rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.IssueServer(ca, nil, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Store: st, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The admin socket carries roster changes and their errors, with the store
// sentinels intact, from the CLI to a running relay.
func TestAdminSocket(t *testing.T) {
	s := newStoreServer(t)
	path := filepath.Join(t.TempDir(), AdminSocketName)
	ln, err := ListenAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeAdmin(ctx, ln) }()
	defer func() { cancel(); <-done }()

	a := &AdminClient{Path: path}
	if err := a.AddTalkgroup(store.Talkgroup{ID: 100, Name: "Patrol North"}); err != nil {
		t.Fatal(err)
	}
	if err := a.AddTalkgroup(store.Talkgroup{ID: 100, Name: "Again"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate talkgroup: %v, want ErrExists", err)
	}
	if err := a.AddUnit(store.Unit{ID: 101, Alias: "P-101", Role: store.RoleOfficer, Talkgroups: []uint16{100}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SetUnitTalkgroups(101, []uint16{300}); !errors.Is(err, store.ErrUnknownTalkgroup) {
		t.Fatalf("unknown talkgroup: %v", err)
	}
	if err := a.RemoveUnit(999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown unit: %v", err)
	}
	units, err := a.Units()
	if err != nil || len(units) != 1 || units[0].Alias != "P-101" {
		t.Fatalf("units %v %v", units, err)
	}
	// What the socket acknowledged is in the store.
	if u, err := s.store.Unit(101); err != nil || u.Talkgroups[0] != 100 {
		t.Fatalf("store has %v %v", u, err)
	}
}

// FuzzAdminLine feeds arbitrary request lines to the admin handler: it must
// answer every line with one JSON object and never panic.
func FuzzAdminLine(f *testing.F) {
	for _, seed := range []string{
		`{"op":"talkgroup.add","talkgroup":{"ID":100,"Name":"Patrol North"}}`,
		`{"op":"unit.add","unit":{"ID":101,"Alias":"P-101","Role":"officer","Talkgroups":[100]}}`,
		`{"op":"unit.set-talkgroups","id":101,"talkgroups":[100,200]}`,
		`{"op":"unit.remove","id":101}`,
		`{"op":"talkgroup.list"}`,
		`{"op":"unit.replace-credentials","id":101,"fingerprint":"ab","hpke":"AAEC"}`,
		`{"op":"nope"}`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	s := newStoreServer(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		out := s.adminLine(line)
		var resp adminResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("answer is not JSON: %q", out)
		}
	})
}
