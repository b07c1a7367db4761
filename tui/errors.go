package tui

import "errors"

// Errors the talk loop reports to the screen; their text is read there
// after "cannot talk: " or "transmission ended: ".
var (
	// errNotConnected: push-to-talk while the link is down.
	errNotConnected = errors.New("not connected to the relay")
	// errLostOnAir: the session ended during a transmission or a wait in
	// the queue.
	errLostOnAir = errors.New("the connection was lost while on air")
)
