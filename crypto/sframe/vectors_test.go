package sframe

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// vector is one test vector from RFC 9605 Appendix C: field name to value
// with the line breaks removed, in file order.
type vector map[string]string

// readVectors parses a file in the RFC's layout: "name: value" lines,
// indented continuation lines, a blank line between vectors, and "#"
// comments.
func readVectors(t *testing.T, path string) []vector {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	var cur vector
	var last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		switch {
		case strings.HasPrefix(text, "#"):
		case strings.TrimSpace(text) == "":
			if cur != nil {
				vs = append(vs, cur)
				cur, last = nil, ""
			}
		case text[0] == ' ':
			if last == "" {
				t.Fatalf("%s:%d: continuation line without a field", path, line)
			}
			cur[last] += strings.TrimSpace(text)
		default:
			name, val, ok := strings.Cut(text, ":")
			if !ok {
				t.Fatalf("%s:%d: want \"name: value\", got %q", path, line, text)
			}
			if cur == nil {
				cur = vector{}
			}
			last = name
			cur[name] = strings.TrimSpace(val)
		}
	}
	if cur != nil {
		vs = append(vs, cur)
	}
	return vs
}

func (v vector) uint(t *testing.T, name string) uint64 {
	t.Helper()
	s, ok := strings.CutPrefix(v[name], "0x")
	if !ok {
		t.Fatalf("field %s = %q is not a 0x integer", name, v[name])
	}
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatalf("field %s: %v", name, err)
	}
	return n
}

func (v vector) bytes(t *testing.T, name string) []byte {
	t.Helper()
	s, ok := v[name]
	if !ok {
		t.Fatalf("vector has no field %s", name)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("field %s: %v", name, err)
	}
	return b
}

// TestRFC9605HeaderVectors checks every vector of RFC 9605 Appendix C.1:
// encoding the KID and CTR gives the header, decoding the header gives
// them back, and every shorter prefix of the header is rejected.
func TestRFC9605HeaderVectors(t *testing.T) {
	vs := readVectors(t, "testdata/rfc9605-header-vectors.txt")
	if len(vs) != 17*17 {
		t.Fatalf("read %d header vectors, want 289", len(vs))
	}
	for _, v := range vs {
		h := Header{KID: v.uint(t, "kid"), CTR: v.uint(t, "ctr")}
		want := v.bytes(t, "header")
		if got := AppendHeader(nil, h); !bytes.Equal(got, want) {
			t.Errorf("AppendHeader(%+v) = %x, want %x", h, got, want)
		}
		if h.Len() != len(want) {
			t.Errorf("%+v: Len() = %d, want %d", h, h.Len(), len(want))
		}
		// Trailing bytes (the ciphertext) are not part of the header.
		got, n, err := ParseHeader(append(want[:len(want):len(want)], 0xAA, 0xBB))
		if err != nil || got != h || n != len(want) {
			t.Errorf("ParseHeader(%x) = %+v, %d, %v; want %+v, %d, nil", want, got, n, err, h, len(want))
		}
		for i := range len(want) {
			if _, _, err := ParseHeader(want[:i]); err != ErrMalformedHeader {
				t.Errorf("ParseHeader(%x) (prefix of %d bytes) error = %v, want ErrMalformedHeader", want[:i], i, err)
			}
		}
	}
}

// TestRFC9605EncryptionVectors checks the AES-GCM vectors of RFC 9605
// Appendix C.3: the derivation labels and outputs, the nonce, sealing at
// the vector's counter, and opening through both receiving APIs.
func TestRFC9605EncryptionVectors(t *testing.T) {
	vs := readVectors(t, "testdata/rfc9605-sframe-vectors.txt")
	if len(vs) != 2 {
		t.Fatalf("read %d vectors, want 2", len(vs))
	}
	for _, v := range vs {
		suite := CipherSuite(v.uint(t, "cipher_suite"))
		t.Run(suite.String(), func(t *testing.T) {
			kid, ctr := v.uint(t, "kid"), v.uint(t, "ctr")
			baseKey := v.bytes(t, "base_key")
			metadata, pt, ct := v.bytes(t, "metadata"), v.bytes(t, "pt"), v.bytes(t, "ct")

			if got := label(keyLabelPrefix, kid, suite); got != string(v.bytes(t, "sframe_key_label")) {
				t.Errorf("key label = %x, want %s", got, v["sframe_key_label"])
			}
			if got := label(saltLabelPrefix, kid, suite); got != string(v.bytes(t, "sframe_salt_label")) {
				t.Errorf("salt label = %x, want %s", got, v["sframe_salt_label"])
			}
			newHash, _, err := suite.params()
			if err != nil {
				t.Fatal(err)
			}
			secret, err := hkdf.Extract(newHash, baseKey, nil)
			if want := v.bytes(t, "sframe_secret"); err != nil || !bytes.Equal(secret, want) {
				t.Errorf("sframe_secret = %x, %v; want %x", secret, err, want)
			}
			key, salt, err := deriveKeySalt(suite, kid, baseKey)
			if err != nil {
				t.Fatal(err)
			}
			if want := v.bytes(t, "sframe_key"); !bytes.Equal(key, want) {
				t.Errorf("sframe_key = %x, want %x", key, want)
			}
			if want := v.bytes(t, "sframe_salt"); !bytes.Equal(salt[:], want) {
				t.Errorf("sframe_salt = %x, want %x", salt, want)
			}
			ks := keyState{salt: salt}
			if got, want := ks.setNonce(ctr), v.bytes(t, "nonce"); !bytes.Equal(got, want) {
				t.Errorf("nonce = %x, want %x", got, want)
			}
			hdr := AppendHeader(nil, Header{KID: kid, CTR: ctr})
			if got, want := ks.setAAD(hdr, metadata), v.bytes(t, "aad"); !bytes.Equal(got, want) {
				t.Errorf("aad = %x, want %x", got, want)
			}

			s, err := NewSender(suite, kid, baseKey)
			if err != nil {
				t.Fatal(err)
			}
			s.next = ctr
			got, err := s.Seal(nil, metadata, pt)
			if err != nil || !bytes.Equal(got, ct) {
				t.Errorf("Seal = %x, %v; want %x", got, err, ct)
			}

			r, err := NewReceiver(suite)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.AddKey(kid, baseKey); err != nil {
				t.Fatal(err)
			}
			out, h, err := r.Open(nil, metadata, ct)
			if err != nil || !bytes.Equal(out, pt) || h != (Header{KID: kid, CTR: ctr}) {
				t.Errorf("Receiver.Open = %x, %+v, %v; want %x", out, h, err, pt)
			}
			rk, err := NewReceiverKey(suite, kid, baseKey)
			if err != nil {
				t.Fatal(err)
			}
			if out, _, err := rk.Open(nil, metadata, ct); err != nil || !bytes.Equal(out, pt) {
				t.Errorf("ReceiverKey.Open = %x, %v; want %x", out, err, pt)
			}
		})
	}
}
