package groupkey

import (
	"cmp"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Bundle is what the KMF publishes for one epoch of one talkgroup: the
// epoch key sealed to each member, signed by the KMF.
//
// Encoding (all integers big-endian):
//
//	offset  size  field
//	0       1     version, 1
//	1       2     talkgroup ID (1..65535)
//	3       4     epoch (1..2^32-1)
//	7       8     creation time, Unix milliseconds (> 0)
//	15      4     signer: the KMF's unit ID (1..16777215)
//	19      2     member count n (1..MaxMembers)
//	21            n members, in strictly increasing unit ID order:
//	                4  unit ID (1..16777215)
//	                2  sealed length m (1..65535)
//	                m  sealed epoch key (SealEpochKey)
//	end-64  64    Ed25519 signature
//
// The signature covers the string "varta/1 key bundle" followed by every
// byte before the signature. The encoding is canonical: a bundle has
// exactly one, so a parsed bundle re-encodes to the bytes it came from.
type Bundle struct {
	Talkgroup uint16
	Epoch     uint32
	// Created is when the KMF made the epoch key. It is encoded in whole
	// milliseconds; Sign truncates it. Senders derive their frame
	// counters from it (see Keyring).
	Created time.Time
	// Signer is the unit ID of the KMF that signed the bundle; the
	// receiver verifies with that unit's certificate.
	Signer uint32
	// Members holds one sealed epoch key per member. Sign sorts it by
	// unit ID.
	Members []Member
	// Signature is the KMF's Ed25519 signature, set by Sign.
	Signature []byte
}

// Member is one member's entry in a Bundle.
type Member struct {
	Unit   uint32
	Sealed []byte
}

const (
	bundleVersion = 1
	// bundleFixedLen is the size of the fields before the members.
	bundleFixedLen = 1 + 2 + 4 + 8 + 4 + 2
	// memberFixedLen is the size of a member's fields before its blob.
	memberFixedLen = 4 + 2
	// MaxMembers caps the members of one bundle.
	MaxMembers = 4096
	// MinBundleLen is the size of the smallest valid encoding: one member
	// with a one-byte blob.
	MinBundleLen = bundleFixedLen + memberFixedLen + 1 + ed25519.SignatureSize
)

// bundleSigContext prefixes the signed bytes, so that a bundle signature
// can never be taken for another Varta signature.
const bundleSigContext = "varta/1 key bundle"

// Validate checks the fields that the encoding constrains: IDs in range,
// a positive creation time, 1..MaxMembers members in strictly increasing
// unit order, each with a blob of 1..65535 bytes. It does not check the
// signature.
func (b *Bundle) Validate() error {
	if b.Talkgroup == 0 || b.Epoch == 0 {
		return fmt.Errorf("%w: talkgroup %d, epoch %d (neither may be 0)", ErrMalformedBundle, b.Talkgroup, b.Epoch)
	}
	if b.Created.UnixMilli() <= 0 {
		return fmt.Errorf("%w: creation time %v is not after 1970", ErrMalformedBundle, b.Created)
	}
	if checkUnit(b.Signer) != nil {
		return fmt.Errorf("%w: signer unit ID %d is out of range", ErrMalformedBundle, b.Signer)
	}
	if len(b.Members) == 0 || len(b.Members) > MaxMembers {
		return fmt.Errorf("%w: %d members (want 1..%d)", ErrMalformedBundle, len(b.Members), MaxMembers)
	}
	for i, m := range b.Members {
		if checkUnit(m.Unit) != nil {
			return fmt.Errorf("%w: member unit ID %d is out of range", ErrMalformedBundle, m.Unit)
		}
		if i > 0 && m.Unit <= b.Members[i-1].Unit {
			return fmt.Errorf("%w: member %d follows member %d (want increasing unit IDs, no repeats)", ErrMalformedBundle, m.Unit, b.Members[i-1].Unit)
		}
		if len(m.Sealed) == 0 || len(m.Sealed) > 0xffff {
			return fmt.Errorf("%w: member %d's sealed key is %d bytes (want 1..65535)", ErrMalformedBundle, m.Unit, len(m.Sealed))
		}
	}
	return nil
}

// appendSigned appends the encoding without the signature.
func (b *Bundle) appendSigned(dst []byte) []byte {
	dst = append(dst, bundleVersion)
	dst = binary.BigEndian.AppendUint16(dst, b.Talkgroup)
	dst = binary.BigEndian.AppendUint32(dst, b.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.Created.UnixMilli()))
	dst = binary.BigEndian.AppendUint32(dst, b.Signer)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b.Members)))
	for _, m := range b.Members {
		dst = binary.BigEndian.AppendUint32(dst, m.Unit)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Sealed)))
		dst = append(dst, m.Sealed...)
	}
	return dst
}

// signedMessage returns what the signature covers.
func (b *Bundle) signedMessage() []byte {
	return b.appendSigned([]byte(bundleSigContext))
}

// Append appends the bundle's encoding to dst. A bundle that Validate
// rejects or that is not signed encodes to bytes ParseBundle rejects (an
// unsigned bundle gets an all-zero signature).
func (b *Bundle) Append(dst []byte) []byte {
	dst = b.appendSigned(dst)
	var sig [ed25519.SignatureSize]byte
	copy(sig[:], b.Signature)
	return append(dst, sig[:]...)
}

// Sign sorts Members by unit ID, truncates Created to milliseconds, checks
// the bundle with Validate and sets Signature with the KMF's key.
func (b *Bundle) Sign(key ed25519.PrivateKey) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("%w: Ed25519 private key is %d bytes", ErrInvalid, len(key))
	}
	slices.SortFunc(b.Members, byUnit)
	b.Created = b.Created.Truncate(time.Millisecond)
	if err := b.Validate(); err != nil {
		return err
	}
	b.Signature = ed25519.Sign(key, b.signedMessage())
	return nil
}

// SignPerMember returns, for each member, a bundle holding only that
// member's sealed key, signed with the KMF's key, in unit order. Each one
// verifies on its own, so the relay can hand every member just its own
// bundle (about 1.3 KB) rather than the whole talkgroup's. b is not
// changed.
func (b *Bundle) SignPerMember(key ed25519.PrivateKey) ([]*Bundle, error) {
	all := *b
	all.Members = slices.SortedFunc(slices.Values(b.Members), byUnit)
	if err := all.Validate(); err != nil {
		return nil, err
	}
	out := make([]*Bundle, 0, len(all.Members))
	for _, m := range all.Members {
		one := &Bundle{Talkgroup: b.Talkgroup, Epoch: b.Epoch, Created: b.Created, Signer: b.Signer, Members: []Member{m}}
		if err := one.Sign(key); err != nil {
			return nil, err
		}
		out = append(out, one)
	}
	return out, nil
}

func byUnit(x, y Member) int { return cmp.Compare(x.Unit, y.Unit) }

// Verify checks the bundle and its signature with the KMF's public key.
func (b *Bundle) Verify(kmf ed25519.PublicKey) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if len(kmf) != ed25519.PublicKeySize || len(b.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(kmf, b.signedMessage(), b.Signature) {
		return fmt.Errorf("%w (talkgroup %d, epoch %d, signer %d)", ErrBadSignature, b.Talkgroup, b.Epoch, b.Signer)
	}
	return nil
}

// SealedFor returns unit's sealed epoch key, or false if unit is not a
// member. The slice belongs to the bundle.
func (b *Bundle) SealedFor(unit uint32) ([]byte, bool) {
	i := sort.Search(len(b.Members), func(i int) bool { return b.Members[i].Unit >= unit })
	if i < len(b.Members) && b.Members[i].Unit == unit {
		return b.Members[i].Sealed, true
	}
	return nil, false
}

// Open verifies the bundle with the KMF's public key, picks unit's sealed
// epoch key and opens it with the unit's HPKE private key. The caller owns
// the returned key and should clear it after use.
func (b *Bundle) Open(kmf ed25519.PublicKey, key hpke.PrivateKey, unit uint32) ([]byte, error) {
	if err := b.Verify(kmf); err != nil {
		return nil, err
	}
	sealed, ok := b.SealedFor(unit)
	if !ok {
		return nil, fmt.Errorf("%w: unit %d has no key for talkgroup %d epoch %d (ask the administrator whether it is a member)", ErrNotMember, unit, b.Talkgroup, b.Epoch)
	}
	epochKey, err := OpenEpochKey(key, b.Talkgroup, b.Epoch, unit, sealed)
	if err != nil {
		return nil, fmt.Errorf("unit %d, talkgroup %d, epoch %d: %w", unit, b.Talkgroup, b.Epoch, err)
	}
	return epochKey, nil
}

// ParseBundle parses the bundle encoding at the front of data and returns
// it with the number of bytes used. It checks every length before using
// it and rejects what Validate rejects; it does not check the signature
// (see Verify). The returned bundle does not alias data.
func ParseBundle(data []byte) (*Bundle, int, error) {
	if len(data) < MinBundleLen {
		return nil, 0, fmt.Errorf("%w: %d bytes, want at least %d", ErrMalformedBundle, len(data), MinBundleLen)
	}
	if data[0] != bundleVersion {
		return nil, 0, fmt.Errorf("%w: version %d (want %d)", ErrMalformedBundle, data[0], bundleVersion)
	}
	created := int64(binary.BigEndian.Uint64(data[7:]))
	n := int(binary.BigEndian.Uint16(data[19:]))
	b := &Bundle{
		Talkgroup: binary.BigEndian.Uint16(data[1:]),
		Epoch:     binary.BigEndian.Uint32(data[3:]),
		Created:   time.UnixMilli(created).UTC(),
		Signer:    binary.BigEndian.Uint32(data[15:]),
	}
	if n == 0 || n > MaxMembers {
		return nil, 0, fmt.Errorf("%w: %d members (want 1..%d)", ErrMalformedBundle, n, MaxMembers)
	}
	// Each member takes at least memberFixedLen+1 bytes: check the count
	// against the data before allocating for it.
	if (len(data)-bundleFixedLen-ed25519.SignatureSize)/(memberFixedLen+1) < n {
		return nil, 0, fmt.Errorf("%w: %d members do not fit in %d bytes", ErrMalformedBundle, n, len(data))
	}
	off := bundleFixedLen
	end := off
	for range n {
		if len(data)-end < memberFixedLen {
			return nil, 0, fmt.Errorf("%w: cut short in the members", ErrMalformedBundle)
		}
		m := int(binary.BigEndian.Uint16(data[end+4:]))
		end += memberFixedLen
		if len(data)-end < m {
			return nil, 0, fmt.Errorf("%w: cut short in a sealed key", ErrMalformedBundle)
		}
		end += m
	}
	if len(data)-end < ed25519.SignatureSize {
		return nil, 0, fmt.Errorf("%w: cut short in the signature", ErrMalformedBundle)
	}
	// One copy of the members and signature; the slices below alias it.
	own := slices.Clone(data[off : end+ed25519.SignatureSize])
	b.Members = make([]Member, n)
	p := 0
	for i := range b.Members {
		unit := binary.BigEndian.Uint32(own[p:])
		m := int(binary.BigEndian.Uint16(own[p+4:]))
		p += memberFixedLen
		b.Members[i] = Member{Unit: unit, Sealed: own[p : p+m : p+m]}
		p += m
	}
	b.Signature = own[p:]
	if err := b.Validate(); err != nil {
		return nil, 0, err
	}
	return b, end + ed25519.SignatureSize, nil
}
