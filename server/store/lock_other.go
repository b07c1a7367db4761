//go:build !unix

package store

import (
	"errors"
	"os"
)

func lockDir(dir string) (*os.File, error) {
	return nil, errors.New("store: file locking is not supported on this platform")
}

func unlockDir(f *os.File) error { return f.Close() }

// Locked reports whether a Store has dir open. Without flock it cannot tell
// and reports false.
func Locked(dir string) bool { return false }
