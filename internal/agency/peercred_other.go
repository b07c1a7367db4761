//go:build !linux

package agency

import (
	"errors"
	"net"
)

// peerPID needs SO_PEERCRED, which is Linux's.
func peerPID(*net.UnixConn) (int, error) {
	return 0, errors.New("finding the relay's process needs Linux (SO_PEERCRED)")
}
