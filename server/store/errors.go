package store

import (
	"errors"
	"fmt"
	"path/filepath"
)

var (
	// ErrNotFound is returned when a unit, talkgroup, or presence, position
	// or status record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned when adding a unit or talkgroup whose ID is
	// already taken.
	ErrExists = errors.New("store: already exists")
	// ErrInvalid is returned when an argument breaks a rule of the roster (an
	// ID out of range, an empty alias, an unknown role, ...). The error that
	// wraps it is a sentence saying which rule; nothing was changed.
	ErrInvalid = errors.New("store: invalid")
	// ErrUnknownTalkgroup is returned when a unit would be made a member of a
	// talkgroup that does not exist. The error that wraps it names the
	// talkgroups.
	ErrUnknownTalkgroup = errors.New("store: unknown talkgroup")
	// ErrDamaged is matched (errors.Is) by a *DamagedError, returned by Open
	// when a database file cannot be trusted.
	ErrDamaged = errors.New("store: database file is damaged")
	// ErrLocked is returned by Open when another Store, in this process or
	// another, holds the directory.
	ErrLocked = errors.New("store: directory is in use by another process")
	// ErrNewerSchema is returned by Open when the files were written by a
	// newer version of Varta whose layout this version does not understand.
	ErrNewerSchema = errors.New("store: written by a newer version")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")
)

// sentenceError is an error whose text is a full sentence for the user and
// which matches one of the sentinels above.
type sentenceError struct {
	msg  string
	kind error
}

func (e *sentenceError) Error() string { return e.msg }
func (e *sentenceError) Unwrap() error { return e.kind }

// errorf returns an error reading "store: " + the formatted sentence that
// matches kind with errors.Is.
func errorf(kind error, format string, args ...any) error {
	return &sentenceError{msg: "store: " + fmt.Sprintf(format, args...), kind: kind}
}

func invalidf(format string, args ...any) error {
	return errorf(ErrInvalid, format, args...)
}

// lockedError names the directory that is in use.
type lockedError struct{ dir string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("store: %s is in use by another process (is vartad serve running?)", e.dir)
}
func (e *lockedError) Unwrap() error { return ErrLocked }

// DamagedError is returned by Open when a database file fails the startup
// check: it does not parse, a stored value does not decode or breaks a rule
// of the roster, or a commit does not match its checksum. Open has not
// changed the file. Its text tells the operator how to restore.
type DamagedError struct {
	// File is the damaged file's path.
	File string
	// Err says what is wrong and where.
	Err error
	// SnapshotDir is where Snapshot writes roster snapshots.
	SnapshotDir string
	// Snapshot is the path of the newest snapshot, or "" if there is none.
	Snapshot string
}

// Error is a sentence naming the file, the fault, and the way to restore.
func (e *DamagedError) Error() string {
	var how string
	switch {
	case filepath.Base(e.File) == liveFile:
		how = fmt.Sprintf("It holds only live state (presence, last-heard times, positions and unit statuses), which the relay rebuilds as units report in: "+
			"stop the relay, move %s aside, and start the relay again; it will create an empty one.", e.File)
	case e.Snapshot != "":
		how = fmt.Sprintf("Stop the relay, move the file aside, and copy the newest snapshot from %s (%s) to %s; "+
			"see docs/OPERATIONS.md \"Restoring from a snapshot\".", e.SnapshotDir, filepath.Base(e.Snapshot), e.File)
	case e.SnapshotDir != "":
		how = fmt.Sprintf("There is no snapshot in %s: stop the relay, move the file aside, and restore %s from a backup; "+
			"see docs/OPERATIONS.md \"Restoring from a snapshot\".", e.SnapshotDir, e.File)
	default:
		how = "Stop the relay, move the file aside, and restore it from a snapshot; " +
			"see docs/OPERATIONS.md \"Restoring from a snapshot\"."
	}
	return fmt.Sprintf("store: %s is damaged (%v): the relay will not start on it. %s", e.File, e.Err, how)
}

// Unwrap returns Err.
func (e *DamagedError) Unwrap() error { return e.Err }

// Is reports whether target is ErrDamaged.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }
