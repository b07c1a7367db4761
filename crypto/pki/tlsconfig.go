package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ALPN is the application protocol Varta negotiates in TLS.
const ALPN = "varta/1"

// ServerTLSConfig returns the relay's TLS configuration: TLS 1.3 only, ALPN
// varta/1, the relay certificate, and a required client certificate that
// must chain to the agency CA (server.CA) with the ClientAuth usage and be a
// unit certificate (varta://unit/<id> and a unit role). Session tickets are
// off, so every connection does a full handshake and 0-RTT cannot happen.
//
// CurvePreferences is left unset so Go's default applies, which prefers the
// hybrid post-quantum key exchange X25519MLKEM768.
//
// now is the clock for certificate checks; nil means time.Now. The caller
// owns the returned config and may change it before use.
func ServerTLSConfig(server *Identity, now func() time.Time) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{server.TLSCertificate()},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              server.CAPool(),
		NextProtos:             []string{ALPN},
		SessionTicketsDisabled: true,
		Time:                   now,
		// Go has already verified the chain, the dates and the ClientAuth
		// usage; this adds what makes it a Varta unit.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("%w: the client sent no certificate", ErrNotUnitCert)
			}
			_, _, err := checkUnitCert(cs.PeerCertificates[0])
			return err
		},
	}
}

// ClientTLSConfig returns a unit's TLS configuration for dialling the
// relay: TLS 1.3 only, ALPN varta/1, the unit certificate as client
// certificate, and verification that the relay's certificate chains to the
// agency CA (id.CA) at now(), has the ServerAuth usage, and carries
// varta://server. now nil means time.Now. The caller owns the returned
// config; it must not clear VerifyConnection.
//
// Why InsecureSkipVerify is safe here: it switches off only Go's built-in
// verification, whose one check that does not fit Varta is the host name
// (relays are reached by IP address, often behind NAT). VerifyConnection,
// which Go calls on every handshake before the client sends its own
// certificate or any application data, redoes the full x509 chain
// verification against a pool holding only the agency CA (never the system
// roots) with the ServerAuth usage and the injected time, then requires the
// varta://server name, which the agency CA puts only in relay certificates.
// The TLS 1.3 CertificateVerify message proves the relay holds the
// certificate's key. So the relay is authenticated as "a relay of this
// agency", which is the identity Varta needs; a host name would add nothing.
// If verification fails the handshake fails, and the error wraps
// ErrServerRejected.
//
// CurvePreferences is left unset so Go's default applies, which prefers the
// hybrid post-quantum key exchange X25519MLKEM768.
func ClientTLSConfig(id *Identity, now func() time.Time) *tls.Config {
	if now == nil {
		now = time.Now
	}
	cert := id.TLSCertificate()
	roots := id.CAPool()
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		// Always present the unit certificate, even if the relay's list
		// of acceptable CAs does not name ours: the relay then answers
		// "unknown CA", which ExplainHandshakeError can turn into a useful
		// sentence, rather than "certificate required". Only a relay
		// that passed VerifyConnection ever receives it.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		},
		InsecureSkipVerify: true,
		Time:               now,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyServer(cs.PeerCertificates, roots, now())
		},
	}
}

// verifyServer checks the relay's certificate chain; see ClientTLSConfig.
// Every error it returns is a *serverCertError.
func verifyServer(certs []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return &serverCertError{reason: ErrNotServerCert, detail: "the relay sent no certificate"}
	}
	leaf := certs[0]
	if now.Before(leaf.NotBefore) {
		return &serverCertError{reason: ErrNotYetValid, detail: "it is valid only from " + leaf.NotBefore.UTC().Format(dateFormat)}
	}
	if now.After(leaf.NotAfter) {
		return &serverCertError{reason: ErrExpired, detail: "it expired on " + leaf.NotAfter.UTC().Format(dateFormat)}
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		e := &serverCertError{detail: err.Error(), err: err}
		if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
			e.reason = ErrUntrusted
			e.detail = fmt.Sprintf("it was issued by %q, not by the agency CA", leaf.Issuer.String())
		} else if ci, ok := errors.AsType[x509.CertificateInvalidError](err); ok && ci.Reason == x509.IncompatibleUsage {
			e.reason = ErrNotServerCert
			e.detail = "it is not issued for server use"
		}
		return e
	}
	if !IsServerCert(leaf) {
		return &serverCertError{reason: ErrNotServerCert, detail: "it has no " + uriServer + " name"}
	}
	return nil
}

// serverCertError is how ClientTLSConfig refuses a relay certificate. It
// matches ErrServerRejected, its reason (ErrUntrusted, ErrExpired,
// ErrNotYetValid, ErrNotServerCert, or nil) and the x509 error, if any,
// with errors.Is and errors.As.
type serverCertError struct {
	reason error
	detail string
	err    error
}

func (e *serverCertError) Error() string {
	return "pki: relay certificate rejected: " + e.detail
}

func (e *serverCertError) Unwrap() []error {
	errs := []error{ErrServerRejected}
	if e.reason != nil {
		errs = append(errs, e.reason)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}
