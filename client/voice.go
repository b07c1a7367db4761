package client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// Crypto seals this unit's voice and opens other members' voice end to end.
// It holds the unit's talkgroup keys, which arrive from the KMF through the
// relay as KeyBundle messages; every bundle is checked: the KMF's
// certificate must chain to the agency CA and carry role kmf, and the
// bundle must carry its signature. The relay can neither read nor forge
// voice.
//
// A voice datagram is the clear protocol.VoiceHeader followed by an SFrame
// (RFC 9605) whose associated data is that header.
type Crypto struct {
	id    *pki.Identity
	roots *x509.CertPool // id.CA alone: checks KMF and sender certificates
	ring  *groupkey.Keyring
	now   func() time.Time

	mu   sync.Mutex      // guards held
	held map[uint16]bool // talkgroups a key was installed for

	rejected atomic.Uint64 // bundles refused

	senders senderKeys // checked burst-signing keys of other units (certs.go)
}

// NewCrypto returns the voice crypto of the unit id. now may be nil.
func NewCrypto(id *pki.Identity, now func() time.Time) (*Crypto, error) {
	if id == nil || id.HPKEPrivateKey == nil {
		return nil, errors.New("client: the identity has no HPKE key; it cannot receive talkgroup keys")
	}
	if now == nil {
		now = time.Now
	}
	ring, err := groupkey.New(groupkey.Config{Unit: id.UnitID, Now: now})
	if err != nil {
		return nil, err
	}
	return &Crypto{id: id, roots: id.CAPool(), ring: ring, now: now, held: make(map[uint16]bool)}, nil
}

// Install checks a KeyBundle and installs its epoch key. A bundle older than
// the installed epoch is refused (groupkey.ErrStaleEpoch).
func (v *Crypto) Install(kb *pb.KeyBundle) error {
	err := v.install(kb)
	if err != nil {
		v.rejected.Add(1)
	}
	return err
}

func (v *Crypto) install(kb *pb.KeyBundle) error {
	if kb == nil {
		return errors.New("client: empty key bundle")
	}
	cert, err := x509.ParseCertificate(kb.KmfCertificate)
	if err != nil {
		return fmt.Errorf("client: the key bundle's KMF certificate does not parse: %w", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: v.roots, CurrentTime: v.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("client: the key bundle was not signed by this agency's KMF: %w", err)
	}
	if role, err := pki.RoleFromCert(cert); err != nil || role != pki.RoleKMF {
		return fmt.Errorf("client: the key bundle's signer is not a KMF (role %q)", role)
	}
	signer, err := pki.UnitIDFromCert(cert)
	if err != nil {
		return err
	}
	pub, err := pki.SigningPublicKeyFromCert(cert)
	if err != nil {
		return err
	}
	b, _, err := groupkey.ParseBundle(kb.MemberKey)
	if err != nil {
		return err
	}
	if b.Signer != signer || uint32(b.Talkgroup) != kb.Talkgroup || b.Epoch != kb.Epoch {
		return fmt.Errorf("client: the key bundle for talkgroup %d epoch %d does not match its envelope", b.Talkgroup, b.Epoch)
	}
	if err := v.ring.InstallBundle(b, pub, v.id.HPKEPrivateKey); err != nil {
		return err
	}
	v.mu.Lock()
	v.held[b.Talkgroup] = true
	v.mu.Unlock()
	return nil
}

// Forget drops every key of tg, as when a patch is dissolved or the unit
// leaves the talkgroup.
func (v *Crypto) Forget(tg uint16) {
	v.ring.Forget(tg)
	v.mu.Lock()
	delete(v.held, tg)
	v.mu.Unlock()
}

// ForgetAllBut drops the keys of every talkgroup not in keep.
func (v *Crypto) ForgetAllBut(keep map[uint16]bool) {
	v.mu.Lock()
	var drop []uint16
	for tg := range v.held {
		if !keep[tg] {
			drop = append(drop, tg)
		}
	}
	v.mu.Unlock()
	for _, tg := range drop {
		v.Forget(tg)
	}
}

// FetchKeys asks the relay for this unit's current keys and installs them.
// It returns how many talkgroups have a key now.
func (v *Crypto) FetchKeys(ctx context.Context, c *Client) (int, error) {
	kbs, err := request(ctx, c, &pb.Envelope{Body: &pb.Envelope_KeyRequest{KeyRequest: &pb.KeyRequest{}}}, (*pb.Envelope).GetKeyBundles, "KeyRequest")
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, kb := range kbs.Bundles {
		if err := v.Install(kb); err != nil && !errors.Is(err, groupkey.ErrStaleEpoch) {
			errs = append(errs, fmt.Errorf("talkgroup %d: %w", kb.Talkgroup, err))
		}
	}
	n := 0
	for _, kb := range kbs.Bundles {
		if _, ok := v.ring.Epoch(uint16(kb.Talkgroup)); ok {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// HasKey reports whether the unit holds a key for tg.
func (v *Crypto) HasKey(tg uint16) bool {
	_, ok := v.ring.Epoch(tg)
	return ok
}

// Seal builds a voice datagram for tg carrying payload (an Opus frame),
// appending it to dst. It does not allocate when dst has room for
// protocol.VoiceHeaderLen+len(payload)+sframe.MaxOverhead more bytes.
func (v *Crypto) Seal(dst []byte, tg uint16, flags uint8, payload []byte) ([]byte, error) {
	start := len(dst)
	dst = protocol.AppendVoiceHeader(dst, protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: flags, Talkgroup: tg, Sender: v.id.UnitID})
	hdr := dst[start:]
	out, err := v.ring.Sealer(tg).Seal(dst, hdr, payload)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// Open checks and opens a received voice datagram and appends the payload
// to dst. Frames that fail (tampered, replayed, wrong key) return an error
// and are counted in Stats; they must never be played.
func (v *Crypto) Open(dst, datagram []byte) (protocol.VoiceHeader, []byte, groupkey.FrameInfo, error) {
	h, n, err := protocol.ParseVoiceHeader(datagram)
	if err != nil {
		return h, dst, groupkey.FrameInfo{}, err
	}
	out, info, err := v.ring.Open(dst, h.Talkgroup, h.Sender, datagram[:n], datagram[n:])
	return h, out, info, err
}

// Stats counts opened and refused frames by reason.
func (v *Crypto) Stats() groupkey.Stats { return v.ring.Stats() }

// BundlesRejected counts key bundles that failed their checks.
func (v *Crypto) BundlesRejected() uint64 { return v.rejected.Load() }

// Zeroize wipes every key; the unit cannot open or seal until new keys arrive.
func (v *Crypto) Zeroize() { v.ring.Zeroize() }

// Epoch returns the current epoch of tg's key, if the unit holds one.
func (v *Crypto) Epoch(tg uint16) (uint32, bool) { return v.ring.Epoch(tg) }
