package pki

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
)

// TransportError mimics quic-go's *quic.TransportError, which this package
// recognises by shape without importing quic-go.
type TransportError struct {
	Remote       bool
	FrameType    uint64
	ErrorCode    TransportErrorCode
	ErrorMessage string
	err          error
}

type TransportErrorCode uint64

func (e *TransportError) Error() string {
	role := "local"
	if e.Remote {
		role = "remote"
	}
	if e.ErrorCode >= 0x100 && e.ErrorCode < 0x200 {
		return fmt.Sprintf("CRYPTO_ERROR %#x (%s): %s", uint16(e.ErrorCode), role, e.ErrorMessage)
	}
	return fmt.Sprintf("error %#x (%s): %s", uint16(e.ErrorCode), role, e.ErrorMessage)
}

func (e *TransportError) Unwrap() []error { return []error{net.ErrClosed, e.err} }

// ApplicationError mimics quic-go's *quic.ApplicationError, which also has
// ErrorCode and Remote but is not a handshake failure.
type ApplicationError struct {
	Remote    bool
	ErrorCode uint64
}

func (e *ApplicationError) Error() string { return fmt.Sprintf("Application error %#x", e.ErrorCode) }

type timeoutError struct{}

func (timeoutError) Error() string   { return "timeout: no recent network activity" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func remoteQUIC(alert uint8) error {
	return fmt.Errorf("dial relay: %w", &TransportError{Remote: true, ErrorCode: TransportErrorCode(0x100 + int(alert)), ErrorMessage: tls.AlertError(alert).Error()})
}

func TestExplainHandshakeError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // substrings of the sentence, separated by "|"
	}{
		{"nil", nil, ""},
		{"QUIC unknown CA", remoteQUIC(48),
			"the relay refused this radio's certificate: it was issued by another agency CA (ask your administrator for a new identity file)"},
		{"QUIC expired", remoteQUIC(45),
			"the relay refused this radio's certificate: the certificate has expired (ask your administrator to re-enrol the unit)"},
		{"QUIC revoked", remoteQUIC(44), "the relay refused this radio's certificate: the certificate has been revoked (ask your administrator)"},
		{"QUIC bad certificate", remoteQUIC(42), "the relay refused this radio's certificate: it is not a valid unit certificate for this relay (ask your administrator for a new identity file)"},
		{"QUIC certificate required", remoteQUIC(116), "the relay requires a unit certificate and this radio sent none (load the unit's identity file)"},
		{"QUIC no ALPN", remoteQUIC(120), "the relay does not speak this radio's protocol varta/1 (check the relay address, or update the radio or the relay)"},
		{"QUIC protocol version", remoteQUIC(70), "no TLS version in common"},
		{"QUIC handshake failure", remoteQUIC(40), "could not agree|TLS alert 40, handshake failure, QUIC error code 0x128"},
		{"QUIC unknown alert", remoteQUIC(200), "the relay ended the secure handshake (TLS alert 200, alert(200), QUIC error code 0x1c8)"},
		{"QUIC local alert", &TransportError{ErrorCode: 0x150, err: errors.New("tls: internal")},
			"the secure handshake with the relay failed on this side (TLS alert 80, internal error, QUIC error code 0x150)"},
		{"QUIC local rejection of the relay", &TransportError{ErrorCode: 0x12a, err: fmt.Errorf("%w%.0w", &serverCertError{reason: ErrUntrusted, detail: "x"}, tls.AlertError(42))},
			"the relay's certificate is not from this agency's CA: you may be talking to the wrong server"},
		{"QUIC non-crypto code", &TransportError{Remote: true, ErrorCode: 0x2, ErrorMessage: "go away"},
			"the connection to the relay failed with QUIC error 0x2"},
		{"QUIC error flattened to text", errors.New("dial: CRYPTO_ERROR 0x130 (remote): tls: unknown certificate authority"),
			"it was issued by another agency CA"},
		{"application error is not an alert", &ApplicationError{Remote: true, ErrorCode: 0x130},
			"the secure connection to the relay failed: Application error 0x130"},
		{"TLS remote unknown CA", &net.OpError{Op: "remote error", Err: tlsAlert(48)},
			"the relay refused this radio's certificate: it was issued by another agency CA"},
		{"TLS remote expired", fmt.Errorf("read: %w", &net.OpError{Op: "remote error", Err: tlsAlert(45)}),
			"the certificate has expired"},
		{"TLS remote unknown alert", &net.OpError{Op: "remote error", Err: tlsAlert(201)},
			"the relay ended the secure handshake (TLS alert 201, alert(201))"},
		{"local alert", tls.AlertError(80), "failed on this side (TLS alert 80, internal error)"},
		{"relay expired", &serverCertError{reason: ErrExpired, detail: "it expired"}, "the relay's certificate has expired"},
		{"relay other failure", &serverCertError{detail: "x509: something odd"}, "the relay's certificate was rejected: x509: something odd"},
		{"timeout", fmt.Errorf("dial: %w", timeoutError{}), "the relay did not answer in time (check the relay address and the network)"},
		{"deadline", os.ErrDeadlineExceeded, "did not answer in time"},
		{"other", errors.New("connection refused"), "the secure connection to the relay failed: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ExplainHandshakeError(tt.err)
			if (got == "") != (tt.err == nil) {
				t.Fatalf("ExplainHandshakeError(%v) = %q", tt.err, got)
			}
			for _, w := range strings.Split(tt.want, "|") {
				if !strings.Contains(got, w) {
					t.Errorf("got %q, want it to contain %q", got, w)
				}
			}
		})
	}
}

// tlsAlert returns the error crypto/tls puts in a "remote error" OpError:
// a value of its unexported alert type, whose text is that of AlertError.
func tlsAlert(n uint8) error { return errors.New(tls.AlertError(n).Error()) }
