package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// handshakeResult is what each side of a test handshake saw.
type handshakeResult struct {
	serverState tls.ConnectionState
	serverErr   error
	clientState tls.ConnectionState
	clientErr   error
}

// handshake runs a TLS handshake over loopback TCP between the two configs.
// The server writes one byte after a successful handshake and the client
// reads it, because in TLS 1.3 a client learns that the server refused its
// certificate only on its first read.
func handshake(t *testing.T, server, client *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)

	var res handshakeResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			res.serverErr = err
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		tc := tls.Server(c, server)
		if err := tc.Handshake(); err != nil {
			res.serverErr = err
			return
		}
		res.serverState = tc.ConnectionState()
		_, res.serverErr = tc.Write([]byte{1})
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	tc := tls.Client(c, client)
	if err := tc.Handshake(); err != nil {
		res.clientErr = err
	} else {
		res.clientState = tc.ConnectionState()
		var b [1]byte
		_, res.clientErr = tc.Read(b[:])
	}
	c.Close()
	<-done
	return res
}

func TestTLSHandshake(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	server := newTestServer(t, ca)
	unit := newTestUnit(t, ca, 1042, RoleOfficer)

	res := handshake(t, ServerTLSConfig(server, nil), ClientTLSConfig(unit, nil))
	if res.serverErr != nil || res.clientErr != nil {
		t.Fatalf("handshake failed: server %v, client %v", res.serverErr, res.clientErr)
	}
	for side, st := range map[string]tls.ConnectionState{"server": res.serverState, "client": res.clientState} {
		if st.Version != tls.VersionTLS13 {
			t.Errorf("%s: version %#x, want TLS 1.3", side, st.Version)
		}
		if st.CurveID != tls.X25519MLKEM768 {
			t.Errorf("%s: key exchange %v, want X25519MLKEM768", side, st.CurveID)
		}
		if st.NegotiatedProtocol != ALPN {
			t.Errorf("%s: ALPN %q, want %q", side, st.NegotiatedProtocol, ALPN)
		}
		if st.DidResume {
			t.Errorf("%s: resumed", side)
		}
	}
	// The relay learns who called from the verified certificate.
	if len(res.serverState.VerifiedChains) == 0 {
		t.Fatal("server has no verified chain")
	}
	peer := res.serverState.PeerCertificates[0]
	if id, err := UnitIDFromCert(peer); err != nil || id != 1042 {
		t.Errorf("relay sees unit %d, %v; want 1042", id, err)
	}
	if !IsServerCert(res.clientState.PeerCertificates[0]) {
		t.Error("client sees a non-relay certificate")
	}
}

func TestTLSConfigSettings(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	s := ServerTLSConfig(newTestServer(t, ca), nil)
	c := ClientTLSConfig(newTestUnit(t, ca, 1, RoleOfficer), nil)
	for name, cfg := range map[string]*tls.Config{"server": s, "client": c} {
		if cfg.MinVersion != tls.VersionTLS13 {
			t.Errorf("%s MinVersion %#x", name, cfg.MinVersion)
		}
		if len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "varta/1" {
			t.Errorf("%s NextProtos %v", name, cfg.NextProtos)
		}
		if len(cfg.CurvePreferences) != 0 && cfg.CurvePreferences[0] != tls.X25519MLKEM768 {
			t.Errorf("%s CurvePreferences %v: X25519MLKEM768 must come first", name, cfg.CurvePreferences)
		}
	}
	if s.ClientAuth != tls.RequireAndVerifyClientCert || s.ClientCAs == nil || !s.SessionTicketsDisabled {
		t.Errorf("server ClientAuth %v, ClientCAs %v, SessionTicketsDisabled %v", s.ClientAuth, s.ClientCAs != nil, s.SessionTicketsDisabled)
	}
	if c.VerifyConnection == nil || !c.InsecureSkipVerify {
		t.Error("client must verify the relay in VerifyConnection")
	}
}

func TestTLSHandshakeFailures(t *testing.T) {
	ca := newTestCA(t, "Example Police")
	other := newTestCA(t, "Other Agency")
	server := newTestServer(t, ca)
	unit := newTestUnit(t, ca, 1042, RoleOfficer)
	foreignUnit := newTestUnit(t, other, 1042, RoleOfficer)
	foreignServer := newTestServer(t, other)
	// Issued a month ago, valid for an hour.
	expired, err := IssueUnit(ca, UnitSpec{ID: 1043, Alias: "Old", Role: RoleOfficer, ValidFor: time.Hour}, rand.Reader, testNow)
	if err != nil {
		t.Fatal(err)
	}
	// A unit of this agency pretending to be the relay.
	rogue := *unit
	// The relay's own certificate used to dial.
	serverAsClient := *server
	// A ClientAuth certificate of this agency without a unit ID.
	anon := &Identity{Cert: craftCert(t, ca, nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil), Key: ca.Key, CA: ca.Cert}
	farFuture := func() time.Time { return server.Cert.NotAfter.Add(time.Hour) }
	past := func() time.Time { return server.Cert.NotBefore.Add(-time.Hour) }

	tests := []struct {
		name          string
		server        *tls.Config
		client        *tls.Config
		wantServerErr string // substring
		wantClientIs  error  // errors.Is on the client error, if set
		wantExplain   string // substring of ExplainHandshakeError(client error)
		wantServerExp string // substring of ExplainHandshakeError(server error)
	}{
		{
			name:          "client from another CA",
			server:        ServerTLSConfig(server, nil),
			client:        ClientTLSConfig(&Identity{Cert: foreignUnit.Cert, Key: foreignUnit.Key, CA: ca.Cert}, nil),
			wantServerErr: "certificate signed by unknown authority",
			wantExplain:   "the relay refused this radio's certificate: it was issued by another agency CA (ask your administrator for a new identity file)",
			wantServerExp: "this relay refused the certificate of unit 1042 (Unit officer): it was issued by another agency CA",
		},
		{
			name:          "expired client",
			server:        ServerTLSConfig(server, nil),
			client:        ClientTLSConfig(expired, nil),
			wantServerErr: "expired",
			wantExplain:   "the relay refused this radio's certificate: the certificate has expired (ask your administrator to re-enrol the unit)",
			wantServerExp: "this relay refused the certificate of unit 1043 (Old): it has expired",
		},
		{
			name:          "server from another CA",
			server:        ServerTLSConfig(foreignServer, nil),
			client:        ClientTLSConfig(unit, nil),
			wantServerErr: "bad certificate",
			wantClientIs:  ErrUntrusted,
			wantExplain:   "the relay's certificate is not from this agency's CA: you may be talking to the wrong server",
		},
		{
			name:          "relay certificate expired by the radio's clock",
			server:        ServerTLSConfig(server, nil),
			client:        ClientTLSConfig(unit, farFuture),
			wantServerErr: "bad certificate",
			wantClientIs:  ErrExpired,
			wantExplain:   "the relay's certificate has expired",
		},
		{
			name:          "radio clock before the relay certificate",
			server:        ServerTLSConfig(server, nil),
			client:        ClientTLSConfig(unit, past),
			wantServerErr: "bad certificate",
			wantClientIs:  ErrNotYetValid,
			wantExplain:   "check this radio's date and time",
		},
		{
			name:          "unit certificate posing as the relay",
			server:        ServerTLSConfig(&rogue, nil),
			client:        ClientTLSConfig(unit, nil),
			wantServerErr: "bad certificate",
			wantClientIs:  ErrNotServerCert,
			wantExplain:   "not a relay certificate of this agency: you may be talking to the wrong server",
		},
		{
			name:          "relay certificate used as a client",
			server:        ServerTLSConfig(server, nil),
			client:        ClientTLSConfig(&serverAsClient, nil),
			wantServerErr: "incompatible key usage",
			wantExplain:   "the relay refused this radio's certificate: it is not a valid unit certificate",
			wantServerExp: "it is not a unit certificate",
		},
		{
			name:          "client certificate without a unit ID",
			server:        ServerTLSConfig(server, nil),
			client:        ClientTLSConfig(anon, nil),
			wantServerErr: "not a unit certificate",
			wantExplain:   "the relay refused this radio's certificate: it is not a valid unit certificate",
			wantServerExp: "this relay refused a client's certificate: it is not a Varta unit certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := handshake(t, tt.server, tt.client)
			if res.serverErr == nil || !strings.Contains(res.serverErr.Error(), tt.wantServerErr) {
				t.Errorf("server error = %v, want %q", res.serverErr, tt.wantServerErr)
			}
			if res.clientErr == nil {
				t.Fatal("client succeeded")
			}
			if tt.wantClientIs != nil && !errors.Is(res.clientErr, tt.wantClientIs) {
				t.Errorf("client error = %v, want %v", res.clientErr, tt.wantClientIs)
			}
			if got := ExplainHandshakeError(res.clientErr); !strings.Contains(got, tt.wantExplain) {
				t.Errorf("ExplainHandshakeError(%v) =\n%q\nwant it to contain\n%q", res.clientErr, got, tt.wantExplain)
			}
			if tt.wantServerExp != "" {
				if got := ExplainHandshakeError(res.serverErr); !strings.Contains(got, tt.wantServerExp) {
					t.Errorf("ExplainHandshakeError(%v) =\n%q\nwant it to contain\n%q", res.serverErr, got, tt.wantServerExp)
				}
			}
		})
	}
}
