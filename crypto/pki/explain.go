package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// TLS alert numbers (RFC 8446 section 6) that ExplainHandshakeError words.
const (
	alertHandshakeFailure       = 40
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertAccessDenied           = 49
	alertProtocolVersion        = 70
	alertCertificateRequired    = 116
	alertNoApplicationProtocol  = 120
)

// quicCryptoErrorBase is the QUIC transport error code of TLS alert 0
// (RFC 9001 section 4.8): a failed handshake closes the connection with
// 0x100 + alert.
const quicCryptoErrorBase = 0x100

// ExplainHandshakeError turns an error from dialling the relay (or from
// the relay accepting a unit) into one sentence for a person: what
// happened and what to do. It understands:
//
//   - this unit refusing the relay's certificate (ClientTLSConfig);
//   - the relay refusing a unit's certificate, seen on the relay;
//   - TLS alerts from the peer or from this side, whether quic-go reports
//     them as a transport error with code 0x100+alert (matched by the shape
//     of quic-go's TransportError: fields ErrorCode and Remote, since this
//     package does not import quic-go; or failing that by its message) or
//     crypto/tls as a "remote error" or tls.AlertError;
//   - timeouts.
//
// Anything else gives a generic sentence that includes the error, and
// unknown alerts include their number and QUIC code. The sentences speak
// from the radio's side ("the relay refused this radio's certificate").
// nil gives "".
func ExplainHandshakeError(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, ErrServerRejected) {
		return explainServerRejected(err)
	}
	if cve, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return explainUnitRejected(cve)
	}
	if errors.Is(err, ErrNotUnitCert) {
		return "this relay refused a client's certificate: it is not a Varta unit certificate"
	}
	if a, ok := findAlert(err); ok {
		return a.explain()
	}
	if code, name, ok := findTransportCode(err); ok {
		return fmt.Sprintf("the connection to the relay failed with QUIC error %#x (%s)", code, name)
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return "the relay did not answer in time (check the relay address and the network)"
	}
	return "the secure connection to the relay failed: " + err.Error()
}

func explainServerRejected(err error) string {
	const wrong = "you may be talking to the wrong server"
	switch {
	case errors.Is(err, ErrUntrusted):
		return "the relay's certificate is not from this agency's CA: " + wrong
	case errors.Is(err, ErrNotServerCert):
		return "the relay's certificate is not a relay certificate of this agency: " + wrong
	case errors.Is(err, ErrExpired):
		return "the relay's certificate has expired (check this radio's date and time; if it is right, tell your administrator that the relay needs a new certificate)"
	case errors.Is(err, ErrNotYetValid):
		return "the relay's certificate is not valid yet (check this radio's date and time)"
	}
	detail := err.Error()
	if sce, ok := errors.AsType[*serverCertError](err); ok {
		detail = sce.detail
	}
	return "the relay's certificate was rejected: " + detail
}

// explainUnitRejected words the relay's own verification failure of a unit
// certificate (crypto/tls's built-in client-certificate check).
func explainUnitRejected(cve *tls.CertificateVerificationError) string {
	who := "a unit's certificate"
	if len(cve.UnverifiedCertificates) > 0 {
		if id, err := UnitIDFromCert(cve.UnverifiedCertificates[0]); err == nil {
			who = fmt.Sprintf("the certificate of unit %d (%s)", id, cve.UnverifiedCertificates[0].Subject.CommonName)
		}
	}
	prefix := "this relay refused " + who
	if _, ok := errors.AsType[x509.UnknownAuthorityError](cve.Err); ok {
		return prefix + ": it was issued by another agency CA"
	}
	if ci, ok := errors.AsType[x509.CertificateInvalidError](cve.Err); ok {
		switch {
		case ci.Reason == x509.Expired && strings.Contains(ci.Detail, "is before"):
			return prefix + ": it is not valid yet (check this relay's clock)"
		case ci.Reason == x509.Expired:
			return prefix + ": it has expired (re-enrol the unit)"
		case ci.Reason == x509.IncompatibleUsage:
			return prefix + ": it is not a unit certificate"
		}
	}
	return prefix + ": " + cve.Err.Error()
}

// alertInfo is a TLS alert found in an error chain.
type alertInfo struct {
	alert  uint8
	remote bool   // sent by the peer
	quic   uint64 // QUIC transport error code, 0 if not from QUIC
}

func (a alertInfo) name() string {
	return strings.TrimPrefix(tls.AlertError(a.alert).Error(), "tls: ")
}

// code describes the alert by number, for sentences about alerts this
// function has no words for.
func (a alertInfo) code() string {
	s := fmt.Sprintf("TLS alert %d, %s", a.alert, a.name())
	if a.quic != 0 {
		s += fmt.Sprintf(", QUIC error code %#x", a.quic)
	}
	return s
}

func (a alertInfo) explain() string {
	if !a.remote {
		return fmt.Sprintf("the secure handshake with the relay failed on this side (%s)", a.code())
	}
	const refused = "the relay refused this radio's certificate"
	switch a.alert {
	case alertUnknownCA:
		return refused + ": it was issued by another agency CA (ask your administrator for a new identity file)"
	case alertCertificateExpired:
		return refused + ": the certificate has expired (ask your administrator to re-enrol the unit)"
	case alertCertificateRevoked:
		return refused + ": the certificate has been revoked (ask your administrator)"
	case alertBadCertificate, alertCertificateUnknown:
		return refused + ": it is not a valid unit certificate for this relay (ask your administrator for a new identity file)"
	case alertUnsupportedCertificate:
		return refused + ": the relay cannot use this kind of certificate (ask your administrator for a new identity file)"
	case alertCertificateRequired:
		return "the relay requires a unit certificate and this radio sent none (load the unit's identity file)"
	case alertAccessDenied:
		return "the relay denied this radio access (ask your administrator)"
	case alertNoApplicationProtocol:
		return "the relay does not speak this radio's protocol " + ALPN + " (check the relay address, or update the radio or the relay)"
	case alertProtocolVersion:
		return "the relay and this radio have no TLS version in common; Varta needs TLS 1.3 (check the relay address)"
	case alertHandshakeFailure:
		return fmt.Sprintf("the relay and this radio could not agree on the security of the connection (%s)", a.code())
	}
	return fmt.Sprintf("the relay ended the secure handshake (%s)", a.code())
}

// alertsByText maps crypto/tls's alert texts ("tls: unknown certificate
// authority") to alert numbers, to recognise the unexported alert type
// that crypto/tls reports as a "remote error".
var alertsByText = sync.OnceValue(func() map[string]uint8 {
	m := make(map[string]uint8, 256)
	for i := range 256 {
		m[tls.AlertError(i).Error()] = uint8(i)
	}
	return m
})

// quicCryptoErrorText matches quic-go's TransportError message, as a
// fallback for an error that was flattened to text.
var quicCryptoErrorText = regexp.MustCompile(`CRYPTO_ERROR (0x[0-9a-fA-F]+) \((local|remote)\)`)

// findAlert returns the outermost TLS alert in err's tree.
func findAlert(err error) (alertInfo, bool) {
	var found alertInfo
	ok := walkErrors(err, func(e error) bool {
		if code, remote, isTE := transportErrorFields(e); isTE {
			if code >= quicCryptoErrorBase && code < quicCryptoErrorBase+256 {
				found = alertInfo{alert: uint8(code - quicCryptoErrorBase), remote: remote, quic: code}
				return true
			}
			return false
		}
		if oe, isOE := e.(*net.OpError); isOE && oe.Op == "remote error" && oe.Err != nil {
			if n, known := alertsByText()[oe.Err.Error()]; known {
				found = alertInfo{alert: n, remote: true}
				return true
			}
		}
		if ae, isAE := e.(tls.AlertError); isAE {
			found = alertInfo{alert: uint8(ae)}
			return true
		}
		return false
	})
	if ok {
		return found, true
	}
	if m := quicCryptoErrorText.FindStringSubmatch(err.Error()); m != nil {
		code, perr := strconv.ParseUint(m[1], 0, 64)
		if perr == nil && code >= quicCryptoErrorBase && code < quicCryptoErrorBase+256 {
			return alertInfo{alert: uint8(code - quicCryptoErrorBase), remote: m[2] == "remote", quic: code}, true
		}
	}
	return alertInfo{}, false
}

// findTransportCode returns the code of the outermost non-crypto QUIC
// transport error in err's tree, and its text.
func findTransportCode(err error) (uint64, string, bool) {
	var (
		code uint64
		text string
	)
	ok := walkErrors(err, func(e error) bool {
		c, _, isTE := transportErrorFields(e)
		if isTE {
			code, text = c, e.Error()
		}
		return isTE
	})
	return code, text, ok
}

// transportErrorFields reads ErrorCode and Remote from a value shaped like
// quic-go's *TransportError (a pointer to a struct type named
// TransportError with an unsigned ErrorCode and a bool Remote).
func transportErrorFields(e error) (code uint64, remote, ok bool) {
	v := reflect.ValueOf(e)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return 0, false, false
	}
	v = v.Elem()
	if v.Kind() != reflect.Struct || v.Type().Name() != "TransportError" {
		return 0, false, false
	}
	c := v.FieldByName("ErrorCode")
	r := v.FieldByName("Remote")
	if !c.IsValid() || !r.IsValid() || r.Kind() != reflect.Bool {
		return 0, false, false
	}
	switch c.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return c.Uint(), r.Bool(), true
	}
	return 0, false, false
}

// walkErrors calls f on err and everything it wraps, depth first, outer
// first, until f returns true. It reports whether f did.
func walkErrors(err error, f func(error) bool) bool {
	for depth := 0; err != nil && depth < 100; depth++ {
		if f(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if walkErrors(e, f) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
