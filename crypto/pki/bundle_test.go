package pki

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBundleRoundTrip(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	for _, spec := range []UnitSpec{
		{ID: 1042, Alias: "Patrol 12: Nord", Role: RoleOfficer, Server: "198.51.100.4:4433"},
		{ID: 7, Alias: "Leitstelle Süd", Role: RoleDispatcher},
	} {
		t.Run(spec.Alias, func(t *testing.T) {
			id, err := IssueUnit(ca, spec, nil, testNow)
			if err != nil {
				t.Fatal(err)
			}
			data, err := id.MarshalPEM()
			if err != nil {
				t.Fatalf("MarshalPEM: %v", err)
			}

			// Block order and headers as documented.
			blocks := decodeBlocks(t, data)
			var types []string
			for _, b := range blocks {
				types = append(types, b.Type)
			}
			want := "CERTIFICATE,PRIVATE KEY,VARTA HPKE PRIVATE KEY,VARTA SIGNING PRIVATE KEY,VARTA CA CERTIFICATE"
			if got := strings.Join(types, ","); got != want {
				t.Errorf("blocks %s, want %s", got, want)
			}
			h := blocks[0].Headers
			if h["Unit"] != itoa(spec.ID) || h["Alias"] != spec.Alias || h["Role"] != spec.Role || h["Server"] != spec.Server {
				t.Errorf("headers %v, want spec %+v", h, spec)
			}
			if _, ok := h["Server"]; ok != (spec.Server != "") {
				t.Errorf("Server header present = %v, want %v", ok, spec.Server != "")
			}
			for _, b := range blocks[1:] {
				if len(b.Headers) != 0 {
					t.Errorf("block %s has headers %v", b.Type, b.Headers)
				}
			}

			got, err := ParseIdentity(data)
			if err != nil {
				t.Fatalf("ParseIdentity: %v", err)
			}
			if got.UnitID != id.UnitID || got.Alias != id.Alias || got.Role != id.Role || got.Server != id.Server {
				t.Errorf("parsed %d %q %q %q, want %d %q %q %q", got.UnitID, got.Alias, got.Role, got.Server, id.UnitID, id.Alias, id.Role, id.Server)
			}
			if !got.Cert.Equal(id.Cert) || !got.CA.Equal(id.CA) {
				t.Error("certificates differ")
			}
			if !keyMatchesCert(got.Key, id.Cert) {
				t.Error("TLS key differs")
			}
			gb, _ := got.HPKEPrivateKey.Bytes()
			ib, _ := id.HPKEPrivateKey.Bytes()
			if !bytes.Equal(gb, ib) {
				t.Error("HPKE key differs")
			}
			if !got.SigningKey.Equal(id.SigningKey) {
				t.Error("signing key differs")
			}
			if err := got.CheckValidity(testNow); err != nil {
				t.Errorf("CheckValidity: %v", err)
			}
			again, err := got.MarshalPEM()
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("re-marshal differs (err %v)", err)
			}
		})
	}
}

func decodeBlocks(t testing.TB, data []byte) []*pem.Block {
	t.Helper()
	var blocks []*pem.Block
	for {
		b, rest := pem.Decode(data)
		if b == nil {
			return blocks
		}
		blocks = append(blocks, b)
		data = rest
	}
}

func encodeBlocks(blocks []*pem.Block) []byte {
	var buf bytes.Buffer
	for _, b := range blocks {
		if err := pem.Encode(&buf, b); err != nil {
			panic(err)
		}
	}
	return buf.Bytes()
}

func TestParseIdentityRejects(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	unit := newTestUnit(t, ca, 1042, RoleOfficer)
	peer := newTestUnit(t, ca, 1043, RoleOfficer)
	otherCA := newTestCA(t, "Other Agency")
	foreign := newTestUnit(t, otherCA, 1042, RoleOfficer)
	server := newTestServer(t, ca)

	good, err := unit.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	peerBlocks := decodeBlocks(t, mustMarshal(t, peer))
	foreignBlocks := decodeBlocks(t, mustMarshal(t, foreign))

	// edit returns the bundle with f applied to its blocks.
	edit := func(f func(b []*pem.Block) []*pem.Block) []byte {
		return encodeBlocks(f(decodeBlocks(t, good)))
	}
	drop := func(i int) []byte {
		return edit(func(b []*pem.Block) []*pem.Block { return append(b[:i:i], b[i+1:]...) })
	}
	replace := func(i int, nb *pem.Block) []byte {
		return edit(func(b []*pem.Block) []*pem.Block { b[i] = nb; return b })
	}
	withHeader := func(k, v string) []byte {
		return edit(func(b []*pem.Block) []*pem.Block { b[0].Headers[k] = v; return b })
	}

	tests := []struct {
		name    string
		data    []byte
		wantErr error
		want    string // substring of the error
	}{
		{"empty", nil, ErrMalformed, "no unit certificate"},
		{"not PEM", []byte("hello\n"), ErrMalformed, "truncated or damaged"},
		{"missing unit certificate", drop(0), ErrMalformed, `no unit certificate ("CERTIFICATE" block)`},
		{"missing TLS key", drop(1), ErrMalformed, `no TLS private key ("PRIVATE KEY" block)`},
		{"missing HPKE key", drop(2), ErrMalformed, `no HPKE private key ("VARTA HPKE PRIVATE KEY" block)`},
		{"missing signing key", drop(3), ErrMalformed, `no signing private key ("VARTA SIGNING PRIVATE KEY" block)`},
		{"missing CA", drop(4), ErrMalformed, `no agency CA certificate ("VARTA CA CERTIFICATE" block)`},
		{"duplicate block", edit(func(b []*pem.Block) []*pem.Block { return append(b, b[1]) }), ErrMalformed, `more than one "PRIVATE KEY"`},
		{"unknown block", edit(func(b []*pem.Block) []*pem.Block {
			return append(b, &pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}})
		}), ErrMalformed, `unexpected "EC PRIVATE KEY"`},
		{"truncated mid-block", good[:len(good)-300], ErrMalformed, "truncated or damaged"},
		{"truncated before last END", good[:len(good)-10], ErrMalformed, "truncated or damaged"},
		{"cut after a block", good[:bytes.Index(good, []byte("-----BEGIN VARTA CA"))], ErrMalformed, "no agency CA certificate"},
		{"trailing junk", append(append([]byte{}, good...), "junk"...), ErrMalformed, "truncated or damaged"},
		{"too large", append(append([]byte{}, good...), bytes.Repeat([]byte("\n"), maxFileSize)...), ErrMalformed, "larger than"},
		{"bad certificate DER", replace(0, &pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), ErrMalformed, "unit certificate"},
		{"bad CA DER", replace(4, &pem.Block{Type: "VARTA CA CERTIFICATE", Bytes: []byte{0x30}}), ErrMalformed, "agency CA certificate"},
		{"TLS key of another unit", replace(1, peerBlocks[1]), ErrKeyMismatch, "TLS private key in the bundle is not the key of unit 1042's certificate"},
		{"HPKE key of another unit", replace(2, peerBlocks[2]), ErrKeyMismatch, "HPKE private key in the bundle does not match the HPKE public key in unit 1042's certificate"},
		{"signing key of another unit", replace(3, peerBlocks[3]), ErrKeyMismatch, "signing private key in the bundle does not match"},
		{"HPKE key wrong size", replace(2, &pem.Block{Type: "VARTA HPKE PRIVATE KEY", Bytes: make([]byte, 31)}), ErrMalformed, "HPKE private key"},
		{"signing key not Ed25519", replace(3, &pem.Block{Type: "VARTA SIGNING PRIVATE KEY", Bytes: peerBlocks[1].Bytes}), ErrMalformed, "want Ed25519"},
		{"TLS key garbage", replace(1, &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), ErrMalformed, "TLS private key"},
		{"certificate from another CA", replace(0, foreignBlocks[0]), ErrUntrusted, `issued by "CN=Other Agency,O=Other Agency", not by the agency CA "CN=Example Police,O=Example Police"`},
		{"CA replaced by another CA", replace(4, foreignBlocks[4]), ErrUntrusted, "not by the agency CA"},
		{"unit certificate as CA", replace(4, &pem.Block{Type: "VARTA CA CERTIFICATE", Bytes: peer.Cert.Raw}), ErrMalformed, "not a CA certificate"},
		{"server certificate", replace(0, &pem.Block{Type: "CERTIFICATE", Headers: map[string]string{}, Bytes: server.Cert.Raw}), ErrNotUnitCert, "relay certificate"},
		{"Unit header wrong", withHeader("Unit", "1043"), ErrMalformed, `header Unit is "1043" but the certificate says "1042"`},
		{"Role header wrong", withHeader("Role", "commander"), ErrMalformed, "header Role"},
		{"Alias header wrong", withHeader("Alias", "Someone"), ErrMalformed, "header Alias"},
		{"Server header bad", withHeader("Server", "nohostport"), ErrMalformed, "Server header"},
		{"unknown header", withHeader("Colour", "blue"), ErrMalformed, `unknown header "Colour"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseIdentity(tt.data)
			if err == nil {
				t.Fatalf("ParseIdentity accepted it: unit %d", id.UnitID)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "pki: ") {
				t.Errorf("error %q does not start with pki:", err)
			}
		})
	}
}

// TestParseIdentityPrefixes checks that no truncation of a valid bundle is
// accepted or panics.
func TestParseIdentityPrefixes(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	good := mustMarshal(t, newTestUnit(t, ca, 1, RoleOfficer))
	end := len(bytes.TrimRight(good, "\n"))
	for n := 0; n < end; n += 7 {
		if _, err := ParseIdentity(good[:n]); err == nil {
			t.Fatalf("prefix of %d/%d bytes accepted", n, len(good))
		}
	}
}

func TestParseIdentityOptionalHeaders(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	good := mustMarshal(t, newTestUnit(t, ca, 1, RoleOfficer))
	blocks := decodeBlocks(t, good)
	blocks[0].Headers = nil
	id, err := ParseIdentity(encodeBlocks(blocks))
	if err != nil {
		t.Fatalf("bundle without headers: %v", err)
	}
	if id.UnitID != 1 || id.Role != RoleOfficer || id.Server != "" {
		t.Errorf("parsed %d %q %q", id.UnitID, id.Role, id.Server)
	}
}

func TestMarshalPEMRefuses(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	unit := newTestUnit(t, ca, 1, RoleOfficer)
	peer := newTestUnit(t, ca, 2, RoleOfficer)
	server := newTestServer(t, ca)
	tests := []struct {
		name    string
		id      *Identity
		wantErr error
	}{
		{"server identity", server, ErrMalformed},
		{"server identity with keys", &Identity{Cert: server.Cert, Key: server.Key, HPKEPrivateKey: unit.HPKEPrivateKey, SigningKey: unit.SigningKey, CA: ca.Cert}, ErrNotUnitCert},
		{"mixed keys", &Identity{UnitID: 1, Alias: unit.Alias, Role: unit.Role, Cert: unit.Cert, Key: unit.Key, HPKEPrivateKey: peer.HPKEPrivateKey, SigningKey: unit.SigningKey, CA: ca.Cert}, ErrKeyMismatch},
		{"fields disagree with certificate", &Identity{UnitID: 1, Alias: "Wrong", Role: unit.Role, Cert: unit.Cert, Key: unit.Key, HPKEPrivateKey: unit.HPKEPrivateKey, SigningKey: unit.SigningKey, CA: ca.Cert}, ErrMalformed},
		{"bad server", &Identity{UnitID: 1, Alias: unit.Alias, Role: unit.Role, Server: "x", Cert: unit.Cert, Key: unit.Key, HPKEPrivateKey: unit.HPKEPrivateKey, SigningKey: unit.SigningKey, CA: ca.Cert}, ErrInvalidSpec},
		{"nil", nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.id.MarshalPEM(); !errors.Is(err, tt.wantErr) {
				t.Errorf("MarshalPEM error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func mustMarshal(t testing.TB, id *Identity) []byte {
	t.Helper()
	data, err := id.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestIdentityFile(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	unit := newTestUnit(t, ca, 1042, RoleOfficer)
	path := filepath.Join(t.TempDir(), "unit-1042.pem")
	if err := WriteIdentityFile(path, unit); err != nil {
		t.Fatalf("WriteIdentityFile: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %#o, want 0600", fi.Mode().Perm())
	}
	if err := CheckFileMode(path); err != nil {
		t.Errorf("CheckFileMode: %v", err)
	}
	got, err := LoadIdentityFile(path)
	if err != nil {
		t.Fatalf("LoadIdentityFile: %v", err)
	}
	if !got.Cert.Equal(unit.Cert) || got.Server != unit.Server {
		t.Error("loaded identity differs")
	}

	before, _ := os.ReadFile(path)
	other := newTestUnit(t, ca, 1043, RoleOfficer)
	if err := WriteIdentityFile(path, other); !errors.Is(err, ErrExists) {
		t.Errorf("WriteIdentityFile over an existing file: error = %v, want ErrExists", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("existing identity file was changed")
	}

	for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		err := CheckFileMode(path)
		if !errors.Is(err, ErrInsecureFileMode) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("CheckFileMode(%#o) = %v, want ErrInsecureFileMode with advice", mode, err)
		}
	}

	// A damaged file names the file.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, before[:len(before)/2], 0o600)
	if _, err := LoadIdentityFile(bad); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadIdentityFile(damaged) = %v, want ErrMalformed naming the file", err)
	}
	if _, err := LoadIdentityFile(filepath.Join(t.TempDir(), "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadIdentityFile(missing) = %v, want ErrNotExist", err)
	}
}

func TestCheckValidity(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	unit := newTestUnit(t, ca, 1, RoleOfficer)
	for _, c := range []struct {
		name    string
		now     func() error
		wantErr error
	}{
		{"now", func() error { return unit.CheckValidity(testNow) }, nil},
		{"before", func() error { return unit.CheckValidity(unit.Cert.NotBefore.Add(-1)) }, ErrNotYetValid},
		{"after", func() error { return unit.CheckValidity(unit.Cert.NotAfter.Add(1)) }, ErrExpired},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.now(); !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) {
				t.Errorf("CheckValidity = %v, want %v", err, c.wantErr)
			}
		})
	}
}
