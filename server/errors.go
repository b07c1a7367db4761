package server

import "errors"

var (
	// ErrClosed is returned by Serve after Shutdown or Close.
	ErrClosed = errors.New("server: closed")
	// ErrNoStore is returned by New when the Config has no Store.
	ErrNoStore = errors.New("server: config has no store")
	// ErrNoIdentity is returned by New when the Config has no server identity.
	ErrNoIdentity = errors.New("server: config has no server identity")
)
