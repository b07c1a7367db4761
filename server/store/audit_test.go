package store

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/buntdb"
)

// auditN appends n entries, "unit.add" of units 1..n by the administrator,
// with the outcome "ok" except for every third, which is refused.
func auditN(t testing.TB, s *Store, n int) []AuditEntry {
	t.Helper()
	var out []AuditEntry
	for i := 1; i <= n; i++ {
		e := AuditEntry{Action: "unit.add", Target: fmt.Sprintf("unit %d", i), Outcome: "ok", Detail: "alias P-" + strconv.Itoa(i)}
		if i%3 == 0 {
			e.Actor, e.ActorName, e.Outcome = 102, "Dispatch", "refused: unit 102 is not an administrator"
		}
		got, err := s.Audit(e)
		if err != nil {
			t.Fatalf("Audit(%d): %v", i, err)
		}
		out = append(out, got)
	}
	return out
}

// canonicalByHand encodes e as AuditEntry's comment describes, written out
// again here so that the test pins the documented format.
func canonicalByHand(e AuditEntry) []byte {
	var b bytes.Buffer
	b.WriteString("varta-audit-v1")
	b.Write(e.Prev)
	be := func(v uint64, n int) {
		for i := n - 1; i >= 0; i-- {
			b.WriteByte(byte(v >> (8 * i)))
		}
	}
	be(e.Seq, 8)
	be(uint64(e.Time.UnixNano()), 8)
	be(uint64(e.Actor), 4)
	for _, s := range []string{e.ActorName, e.Action, e.Target, e.Outcome, e.Detail} {
		be(uint64(len(s)), 4)
		b.WriteString(s)
	}
	return b.Bytes()
}

func TestAuditChain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clk := newClock()
	s := openStore(t, dir, withClock(clk))
	if n, err := s.VerifyAudit(); n != 0 || err != nil {
		t.Fatalf("VerifyAudit of an empty log = %d, %v", n, err)
	}
	if log, err := s.AuditLog(0, 0); len(log) != 0 || err != nil {
		t.Fatalf("AuditLog of an empty log = %v, %v", log, err)
	}

	var written []AuditEntry
	prev := make([]byte, sha256.Size)
	for i, in := range []AuditEntry{
		{Action: "talkgroup.add", Target: "talkgroup 100", Outcome: "ok", Detail: "Patrol North"},
		{Actor: 101, ActorName: "P-101", Action: "emergency.ack", Target: "unit 102", Outcome: "ok"},
		// What Audit assigns is ignored if given.
		{Actor: 102, Action: "stun", Target: "unit 101", Outcome: "refused: unit 102 is a dispatcher, not a commander",
			Seq: 99, Time: time.Unix(1, 0), Prev: []byte("x"), Hash: []byte("y")},
	} {
		clk.Advance(1500 * time.Millisecond)
		e, err := s.Audit(in)
		if err != nil {
			t.Fatalf("Audit(%+v): %v", in, err)
		}
		want := in
		want.Seq, want.Time, want.Prev = uint64(i+1), clk.Now(), prev
		sum := sha256.Sum256(canonicalByHand(want))
		want.Hash = sum[:]
		if !reflect.DeepEqual(e, want) {
			t.Fatalf("Audit returned\n%+v, want\n%+v", e, want)
		}
		written = append(written, e)
		prev = e.Hash
	}
	// Known answer for entry 1, so that the format cannot drift unnoticed.
	if got := hex.EncodeToString(written[0].Hash); got != entry1Hash {
		t.Errorf("entry 1 hash = %s, want %s", got, entry1Hash)
	}

	check := func(s *Store) {
		t.Helper()
		if n, err := s.VerifyAudit(); n != 3 || err != nil {
			t.Fatalf("VerifyAudit = %d, %v; want 3, nil", n, err)
		}
		for _, tt := range []struct {
			from  uint64
			limit int
			want  []AuditEntry
		}{
			{0, 0, written},
			{1, 0, written},
			{1, -1, written},
			{2, 0, written[1:]},
			{2, 1, written[1:2]},
			{1, 5, written},
			{4, 0, []AuditEntry{}},
			{1<<64 - 1, 0, []AuditEntry{}},
		} {
			got, err := s.AuditLog(tt.from, tt.limit)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("AuditLog(%d, %d) = %+v, %v; want %+v", tt.from, tt.limit, got, err, tt.want)
			}
		}
	}
	check(s)

	// The chain survives a reopen and carries on from its head.
	mustClose(t, s)
	s = openStore(t, dir, withClock(clk))
	check(s)
	e, err := s.Audit(AuditEntry{Action: "revive", Target: "unit 101", Outcome: "ok"})
	if err != nil || e.Seq != 4 || !bytes.Equal(e.Prev, written[2].Hash) {
		t.Fatalf("Audit after reopen = %+v, %v; want entry 4 after %x", e, err, written[2].Hash)
	}
	if n, err := s.VerifyAudit(); n != 4 || err != nil {
		t.Fatalf("VerifyAudit = %d, %v; want 4, nil", n, err)
	}
}

// entry1Hash is the hash of the first entry of TestAuditChain, computed
// apart from this package from the format documented on AuditEntry.
const entry1Hash = "171949428ac7bbbc70eb0e964c1215bb7267e7e9829c68b16683bdc2e2fdccfd"

func TestAuditValidation(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	auditN(t, s, 1)
	long := strings.Repeat("x", MaxAuditFieldLen+1)
	tests := []struct {
		name string
		e    AuditEntry
		want string
	}{
		{"no action", AuditEntry{Outcome: "ok"}, "audit action is empty"},
		{"action with space", AuditEntry{Action: " stun", Outcome: "ok"}, "begins or ends with a space"},
		{"action with newline", AuditEntry{Action: "st\nun", Outcome: "ok"}, "non-printable"},
		{"long action", AuditEntry{Action: strings.Repeat("a", 65), Outcome: "ok"}, "at most 64"},
		{"no outcome", AuditEntry{Action: "stun"}, "has no outcome"},
		{"actor out of range", AuditEntry{Actor: MaxUnitID + 1, Action: "stun", Outcome: "ok"}, "actor 16777216"},
		{"bad UTF-8", AuditEntry{Action: "stun", Outcome: "ok", Detail: "\xff"}, "detail of audit entry \"stun\" is not valid UTF-8"},
		{"long target", AuditEntry{Action: "stun", Outcome: "ok", Target: long}, "target of audit entry \"stun\" is 4097 bytes"},
		{"long outcome", AuditEntry{Action: "stun", Outcome: long}, "outcome"},
		{"long actor name", AuditEntry{Action: "stun", Outcome: "ok", ActorName: long}, "actor name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Audit(tt.e)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Audit = %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
	// Nothing was written; the longest fields allowed are.
	if n, err := s.VerifyAudit(); n != 1 || err != nil {
		t.Fatalf("VerifyAudit = %d, %v; want 1, nil", n, err)
	}
	max := strings.Repeat("é", MaxAuditFieldLen/2)
	e := AuditEntry{Actor: MaxUnitID, ActorName: max, Action: strings.Repeat("a", 64), Target: max, Outcome: max,
		Detail: "line 1\nline 2\t\x00 <&> \u2028"}
	got, err := s.Audit(e)
	if err != nil {
		t.Fatal(err)
	}
	if log, err := s.AuditLog(2, 0); err != nil || len(log) != 1 || !reflect.DeepEqual(log[0], got) {
		t.Fatalf("AuditLog = %+v, %v; want %+v", log, err, got)
	}
	if n, err := s.VerifyAudit(); n != 2 || err != nil {
		t.Fatalf("VerifyAudit = %d, %v; want 2, nil", n, err)
	}

	clk := newClock()
	clk.t = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	s2 := openStore(t, t.TempDir(), withClock(clk))
	if _, err := s2.Audit(AuditEntry{Action: "stun", Outcome: "ok"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Audit in the year 2300 = %v, want ErrInvalid", err)
	}
}

// Roster changes never touch the audit log, and snapshots carry it.
func TestAuditUntouchedByRoster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	want := auditN(t, s, 4)
	if err := s.RemoveUnit(101); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveTalkgroup(100); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetUnitStunned(102, true); err != nil {
		t.Fatal(err)
	}
	want = append(want, auditN(t, s, 1)...)
	if got, err := s.AuditLog(0, 0); err != nil || !reflect.DeepEqual(got[:4], want[:4]) || got[4].Seq != 5 {
		t.Fatalf("AuditLog after roster changes = %+v, %v; want %+v", got, err, want)
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	restored, _ := writeRoster(t, data)
	r := openStore(t, restored)
	if got, err := r.AuditLog(0, 0); err != nil || len(got) != 5 || !reflect.DeepEqual(got[:4], want[:4]) {
		t.Fatalf("AuditLog of the restored snapshot = %+v, %v; want %+v", got, err, want)
	}
	if n, err := r.VerifyAudit(); n != 5 || err != nil {
		t.Fatalf("VerifyAudit of the restored snapshot = %d, %v", n, err)
	}
}

func TestAuditConcurrent(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := s.Audit(AuditEntry{Actor: uint32(w + 1), Action: "stun", Target: fmt.Sprintf("unit %d", i), Outcome: "ok"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Readers and other roster changes run alongside.
	wg.Go(func() {
		for i := range 20 {
			s.AuditLog(0, 0)
			s.VerifyAudit()
			s.AddTalkgroup(Talkgroup{ID: uint16(i + 1), Name: "Temp"})
		}
	})
	wg.Wait()
	if n, err := s.VerifyAudit(); n != writers*each || err != nil {
		t.Fatalf("VerifyAudit = %d, %v; want %d, nil", n, err, writers*each)
	}
}

// rewriteAudit rewrites the audit log as someone with write access to
// roster.db could, bypassing Audit: fn edits the entries (keyed by the
// sequence number in their key) and the rewritten records go into one
// ordinary commit, with a valid commit marker, so that Open accepts the
// file. rehash recomputes each edited entry's own hash.
func rewriteAudit(t *testing.T, s *Store, fn func(m map[uint64]*AuditEntry)) {
	t.Helper()
	log, err := s.AuditLog(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[uint64]*AuditEntry)
	before := make(map[uint64]string)
	for i := range log {
		m[log[i].Seq] = &log[i]
		before[log[i].Seq] = encodeAudit(&log[i])
	}
	fn(m)
	err = s.commitRoster(func(*buntdb.Tx) ([]change, error) {
		var changes []change
		for seq := range before {
			if m[seq] == nil {
				changes = append(changes, change{key: auditKey(seq), del: true})
			}
		}
		for seq, e := range m {
			if val := encodeAudit(e); val != before[seq] {
				changes = append(changes, change{key: auditKey(seq), val: val})
			}
		}
		return changes, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rehash(e *AuditEntry) { e.Hash = auditHash(e) }

// VerifyAudit finds an audit log rewritten behind the store's back, even
// though the commit checksums were made to match, and names the first
// entry that does not verify; Open still accepts the file.
func TestVerifyAuditDetects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		forge  func(m map[uint64]*AuditEntry)
		seq    uint64
		reason string
	}{
		{"edited entry", func(m map[uint64]*AuditEntry) {
			m[3].Outcome = "ok"
		}, 3, "entry 3 was altered: its hash does not match its contents"},
		{"edited time", func(m map[uint64]*AuditEntry) {
			m[2].Time = m[2].Time.Add(time.Nanosecond)
		}, 2, "entry 2 was altered: its hash does not match its contents"},
		{"edited entry, its hash recomputed", func(m map[uint64]*AuditEntry) {
			m[3].Outcome = "ok"
			rehash(m[3])
		}, 4, "entry 4 does not follow entry 3"},
		{"last entry replaced, chained to entry 3", func(m map[uint64]*AuditEntry) {
			m[5].Actor = 7
			m[5].Prev = m[3].Hash
			rehash(m[5])
		}, 5, "entry 5 does not follow entry 4"},
		{"deleted middle entry", func(m map[uint64]*AuditEntry) {
			delete(m, 3)
		}, 3, "entry 3 is missing"},
		{"deleted first entry", func(m map[uint64]*AuditEntry) {
			delete(m, 1)
		}, 1, "entry 1 is missing"},
		{"deleted entry, later ones renumbered", func(m map[uint64]*AuditEntry) {
			for seq := uint64(3); seq < 5; seq++ {
				m[seq] = m[seq+1]
				m[seq].Seq = seq
				rehash(m[seq])
			}
			delete(m, 5)
		}, 3, "entry 3 does not follow entry 2"},
		{"reordered entries", func(m map[uint64]*AuditEntry) {
			m[3], m[4] = m[4], m[3]
			m[3].Seq, m[4].Seq = 3, 4
			rehash(m[3])
			rehash(m[4])
		}, 3, "entry 3 does not follow entry 2"},
		{"records swapped", func(m map[uint64]*AuditEntry) {
			m[3], m[4] = m[4], m[3]
		}, 3, "entry 3 is out of place: its record holds entry 4"},
		{"first entry replaced", func(m map[uint64]*AuditEntry) {
			m[1].Prev = bytes.Repeat([]byte{1}, sha256.Size)
			rehash(m[1])
		}, 1, "entry 1 does not begin the log: its previous hash is not zero"},
		{"hash edited", func(m map[uint64]*AuditEntry) {
			m[4].Hash = bytes.Repeat([]byte{0xab}, sha256.Size)
		}, 4, "entry 4 was altered: its hash does not match its contents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			populate(t, s)
			auditN(t, s, 5)
			rewriteAudit(t, s, tt.forge)
			check := func(s *Store) {
				t.Helper()
				n, err := s.VerifyAudit()
				var broken *AuditBrokenError
				if !errors.As(err, &broken) || broken.Seq != tt.seq || broken.Reason != tt.reason || n != int(tt.seq)-1 {
					t.Fatalf("VerifyAudit = %d, %v; want %d, %q", n, err, tt.seq-1, tt.reason)
				}
				if !strings.Contains(err.Error(), tt.reason) || !strings.HasPrefix(err.Error(), "store: ") {
					t.Fatalf("error %q does not read %q", err, tt.reason)
				}
				t.Logf("operator reads: %v", err)
			}
			check(s)
			mustClose(t, s)
			// The integrity layer accepts the file: its commits check.
			s = openStore(t, dir)
			check(s)
		})
	}
}

// An audit entry edited in roster.db without recomputing the commit
// checksum is refused by Open as damage; one in a forged snapshot, with
// the checksum recomputed, opens, and VerifyAudit names it.
func TestAuditEditedFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	populate(t, s)
	auditN(t, s, 4)
	mustClose(t, s)
	data, err := os.ReadFile(filepath.Join(dir, rosterFile))
	if err != nil {
		t.Fatal(err)
	}
	refused := `"outcome":"refused: unit 102 is not an administrator"`
	covered := `"outcome":"ok, unit 102 is in fact an administrator!"`
	if len(refused) != len(covered) {
		t.Fatal("the edit must keep the length")
	}

	edited, _ := writeRoster(t, replaceOnce(t, data, refused, covered))
	_, err = Open(Config{Dir: edited})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "does not match its checksum") {
		t.Fatalf("Open of a roster.db with an edited audit entry = %v, want ErrDamaged", err)
	}

	// The forger rebuilds the file as a snapshot, with a valid marker.
	pf, err := parseFile(data, false)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := checkRoster(pf)
	if err != nil {
		t.Fatal(err)
	}
	state := applyRecords(pf.records)
	r := state[auditKey(3)]
	r.val = strings.Replace(r.val, refused, covered, 1)
	state[auditKey(3)] = r
	forged, _ := writeRoster(t, appendBase(nil, baseItems(state), rc.lastSeq))
	s = openStore(t, forged)
	n, err := s.VerifyAudit()
	var broken *AuditBrokenError
	if !errors.As(err, &broken) || broken.Seq != 3 || n != 2 {
		t.Fatalf("VerifyAudit of a forged snapshot = %d, %v; want entry 3 altered", n, err)
	}
	t.Logf("operator reads: %v", err)
}

// A torn transaction that was writing an audit entry is cut off like any
// other; a malformed audit record is damage.
func TestAuditRecordsOnOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	entries := auditN(t, s, 2)
	mustClose(t, s)
	good, err := os.ReadFile(filepath.Join(dir, rosterFile))
	if err != nil {
		t.Fatal(err)
	}
	third := AuditEntry{Seq: 3, Time: newClock().Now(), Action: "stun", Outcome: "ok", Prev: entries[1].Hash}
	rehash(&third)

	torn := appendCommit(t, good, change{key: auditKey(3), val: encodeAudit(&third)})
	torn = torn[:len(torn)-20]
	d, _ := writeRoster(t, torn)
	s = openStore(t, d)
	if n, err := s.VerifyAudit(); n != 2 || err != nil {
		t.Fatalf("after cutting a torn audit commit VerifyAudit = %d, %v; want 2", n, err)
	}
	if len(tornCopies(t, d, rosterFile)) != 1 {
		t.Fatal("no copy of the torn file")
	}

	for _, tt := range []struct {
		name string
		key  string
		val  string
		want string
	}{
		{"short key", "audit:3", encodeAudit(&third), "not an audit entry's key"},
		{"entry 0", auditKey(0), encodeAudit(&third), "not an audit entry's key"},
		{"not JSON", auditKey(3), "{", "the value of audit:00000000000000000003"},
		{"no hash", auditKey(3), strings.Replace(encodeAudit(&third), hex.EncodeToString(third.Hash), "", 1), "hash"},
		{"upper-case hash", auditKey(3), strings.Replace(encodeAudit(&third), hex.EncodeToString(third.Hash),
			strings.ToUpper(hex.EncodeToString(third.Hash)), 1), "lower-case hex"},
		{"unknown field", auditKey(3), strings.Replace(encodeAudit(&third), `,"seq":`, `,"signed":true,"seq":`, 1), "unknown field"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := writeRoster(t, appendCommit(t, good, change{key: tt.key, val: tt.val}))
			_, err := Open(Config{Dir: d})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want ErrDamaged saying %q", err, tt.want)
			}
		})
	}
}

// auditCrashDirEnv, when set, makes TestAuditCrashChild the writer of
// TestAuditKill9 in a child process.
const auditCrashDirEnv = "VARTA_STORE_AUDIT_CRASH_DIR"

// TestAuditCrashChild runs in the child process of TestAuditKill9: it
// appends audit entries and prints "acked N" as soon as Audit returns entry
// N, until it is killed. Roster commits run in between.
func TestAuditCrashChild(t *testing.T) {
	dir := os.Getenv(auditCrashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestAuditKill9")
	}
	s, err := Open(Config{Dir: dir})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	for i := 1; ; i++ {
		e, err := s.Audit(AuditEntry{Action: "talkgroup.add", Target: fmt.Sprintf("talkgroup %d", i), Outcome: "ok"})
		if err != nil || e.Seq != uint64(i) {
			fmt.Println("audit:", e.Seq, err)
			os.Exit(2)
		}
		fmt.Printf("acked %d\n", i)
		if i%5 == 0 {
			s.AddTalkgroup(Talkgroup{ID: uint16(i), Name: "Temp"})
			s.RemoveTalkgroup(uint16(i))
		}
	}
}

// TestAuditKill9 kills a process that is writing the audit log with
// SIGKILL, and checks that every entry it acknowledged is there, in an
// intact chain, when the store reopens.
func TestAuditKill9(t *testing.T) {
	if os.Getenv(auditCrashDirEnv) != "" {
		t.Skip("in the helper process")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd, out, stderr := startCrashChild(t, "TestAuditCrashChild", auditCrashDirEnv, dir)
	acked, killed := 0, false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "ready":
		case strings.HasPrefix(line, "acked "):
			n, err := strconv.Atoi(strings.TrimPrefix(line, "acked "))
			if err != nil || n != acked+1 {
				t.Fatalf("child printed %q after acked %d", line, acked)
			}
			acked = n
			if acked == 100 && !killed {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		default:
			t.Errorf("child: %s", line)
		}
	}
	err := cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed (%v): %s", err, stderr.String())
	}
	s := openStore(t, dir)
	n, err := s.VerifyAudit()
	if err != nil || (n != acked && n != acked+1) {
		t.Fatalf("VerifyAudit after kill -9 = %d, %v; %d entries were acknowledged", n, err, acked)
	}
	log, err := s.AuditLog(1, acked)
	if err != nil || len(log) != acked {
		t.Fatalf("AuditLog after kill -9: %d entries, %v; want %d", len(log), err, acked)
	}
	for i, e := range log {
		if e.Seq != uint64(i+1) || e.Target != fmt.Sprintf("talkgroup %d", i+1) {
			t.Fatalf("entry %d after kill -9 is %+v", i+1, e)
		}
	}
	e, err := s.Audit(AuditEntry{Action: "stun", Outcome: "ok"})
	if err != nil || e.Seq != uint64(n)+1 {
		t.Fatalf("Audit after kill -9 = %+v, %v; want entry %d", e, err, n+1)
	}
	t.Logf("%d entries acknowledged before kill -9, %d present; torn copies: %v", acked, n, tornCopies(t, dir, rosterFile))
}

// FuzzDecodeAudit checks that decodeAudit never panics and that what it
// accepts encodes back to itself and can be hashed.
func FuzzDecodeAudit(f *testing.F) {
	e := AuditEntry{Seq: 17, Time: newClock().Now(), Actor: 102, ActorName: "Dispatch", Action: "stun",
		Target: "unit 101", Outcome: "refused", Detail: "line 1\nline 2", Prev: make([]byte, sha256.Size)}
	rehash(&e)
	f.Add(auditKey(17), encodeAudit(&e))
	f.Add(auditKey(3), `{"v":3,"seq":3,"time":"2026-01-01T00:00:00+02:00","actor":0,"actor_name":"","action":"a",`+
		`"target":"","outcome":"ok","detail":"","prev":"`+strings.Repeat("0", 64)+`","hash":"`+strings.Repeat("ab", 32)+`"}`)
	f.Fuzz(func(t *testing.T, key, val string) {
		e, seq, err := decodeAudit(key, val)
		if err != nil {
			return
		}
		if key != auditKey(seq) || e.Seq == 0 || len(e.Prev) != sha256.Size || len(e.Hash) != sha256.Size {
			t.Fatalf("decodeAudit accepted %q, %q as %+v", key, val, e)
		}
		auditHash(&e)
		again, _, err := decodeAudit(key, encodeAudit(&e))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("%+v encodes to %q, which decodes to %+v, %v", e, encodeAudit(&e), again, err)
		}
	})
}
