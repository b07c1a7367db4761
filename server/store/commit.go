package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
)

// Commit groups of roster.db.
//
// BuntDB appends each transaction to its file as one write of RESP records
// ("*3\r\n$3\r\nset\r\n$<n>\r\n<key>\r\n$<n>\r\n<value>\r\n", or a two-part
// "del"), one record per key, in no particular order. Nothing in that format
// says where one transaction ends and the next begins, so a crash in the
// middle of a write could leave some records of a transaction that was never
// acknowledged, and the loader would apply them.
//
// Every roster transaction therefore also sets meta:commit to a commitMarker:
// its sequence number, the byte offset at which the transaction begins (the
// file's size before the write), how many records it writes (counting the
// marker) and an order-independent checksum of the other records. The file is
// then a sequence of commit groups, each of which can be found and verified:
// the group starts at the marker's At and is Records records long. A snapshot
// (or the compacted file Open may write) is a single group at offset 0 whose
// marker is its last record; see appendBase.
//
// checkRoster walks the groups on open. A complete group that does not verify
// is damage. What follows the last verified group must be the start of the
// next transaction, cut short; see checkRoster for what Open does with it.
type commitMarker struct {
	V       int    `json:"v"`
	Seq     uint64 `json:"seq"`     // 1 for the first commit, then +1 per commit
	At      int64  `json:"at"`      // offset of the group's first record
	Records int    `json:"records"` // records in the group, the marker included
	Sum     string `json:"sum"`     // commitSum of the group's other records, 16 hex digits
	// Check is a hash of the fields above, so that a marker whose value
	// was damaged but is still valid JSON is damage, not a torn commit.
	Check string `json:"check"`
}

func (m commitMarker) check() string {
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%d/%d/%d/%s", m.V, m.Seq, m.At, m.Records, m.Sum))
	return fmt.Sprintf("%x", h[:8])
}

// maxCommitRecords bounds Records in a marker read from disk; a transaction
// writes at most one record per unit and talkgroup plus a few.
const maxCommitRecords = MaxUnitID + 1<<16 + 16

// change is one record of a roster transaction: a set, or a delete if del.
type change struct {
	key string
	val string
	del bool
}

// recordHash hashes one record for a commit checksum.
func recordHash(del bool, key, val string) uint64 {
	h := sha256.New()
	if del {
		h.Write([]byte("del\x00"))
	} else {
		h.Write([]byte("set\x00"))
	}
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(val))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

// commitSum is the order-independent checksum of a group's records (the
// marker excluded): the sum modulo 2^64 of their hashes.
type commitSum uint64

func (s *commitSum) add(del bool, key, val string) { *s += commitSum(recordHash(del, key, val)) }
func (s commitSum) String() string                 { return fmt.Sprintf("%016x", uint64(s)) }

func markerValue(seq uint64, at int64, records int, sum commitSum) string {
	m := commitMarker{V: schemaVersion, Seq: seq, At: at, Records: records, Sum: sum.String()}
	m.Check = m.check()
	return mustJSON(m)
}

func decodeMarker(val string) (commitMarker, error) {
	var m commitMarker
	if err := decodeStrict(val, &m); err != nil {
		return commitMarker{}, err
	}
	if m.Seq == 0 || m.At < 0 || m.Records < 1 || m.Records > maxCommitRecords || len(m.Sum) != 16 {
		return commitMarker{}, fmt.Errorf("out of range: %s", val)
	}
	if _, err := strconv.ParseUint(m.Sum, 16, 64); err != nil {
		return commitMarker{}, fmt.Errorf("bad checksum %q", m.Sum)
	}
	if m.Check != m.check() {
		return commitMarker{}, fmt.Errorf("does not match its own check: %s", val)
	}
	return m, nil
}

// appendSetRecord appends a RESP set record exactly as BuntDB writes one
// without a TTL.
func appendSetRecord(buf []byte, key, val string) []byte {
	buf = append(buf, "*3\r\n$3\r\nset\r\n"...)
	buf = appendBulk(buf, key)
	return appendBulk(buf, val)
}

func appendBulk(buf []byte, s string) []byte {
	buf = append(buf, '$')
	buf = strconv.AppendInt(buf, int64(len(s)), 10)
	buf = append(buf, '\r', '\n')
	buf = append(buf, s...)
	return append(buf, '\r', '\n')
}

// kv is one key and its value.
type kv struct{ key, val string }

// appendBase appends a complete roster file holding items (sorted by key, no
// meta:commit among them) as a single commit group at offset 0 with sequence
// number seq: the items, then the marker.
func appendBase(buf []byte, items []kv, seq uint64) []byte {
	var sum commitSum
	for _, it := range items {
		buf = appendSetRecord(buf, it.key, it.val)
		sum.add(false, it.key, it.val)
	}
	return appendSetRecord(buf, metaCommitKey, markerValue(seq, 0, len(items)+1, sum))
}
