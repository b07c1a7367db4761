package server

import "errors"

var (
	// ErrClosed is returned by Serve after Shutdown or Close.
	ErrClosed = errors.New("server: closed")
	// ErrNoStore is returned by New when the Config has no Store.
	ErrNoStore = errors.New("server: config has no store")
	// ErrNoIdentity is returned by New when the Config has no server identity.
	ErrNoIdentity = errors.New("server: config has no server identity")

	// errNotAllowed is wrapped in the error of a request the unit's role
	// or membership does not allow; replyResult answers it with
	// ERROR_NOT_ALLOWED.
	errNotAllowed = errors.New("server: not allowed")
)
