package store

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
	return nil
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

func (s *Store) path(name string) string { return filepath.Join(s.cfg.Dir, name) }

func (s *Store) open() error {
	if err := s.openRoster(); err != nil {
		return err
	}
	if err := s.openLive(); err != nil {
		return err
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

func (s *Store) openRoster() error {
	path := s.path(rosterFile)
	data, err := readIfExists(path)
	if err != nil {
		return err
	}
	pf, err := parseFile(data, false)
	if err != nil {
		return s.damaged(path, err)
	}
	rc, err := checkRoster(pf)
	if err != nil {
		return s.valueError(path, record{}, err)
	}
	if rc.keep < pf.size {
		if err := s.cutTornTail(path, data, rc.keep, rc.dropped); err != nil {
			return err
		}
		data = data[:rc.keep]
	}
	state := applyRecords(pf.records[:rc.keepRecords])
	if err := s.checkRosterValues(path, state); err != nil {
		return err
	}
	if len(data) > compactMinSize && len(data) > compactRatio*baseSize(state) {
		data = appendBase(nil, baseItems(state), rc.lastSeq)
		if err := replaceFile(path, data); err != nil {
			return fmt.Errorf("store: compact %s: %w", path, err)
		}
		s.log.Info("store: compacted the roster file", "file", path, "bytes", len(data))
		// Check what was written as any roster.db is checked.
		if pf, err = parseFile(data, false); err == nil {
			rc, err = checkRoster(pf)
		}
		if err != nil || rc.keep != int64(len(data)) {
			return fmt.Errorf("store: internal error: compacted %s does not check (%v)", path, err)
		}
		state = applyRecords(pf.records)
	}

	if err := createPrivate(path); err != nil {
		return err
	}
	s.roster, err = buntdb.Open(path)
	if err != nil {
		return fmt.Errorf("store: load %s: %w", path, err)
	}
	err = s.roster.SetConfig(buntdb.Config{SyncPolicy: buntdb.Always, AutoShrinkDisabled: true})
	if err != nil {
		return fmt.Errorf("store: configure %s: %w", path, err)
	}
	if s.rosterFD, err = os.Open(path); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := checkSize(s.rosterFD, len(data)); err != nil {
		return err
	}
	// BuntDB must have loaded exactly what checkRoster accepted.
	n := 0
	var bad error
	err = s.roster.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(key, val string) bool {
			n++
			if r, ok := state[key]; !ok || r.val != val {
				bad = fmt.Errorf("the database loader read %s differently from the file check", key)
			}
			return bad == nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: read %s: %w", path, err)
	}
	if bad == nil && n != len(state) {
		bad = fmt.Errorf("the database loader read %d keys, the file check %d", n, len(state))
	}
	if bad != nil {
		return s.damaged(path, bad)
	}
	s.seq = rc.lastSeq
	if len(state) == 0 {
		rec := mustJSON(schemaRecord{V: schemaVersion, Created: s.cfg.Now().UTC()})
		return s.commitRoster(func(*buntdb.Tx) ([]change, error) {
			return []change{{key: metaSchemaKey, val: rec}}, nil
		})
	}
	return nil
}

// checkRosterValues decodes every value of the roster and checks the rules
// that span records: each unit's talkgroups exist.
func (s *Store) checkRosterValues(path string, state map[string]record) error {
	if len(state) == 0 {
		return nil
	}
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sch, ok := state[metaSchemaKey]
	if !ok {
		return s.damaged(path, errors.New("it has no schema record (meta:schema)"))
	}
	if _, err := decodeSchema(sch.val); err != nil {
		return s.valueError(path, sch, err)
	}
	tgs := make(map[uint16]bool)
	var units []Unit
	for _, k := range keys {
		r := state[k]
		var err error
		switch {
		case k == metaSchemaKey:
		case k == metaCommitKey:
			_, err = decodeMarker(r.val)
		case strings.HasPrefix(k, talkgroupPfx):
			var tg Talkgroup
			if tg, err = decodeTalkgroup(k, r.val); err == nil {
				tgs[tg.ID] = true
			}
		case strings.HasPrefix(k, unitPfx):
			var u Unit
			if u, err = decodeUnit(k, r.val); err == nil {
				units = append(units, u)
			}
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return s.valueError(path, r, err)
		}
	}
	for _, u := range units {
		for _, tg := range u.Talkgroups {
			if !tgs[tg] {
				r := state[unitKey(u.ID)]
				return s.valueError(path, r, fmt.Errorf("names talkgroup %d, which does not exist", tg))
			}
		}
	}
	return nil
}

// valueError reports a stored value (of r, if r.key is set) that does not
// decode: damage, or a record from a newer version.
func (s *Store) valueError(path string, r record, err error) error {
	var newer *newerSchemaError
	if errors.As(err, &newer) {
		return errorf(ErrNewerSchema, "%s was written by a newer version of Varta (%v): run that version, or restore a snapshot taken before it", path, err)
	}
	if r.key == "" {
		return s.damaged(path, err)
	}
	where := ""
	if r.end > 0 {
		where = fmt.Sprintf(" at byte %d", r.off)
	}
	return s.damaged(path, fmt.Errorf("the value of %s%s: %s", r.key, where, strings.TrimPrefix(err.Error(), "store: ")))
}

func (s *Store) openLive() error {
	path := s.path(liveFile)
	data, err := readIfExists(path)
	if err != nil {
		return err
	}
	pf, err := parseFile(data, true)
	if err != nil {
		return s.damaged(path, err)
	}
	for _, r := range pf.records {
		if r.key != metaSchemaKey {
			if _, ok := parseKeyID(r.key, presencePfx, unitWidth); !ok {
				return s.damaged(path, fmt.Errorf("unexpected key %q at byte %d", r.key, r.off))
			}
		}
	}
	keep := checkLive(pf)
	if keep < pf.size {
		if err := s.cutTornTail(path, data, keep, 0); err != nil {
			return err
		}
	}
	if err := createPrivate(path); err != nil {
		return err
	}
	if s.live, err = buntdb.Open(path); err != nil {
		return fmt.Errorf("store: load %s: %w", path, err)
	}
	if err := checkSizeOf(path, int(keep)); err != nil {
		return err
	}
	err = s.live.SetConfig(buntdb.Config{
		SyncPolicy:           buntdb.EverySecond,
		AutoShrinkPercentage: 100,
		AutoShrinkMinSize:    liveShrinkMinSize,
	})
	if err != nil {
		return fmt.Errorf("store: configure %s: %w", path, err)
	}
	var bad error
	hasSchema, n := false, 0
	err = s.live.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(key, val string) bool {
			n++
			r := record{key: key, val: val}
			if key == metaSchemaKey {
				hasSchema = true
				if _, err := decodeSchema(val); err != nil {
					bad = s.valueError(path, r, err)
				}
			} else if _, err := decodePresence(key, val); err != nil {
				bad = s.valueError(path, r, err)
			}
			return bad == nil
		})
	})
	if err == nil {
		err = bad
	}
	switch {
	case err != nil:
		return err
	case n > 0 && !hasSchema:
		return s.damaged(path, errors.New("it has no schema record (meta:schema)"))
	case n == 0:
		rec := mustJSON(schemaRecord{V: schemaVersion, Created: s.cfg.Now().UTC()})
		err = s.live.Update(func(tx *buntdb.Tx) error {
			_, _, err := tx.Set(metaSchemaKey, rec, nil)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: initialise %s: %w", path, err)
		}
	}
	return nil
}

// liveShrinkMinSize is the size below which BuntDB does not rewrite live.db.
const liveShrinkMinSize = 8 << 20

// damaged builds the *DamagedError for path.
func (s *Store) damaged(path string, err error) error {
	return &DamagedError{
		File:        path,
		Err:         err,
		SnapshotDir: s.cfg.SnapshotDir,
		Snapshot:    newestSnapshot(s.cfg.SnapshotDir),
	}
}

// cutTornTail copies data, the whole of path, to path.torn-TIME, then cuts
// path to keep bytes. See checkRoster for when this is allowed.
func (s *Store) cutTornTail(path string, data []byte, keep int64, records int) error {
	aside, err := writeAside(path+".torn-"+s.cfg.Now().UTC().Format(stampLayout), data)
	if err != nil {
		return fmt.Errorf("store: copy %s aside before cutting its torn tail: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	err = f.Truncate(keep)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: cut the torn tail of %s: %w", path, err)
	}
	s.log.Warn("store: cut an unacknowledged transaction that a crash left half-written at the end of the file",
		"file", path, "kept_bytes", keep, "cut_bytes", int64(len(data))-keep, "cut_complete_records", records, "copy", aside)
	return nil
}

// writeAside writes data to a new file named name, or name-2, name-3, ...
// if that exists, fsyncs it and its directory, and returns its path.
func writeAside(name string, data []byte) (string, error) {
	for i := 1; ; i++ {
		path := name
		if i > 1 {
			path = fmt.Sprintf("%s-%d", name, i)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = syncDir(filepath.Dir(path))
		}
		return path, err
	}
}

// Compaction of roster.db. Its automatic shrink is off (BuntDB's shrink
// would rewrite the file without commit groups, and renames it without an
// fsync), so Open rewrites the file when it is more than compactRatio times
// the size of its contents and over compactMinSize.
var (
	compactMinSize = 4 << 20
	compactRatio   = 4
)

func baseItems(state map[string]record) []kv {
	items := make([]kv, 0, len(state))
	for k, r := range state {
		if k != metaCommitKey {
			items = append(items, kv{k, r.val})
		}
	}
	slices.SortFunc(items, func(a, b kv) int { return strings.Compare(a.key, b.key) })
	return items
}

func baseSize(state map[string]record) int {
	n := 0
	for _, r := range state {
		n += int(r.end - r.off)
	}
	return n
}

// applyRecords replays records into the key-value state they leave.
func applyRecords(recs []record) map[string]record {
	state := make(map[string]record)
	for _, r := range recs {
		if r.del {
			delete(state, r.key)
		} else {
			state[r.key] = r
		}
	}
	return state
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

// checkSize checks that BuntDB left f at the size that was checked: it
// truncates a file whose last record is incomplete, which the check should
// have made impossible.
func checkSize(f *os.File, want int) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if fi.Size() != int64(want) {
		return fmt.Errorf("store: internal error: %s is %d bytes after loading, %d were checked", f.Name(), fi.Size(), want)
	}
	return nil
}

func checkSizeOf(path string, want int) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	return checkSize(f, want)
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
// returns ErrClosed afterwards.
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
