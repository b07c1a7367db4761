package client

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/quic-go/quic-go"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// ErrClosed is the cause of a session ended by Close.
var ErrClosed = errors.New("client: closed")

// ErrSenderCert is wrapped by the errors of Crypto.LearnSenders for a
// certificate that failed its checks (not from the agency CA, not valid now,
// another unit's, a role that does not talk, no signing key). Its key is not
// kept, so that unit's bursts stay unverified.
var ErrSenderCert = errors.New("client: sender certificate refused")

// RefusedError is returned when the relay refuses this unit: its certificate,
// its enrolment, its role. Reason is a sentence for the person at the radio.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string {
	if strings.HasPrefix(e.Reason, "the relay refused") {
		return e.Reason
	}
	return "the relay refused this radio: " + e.Reason
}

// ClosedError says why the relay ended a session (shutdown, replaced,
// removed from the roster, protocol violation).
type ClosedError struct {
	Code   uint64
	Reason string
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("the relay closed the session (%s): %s", protocol.CloseCodeName(e.Code), e.Reason)
}

// RequestError is a request the relay answered with an Error.
type RequestError struct {
	Code   pb.ErrorCode
	Reason string
}

func (e *RequestError) Error() string { return "the relay refused the request: " + e.Reason }

// explain turns transport errors into errors that say what happened.
func explain(err error) error {
	if err == nil {
		return nil
	}
	var app *quic.ApplicationError
	if errors.As(err, &app) && app.Remote {
		if uint64(app.ErrorCode) == protocol.CloseRefused {
			return &RefusedError{Reason: app.ErrorMessage}
		}
		return &ClosedError{Code: uint64(app.ErrorCode), Reason: app.ErrorMessage}
	}
	var te *quic.TransportError
	if errors.As(err, &te) && te.ErrorCode.IsCryptoError() {
		if te.Remote {
			return &RefusedError{Reason: pki.ExplainHandshakeError(err)}
		}
		return fmt.Errorf("client: %s: %w", pki.ExplainHandshakeError(err), err)
	}
	var idle *quic.IdleTimeoutError
	if errors.As(err, &idle) {
		return fmt.Errorf("client: the relay stopped answering (network lost or relay down): %w", err)
	}
	var hs *quic.HandshakeTimeoutError
	if errors.As(err, &hs) {
		return fmt.Errorf("client: no answer from the relay (is it running, and is the address right?): %w", err)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("client: the relay closed the control stream: %w", err)
	}
	var re *RefusedError
	var ce *ClosedError
	if errors.As(err, &re) || errors.As(err, &ce) || errors.Is(err, ErrClosed) {
		return err
	}
	return fmt.Errorf("client: %w", err)
}
