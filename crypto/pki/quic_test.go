package pki_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/varta-ptt/varta/crypto/pki"
)

// TestQUICHandshake runs the TLS configurations over real QUIC, as the relay
// and the radio do, and checks that ExplainHandshakeError reads quic-go's
// own transport errors (code 0x100+alert), which pki recognises without
// importing quic-go.
func TestQUICHandshake(t *testing.T) {
	now := time.Now().Add(-30 * 24 * time.Hour)
	ca, err := pki.NewCA("Example Police", rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("Other Agency", rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	server, err := pki.IssueServer(ca, nil, rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	foreignServer, err := pki.IssueServer(other, nil, rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *pki.CA, id uint32, validFor time.Duration) *pki.Identity {
		u, err := pki.IssueUnit(ca, pki.UnitSpec{ID: id, Alias: "Patrol", Role: pki.RoleOfficer, ValidFor: validFor}, rand.Reader, now)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	unit := issue(ca, 1042, 0)
	expired := issue(ca, 1043, time.Hour)
	foreign := issue(other, 1044, 0)
	foreign.CA = ca.Cert // it trusts our relay, but our relay does not trust it

	tests := []struct {
		name        string
		server      *pki.Identity
		client      *pki.Identity
		wantExplain string // empty: the connection must work
	}{
		{"ok", server, unit, ""},
		{"client from another CA", server, foreign, "the relay refused this radio's certificate: it was issued by another agency CA"},
		{"expired client", server, expired, "the relay refused this radio's certificate: the certificate has expired"},
		{"server from another CA", foreignServer, unit, "the relay's certificate is not from this agency's CA: you may be talking to the wrong server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ln, err := quic.ListenAddr("127.0.0.1:0", pki.ServerTLSConfig(tt.server, nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			accepted := make(chan *quic.Conn, 1)
			go func() {
				c, err := ln.Accept(ctx)
				if err == nil {
					accepted <- c
				}
			}()

			conn, err := quic.DialAddr(ctx, ln.Addr().String(), pki.ClientTLSConfig(tt.client, nil), nil)
			if err == nil {
				defer conn.CloseWithError(0, "")
				if tt.wantExplain == "" {
					st := conn.ConnectionState().TLS
					if st.CurveID != tls.X25519MLKEM768 || st.NegotiatedProtocol != pki.ALPN {
						t.Errorf("curve %v, ALPN %q", st.CurveID, st.NegotiatedProtocol)
					}
					select {
					case sc := <-accepted:
						id, err := pki.UnitIDFromCert(sc.ConnectionState().TLS.PeerCertificates[0])
						if err != nil || id != 1042 {
							t.Errorf("relay sees unit %d, %v", id, err)
						}
						sc.CloseWithError(0, "")
					case <-ctx.Done():
						t.Fatal("relay did not accept")
					}
					return
				}
				// In TLS 1.3 the client finishes first; the relay's refusal
				// arrives as the connection closing.
				<-conn.Context().Done()
				err = context.Cause(conn.Context())
			}
			if tt.wantExplain == "" {
				t.Fatalf("dial: %v", err)
			}
			var te *quic.TransportError
			if !errors.As(err, &te) || !te.ErrorCode.IsCryptoError() {
				t.Errorf("error %v (%T) is not a QUIC crypto error", err, err)
			}
			if got := pki.ExplainHandshakeError(err); !strings.Contains(got, tt.wantExplain) {
				t.Errorf("ExplainHandshakeError(%v) =\n%q\nwant it to contain\n%q", err, got, tt.wantExplain)
			}
		})
	}
}
