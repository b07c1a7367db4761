package groupkey

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

// FuzzParseBundle checks that ParseBundle never panics, fails only with
// ErrMalformedBundle, and that every bundle it accepts is valid and
// re-encodes to exactly the bytes it used (the encoding is canonical, so
// signatures can be checked on the re-encoding).
func FuzzParseBundle(f *testing.F) {
	f.Add(smallBundle(f).Append(nil))
	pub := testSigner.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, n, err := ParseBundle(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedBundle) {
				t.Fatalf("ParseBundle error %v, want ErrMalformedBundle", err)
			}
			return
		}
		if n > len(data) || n < MinBundleLen {
			t.Fatalf("ParseBundle used %d of %d bytes", n, len(data))
		}
		if err := b.Validate(); err != nil {
			t.Fatalf("ParseBundle accepted an invalid bundle: %v", err)
		}
		if enc := b.Append(nil); !bytes.Equal(enc, data[:n]) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", enc, data[:n])
		}
		_ = b.Verify(pub)
		for _, m := range b.Members {
			if s, ok := b.SealedFor(m.Unit); !ok || !bytes.Equal(s, m.Sealed) {
				t.Fatalf("SealedFor(%d) does not find the member", m.Unit)
			}
		}
	})
}
