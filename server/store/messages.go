package store

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tidwall/buntdb"
)

// Message queues. A text message or call alert to a unit waits in that
// unit's queue in roster.db until the unit's radio confirms it: the relay
// calls QueueMessage for each recipient before it tells the sender the
// message was accepted, hands PendingMessages to a unit when it connects,
// and calls DeleteMessage when the radio confirms delivery. A message sent to
// a talkgroup is queued once per recipient, under the same ID.
//
// Each queued message is a msg:UNIT:ID record (see records.go), written in
// its own commit, so it is on disk when QueueMessage returns, like a roster
// change. RemoveUnit deletes the unit's queue in the same commit as the
// unit. Snapshots and compaction copy the queues with everything else, and
// Open checks every message record and that its unit exists.

// Message is a text message or a call alert queued for one unit.
type Message struct {
	// ID identifies the message; the caller (the relay) assigns it, from 1.
	// It is unique within the recipient's queue; a message sent to a
	// talkgroup has the same ID in the queue of every recipient.
	ID uint64
	// From is the sending unit, or 0 for the relay or the administrator.
	From uint32
	// FromAlias is the sender's alias at the time; may be empty, else it
	// obeys the rules of Unit.Alias.
	FromAlias string
	// ToUnit is the recipient, whose queue holds the message.
	ToUnit uint32
	// ToTalkgroup is the talkgroup the message was sent to, or 0 if it was
	// sent to ToUnit alone. It is not checked against the roster: the
	// talkgroup may since have been removed.
	ToTalkgroup uint16
	// Text is 0 to MaxMessageTextLen bytes of UTF-8; it may be empty only
	// if Alert is set.
	Text string
	// Alert marks a call alert (a page): the radio alerts its user.
	Alert bool
	// Time is when the message was sent, within the years 1678 to 2262.
	// QueueMessage sets a zero Time to Config.Now; it is stored, and
	// returned, in UTC.
	Time time.Time
}

// Limits of the message queues.
const (
	// MaxQueuedMessages is how many messages one unit's queue holds;
	// QueueMessage refuses more.
	MaxQueuedMessages = 200
	// MaxMessageTextLen is the longest Message.Text, in bytes.
	MaxMessageTextLen = 1024
)

// Message keys: msg:UNIT:ID, 8 and 20 digits (see records.go).
const (
	messagePfx     = "msg:"
	messageIDWidth = 20
)

func messageKey(unit uint32, id uint64) string {
	return fmt.Sprintf("%s%08d:%020d", messagePfx, unit, id)
}

// messageRange returns the bounds of unit's message keys: from (inclusive)
// and to (exclusive).
func messageRange(unit uint32) (from, to string) {
	p := fmt.Sprintf("%s%08d", messagePfx, unit)
	return p + ":", p + ";" // ';' follows ':'
}

// parseMessageKey returns the unit and the message ID in a msg: key.
func parseMessageKey(key string) (unit uint32, id uint64, ok bool) {
	split := len(messagePfx) + unitWidth
	if len(key) != split+1+messageIDWidth || key[split] != ':' {
		return 0, 0, false
	}
	u, uok := parseKeyID(key[:split], messagePfx, unitWidth)
	id, iok := parseKeyID(key[split:], ":", messageIDWidth)
	if !uok || !iok || u < 1 || u > MaxUnitID || id == 0 {
		return 0, 0, false
	}
	return uint32(u), id, true
}

func isMessageKey(key string) bool {
	_, _, ok := parseMessageKey(key)
	return ok
}

// checkMessage checks every rule a message obeys on its own (not whether its
// unit exists).
func checkMessage(m *Message) error {
	switch {
	case m.ID == 0:
		return invalidf("message ID 0 is not allowed (IDs start at 1)")
	case m.From > MaxUnitID:
		return invalidf("message %d is from %d, which is not a unit ID (1 to %d) or 0 for the relay", m.ID, m.From, MaxUnitID)
	case !utf8.ValidString(m.Text):
		return invalidf("the text of message %d is not valid UTF-8", m.ID)
	case len(m.Text) > MaxMessageTextLen:
		return invalidf("the text of message %d is %d bytes long (at most %d)", m.ID, len(m.Text), MaxMessageTextLen)
	case m.Text == "" && !m.Alert:
		return invalidf("message %d has no text (only a call alert may be empty)", m.ID)
	case !inNanoRange(m.Time):
		return invalidf("message %d has the time %v, outside the years 1678 to 2262", m.ID, m.Time)
	}
	if err := checkUnitID(m.ToUnit); err != nil {
		return err
	}
	if m.FromAlias != "" {
		if err := checkText("sender alias", m.FromAlias, MaxAliasLen); err != nil {
			return err
		}
	}
	return nil
}

// messageRecord is a msg: value (since version 4).
type messageRecord struct {
	V           int       `json:"v"`
	ID          uint64    `json:"id"`
	From        uint32    `json:"from"`
	FromAlias   string    `json:"from_alias,omitempty"`
	ToUnit      uint32    `json:"to_unit"`
	ToTalkgroup uint16    `json:"to_tg,omitempty"`
	Text        string    `json:"text"`
	Alert       bool      `json:"alert,omitempty"`
	Time        time.Time `json:"time"`
}

func encodeMessage(m *Message) string {
	return mustJSON(messageRecord{
		V: schemaVersion, ID: m.ID, From: m.From, FromAlias: m.FromAlias, ToUnit: m.ToUnit,
		ToTalkgroup: m.ToTalkgroup, Text: m.Text, Alert: m.Alert, Time: m.Time.UTC(),
	})
}

// decodeMessage decodes and checks a msg: record; whether its unit exists is
// checked by the caller.
func decodeMessage(key, val string) (Message, error) {
	var r messageRecord
	if err := decodeStrictText(val, &r); err != nil {
		return Message{}, err
	}
	m := Message{
		ID: r.ID, From: r.From, FromAlias: r.FromAlias, ToUnit: r.ToUnit,
		ToTalkgroup: r.ToTalkgroup, Text: r.Text, Alert: r.Alert, Time: r.Time.UTC(),
	}
	if key != messageKey(m.ToUnit, m.ID) {
		return Message{}, fmt.Errorf("holds message %d of unit %d", m.ID, m.ToUnit)
	}
	if err := checkMessage(&m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// checkMessageRecord is Open's check of a msg: record in state, the roster
// being loaded: it decodes, and its unit exists. Open does not count a
// unit's messages: MaxQueuedMessages bounds what QueueMessage accepts.
func checkMessageRecord(key, val string, state map[string]record) error {
	m, err := decodeMessage(key, val)
	if err != nil {
		return err
	}
	if _, ok := state[unitKey(m.ToUnit)]; !ok {
		return fmt.Errorf("is queued for unit %d, which does not exist", m.ToUnit)
	}
	return nil
}

// QueueMessage adds m to the queue of unit m.ToUnit, in its own commit: it
// is on disk when QueueMessage returns. A zero m.Time is set to Config.Now.
// It returns an error matching ErrNotFound if the unit does not exist,
// ErrExists if the unit's queue already holds a message with m.ID, or
// ErrInvalid if m breaks a rule of Message or the queue already holds
// MaxQueuedMessages; nothing is written then.
func (s *Store) QueueMessage(m Message) error {
	if m.Time.IsZero() {
		m.Time = s.cfg.Now()
	}
	m.Time = m.Time.UTC()
	if err := checkMessage(&m); err != nil {
		return err
	}
	key, val := messageKey(m.ToUnit, m.ID), encodeMessage(&m)
	return s.commitRoster(func(tx *buntdb.Tx) ([]change, error) {
		if _, err := getUnit(tx, m.ToUnit); err != nil {
			return nil, err
		}
		if _, err := tx.Get(key); err == nil {
			return nil, errorf(ErrExists, "message %d is already queued for unit %d", m.ID, m.ToUnit)
		} else if !errors.Is(err, buntdb.ErrNotFound) {
			return nil, err
		}
		n := 0
		from, to := messageRange(m.ToUnit)
		err := tx.AscendRange("", from, to, func(string, string) bool {
			n++
			return n < MaxQueuedMessages
		})
		if err != nil {
			return nil, err
		}
		if n >= MaxQueuedMessages {
			return nil, invalidf("the message queue of unit %d is full (%d waiting)", m.ToUnit, MaxQueuedMessages)
		}
		return []change{{key: key, val: val}}, nil
	})
}

// PendingMessages returns the messages queued for unit, oldest (by Time)
// first, and by ID among messages of the same Time. A unit without messages,
// or not in the roster, has none: the result is empty, not an error. It
// holds BuntDB's read lock only to collect the records.
func (s *Store) PendingMessages(unit uint32) ([]Message, error) {
	if err := checkUnitID(unit); err != nil {
		return nil, err
	}
	from, to := messageRange(unit)
	recs, err := s.rosterRecords(from, to, 0)
	if err != nil {
		return nil, err
	}
	msgs, err := decodeRecords(recs, decodeMessage)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(msgs, func(a, b Message) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID))
	})
	return msgs, nil
}

// DeleteMessage removes message id from unit's queue, once the unit has it.
// It returns an error matching ErrNotFound if the queue does not hold it.
// The change is on disk when it returns.
func (s *Store) DeleteMessage(unit uint32, id uint64) error {
	if err := checkUnitID(unit); err != nil {
		return err
	}
	return s.deleteRecord(messageKey(unit, id), errorf(ErrNotFound, "no message %d is queued for unit %d", id, unit))
}

// appendMessageDeletes appends to changes the deletion of every message
// queued for unit, for RemoveUnit's commit.
func appendMessageDeletes(tx *buntdb.Tx, unit uint32, changes []change) ([]change, error) {
	from, to := messageRange(unit)
	err := tx.AscendRange("", from, to, func(k, _ string) bool {
		changes = append(changes, change{key: k, del: true})
		return true
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}
