package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/buntdb"
)

// Files in Config.Dir.
const (
	rosterFile = "roster.db"
	liveFile   = "live.db"
	lockFile   = "LOCK"
)

// stampLayout formats the UTC times in file names.
const stampLayout = "20060102T150405Z"

// Config configures a Store.
type Config struct {
	// Dir holds roster.db, live.db and LOCK. Required; created with mode
	// 0700 if missing.
	Dir string
	// Logger receives warnings (a torn tail cut off, a failed snapshot).
	// Default: discard.
	Logger *slog.Logger
	// Now gives the time for Enrolled, schema records and file names.
	// Default: time.Now. (BuntDB expires live entries by the real clock.)
	Now func() time.Time
	// SnapshotDir receives the roster snapshots. Default: Dir/snapshots.
	SnapshotDir string
	// SnapshotKeep is how many snapshots Snapshot keeps; older ones are
	// deleted. Default (0): 24. Negative is an error.
	SnapshotKeep int
	// PresenceTTL is how long a presence record lives after its last write.
	// Default (0): 24h.
	PresenceTTL time.Duration
	// PositionTTL is how long a unit's position lives after its last write
	// (SetPosition). Default (0): 30 min.
	PositionTTL time.Duration
}

func (c *Config) fill() error {
	if c.Dir == "" {
		return invalidf("config has no directory (Config.Dir)")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SnapshotDir == "" {
		c.SnapshotDir = filepath.Join(c.Dir, "snapshots")
	}
	switch {
	case c.SnapshotKeep < 0:
		return invalidf("Config.SnapshotKeep is %d; it must be at least 1, or 0 for the default", c.SnapshotKeep)
	case c.SnapshotKeep == 0:
		c.SnapshotKeep = 24
	}
	switch {
	case c.PresenceTTL < 0:
		return invalidf("Config.PresenceTTL is %v; it must be positive, or 0 for the default", c.PresenceTTL)
	case c.PresenceTTL == 0:
		c.PresenceTTL = 24 * time.Hour
	}
	return c.fillDispatch()
}

// Store is the relay's roster and live state on disk. Its methods are safe
// for concurrent use. Roster changes return only after they are on disk;
// live-state changes reach the disk within about a second.
type Store struct {
	cfg  Config
	log  *slog.Logger
	lock *os.File // holds the flock on Dir/LOCK

	roster *buntdb.DB
	live   *buntdb.DB
	// rosterFD is roster.db, opened again to learn its size before a
	// transaction and to fsync it afterwards with the error checked (BuntDB
	// ignores fsync errors). BuntDB never replaces the file: its automatic
	// shrink is off for roster.db.
	rosterFD *os.File

	// wmu serializes roster transactions, each with its size check and
	// fsync, and guards seq and failed. It is held across that I/O by
	// design: it is the commit lock. Lock order: wmu, then BuntDB's own.
	wmu    sync.Mutex
	seq    uint64 // sequence number of the last roster commit
	failed error  // set when a roster fsync failed; later writes return it

	closed atomic.Bool
}

// Open opens or creates the store in cfg.Dir. It takes the directory's lock
// (ErrLocked if another Store holds it, until Close), then checks both
// files before loading them: a file that is damaged is refused with a
// *DamagedError and left as it is. The one repair Open makes is to cut off a
// transaction that a crash left half-written at the end of a file, which was
// never acknowledged; it first copies the file to FILE.torn-TIME and logs a
// warning (see checkRoster). Open may also compact a roster.db that has
// grown much larger than its contents.
func Open(cfg Config) (*Store, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", cfg.Dir, err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, log: cfg.Logger, lock: lock}
	if err := s.open(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// damaged builds the *DamagedError for path.
func (s *Store) damaged(path string, err error) error {
	return &DamagedError{
		File:        path,
		Err:         err,
		SnapshotDir: s.cfg.SnapshotDir,
		Snapshot:    newestSnapshot(s.cfg.SnapshotDir),
	}
}

// replaceFile atomically replaces path with data: a temporary file in the
// same directory, fsynced, renamed over path, and the directory fsynced.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func readIfExists(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return data, nil
}

// createPrivate creates path with mode 0600 if it does not exist, so that
// BuntDB (which creates files 0666) finds it.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close closes both databases and releases the directory's lock. It waits
// for a roster change in progress. Close is idempotent; every other method
// returns ErrClosed afterwards. (BuntDB's own background goroutines notice
// the close on their next one-second tick and exit then.)
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.closeFiles()
}

func (s *Store) closeFiles() error {
	var errs []error
	if s.live != nil {
		errs = append(errs, s.live.Close())
	}
	if s.roster != nil {
		errs = append(errs, s.roster.Close())
	}
	if s.rosterFD != nil {
		errs = append(errs, s.rosterFD.Close())
	}
	if s.lock != nil {
		errs = append(errs, unlockDir(s.lock))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// dbErr translates BuntDB's errors.
func dbErr(err error) error {
	if errors.Is(err, buntdb.ErrDatabaseClosed) {
		return ErrClosed
	}
	return err
}
