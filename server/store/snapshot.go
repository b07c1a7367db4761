package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/tidwall/buntdb"
)

// snapshotName matches the names Snapshot gives: roster-YYYYMMDDTHHMMSSZ.db.
var snapshotName = regexp.MustCompile(`^roster-[0-9]{8}T[0-9]{6}Z\.db$`)

// Snapshot writes a consistent copy of the roster to
// SnapshotDir/roster-YYYYMMDDTHHMMSSZ.db (UTC, from Config.Now) and deletes
// the oldest snapshots beyond Config.SnapshotKeep. It returns the new
// snapshot's path. Two snapshots in the same second share a name; the later
// replaces the earlier.
//
// The copy is read in one read transaction, which does not block roster
// changes for longer than the read, then written to a temporary file,
// fsynced and renamed into place, so a snapshot file is always complete. A
// snapshot is itself a valid roster.db: to restore, copy it over roster.db
// while the relay is stopped.
//
// BuntDB's Save is not used because its copy would hold the last commit's
// marker in the middle of the file; Snapshot writes the same records
// followed by a marker covering the whole file (see appendBase).
func (s *Store) Snapshot() (string, error) {
	var items []kv
	var seq uint64
	err := s.viewRoster(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(key, val string) bool {
			if key == metaCommitKey {
				if m, err := decodeMarker(val); err == nil {
					seq = m.Seq
				}
			} else {
				items = append(items, kv{key, val})
			}
			return true
		})
	})
	if err != nil {
		return "", err
	}
	if seq == 0 {
		return "", errors.New("store: snapshot: the roster has no commit marker")
	}
	data := appendBase(nil, items, seq)

	dir := s.cfg.SnapshotDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store: snapshot: %w", err)
	}
	path := filepath.Join(dir, "roster-"+s.cfg.Now().UTC().Format(stampLayout)+".db")
	if err := replaceFile(path, data); err != nil {
		return "", fmt.Errorf("store: snapshot: %w", err)
	}
	s.prune()
	return path, nil
}

// prune deletes the oldest snapshots beyond SnapshotKeep, logging failures.
func (s *Store) prune() {
	names := snapshots(s.cfg.SnapshotDir)
	for len(names) > s.cfg.SnapshotKeep {
		path := filepath.Join(s.cfg.SnapshotDir, names[0])
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("store: delete old snapshot", "file", path, "err", err)
		}
		names = names[1:]
	}
}

// snapshots lists the snapshot names in dir, oldest first.
func snapshots(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && snapshotName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names) // the time stamps sort in time order
	return names
}

// newestSnapshot returns the path of the newest snapshot in dir, or "".
func newestSnapshot(dir string) string {
	names := snapshots(dir)
	if len(names) == 0 {
		return ""
	}
	return filepath.Join(dir, names[len(names)-1])
}

// RunSnapshots takes a snapshot every period until ctx is done, logging
// failures; it blocks until then. It returns at once if every is not
// positive.
func (s *Store) RunSnapshots(ctx context.Context, every time.Duration) {
	if every <= 0 {
		s.log.Error("store: snapshots disabled: the period is not positive", "every", every)
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if path, err := s.Snapshot(); err != nil {
			s.log.Error("store: snapshot failed", "err", err)
		} else {
			s.log.Debug("store: snapshot written", "file", path)
		}
	}
}
