package client

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol/pb"
)

// Sender keys. Each voice burst is signed with the sender's Ed25519 key,
// which is in the sender's unit certificate. A receiver asks the relay for
// the certificates of the units it hears (UnitCertificates), checks each
// against the agency CA itself, since the relay is not trusted for them,
// and keeps the keys that pass (Crypto.LearnSenders). Crypto.SenderKey then
// gives the key a BurstVerifier needs.

// MaxCertificateUnits is the most units one UnitCertificates request may
// name; the relay refuses more with ERROR_BAD_REQUEST.
const MaxCertificateUnits = 16

// MaxSenderKeys bounds the sender keys a Crypto keeps. Past it,
// LearnSenders keeps no new key and says so.
const MaxSenderKeys = 100_000

// UnitCertificates asks the relay for the enrolled certificates of units
// (at most MaxCertificateUnits). Units that are unknown or have no
// certificate are left out of the answer, and each unit appears once. The
// certificates are as the relay gives them: check them against the agency
// CA before trusting anything in them (Crypto.LearnSenders does).
func (c *Client) UnitCertificates(ctx context.Context, units ...uint32) ([]*pb.Member, error) {
	uc, err := request(ctx, c, &pb.Envelope{Body: &pb.Envelope_UnitCertificatesRequest{UnitCertificatesRequest: &pb.UnitCertificatesRequest{Units: units}}}, (*pb.Envelope).GetUnitCertificates, "UnitCertificatesRequest")
	if err != nil {
		return nil, err
	}
	return uc.Certificates, nil
}

// senderKey is a checked sender key and when its certificate expires.
type senderKey struct {
	pub      ed25519.PublicKey
	notAfter time.Time
}

// senderKeys caches checked sender keys. Safe for concurrent use.
type senderKeys struct {
	mu   sync.RWMutex // guards keys; never held across I/O
	keys map[uint32]senderKey
}

func (s *senderKeys) get(unit uint32) (senderKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[unit]
	return k, ok
}

// put keeps k for unit, replacing an older key. It fails when the cache is
// full and unit is not in it.
func (s *senderKeys) put(unit uint32, k senderKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = make(map[uint32]senderKey)
	}
	if _, ok := s.keys[unit]; !ok && len(s.keys) >= MaxSenderKeys {
		return fmt.Errorf("client: unit %d: the sender key cache is full (%d units); its bursts stay unverified", unit, MaxSenderKeys)
	}
	s.keys[unit] = k
	return nil
}

// SenderKey returns the checked burst-signing key of unit, if LearnSenders
// has learnt it and its certificate has not expired since. The key is
// shared: do not modify it. Safe for concurrent use.
func (v *Crypto) SenderKey(unit uint32) (ed25519.PublicKey, bool) {
	k, ok := v.senders.get(unit)
	if !ok || v.now().After(k.notAfter) {
		return nil, false
	}
	return k.pub, true
}

// ForgetSender drops unit's kept key, so that the next LearnSenders fetches
// its certificate again (after the unit was re-issued credentials, say).
// Safe for concurrent use.
func (v *Crypto) ForgetSender(unit uint32) {
	v.senders.mu.Lock()
	delete(v.senders.keys, unit)
	v.senders.mu.Unlock()
}

// LearnSenders fetches from the relay, through c, the certificates of the
// units whose keys SenderKey does not have yet, MaxCertificateUnits at a
// time, checks each against the agency CA and keeps the keys that pass.
// Units the relay does not know, or that have no certificate, are left
// unknown without an error. A certificate that fails its checks is not
// kept; the error names each such unit and why (errors.Join). It blocks
// for the round trips to the relay; safe for concurrent use.
func (v *Crypto) LearnSenders(ctx context.Context, c *Client, units ...uint32) error {
	if c == nil {
		return errors.New("client: LearnSenders needs a connected client")
	}
	var want []uint32
	for _, u := range units {
		if _, ok := v.SenderKey(u); !ok && !slices.Contains(want, u) {
			want = append(want, u)
		}
	}
	var errs []error
	for chunk := range slices.Chunk(want, MaxCertificateUnits) {
		if err := v.learnChunk(ctx, c, chunk); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// learnChunk fetches and checks the certificates of at most
// MaxCertificateUnits units.
func (v *Crypto) learnChunk(ctx context.Context, c *Client, units []uint32) error {
	members, err := c.UnitCertificates(ctx, units...)
	var re *RequestError
	if errors.As(err, &re) && re.Code == pb.ErrorCode_ERROR_BAD_REQUEST && len(units) > 1 {
		// Large certificates may not all fit in one reply: ask in halves.
		half := len(units) / 2
		return errors.Join(v.learnChunk(ctx, c, units[:half]), v.learnChunk(ctx, c, units[half:]))
	}
	if err != nil {
		return fmt.Errorf("client: fetch the certificates of units %v: %w", units, err)
	}
	var errs []error
	for _, m := range members {
		if m == nil || !slices.Contains(units, m.Unit) {
			continue // not asked for: the relay's mistake, and harmless
		}
		k, err := v.checkSenderCert(m.Unit, m.Certificate)
		if err == nil {
			err = v.senders.put(m.Unit, k)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkSenderCert checks the certificate the relay gave for unit as the
// client checks every unit certificate: it chains to the agency CA, is
// valid now and is for client authentication; it names unit; its role may
// talk; it carries an Ed25519 signing key. Errors wrap ErrSenderCert.
func (v *Crypto) checkSenderCert(unit uint32, der []byte) (senderKey, error) {
	fail := func(format string, args ...any) (senderKey, error) {
		return senderKey{}, fmt.Errorf("%w: unit %d: "+format, append([]any{ErrSenderCert, unit}, args...)...)
	}
	if len(der) == 0 {
		return fail("the relay sent an empty certificate")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fail("the certificate does not parse: %v", err)
	}
	now := v.now()
	if _, err := cert.Verify(x509.VerifyOptions{Roots: v.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return fail("the certificate is not valid now (valid %s to %s; check the clock): %v",
				cert.NotBefore.UTC().Format(certDate), cert.NotAfter.UTC().Format(certDate), err)
		}
		return fail("the certificate was not issued by this agency's CA %q (issuer %q): %v",
			v.id.CA.Subject.CommonName, cert.Issuer.CommonName, err)
	}
	if cert.IsCA {
		return fail("the certificate is a CA certificate, not a unit certificate")
	}
	id, err := pki.UnitIDFromCert(cert)
	if err != nil {
		return fail("%v", err)
	}
	if id != unit {
		return fail("the relay sent the certificate of unit %d instead", id)
	}
	role, err := pki.RoleFromCert(cert)
	if err != nil {
		return fail("%v", err)
	}
	if !mayTalk(role) {
		return fail("role %q does not talk on talkgroups", role)
	}
	pub, err := pki.SigningPublicKeyFromCert(cert)
	if err != nil {
		return fail("%v", err)
	}
	return senderKey{pub: pub, notAfter: cert.NotAfter}, nil
}

const certDate = "2006-01-02 15:04 UTC"

// mayTalk reports whether units of role may hold a talkgroup's floor; the
// infrastructure roles (kmf, recorder) never do.
func mayTalk(role string) bool {
	switch role {
	case pki.RoleOfficer, pki.RoleDispatcher, pki.RoleCommander:
		return true
	}
	return false
}
