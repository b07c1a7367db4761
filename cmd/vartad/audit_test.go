package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tidwall/buntdb"
	"github.com/varta-ptt/varta/server/store"
)

// refusal is the outcome of the second entry TestAuditVerify writes.
const refusal = "refused: unit 102 is a dispatcher, not a commander"

// The administrator lists and verifies the audit log, with the relay
// stopped or running, and verify names an entry that someone with write
// access to the data directory altered, although the relay's own checks
// accept the forged file.
func TestAuditVerify(t *testing.T) {
	listen := freeUDPAddr(t)
	data := newAgency(t, listen)
	if out, err := vartad(t, "audit", "verify", "--data", t.TempDir()); err == nil || !strings.Contains(out, "does not exist") {
		t.Fatalf("audit verify of an empty directory: %v\n%s", err, out)
	}
	// The entries of the roster changes so far, if any, come first.
	before := verifiedEntries(t, mustVartad(t, "audit", "verify", "--data", data))

	// The relay writes the entries; here the test does.
	st, err := store.Open(store.Config{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []store.AuditEntry{
		{Action: "unit.add", Target: "unit 101", Outcome: "ok", Detail: "alias P-101, talkgroups 100"},
		{Actor: 102, ActorName: "Dispatch", Action: "stun", Target: "unit 101", Outcome: refusal},
		{Actor: 103, ActorName: "Cmdr", Action: "stun", Target: "unit 101", Outcome: "ok", Detail: "line 1\nline 2\x1b[31m"},
		{Action: "talkgroup.remove", Target: "talkgroup 200", Outcome: "ok"},
	} {
		if _, err := st.Audit(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	refused := strconv.Itoa(before + 2) // the entry with the refusal
	out := mustVartad(t, "audit", "verify", "--data", data)
	if verifiedEntries(t, out) != before+4 || !strings.Contains(out, fmt.Sprintf("newest entry: %d,", before+4)) {
		t.Fatalf("audit verify said:\n%s", out)
	}
	out = mustVartad(t, "audit", "list", "--data", data)
	for _, want := range []string{"SEQ", "unit.add", "admin", "102 Dispatch", refusal, "talkgroup 200", `"line 1\nline 2\x1b[31m"`} {
		if !strings.Contains(out, want) {
			t.Errorf("audit list does not show %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("audit list printed a raw terminal escape:\n%q", out)
	}
	t.Logf("audit list:\n%s", out)
	out = mustVartad(t, "audit", "list", "--data", data, "--from", refused, "--limit", "1")
	if !strings.Contains(out, refusal) || strings.Contains(out, "Cmdr") || strings.Contains(out, "unit.add") {
		t.Fatalf("audit list --from %s --limit 1 said:\n%s", refused, out)
	}

	// While the relay runs, verify reads a copy of roster.db.
	p := serve(t, data, listen)
	if out := mustVartad(t, "audit", "verify", "--data", data); !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify while the relay runs said:\n%s", out)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("vartad serve: %v\n%s", err, p.stderr)
	}

	// Someone covers up the refusal and rewrites the file, commit checksum
	// and all.
	forgeAuditEntry(t, data, uint64(before+2), strconv.Quote(refusal), `"ok"`)
	mustVartad(t, "talkgroup", "list", "--data", data)
	out, err = vartad(t, "audit", "verify", "--data", data)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("audit verify of a forged log: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(out, "entry "+refused+" was altered: its hash does not match its contents") {
		t.Fatalf("audit verify does not name the altered entry:\n%s", out)
	}
	t.Logf("administrator sees: %s", out)
	if out := mustVartad(t, "audit", "list", "--data", data, "--from", refused, "--limit", "1"); strings.Contains(out, refusal) {
		t.Fatalf("the forgery did not take:\n%s", out)
	}

	// The latest snapshot, taken when the relay started, still verifies.
	snaps, _ := filepath.Glob(filepath.Join(data, "snapshots", "roster-*.db"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot")
	}
	if out := mustVartad(t, "audit", "verify", "--file", snaps[len(snaps)-1]); !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify --file SNAPSHOT said:\n%s", out)
	}
}

var verifiedRE = regexp.MustCompile(`audit log verified: ([0-9]+) entr(y|ies), chain intact`)

// verifiedEntries returns N from the output of a successful audit verify.
func verifiedEntries(t *testing.T, out string) int {
	t.Helper()
	m := verifiedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("audit verify said:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// forgeAuditEntry rewrites DIR/roster.db as someone with write access to the
// directory could, knowing only the file format: it replaces old with new
// in audit entry seq and writes every record again as one commit, with the
// commit marker and checksum recomputed as server/store/commit.go describes,
// so that the relay's startup check accepts the file.
func forgeAuditEntry(t *testing.T, data string, seq uint64, old, new string) {
	t.Helper()
	path := filepath.Join(data, "roster.db")
	scratch := filepath.Join(t.TempDir(), "roster.db")
	if err := copyFile(scratch, path); err != nil {
		t.Fatal(err)
	}
	db, err := buntdb.Open(scratch)
	if err != nil {
		t.Fatal(err)
	}
	var keys, vals []string
	err = db.View(func(tx *buntdb.Tx) error {
		return tx.Ascend("", func(k, v string) bool {
			keys, vals = append(keys, k), append(vals, v)
			return true
		})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	var marker struct {
		V   int    `json:"v"`
		Seq uint64 `json:"seq"`
	}
	var file []byte
	var sum uint64
	n := 0
	target := fmt.Sprintf("audit:%020d", seq)
	for i, k := range keys {
		v := vals[i]
		switch k {
		case "meta:commit":
			if err := json.Unmarshal([]byte(v), &marker); err != nil {
				t.Fatal(err)
			}
			continue
		case target:
			if strings.Count(v, old) != 1 {
				t.Fatalf("%s does not hold %s once: %s", k, old, v)
			}
			v = strings.Replace(v, old, new, 1)
		}
		file = appendSet(file, k, v)
		h := sha256.Sum256([]byte("set\x00" + k + "\x00" + v))
		sum += binary.BigEndian.Uint64(h[:8])
		n++
	}
	sumHex := fmt.Sprintf("%016x", sum)
	check := sha256.Sum256(fmt.Appendf(nil, "%d/%d/%d/%d/%s", marker.V, marker.Seq, 0, n+1, sumHex))
	file = appendSet(file, "meta:commit", fmt.Sprintf(`{"v":%d,"seq":%d,"at":0,"records":%d,"sum":"%s","check":"%x"}`,
		marker.V, marker.Seq, n+1, sumHex, check[:8]))
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
}

// appendSet appends a BuntDB set record.
func appendSet(b []byte, key, val string) []byte {
	return fmt.Appendf(b, "*3\r\n$3\r\nset\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(val), val)
}
