package pki

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/unit-1042.pem and the fuzz seed corpus")

// fixturePath is a valid unit bundle committed to pin the file format: a
// bundle written by an older version must still load. Its keys protect
// nothing.
const fixturePath = "testdata/unit-1042.pem"

// TestFixture loads the committed bundle. With -update it first writes a new
// one and the fuzz seeds derived from it.
func TestFixture(t *testing.T) {
	if *update {
		writeFixtures(t)
	}
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	id, err := ParseIdentity(data)
	if err != nil {
		t.Fatalf("committed bundle no longer parses: %v", err)
	}
	if id.UnitID != 1042 || id.Role != RoleOfficer || id.Alias != "Patrol 12" || id.Server != "relay.example:4433" {
		t.Errorf("parsed unit %d %q %q %q", id.UnitID, id.Role, id.Alias, id.Server)
	}
	again, err := id.MarshalPEM()
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("re-marshalled bundle differs from the committed one (err %v)", err)
	}
}

func writeFixtures(t *testing.T) {
	ca, err := NewCA("Example Police (test fixture)", rand.Reader, testNow)
	if err != nil {
		t.Fatal(err)
	}
	id, err := IssueUnit(ca, UnitSpec{ID: 1042, Alias: "Patrol 12", Role: RoleOfficer, Server: "relay.example:4433"}, rand.Reader, testNow)
	if err != nil {
		t.Fatal(err)
	}
	data := mustMarshal(t, id)
	if err := os.WriteFile(fixturePath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseIdentity")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{
		"valid":            data,
		"no-headers":       bytes.Replace(data, []byte("Alias: Patrol 12\nRole: officer\nServer: relay.example:4433\nUnit: 1042\n\n"), nil, 1),
		"truncated":        data[:len(data)/2],
		"certificate-only": data[:bytes.Index(data, []byte("-----BEGIN PRIVATE KEY"))],
	}
	for name, seed := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzParseIdentity checks that ParseIdentity never panics, and that what
// it accepts survives MarshalPEM and parses to the same identity.
func FuzzParseIdentity(f *testing.F) {
	if data, err := os.ReadFile(fixturePath); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseIdentity(data)
		if err != nil {
			if id != nil {
				t.Fatal("identity returned with an error")
			}
			return
		}
		out, err := id.MarshalPEM()
		if err != nil {
			t.Fatalf("accepted bundle does not marshal: %v", err)
		}
		id2, err := ParseIdentity(out)
		if err != nil {
			t.Fatalf("re-marshalled bundle does not parse: %v", err)
		}
		if id2.UnitID != id.UnitID || id2.Alias != id.Alias || id2.Role != id.Role || id2.Server != id.Server ||
			!id2.Cert.Equal(id.Cert) || !id2.CA.Equal(id.CA) || !id2.SigningKey.Equal(id.SigningKey) {
			t.Fatal("round trip changed the identity")
		}
	})
}
