package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// textTo returns a message from unit 102 ("Dispatch") to unit to.
func textTo(to uint32, id uint64, text string, at time.Time) Message {
	return Message{ID: id, From: 102, FromAlias: "Dispatch", ToUnit: to, Text: text, Time: at}
}

func queueAll(t testing.TB, s *Store, msgs ...Message) {
	t.Helper()
	for _, m := range msgs {
		if err := s.QueueMessage(m); err != nil {
			t.Fatalf("QueueMessage(%d to %d): %v", m.ID, m.ToUnit, err)
		}
	}
}

func pendingOf(t testing.TB, s *Store, unit uint32) []Message {
	t.Helper()
	msgs, err := s.PendingMessages(unit)
	if err != nil {
		t.Fatalf("PendingMessages(%d): %v", unit, err)
	}
	return msgs
}

func messageIDs(msgs []Message) []uint64 {
	ids := make([]uint64, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func readRoster(t *testing.T, dir string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, rosterFile))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMessageQueue queues, lists and deletes messages, and checks that each
// change is its own commit in the file when the call returns and survives a
// reopen.
func TestMessageQueue(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	t0 := c.Now()
	ist := time.FixedZone("IST", 5*3600+1800)

	alert := Message{ID: 40, From: 0, ToUnit: 101, Alert: true} // Time zero: Config.Now
	queued := []Message{
		textTo(101, 30, "third, by ID", t0.Add(2*time.Second)),
		textTo(101, 10, "first", t0.In(ist)),
		{ID: 20, From: 102, FromAlias: "Dispatch", ToUnit: 101, ToTalkgroup: 100, Text: "second\nto talkgroup 100 <&>", Time: t0.Add(time.Second)},
		textTo(101, 5, "third, by time", t0.Add(2*time.Second)),
	}
	for _, m := range queued {
		queueAll(t, s, m)
		if keys, _ := lastCommit(t, dir); !slices.Equal(keys, []string{messageKey(101, m.ID)}) {
			t.Fatalf("after QueueMessage(%d) the last commit in the file writes %v", m.ID, keys)
		}
	}
	c.Advance(3 * time.Second)
	queueAll(t, s, alert)

	first := queued[1]
	first.Time = t0 // stored and returned in UTC
	alert.Time = t0.Add(3 * time.Second)
	want := []Message{first, queued[2], queued[3], queued[0], alert}
	if got := pendingOf(t, s, 101); !reflect.DeepEqual(got, want) {
		t.Fatalf("PendingMessages(101) =\n%+v\nwant\n%+v", got, want)
	}

	// Queues are per unit: the same ID may wait for another unit.
	other := textTo(102, 10, "for 102", t0)
	other.From, other.FromAlias = 101, "Car 1"
	queueAll(t, s, other)
	if got := pendingOf(t, s, 102); !reflect.DeepEqual(got, []Message{other}) {
		t.Fatalf("PendingMessages(102) = %+v, want only message 10", got)
	}
	for _, unit := range []uint32{555, MaxUnitID} {
		if got := pendingOf(t, s, unit); len(got) != 0 {
			t.Errorf("PendingMessages(%d) of a unit without messages = %+v", unit, got)
		}
	}
	if _, err := s.PendingMessages(0); !errors.Is(err, ErrInvalid) {
		t.Errorf("PendingMessages(0) = %v, want ErrInvalid", err)
	}

	// A repeated ID is refused and changes nothing.
	before := readRoster(t, dir)
	if err := s.QueueMessage(textTo(101, 10, "again", t0)); !errors.Is(err, ErrExists) {
		t.Fatalf("QueueMessage of a queued ID = %v, want ErrExists", err)
	}
	if !bytes.Equal(readRoster(t, dir), before) {
		t.Fatal("a refused message changed roster.db")
	}

	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	if got := pendingOf(t, s, 101); !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen PendingMessages(101) =\n%+v\nwant\n%+v", got, want)
	}

	if err := s.DeleteMessage(101, 20); err != nil {
		t.Fatalf("DeleteMessage(101, 20): %v", err)
	}
	if keys, _ := lastCommit(t, dir); !slices.Equal(keys, []string{messageKey(101, 20)}) {
		t.Fatalf("after DeleteMessage the last commit in the file writes %v", keys)
	}
	if err := s.DeleteMessage(101, 10); err != nil {
		t.Fatalf("DeleteMessage(101, 10): %v", err)
	}
	for _, tt := range []struct {
		unit uint32
		id   uint64
	}{{101, 20}, {101, 999}, {102, 30}, {555, 10}} {
		err := s.DeleteMessage(tt.unit, tt.id)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteMessage(%d, %d) = %v, want ErrNotFound", tt.unit, tt.id, err)
		}
	}
	want = []Message{queued[3], queued[0], alert}
	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	if got := pendingOf(t, s, 101); !reflect.DeepEqual(got, want) {
		t.Fatalf("after deletes and reopen PendingMessages(101) IDs %v, want %v", messageIDs(got), messageIDs(want))
	}
	if got := pendingOf(t, s, 102); !reflect.DeepEqual(got, []Message{other}) {
		t.Fatalf("deleting unit 101's message 10 changed unit 102's queue: %+v", got)
	}
}

// TestMessageQueueFull fills a unit's queue: the next message is refused
// with a sentence and nothing changes, other queues are not affected, and a
// delivery makes room.
func TestMessageQueueFull(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	for id := uint64(1); id <= MaxQueuedMessages; id++ {
		queueAll(t, s, textTo(101, id, fmt.Sprintf("message %d", id), c.Now().Add(time.Duration(id))))
	}
	before := readRoster(t, dir)
	err := s.QueueMessage(textTo(101, 201, "one too many", c.Now()))
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("QueueMessage to a full queue = %v, want ErrInvalid", err)
	}
	if want := "store: the message queue of unit 101 is full (200 waiting)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !bytes.Equal(readRoster(t, dir), before) {
		t.Fatal("a refused message changed roster.db")
	}
	got := pendingOf(t, s, 101)
	if len(got) != MaxQueuedMessages || got[0].ID != 1 || got[len(got)-1].ID != MaxQueuedMessages {
		t.Fatalf("full queue holds %d messages, %v ... %v", len(got), got[0].ID, got[len(got)-1].ID)
	}

	queueAll(t, s, textTo(102, 201, "another queue", c.Now()))
	if err := s.DeleteMessage(101, 1); err != nil {
		t.Fatal(err)
	}
	queueAll(t, s, textTo(101, 201, "after a delivery", c.Now().Add(time.Hour)))
	if err := s.QueueMessage(textTo(101, 202, "full again", c.Now())); !errors.Is(err, ErrInvalid) {
		t.Fatalf("QueueMessage to a queue full again = %v, want ErrInvalid", err)
	}
	if got := pendingOf(t, s, 101); len(got) != MaxQueuedMessages || got[len(got)-1].ID != 201 {
		t.Fatalf("queue holds %d messages, the last %d; want %d ending with 201", len(got), got[len(got)-1].ID, MaxQueuedMessages)
	}
}

// TestMessageQueueConcurrent queues more than a queue holds from several
// goroutines: exactly MaxQueuedMessages are accepted.
func TestMessageQueueConcurrent(t *testing.T) {
	t.Parallel()
	s := openStore(t, t.TempDir())
	populate(t, s)
	const writers, each = 8, 30
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, full := 0, 0
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				err := s.QueueMessage(textTo(101, uint64(w*each+i+1), "10-4", newClock().Now()))
				mu.Lock()
				switch {
				case err == nil:
					accepted++
				case errors.Is(err, ErrInvalid) && strings.Contains(err.Error(), "is full"):
					full++
				default:
					t.Errorf("QueueMessage: %v", err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if accepted != MaxQueuedMessages || full != writers*each-MaxQueuedMessages {
		t.Fatalf("%d accepted, %d refused as full; want %d and %d", accepted, full, MaxQueuedMessages, writers*each-MaxQueuedMessages)
	}
	if n := len(pendingOf(t, s, 101)); n != MaxQueuedMessages {
		t.Fatalf("%d messages queued, want %d", n, MaxQueuedMessages)
	}
}

func TestQueueMessageValidation(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	good := textTo(101, 7, "10-4", c.Now())
	with := func(fn func(m *Message)) Message {
		m := good
		fn(&m)
		return m
	}
	tests := []struct {
		name string
		m    Message
		kind error
		want string
	}{
		{"unknown unit", with(func(m *Message) { m.ToUnit = 555 }), ErrNotFound, "store: unit 555 does not exist"},
		{"unit 0", with(func(m *Message) { m.ToUnit = 0 }), ErrInvalid, "unit ID 0 is out of range"},
		{"unit too large", with(func(m *Message) { m.ToUnit = MaxUnitID + 1 }), ErrInvalid, "out of range"},
		{"ID 0", with(func(m *Message) { m.ID = 0 }), ErrInvalid, "message ID 0 is not allowed"},
		{"bad UTF-8", with(func(m *Message) { m.Text = "10-4 \xff\xfe" }), ErrInvalid, "the text of message 7 is not valid UTF-8"},
		{"too long", with(func(m *Message) { m.Text = strings.Repeat("a", MaxMessageTextLen+1) }), ErrInvalid,
			"the text of message 7 is 1025 bytes long (at most 1024)"},
		{"too long in bytes", with(func(m *Message) { m.Text = strings.Repeat("é", MaxMessageTextLen/2+1) }), ErrInvalid, "1026 bytes long"},
		{"empty without alert", with(func(m *Message) { m.Text = "" }), ErrInvalid, "message 7 has no text (only a call alert may be empty)"},
		{"sender out of range", with(func(m *Message) { m.From = MaxUnitID + 1 }), ErrInvalid, "not a unit ID"},
		{"sender alias spaced", with(func(m *Message) { m.FromAlias = " Dispatch" }), ErrInvalid, "sender alias"},
		{"sender alias too long", with(func(m *Message) { m.FromAlias = strings.Repeat("x", MaxAliasLen+1) }), ErrInvalid, "sender alias"},
		{"time out of range", with(func(m *Message) { m.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }), ErrInvalid, "outside the years"},
	}
	before := readRoster(t, dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.QueueMessage(tt.m)
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("QueueMessage = %v, want %v saying %q", err, tt.kind, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("error %q does not begin with the package name", err)
			}
		})
	}
	if !bytes.Equal(readRoster(t, dir), before) {
		t.Fatal("refused messages changed roster.db")
	}
	if got := pendingOf(t, s, 101); len(got) != 0 {
		t.Fatalf("refused messages are queued: %+v", got)
	}

	// The limits themselves are accepted.
	edges := []Message{
		with(func(m *Message) { m.ID, m.Text = 1, strings.Repeat("a", MaxMessageTextLen) }),
		with(func(m *Message) { m.ID, m.Text = 2, strings.Repeat("é", MaxMessageTextLen/2) }),
		with(func(m *Message) { m.ID, m.Text, m.Alert = 3, "", true }),
		with(func(m *Message) { m.ID, m.From, m.FromAlias = 4, 0, "" }),
		with(func(m *Message) { m.ID, m.ToUnit = 1<<64-1, 102 }),
	}
	queueAll(t, s, edges...)
	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	got := append(pendingOf(t, s, 101), pendingOf(t, s, 102)...)
	if !reflect.DeepEqual(got, edges) {
		t.Fatalf("after reopen the messages at the limits are\n%+v\nwant\n%+v", got, edges)
	}
}

// TestRemoveUnitClearsMessages checks that RemoveUnit deletes the unit's
// queue in its own commit, and only that unit's.
func TestRemoveUnitClearsMessages(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	queueAll(t, s,
		textTo(101, 1, "one", c.Now()), textTo(101, 2, "two", c.Now()), textTo(101, 3, "three", c.Now()),
		textTo(102, 1, "for 102", c.Now()))
	if err := s.RemoveUnit(101); err != nil {
		t.Fatal(err)
	}
	keys, _ := lastCommit(t, dir)
	for _, k := range []string{unitKey(101), messageKey(101, 1), messageKey(101, 2), messageKey(101, 3)} {
		if !slices.Contains(keys, k) {
			t.Errorf("RemoveUnit's commit does not delete %s; it writes %v", k, keys)
		}
	}
	if slices.Contains(keys, messageKey(102, 1)) {
		t.Errorf("RemoveUnit(101) wrote unit 102's message")
	}
	if got := pendingOf(t, s, 101); len(got) != 0 {
		t.Fatalf("messages of a removed unit remain: %+v", got)
	}
	if err := s.DeleteMessage(101, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteMessage of a removed unit's message = %v, want ErrNotFound", err)
	}
	if err := s.QueueMessage(textTo(101, 4, "too late", c.Now())); !errors.Is(err, ErrNotFound) {
		t.Errorf("QueueMessage to a removed unit = %v, want ErrNotFound", err)
	}

	mustClose(t, s)
	s = openStore(t, dir, withClock(c))
	if got := pendingOf(t, s, 102); len(got) != 1 || got[0].Text != "for 102" {
		t.Fatalf("unit 102's queue after removing unit 101 and reopening = %+v", got)
	}
	// A unit added again under the same ID starts with an empty queue.
	if err := s.AddUnit(Unit{ID: 101, Alias: "Car 1 again", Role: RoleOfficer}); err != nil {
		t.Fatal(err)
	}
	if got := pendingOf(t, s, 101); len(got) != 0 {
		t.Fatalf("a re-added unit inherits messages: %+v", got)
	}
}

// TestMessageRecordsOnOpen checks Open's handling of message records: an
// edited one is damage, a torn commit that was writing one is cut off, and
// a record that breaks a rule is damage even with a valid checksum.
func TestMessageRecordsOnOpen(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	queueAll(t, s, textTo(101, 1, "Proceed to Main St", c.Now()), textTo(102, 2, "Copy", c.Now()))
	mustClose(t, s)
	good := readRoster(t, dir)

	edited, path := writeRoster(t, replaceOnce(t, good, "Proceed to Main St", "Proceed to Elm St!"))
	_, err := Open(Config{Dir: edited})
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "does not match its checksum") {
		t.Fatalf("Open of a roster.db with an edited message = %v, want ErrDamaged", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, replaceOnce(t, good, "Proceed to Main St", "Proceed to Elm St!")) {
		t.Error("Open changed a damaged file")
	}

	torn := appendCommit(t, good, change{key: messageKey(101, 3), val: encodeMessage(&Message{ID: 3, ToUnit: 101, Text: "lost", Time: c.Now()})})
	d, _ := writeRoster(t, torn[:len(torn)-20])
	s = openStore(t, d)
	if got := messageIDs(pendingOf(t, s, 101)); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("after cutting a torn message commit, unit 101's queue holds %v; want [1]", got)
	}
	if len(tornCopies(t, d, rosterFile)) != 1 {
		t.Fatal("no copy of the torn file")
	}

	rec := func(fn func(r *messageRecord)) string {
		r := messageRecord{V: schemaVersion, ID: 9, From: 102, FromAlias: "Dispatch", ToUnit: 101, Text: "ok", Time: c.Now()}
		fn(&r)
		return mustJSON(r)
	}
	ok := rec(func(*messageRecord) {})
	for _, tt := range []struct {
		name    string
		changes []change
		want    string
	}{
		{"bad UTF-8", []change{{key: messageKey(101, 9), val: strings.Replace(ok, `"ok"`, "\"o\xff\"", 1)}}, "not valid UTF-8"},
		{"too long", []change{{key: messageKey(101, 9), val: rec(func(r *messageRecord) { r.Text = strings.Repeat("a", MaxMessageTextLen+1) })}},
			"is 1025 bytes long"},
		{"empty without alert", []change{{key: messageKey(101, 9), val: rec(func(r *messageRecord) { r.Text = "" })}}, "has no text"},
		{"ID 0", []change{{key: messageKey(101, 0), val: rec(func(r *messageRecord) { r.ID = 0 })}}, "message ID 0"},
		{"no time", []change{{key: messageKey(101, 9), val: strings.Replace(ok, `,"time":"2026-11-23T10:15:00Z"`, "", 1)}}, "outside the years"},
		{"other unit", []change{{key: messageKey(101, 9), val: rec(func(r *messageRecord) { r.ToUnit = 102 })}}, "holds message 9 of unit 102"},
		{"short key", []change{{key: "msg:101:9", val: ok}}, "holds message 9 of unit 101"},
		{"unknown unit", []change{{key: messageKey(555, 9), val: rec(func(r *messageRecord) { r.ToUnit = 555 })}},
			"is queued for unit 555, which does not exist"},
		{"left behind by a removed unit", []change{{key: unitKey(101), del: true}}, "is queued for unit 101, which does not exist"},
		{"unknown field", []change{{key: messageKey(101, 9), val: strings.Replace(ok, `"id":9,`, `"id":9,"read":true,`, 1)}}, "unknown field"},
		{"not JSON", []change{{key: messageKey(101, 9), val: "{"}}, "the value of msg:00000101:00000000000000000009"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := appendCommit(t, good, tt.changes...)
			d, path := writeRoster(t, data)
			_, err := Open(Config{Dir: d})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want ErrDamaged saying %q", err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Error("Open changed the file")
			}
		})
	}

	// A message record from a newer version is not damage.
	newer := rec(func(r *messageRecord) { r.V = schemaVersion + 1 })
	d, _ = writeRoster(t, appendCommit(t, good, change{key: messageKey(101, 9), val: newer}))
	if _, err := Open(Config{Dir: d}); !errors.Is(err, ErrNewerSchema) || errors.Is(err, ErrDamaged) {
		t.Fatalf("Open of a newer message record = %v, want ErrNewerSchema", err)
	}
}

// TestMessagesInSnapshot restores a snapshot and finds the queues as they
// were when it was taken.
func TestMessagesInSnapshot(t *testing.T) {
	t.Parallel()
	c := newClock()
	dir := t.TempDir()
	s := openStore(t, dir, withClock(c))
	populate(t, s)
	queueAll(t, s,
		textTo(101, 1, "one", c.Now()), textTo(101, 2, "two", c.Now().Add(time.Second)),
		Message{ID: 3, ToUnit: 102, ToTalkgroup: 200, Alert: true, Time: c.Now()})
	want101, want102 := pendingOf(t, s, 101), pendingOf(t, s, 102)
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Changes after the snapshot are lost by the restore.
	if err := s.DeleteMessage(101, 1); err != nil {
		t.Fatal(err)
	}
	queueAll(t, s, textTo(102, 4, "after the snapshot", c.Now()))
	mustClose(t, s)

	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	restored, _ := writeRoster(t, data)
	s = openStore(t, restored)
	if got := pendingOf(t, s, 101); !reflect.DeepEqual(got, want101) {
		t.Fatalf("restored queue of unit 101 = %+v\nwant %+v", got, want101)
	}
	if got := pendingOf(t, s, 102); !reflect.DeepEqual(got, want102) {
		t.Fatalf("restored queue of unit 102 = %+v\nwant %+v", got, want102)
	}
	// The restored store carries on.
	if err := s.DeleteMessage(101, 1); err != nil {
		t.Fatalf("DeleteMessage after restore: %v", err)
	}
}

// FuzzDecodeMessage checks that decodeMessage never panics and that what it
// accepts obeys the rules of a message and encodes back to itself.
func FuzzDecodeMessage(f *testing.F) {
	t0 := newClock().Now()
	for _, m := range []Message{
		textTo(101, 1, "Proceed to Main St\n<10-4> & \u2028", t0),
		{ID: 1<<64 - 1, ToUnit: MaxUnitID, ToTalkgroup: 65535, Alert: true, Time: t0},
	} {
		f.Add(messageKey(m.ToUnit, m.ID), encodeMessage(&m))
	}
	f.Add(messageKey(7, 3), `{"v":4,"id":3,"from":0,"to_unit":7,"text":"\ud800","time":"2026-01-01T00:00:00+02:00"}`)
	f.Fuzz(func(t *testing.T, key, val string) {
		m, err := decodeMessage(key, val)
		if err != nil {
			return
		}
		if err := checkMessage(&m); err != nil || key != messageKey(m.ToUnit, m.ID) || !isMessageKey(key) {
			t.Fatalf("decodeMessage accepted %q, %q as %+v: %v", key, val, m, err)
		}
		again, err := decodeMessage(key, encodeMessage(&m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("%+v encodes to %q, which decodes to %+v, %v", m, encodeMessage(&m), again, err)
		}
	})
}
