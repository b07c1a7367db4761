package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/buntdb"
)

// The audit log (DESIGN.md section 6) records who did what on the relay:
// roster changes, stuns and revives, emergency acknowledgements, patches,
// and the refusals of each. The relay calls Audit; the store only keeps the
// entries.
//
// Entries live in roster.db as audit:SEQ records (see records.go), one
// commit each, so an entry is on disk when Audit returns, like a roster
// change. No method changes or deletes an entry once written, and the chain
// head (the last entry's Seq and Hash) is read from the records themselves.
// Snapshots and compaction copy the entries with everything else.
//
// Two layers guard the entries. Open checks roster.db's commit checksums,
// so a file edited by hand, or damaged, is refused as it always was. But a
// checksum is no secret: someone with write access to the data directory
// can recompute it, or restore a forged snapshot. The entries therefore also
// form a hash chain, which VerifyAudit walks: each entry's Hash covers its
// contents and the previous entry's Hash, so an entry that was altered,
// removed, inserted or moved breaks the chain at that entry. Open does not
// walk the chain: a broken audit log does not stop the relay; VerifyAudit
// (vartad audit verify) reports it. What a chain cannot show is entries
// removed from its end: keep the newest entry's Hash elsewhere to detect
// that.

// AuditEntry is one entry of the audit log.
//
// Its Hash is the SHA-256 of its canonical encoding, which another
// implementation can rebuild from the fields to verify the log. All integers
// are big-endian; every string is its length in bytes as 4 bytes, then that
// many bytes of UTF-8:
//
//	bytes  field
//	14     the ASCII text "varta-audit-v1" (format and version)
//	32     Prev: the previous entry's Hash; 32 zero bytes for entry 1
//	8      Seq, unsigned
//	8      Time, signed: nanoseconds since 1970-01-01T00:00:00Z (UTC)
//	4      Actor, unsigned
//	4+n    ActorName
//	4+n    Action
//	4+n    Target
//	4+n    Outcome
//	4+n    Detail
//
// So entry N+1's Prev is the SHA-256 of entry N's canonical encoding. In
// roster.db an entry is a JSON object: "seq", "time" (RFC 3339, UTC, with
// nanoseconds), "actor", "actor_name", "action", "target", "outcome",
// "detail", and "prev" and "hash" in lower-case hex.
type AuditEntry struct {
	// Seq numbers the entries 1, 2, 3, ... in the order they were written;
	// Audit assigns it.
	Seq uint64
	// Time is when Audit wrote the entry (Config.Now, in UTC); Audit
	// assigns it.
	Time time.Time
	// Actor is the unit ID that acted (at most MaxUnitID), or 0 for the
	// administrator through vartad.
	Actor uint32
	// ActorName is the actor's alias at the time, such as "P-101"; may be
	// empty.
	ActorName string
	// Action is what was done, such as "unit.add", "talkgroup.remove",
	// "stun", "revive", "emergency.ack" or "patch.create": at most 64
	// printable characters, without leading or trailing space. Required.
	Action string
	// Target is what it was done to, such as "unit 101" or "talkgroup 100";
	// may be empty.
	Target string
	// Outcome is "ok", or the text of the refusal or error. Required.
	Outcome string
	// Detail is anything else worth keeping; may be empty.
	Detail string
	// Prev is the previous entry's Hash (32 zero bytes for entry 1); Audit
	// assigns it.
	Prev []byte
	// Hash is the SHA-256 of the entry's canonical encoding, above; Audit
	// assigns it.
	Hash []byte
}

// Audit keys: audit:SEQ, 20 digits (see records.go).
const (
	auditPfx   = "audit:"
	auditWidth = 20
)

// MaxAuditFieldLen bounds each string of an AuditEntry, in bytes.
const MaxAuditFieldLen = 4096

// maxAuditActionLen bounds AuditEntry.Action, in characters.
const maxAuditActionLen = 64

// auditTag begins every canonical encoding.
const auditTag = "varta-audit-v1"

func auditKey(seq uint64) string { return fmt.Sprintf("%s%020d", auditPfx, seq) }

// auditEnd sorts after every audit: key and before every other key that
// follows them.
const auditEnd = "audit;"

func isAuditKey(key string) bool {
	seq, ok := parseKeyID(key, auditPfx, auditWidth)
	return ok && seq >= 1
}

// appendAuditCanonical appends e's canonical encoding (see AuditEntry).
// e.Prev must be sha256.Size bytes.
func appendAuditCanonical(b []byte, e *AuditEntry) []byte {
	b = append(b, auditTag...)
	b = append(b, e.Prev...)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, e.Actor)
	for _, s := range []string{e.ActorName, e.Action, e.Target, e.Outcome, e.Detail} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// auditHash returns the SHA-256 of e's canonical encoding.
func auditHash(e *AuditEntry) []byte {
	sum := sha256.Sum256(appendAuditCanonical(nil, e))
	return sum[:]
}

// inNanoRange reports whether t can be written as int64 nanoseconds since
// 1970 (the years 1678 to 2262).
func inNanoRange(t time.Time) bool {
	return time.Unix(0, t.UnixNano()).Equal(t)
}

// checkAuditEntry checks the fields of e that the caller gives.
func checkAuditEntry(e *AuditEntry) error {
	if e.Actor > MaxUnitID {
		return invalidf("audit actor %d is not a unit ID (1 to %d) or 0 for the administrator", e.Actor, MaxUnitID)
	}
	if err := checkText("audit action", e.Action, maxAuditActionLen); err != nil {
		return err
	}
	if e.Outcome == "" {
		return invalidf("audit entry %q has no outcome (give \"ok\" or the refusal)", e.Action)
	}
	for _, f := range []struct{ name, s string }{
		{"actor name", e.ActorName}, {"target", e.Target}, {"outcome", e.Outcome}, {"detail", e.Detail},
	} {
		switch {
		case !utf8.ValidString(f.s):
			return invalidf("the %s of audit entry %q is not valid UTF-8", f.name, e.Action)
		case len(f.s) > MaxAuditFieldLen:
			return invalidf("the %s of audit entry %q is %d bytes long (at most %d)", f.name, e.Action, len(f.s), MaxAuditFieldLen)
		}
	}
	return nil
}

// auditRecord is an audit: value (since version 3).
type auditRecord struct {
	V         int       `json:"v"`
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Actor     uint32    `json:"actor"`
	ActorName string    `json:"actor_name"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail"`
	Prev      string    `json:"prev"` // lower-case hex
	Hash      string    `json:"hash"` // lower-case hex
}

func encodeAudit(e *AuditEntry) string {
	return mustJSON(auditRecord{
		V: schemaVersion, Seq: e.Seq, Time: e.Time.UTC(), Actor: e.Actor, ActorName: e.ActorName,
		Action: e.Action, Target: e.Target, Outcome: e.Outcome, Detail: e.Detail,
		Prev: hex.EncodeToString(e.Prev), Hash: hex.EncodeToString(e.Hash),
	})
}

// decodeAudit decodes an audit: record and returns the entry and the
// sequence number in its key. It checks that the record is an audit entry,
// not that the entry belongs where it is or matches its hash: that is
// VerifyAudit's job, and a broken chain does not make roster.db damaged.
func decodeAudit(key, val string) (AuditEntry, uint64, error) {
	keySeq, ok := parseKeyID(key, auditPfx, auditWidth)
	if !ok || keySeq == 0 {
		return AuditEntry{}, 0, errors.New("not an audit entry's key")
	}
	var r auditRecord
	if err := decodeStrict(val, &r); err != nil {
		return AuditEntry{}, 0, err
	}
	prev, perr := decodeDigest(r.Prev)
	hash, herr := decodeDigest(r.Hash)
	switch {
	case r.Seq == 0:
		return AuditEntry{}, 0, errors.New("audit entry number 0")
	case !inNanoRange(r.Time):
		return AuditEntry{}, 0, fmt.Errorf("audit entry time %v out of range", r.Time)
	case perr != nil:
		return AuditEntry{}, 0, fmt.Errorf("previous hash: %w", perr)
	case herr != nil:
		return AuditEntry{}, 0, fmt.Errorf("hash: %w", herr)
	}
	return AuditEntry{
		Seq: r.Seq, Time: r.Time.UTC(), Actor: r.Actor, ActorName: r.ActorName,
		Action: r.Action, Target: r.Target, Outcome: r.Outcome, Detail: r.Detail,
		Prev: prev, Hash: hash,
	}, keySeq, nil
}

// decodeDigest decodes a SHA-256 written as 64 lower-case hex digits.
func decodeDigest(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size || s != strings.ToLower(s) {
		return nil, fmt.Errorf("%q is not a SHA-256 in lower-case hex", s)
	}
	return b, nil
}

// auditHead returns the sequence number in the last audit: key and that
// entry's Hash, or 0 and the zero hash if there is no entry.
func auditHead(tx *buntdb.Tx) (uint64, []byte, error) {
	var key, val string
	err := tx.DescendLessOrEqual("", auditEnd, func(k, v string) bool {
		if strings.HasPrefix(k, auditPfx) {
			key, val = k, v
		}
		return false
	})
	if err != nil {
		return 0, nil, err
	}
	if key == "" {
		return 0, make([]byte, sha256.Size), nil
	}
	e, seq, err := decodeAudit(key, val)
	if err != nil {
		return 0, nil, fmt.Errorf("store: %s: %w", key, err)
	}
	return seq, e.Hash, nil
}

// Audit appends e to the audit log and returns it as written. Audit assigns
// Seq (one more than the last entry's), Time (Config.Now, UTC), Prev (the
// last entry's Hash) and Hash; whatever e holds in those fields is ignored.
// The entry is its own commit: it is on disk when Audit returns. It returns
// an error matching ErrInvalid, and writes nothing, if a field breaks a rule
// of AuditEntry or Config.Now is outside the years 1678 to 2262.
func (s *Store) Audit(e AuditEntry) (AuditEntry, error) {
	if err := checkAuditEntry(&e); err != nil {
		return AuditEntry{}, err
	}
	out := AuditEntry{
		Actor: e.Actor, ActorName: e.ActorName, Action: e.Action,
		Target: e.Target, Outcome: e.Outcome, Detail: e.Detail,
	}
	err := s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		// Under the commit lock, so that Time follows Seq.
		out.Time = s.cfg.Now().UTC()
		if !inNanoRange(out.Time) {
			return nil, invalidf("the clock reads %v, which an audit entry cannot record (years 1678 to 2262)", out.Time)
		}
		seq, prev, err := auditHead(tx)
		if err != nil {
			return nil, err
		}
		out.Seq, out.Prev = seq+1, prev
		out.Hash = auditHash(&out)
		return []change{{key: auditKey(out.Seq), val: encodeAudit(&out)}}, nil
	})
	if err != nil {
		return AuditEntry{}, err
	}
	return out, nil
}

// auditRecords returns the audit: records from entry from on, at most limit
// of them if limit > 0. It holds BuntDB's read lock only to collect them.
func (s *Store) auditRecords(from uint64, limit int) ([]kv, error) {
	return s.rosterRecords(auditKey(max(from, 1)), auditEnd, limit)
}

// AuditLog returns the entries from Seq from on (from 0 is from 1), in
// order, at most limit of them if limit > 0, else all of them. It returns
// them as stored, without checking the chain (see VerifyAudit).
func (s *Store) AuditLog(from uint64, limit int) ([]AuditEntry, error) {
	recs, err := s.auditRecords(from, limit)
	if err != nil {
		return nil, err
	}
	return decodeRecords(recs, func(key, val string) (AuditEntry, error) {
		e, _, err := decodeAudit(key, val)
		return e, err
	})
}

// AuditBrokenError is returned by VerifyAudit when the audit log's hash
// chain is broken: an entry was altered, removed, inserted or moved.
type AuditBrokenError struct {
	// Seq is the first entry that does not verify: the entries before it
	// form an intact chain.
	Seq uint64
	// Reason is a sentence naming the entry and the fault, such as "entry
	// 17 was altered: its hash does not match its contents", "entry 18 does
	// not follow entry 17" or "entry 5 is missing".
	Reason string
}

// Error is Reason, with what it means and what to do.
func (e *AuditBrokenError) Error() string {
	return fmt.Sprintf("store: the audit log does not verify: %s; roster.db was changed outside Varta, "+
		"so the entries from %d on cannot be trusted: compare them with those of an earlier snapshot", e.Reason, e.Seq)
}

// VerifyAudit walks the audit log's hash chain from entry 1 and returns how
// many entries it holds. On the first entry that does not verify it returns
// a *AuditBrokenError naming it, and the number of entries before it. It
// holds BuntDB's read lock only to collect the records, not to hash them.
func (s *Store) VerifyAudit() (int, error) {
	recs, err := s.auditRecords(1, 0)
	if err != nil {
		return 0, err
	}
	return verifyAuditRecords(recs)
}

// verifyAuditRecords verifies the chain of recs, the audit: records in key
// order.
func verifyAuditRecords(recs []kv) (int, error) {
	prev := make([]byte, sha256.Size)
	for i, r := range recs {
		want := uint64(i) + 1
		broken := func(format string, args ...any) (int, error) {
			return i, &AuditBrokenError{Seq: want, Reason: fmt.Sprintf(format, args...)}
		}
		e, keySeq, err := decodeAudit(r.key, r.val)
		switch {
		case err != nil:
			return broken("entry %d cannot be read (%s: %v)", want, r.key, err)
		case keySeq != want:
			return broken("entry %d is missing", want)
		case e.Seq != want:
			return broken("entry %d is out of place: its record holds entry %d", want, e.Seq)
		case !bytes.Equal(auditHash(&e), e.Hash):
			return broken("entry %d was altered: its hash does not match its contents", want)
		case !bytes.Equal(e.Prev, prev) && want == 1:
			return broken("entry 1 does not begin the log: its previous hash is not zero")
		case !bytes.Equal(e.Prev, prev):
			return broken("entry %d does not follow entry %d", want, want-1)
		}
		prev = e.Hash
	}
	return len(recs), nil
}
