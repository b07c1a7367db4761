package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tidwall/buntdb"
)

// Open works in two phases. First it reads and checks both files without
// changing anything (checkRosterFile, checkLiveFile); if either is damaged,
// Open fails and both files are as they were. Then it cuts torn tails,
// compacts, and hands the files to BuntDB (loadRoster, loadLive).

func (s *Store) path(name string) string { return filepath.Join(s.cfg.Dir, name) }

func (s *Store) open() error {
	roster, err := s.checkRosterFile()
	if err != nil {
		return err
	}
	live, err := s.checkLiveFile()
	if err != nil {
		return err
	}
	if err := s.loadRoster(roster); err != nil {
		return err
	}
	if err := s.loadLive(live); err != nil {
		return err
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// checkedFile is a file that passed its check.
type checkedFile struct {
	path  string
	data  []byte
	pf    *parsedFile
	keep  int64             // bytes to keep; fewer than len(data) if the tail is torn
	cut   int               // complete records in the torn tail
	seq   uint64            // roster: the last commit's sequence number
	state map[string]record // roster: the keys and values after the last commit
}

// checkRosterFile reads and checks roster.db.
func (s *Store) checkRosterFile() (*checkedFile, error) {
	path := s.path(rosterFile)
	data, err := readIfExists(path)
	if err != nil {
		return nil, err
	}
	pf, err := parseFile(data, false)
	if err != nil {
		return nil, s.damaged(path, err)
	}
	rc, err := checkRoster(pf)
	if err != nil {
		return nil, s.valueError(path, record{}, err)
	}
	state := applyRecords(pf.records[:rc.keepRecords])
	if err := s.checkRosterValues(path, state); err != nil {
		return nil, err
	}
	return &checkedFile{path: path, data: data, pf: pf, keep: rc.keep, cut: rc.dropped, seq: rc.lastSeq, state: state}, nil
}

// checkRosterValues decodes every value of the roster and checks the rules
// that span records: each unit's talkgroups exist, and each keys record's
// talkgroup exists and its member keys are for units that may hold them.
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
	var tgKeys []talkgroupKeys
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
		case strings.HasPrefix(k, auditPfx):
			_, _, err = decodeAudit(k, r.val)
		case strings.HasPrefix(k, messagePfx):
			err = checkMessageRecord(k, r.val, state)
		case strings.HasPrefix(k, emergencyPfx):
			err = checkEmergencyRecord(k, r.val, state)
		case strings.HasPrefix(k, keysPfx):
			var tk talkgroupKeys
			if tk, err = decodeKeys(k, r.val); err == nil {
				tgKeys = append(tgKeys, tk)
			}
		default:
			err = errors.New("unknown key")
		}
		if err != nil {
			return s.valueError(path, r, err)
		}
	}
	byID := make(map[uint32]*Unit, len(units))
	for i, u := range units {
		byID[u.ID] = &units[i]
		for _, tg := range u.Talkgroups {
			if !tgs[tg] {
				r := state[unitKey(u.ID)]
				return s.valueError(path, r, fmt.Errorf("names talkgroup %d, which does not exist", tg))
			}
		}
	}
	for _, tk := range tgKeys {
		r := state[keysKey(tk.Talkgroup)]
		if !tgs[tk.Talkgroup] {
			return s.valueError(path, r, fmt.Errorf("holds the keys of talkgroup %d, which does not exist", tk.Talkgroup))
		}
		for _, mk := range tk.keys {
			if u := byID[mk.Unit]; !mayHoldKey(u, tk.Talkgroup) {
				return s.valueError(path, r, fmt.Errorf("holds a key for unit %d, which may not hold it (%s)", mk.Unit, whyNotHolder(u)))
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

// checkLiveFile reads and checks live.db.
func (s *Store) checkLiveFile() (*checkedFile, error) {
	path := s.path(liveFile)
	data, err := readIfExists(path)
	if err != nil {
		return nil, err
	}
	pf, err := parseFile(data, true)
	if err != nil {
		return nil, s.damaged(path, err)
	}
	// Every value ever written must decode, not only the current ones.
	for _, r := range pf.records {
		var err error
		switch {
		case r.key == metaSchemaKey && !r.del:
			_, err = decodeSchema(r.val)
		case r.key == metaSchemaKey:
		case isDispatchKey(r.key):
			err = checkDispatchRecord(r)
		case !isPresenceKey(r.key):
			return nil, s.damaged(path, fmt.Errorf("unexpected key %q at byte %d", r.key, r.off))
		case !r.del:
			_, err = decodePresence(r.key, r.val)
		}
		if err != nil {
			return nil, s.valueError(path, r, err)
		}
	}
	state := applyRecords(pf.records)
	if _, ok := state[metaSchemaKey]; len(state) > 0 && !ok {
		return nil, s.damaged(path, errors.New("it has no schema record (meta:schema)"))
	}
	return &checkedFile{path: path, data: data, pf: pf, keep: checkLive(pf)}, nil
}

// loadRoster cuts roster.db's torn tail, compacts it if it is large, loads
// it into BuntDB, and writes the first commit of a new store.
func (s *Store) loadRoster(f *checkedFile) error {
	path, data, state := f.path, f.data, f.state
	if f.keep < int64(len(data)) {
		if err := s.cutTornTail(path, data, f.keep, f.cut); err != nil {
			return err
		}
		data = data[:f.keep]
	}
	if len(data) > compactMinSize && len(data) > compactRatio*baseSize(state) {
		compacted := appendBase(nil, baseItems(state), f.seq)
		// Check the new file as any roster.db is checked, before it
		// replaces the old one.
		pf, err := parseFile(compacted, false)
		var rc rosterCheck
		if err == nil {
			rc, err = checkRoster(pf)
		}
		if err != nil || rc.keep != int64(len(compacted)) || rc.lastSeq != f.seq {
			return fmt.Errorf("store: internal error: compacted %s does not check (%v)", path, err)
		}
		if err := replaceFile(path, compacted); err != nil {
			return fmt.Errorf("store: compact %s: %w", path, err)
		}
		s.log.Info("store: compacted the roster file", "file", path, "bytes_before", len(data), "bytes", len(compacted))
		data, state = compacted, applyRecords(pf.records)
	}

	if err := createPrivate(path); err != nil {
		return err
	}
	var err error
	if s.roster, err = buntdb.Open(path); err != nil {
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
		return fmt.Errorf("store: internal error: %s: %w", path, bad)
	}
	s.seq = f.seq
	if len(state) == 0 {
		rec := mustJSON(schemaRecord{V: schemaVersion, Created: s.cfg.Now().UTC()})
		return s.commitRoster(func(*buntdb.Tx) ([]change, error) {
			return []change{{key: metaSchemaKey, val: rec}}, nil
		})
	}
	return nil
}

// liveShrinkMinSize is the size below which BuntDB does not rewrite live.db.
const liveShrinkMinSize = 8 << 20

// loadLive cuts live.db's torn tail, loads it into BuntDB, and writes the
// schema record of a new store.
func (s *Store) loadLive(f *checkedFile) error {
	path := f.path
	if f.keep < int64(len(f.data)) {
		if err := s.cutTornTail(path, f.data, f.keep, 0); err != nil {
			return err
		}
	}
	if err := createPrivate(path); err != nil {
		return err
	}
	var err error
	if s.live, err = buntdb.Open(path); err != nil {
		return fmt.Errorf("store: load %s: %w", path, err)
	}
	if err := checkSizeOf(path, int(f.keep)); err != nil {
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
	var n int
	err = s.live.View(func(tx *buntdb.Tx) error {
		var err error
		n, err = tx.Len()
		return err
	})
	if err != nil {
		return fmt.Errorf("store: read %s: %w", path, err)
	}
	if n == 0 {
		rec := mustJSON(schemaRecord{V: liveSchemaVersion, Created: s.cfg.Now().UTC()})
		err = s.live.Update(func(tx *buntdb.Tx) error {
			_, _, err := tx.Set(metaSchemaKey, rec, nil)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: initialise %s: %w", path, err)
		}
	}
	return s.indexPositions()
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
