// Package kmf is the key management facility: a unit with role kmf that
// makes each talkgroup's epoch keys and hands them, sealed, to the relay.
//
// Flow: Run dials the relay as the KMF's unit and asks for the key state of
// every talkgroup (KmfStatus). Every talkgroup without a key, or whose
// membership changed since its current epoch (stale), gets a new epoch: a
// random 32-byte key, sealed with HPKE to each member's public key taken
// from the member's certificate (checked against the agency CA, so the relay
// cannot substitute a key), each member's copy signed with the KMF's Ed25519
// key, stored with PutKeyBundle. The relay says RekeyNeeded whenever a
// roster change makes a talkgroup stale, and the KMF rekeys every talkgroup
// after RekeyEvery. When the connection drops, Run reconnects with jittered
// back-off. The epoch keys exist only in the KMF's memory, for the moment it
// takes to seal them.
package kmf

import (
	"context"
	"crypto/hpke"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// Config configures a KMF.
type Config struct {
	// Identity is the KMF unit's identity (role kmf). Required.
	Identity *pki.Identity
	// Addr is the relay address. Default: Identity.Server.
	Addr string
	// Logger receives the KMF's logs. Default: discard.
	Logger *slog.Logger
	// Rand is the source of epoch keys. Default crypto/rand.Reader.
	Rand io.Reader
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// RekeyEvery rekeys every talkgroup this often. Default 24 h.
	RekeyEvery time.Duration
	// RetryMin and RetryMax bound the reconnect back-off. Default 200 ms and 30 s.
	RetryMin, RetryMax time.Duration
	// Ready, if set, is called after each complete sweep of the talkgroups.
	Ready func()
}

func (c *Config) setDefaults() error {
	if c.Identity == nil {
		return errors.New("kmf: no identity")
	}
	if c.Identity.Role != pki.RoleKMF {
		return fmt.Errorf("kmf: the identity of unit %d has role %s, not kmf", c.Identity.UnitID, c.Identity.Role)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RekeyEvery == 0 {
		c.RekeyEvery = 24 * time.Hour
	}
	if c.RetryMin == 0 {
		c.RetryMin = 200 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 30 * time.Second
	}
	return nil
}

// Run keeps the KMF connected and the talkgroups keyed until ctx is done.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	log := cfg.Logger
	backoff := cfg.RetryMin
	for ctx.Err() == nil {
		c, err := client.Dial(ctx, client.Config{Identity: cfg.Identity, Addr: cfg.Addr, Software: "varta-kmf/0.1", Logger: log})
		if err == nil {
			var swept bool
			swept, err = serve(ctx, cfg, c)
			c.Close()
			if ctx.Err() != nil {
				return nil
			}
			if swept {
				backoff = cfg.RetryMin
			}
		}
		var refused *client.RefusedError
		var closed *client.ClosedError
		switch {
		case errors.As(err, &refused):
			return fmt.Errorf("kmf: %w", err)
		case errors.As(err, &closed) && closed.Code == protocol.CloseReplaced:
			return fmt.Errorf("kmf: another KMF with the identity of unit %d connected; this one stops: %w", cfg.Identity.UnitID, err)
		}
		log.Warn("kmf: no session with the relay; retrying", "err", err, "in", backoff)
		if !sleep(ctx, client.Jitter(backoff)) {
			return nil
		}
		backoff = min(2*backoff, cfg.RetryMax)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// serve sweeps on connect, on RekeyNeeded and every RekeyEvery. swept
// reports whether the first sweep completed.
func serve(ctx context.Context, cfg Config, c *client.Client) (swept bool, err error) {
	if err := Sweep(ctx, cfg, c, false); err != nil {
		return false, err
	}
	tick := time.NewTicker(cfg.RekeyEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-c.Done():
			return true, c.Err()
		case <-tick.C:
			if err := Sweep(ctx, cfg, c, true); err != nil {
				return true, err
			}
		case ev := <-c.Events():
			if rk := ev.GetRekeyNeeded(); rk != nil {
				cfg.Logger.Info("kmf: rekey requested", "reason", rk.Reason)
				if err := Sweep(ctx, cfg, c, false); err != nil {
					return true, err
				}
			}
		}
	}
}

// Sweep rekeys every talkgroup that has no key or a stale one (or every
// talkgroup when all is set).
func Sweep(ctx context.Context, cfg Config, c *client.Client, all bool) error {
	reply, err := c.Do(ctx, &pb.Envelope{Body: &pb.Envelope_KmfStatusRequest{KmfStatusRequest: &pb.KmfStatusRequest{}}})
	if err != nil {
		return fmt.Errorf("kmf: key status: %w", err)
	}
	st := reply.GetKmfStatus()
	if st == nil {
		return errors.New("kmf: unexpected reply to KmfStatusRequest")
	}
	for _, t := range st.Talkgroups {
		if !all && !t.Stale {
			continue
		}
		reason := t.Reason
		if all && !t.Stale {
			reason = "periodic rekey"
		}
		if err := Rekey(ctx, cfg, c, uint16(t.Talkgroup), reason); err != nil {
			return err
		}
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	return nil
}

// Rekey makes a new epoch for tg and stores it at the relay.
func Rekey(ctx context.Context, cfg Config, c *client.Client, tg uint16, reason string) error {
	reply, err := c.Do(ctx, &pb.Envelope{Body: &pb.Envelope_KmfMembersRequest{KmfMembersRequest: &pb.KmfMembersRequest{Talkgroup: uint32(tg)}}})
	if err != nil {
		return fmt.Errorf("kmf: members of talkgroup %d: %w", tg, err)
	}
	ms := reply.GetKmfMembers()
	if ms == nil {
		return errors.New("kmf: unexpected reply to KmfMembersRequest")
	}
	// Epochs count up, and never below the clock in seconds: after the
	// relay's roster is restored from a snapshot, the stored epoch may be
	// older than the one radios hold, and they refuse epochs that are not
	// newer.
	epoch := max(ms.Epoch+1, uint32(cfg.Now().Unix()))
	put := &pb.PutKeyBundle{Talkgroup: uint32(tg), Epoch: epoch, KmfCertificate: cfg.Identity.Cert.Raw}
	if len(ms.Members) > 0 {
		key, err := groupkey.NewEpochKey(cfg.Rand)
		if err != nil {
			return fmt.Errorf("kmf: %w", err)
		}
		defer clear(key)
		b := &groupkey.Bundle{Talkgroup: tg, Epoch: epoch, Created: cfg.Now(), Signer: cfg.Identity.UnitID}
		for _, m := range ms.Members {
			pub, err := memberKey(cfg, m)
			if err != nil {
				// A member whose certificate does not check out gets no key;
				// the others must not be held up by it.
				cfg.Logger.Warn("kmf: member left out of the epoch", "tg", tg, "unit", m.Unit, "err", err)
				continue
			}
			sealed, err := groupkey.SealEpochKey(pub, tg, epoch, m.Unit, key)
			if err != nil {
				return fmt.Errorf("kmf: seal for unit %d: %w", m.Unit, err)
			}
			b.Members = append(b.Members, groupkey.Member{Unit: m.Unit, Sealed: sealed})
		}
		if len(b.Members) > 0 {
			per, err := b.SignPerMember(cfg.Identity.SigningKey)
			if err != nil {
				return fmt.Errorf("kmf: sign talkgroup %d epoch %d: %w", tg, epoch, err)
			}
			for _, one := range per {
				put.Keys = append(put.Keys, &pb.MemberKey{Unit: one.Members[0].Unit, MemberKey: one.Append(nil)})
			}
		}
	}
	if _, err := c.Do(ctx, &pb.Envelope{Body: &pb.Envelope_PutKeyBundle{PutKeyBundle: put}}); err != nil {
		return fmt.Errorf("kmf: store talkgroup %d epoch %d: %w", tg, epoch, err)
	}
	cfg.Logger.Info("kmf: new epoch", "tg", tg, "epoch", epoch, "members", len(put.Keys), "reason", reason)
	return nil
}

// memberKey checks a member's certificate against the agency CA and returns
// the HPKE public key the CA bound to it.
func memberKey(cfg Config, m *pb.Member) (hpke.PublicKey, error) {
	cert, err := x509.ParseCertificate(m.Certificate)
	if err != nil {
		return nil, fmt.Errorf("certificate does not parse: %w", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: cfg.Identity.CAPool(), CurrentTime: cfg.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("certificate not valid under the agency CA: %w", err)
	}
	id, err := pki.UnitIDFromCert(cert)
	if err != nil || id != m.Unit {
		return nil, fmt.Errorf("certificate names unit %d, not %d", id, m.Unit)
	}
	return pki.HPKEPublicKeyFromCert(cert)
}
