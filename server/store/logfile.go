package store

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// This file checks a BuntDB file before BuntDB is allowed to load it.
//
// BuntDB's own loader skips NUL bytes anywhere, returns ErrInvalid for
// garbage, and, when the file ends in the middle of a record, truncates the
// file to the last complete record without telling anyone. It also applies
// the complete records of a transaction that was cut short. Open therefore
// parses the file itself, more strictly: a file that passes parseFile and
// checkRoster (or checkLive) loads in BuntDB exactly as parsed, and BuntDB
// has nothing to truncate.

// maxBulk bounds the length of one key or value.
const maxBulk = 64 << 20

// record is one complete record of a BuntDB file.
type record struct {
	off, end int64 // byte offsets of its first byte and one past its last
	del      bool  // a "del" record; otherwise "set"
	key, val string
}

// parsedFile is a BuntDB file cut into records.
type parsedFile struct {
	records []record
	size    int64 // the file's length
	clean   int64 // end of the last complete record
	// fragment reports that the bytes after clean (NUL tail aside) are the
	// beginning of a record that the file ends before: every byte present
	// is what a record of ours could hold there, and none of the bulk data
	// contains CR, LF or NUL, which no key or value of ours does.
	fragment bool
	// nulTail reports that the file ends in NUL bytes, as a file extended
	// by a write that never reached the disk can.
	nulTail bool
}

// formatError reports where and why a file does not parse.
type formatError struct {
	off int64
	msg string
}

func (e *formatError) Error() string { return fmt.Sprintf("bad data at byte %d: %s", e.off, e.msg) }

var errIncomplete = errors.New("store: incomplete record")

type scanner struct {
	data []byte // the file without its NUL tail
	pos  int
}

func (s *scanner) fail(off int, format string, args ...any) error {
	return &formatError{off: int64(off), msg: fmt.Sprintf(format, args...)}
}

// number reads prefix, decimal digits and CRLF, as in "*3\r\n" or "$12\r\n".
func (s *scanner) number(prefix byte, max int) (int, error) {
	d, i := s.data, s.pos
	if i >= len(d) {
		return 0, errIncomplete
	}
	if d[i] != prefix {
		return 0, s.fail(i, "expected %q, found %q", prefix, d[i])
	}
	i++
	n, digits := 0, 0
	for ; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		n = n*10 + int(d[i]-'0')
		digits++
		if digits > 9 || n > max {
			return 0, s.fail(s.pos, "%c length out of range", prefix)
		}
	}
	switch {
	case i == len(d):
		return 0, errIncomplete
	case digits == 0 || d[i] != '\r':
		return 0, s.fail(i, "malformed %c length", prefix)
	case i+1 == len(d):
		return 0, errIncomplete
	case d[i+1] != '\n':
		return 0, s.fail(i+1, "malformed %c length", prefix)
	}
	s.pos = i + 2
	return n, nil
}

// bulk reads a bulk string. If the data ends inside it, it returns what
// there is and errIncomplete.
func (s *scanner) bulk() (string, error) {
	n, err := s.number('$', maxBulk)
	if err != nil {
		return "", err
	}
	d, i := s.data, s.pos
	if len(d)-i < n+2 {
		avail := d[i:]
		if len(avail) > n && avail[n] != '\r' {
			return "", s.fail(i+n, "bulk string does not end in CRLF")
		}
		part := avail[:min(n, len(avail))]
		if bytes.ContainsAny(part, "\r\n\x00") {
			return "", s.fail(i, "a bulk string holds CR, LF or NUL and is cut short")
		}
		return string(part), errIncomplete
	}
	if d[i+n] != '\r' || d[i+n+1] != '\n' {
		return "", s.fail(i+n, "bulk string does not end in CRLF")
	}
	s.pos = i + n + 2
	return string(d[i : i+n]), nil
}

// record reads one record; with allowTTL, a set may carry "ex" or "ae" and a
// number of seconds, as BuntDB writes for keys with a TTL.
func (s *scanner) record(allowTTL bool) (record, error) {
	start := s.pos
	parts, err := s.number('*', 5)
	if err != nil {
		return record{}, err
	}
	if parts != 2 && parts != 3 && !(parts == 5 && allowTTL) {
		return record{}, s.fail(start, "record of %d parts", parts)
	}
	cmd, err := s.bulk()
	if err == errIncomplete {
		if !strings.HasPrefix("set", cmd) && !strings.HasPrefix("del", cmd) {
			return record{}, s.fail(start, "unknown command %q", cmd)
		}
		return record{}, err
	}
	if err != nil {
		return record{}, err
	}
	switch {
	case cmd == "del" && parts == 2:
	case cmd == "set" && parts != 2:
	default:
		return record{}, s.fail(start, "unknown command %q of %d parts", cmd, parts)
	}
	r := record{del: cmd == "del"}
	if r.key, err = s.bulk(); err != nil {
		return record{}, err
	}
	if r.del {
		return r, nil
	}
	if r.val, err = s.bulk(); err != nil {
		return record{}, err
	}
	if parts == 5 {
		kind, err := s.bulk()
		switch {
		case err == errIncomplete && !strings.HasPrefix("ex", kind) && !strings.HasPrefix("ae", kind):
			return record{}, s.fail(start, "unknown set option %q", kind)
		case err != nil:
			return record{}, err
		case kind != "ex" && kind != "ae":
			return record{}, s.fail(start, "unknown set option %q", kind)
		}
		secs, err := s.bulk()
		if strings.Trim(secs, "0123456789") != "" || len(secs) > 18 || (err == nil && secs == "") {
			return record{}, s.fail(start, "bad expiry %q", secs)
		}
		if err != nil {
			return record{}, err
		}
	}
	return r, nil
}

// parseFile cuts data into records. It fails on anything that is not a
// record of ours, other than an incomplete last record or a NUL tail.
func parseFile(data []byte, allowTTL bool) (*parsedFile, error) {
	end := len(data)
	for end > 0 && data[end-1] == 0 {
		end--
	}
	pf := &parsedFile{size: int64(len(data)), nulTail: end < len(data)}
	s := &scanner{data: data[:end]}
	for s.pos < end {
		start := s.pos
		r, err := s.record(allowTTL)
		if err == errIncomplete {
			pf.fragment = true
			break
		}
		if err != nil {
			return nil, err
		}
		r.off, r.end = int64(start), int64(s.pos)
		pf.records = append(pf.records, r)
		pf.clean = r.end
	}
	return pf, nil
}

// rosterCheck is what checkRoster found.
type rosterCheck struct {
	keep        int64  // bytes of the file to keep; less than its size if the tail is torn
	keepRecords int    // records before keep
	lastSeq     uint64 // sequence number of the last complete commit, 0 if none
	dropped     int    // complete records of the torn transaction
}

func isRosterKey(key string) bool {
	if key == metaSchemaKey || key == metaCommitKey || isAuditKey(key) || isMessageKey(key) || isEmergencyKey(key) {
		return true
	}
	if id, ok := parseKeyID(key, talkgroupPfx, talkgroupWidth); ok {
		return id >= 1 && id <= 1<<16-1
	}
	if id, ok := parseKeyID(key, keysPfx, talkgroupWidth); ok {
		return id >= 1 && id <= 1<<16-1
	}
	id, ok := parseKeyID(key, unitPfx, unitWidth)
	return ok && id >= 1 && id <= MaxUnitID
}

// checkRoster walks the commit groups of a parsed roster.db (see commit.go)
// and decides what to do with whatever follows the last complete one.
//
// The torn-tail rule. A roster transaction is acknowledged only after its
// whole group is written and fsynced, so a group that is incomplete at the
// end of the file was never acknowledged. The file is accepted and cut back
// to the end of the last complete group (by Open, after copying the whole
// file aside) if and only if everything after that group is provably the
// beginning of one more transaction:
//
//   - its complete records have distinct keys, all of them roster keys, as
//     one BuntDB transaction writes each key once;
//   - at most one of them is a commit marker, and if there is one it passes
//     its own check, names the next sequence number, begins exactly where
//     the last group ends, and counts more records than are present;
//   - if there is no complete group at all, only the store's first
//     transaction (meta:schema and meta:commit) can have been cut short, so
//     only meta: keys may be present;
//   - what ends the file after them is nothing, the start of a record cut
//     short (see parsedFile.fragment), and/or NUL bytes.
//
// Anything else, including a complete group whose checksum does not match,
// is damage and the file is refused unchanged. Cutting off a whole
// unacknowledged transaction, rather than only its last incomplete record,
// keeps a transaction such as RemoveTalkgroup all-or-nothing across a crash.
func checkRoster(pf *parsedFile) (rosterCheck, error) {
	recs := pf.records
	b, bOff := 0, int64(0)
	var lastSeq uint64
	groups := 0
	var partial *commitMarker
	for b < len(recs) {
		j := b
		for j < len(recs) && (recs[j].del || recs[j].key != metaCommitKey) {
			j++
		}
		if j == len(recs) {
			break
		}
		m, err := decodeMarker(recs[j].val)
		if err != nil {
			return rosterCheck{}, fmt.Errorf("commit marker at byte %d: %w", recs[j].off, err)
		}
		if m.At != bOff {
			return rosterCheck{}, fmt.Errorf("commit marker at byte %d is for a commit at byte %d, but the commit there begins at byte %d", recs[j].off, m.At, bOff)
		}
		if groups > 0 && m.Seq != lastSeq+1 {
			return rosterCheck{}, fmt.Errorf("commit %d at byte %d follows commit %d", m.Seq, bOff, lastSeq)
		}
		if j-b >= m.Records {
			return rosterCheck{}, fmt.Errorf("commit marker at byte %d lies outside its commit", recs[j].off)
		}
		if b+m.Records > len(recs) {
			partial = &m
			break
		}
		group := recs[b : b+m.Records]
		var sum commitSum
		seen := make(map[string]bool, len(group))
		for i, r := range group {
			if seen[r.key] {
				return rosterCheck{}, fmt.Errorf("commit %d at byte %d writes %s twice", m.Seq, bOff, r.key)
			}
			seen[r.key] = true
			if b+i != j {
				sum.add(r.del, r.key, r.val)
			}
		}
		if sum.String() != m.Sum {
			return rosterCheck{}, fmt.Errorf("commit %d at byte %d does not match its checksum", m.Seq, bOff)
		}
		lastSeq = m.Seq
		b += m.Records
		bOff = recs[b-1].end
		groups++
	}
	rc := rosterCheck{keep: bOff, keepRecords: b, lastSeq: lastSeq, dropped: len(recs) - b}
	if b == len(recs) && !pf.fragment && !pf.nulTail {
		return rc, nil
	}

	// What follows the last complete group must be one transaction cut short.
	seen := make(map[string]bool)
	markers := 0
	for _, r := range recs[b:] {
		switch {
		case !isRosterKey(r.key):
			return rosterCheck{}, fmt.Errorf("unexpected key %q at byte %d", r.key, r.off)
		case seen[r.key]:
			return rosterCheck{}, fmt.Errorf("%s is written twice after the last complete commit (byte %d)", r.key, r.off)
		case groups == 0 && !strings.HasPrefix(r.key, "meta:"):
			return rosterCheck{}, fmt.Errorf("%s at byte %d precedes any complete commit", r.key, r.off)
		}
		seen[r.key] = true
		if r.key == metaCommitKey {
			markers++
		}
	}
	if markers > 1 || (markers == 1 && partial == nil) {
		return rosterCheck{}, fmt.Errorf("unexpected commit marker after byte %d", bOff)
	}
	if partial != nil && groups == 0 && partial.Seq != 1 {
		return rosterCheck{}, fmt.Errorf("commit %d at byte 0 is cut short, but only the first commit can be", partial.Seq)
	}
	return rc, nil
}

// checkLive decides what to do with the end of a parsed live.db. Every
// transaction of the live store writes one record (a presence, position or
// status set, or a delete), except BuntDB's expiry of stale keys, which
// deletes several keys that were already expired. An incomplete last record or a NUL tail is
// therefore the whole of one transaction cut short, and live state is only
// promised to within about a second (SyncPolicy EverySecond), so it is cut
// off under the same rule as roster.db: after copying the file aside.
func checkLive(pf *parsedFile) int64 {
	return pf.clean
}
