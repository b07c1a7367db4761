package agency

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

// Reserved ID ranges. Besides the embedded KMF (KMFUnitID), the relay takes
// talkgroups 59000-59999 for private calls and 60000-65535 for patches, and
// `varta bench --relay-data` enrols its units and creates its talkgroups in
// the bench ranges below on a running relay, removing them when it ends.
// An agency's own units and talkgroups belong outside all of them.
const (
	BenchUnitFirst      = 16_700_000
	BenchUnitLast       = 16_719_999
	BenchTalkgroupFirst = 58000
	BenchTalkgroupLast  = 58999
)

// ErrNoRelay is returned by RunningRelay when no relay serves the directory.
var ErrNoRelay = errors.New("agency: no relay is running")

// RunningRelay returns the roster of the relay that serves the agency in
// dir, reached through its admin socket, and the relay's process ID, taken
// from the socket's peer credentials (so it is the process that listens on
// the socket, not one named in a file). It fails with ErrNoRelay when the
// store is not held by a running relay. The socket is mode 0600, so only the
// relay's own OS user (or root) gets this far.
func RunningRelay(dir string) (*server.AdminClient, int, error) {
	if _, err := Load(dir); err != nil {
		return nil, 0, err
	}
	if !store.Locked(dir) {
		return nil, 0, fmt.Errorf("%w on %s (start it with `vartad serve --data %s`)", ErrNoRelay, dir, dir)
	}
	path := filepath.Join(dir, server.AdminSocketName)
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, 0, fmt.Errorf("agency: reach the running relay at %s: %w", path, err)
	}
	// The relay waits for a request line; closing without one is harmless.
	defer c.Close()
	pid, err := peerPID(c.(*net.UnixConn))
	if err != nil {
		return nil, 0, fmt.Errorf("agency: the process behind %s: %w", path, err)
	}
	return &server.AdminClient{Path: path, Timeout: 10 * time.Second}, pid, nil
}
