package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Key layout. IDs are zero-padded so that key order is numeric order.
//
//	roster.db:
//	  audit:00000000000000000017
//	                           auditRecord: audit log entry 17, 20 digits
//	                           (see audit.go); never changed or deleted
//	  emergency:00000101       emergencyRecord: unit 101's emergency alarm,
//	                           8 digits (see emergency.go); deleted when
//	                           cleared, or with the unit
//	  meta:schema              schemaRecord, written when the store is created
//	  meta:commit              commitMarker of the newest commit (see commit.go)
//	  keys:00100               keysRecord: talkgroup 100's key state and the
//	                           member keys of its current epoch, 5 digits
//	                           (see keys.go); written by AddTalkgroup, deleted
//	                           with the talkgroup; a talkgroup without one
//	                           (a version 1 file) has no key yet
//	  msg:00000101:00000000000000000123
//	                           messageRecord: message 123 queued for unit 101,
//	                           8 and 20 digits (see messages.go); deleted when
//	                           delivered, or with the unit
//	  tg:00100                 talkgroupRecord, 5 digits
//	  unit:00000101            unitRecord, 8 digits
//	live.db:
//	  meta:schema              schemaRecord
//	  presence:00000101        presenceRecord, with a TTL
//	  position:00000101        positionRecord, with a TTL (see dispatch.go)
//	  status:00000101          statusRecord (see dispatch.go)
const (
	metaSchemaKey  = "meta:schema"
	metaCommitKey  = "meta:commit"
	keysPfx        = "keys:"
	talkgroupPfx   = "tg:"
	unitPfx        = "unit:"
	presencePfx    = "presence:"
	talkgroupWidth = 5
	unitWidth      = 8
)

// Schema versions. Version 2 added the certificate to unit records ("cert")
// and the keys: records, version 3 the audit: records, version 4 the msg:
// records, version 5 the emergency: records. Open reads them all alike: an
// older record is a newer one without the new fields. roster.db is written at
// version 5; since every commit marker carries the version, an older Varta
// refuses a roster.db that this version has changed as written by a newer
// version (ErrNewerSchema), not as damaged. live.db did not change and is
// still written at version 1, which older versions read.
const (
	schemaVersion     = 5 // the newest version this build reads; roster.db is written at it
	minSchemaVersion  = 1 // the oldest version this build reads
	liveSchemaVersion = 1 // the version live.db is written at
)

func talkgroupKey(id uint16) string { return fmt.Sprintf("%s%05d", talkgroupPfx, id) }
func unitKey(id uint32) string      { return fmt.Sprintf("%s%08d", unitPfx, id) }
func presenceKey(id uint32) string  { return fmt.Sprintf("%s%08d", presencePfx, id) }
func keysKey(tg uint16) string      { return fmt.Sprintf("%s%05d", keysPfx, tg) }

func isPresenceKey(key string) bool {
	id, ok := parseKeyID(key, presencePfx, unitWidth)
	return ok && id >= 1 && id <= MaxUnitID
}

// parseKeyID returns the number in a key such as "unit:00000101", requiring
// exactly width digits.
func parseKeyID(key, prefix string, width int) (uint64, bool) {
	digits, ok := strings.CutPrefix(key, prefix)
	if !ok || len(digits) != width {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil
}

// Every stored value is a JSON object with "v", the schema version of the
// record. A record with a larger v than schemaVersion was written by a newer
// Varta; Open refuses it with ErrNewerSchema.

type schemaRecord struct {
	V       int       `json:"v"`
	Created time.Time `json:"created"`
}

type talkgroupRecord struct {
	V        int    `json:"v"`
	ID       uint16 `json:"id"`
	Name     string `json:"name"`
	Priority uint8  `json:"priority"`
}

type unitRecord struct {
	V                int       `json:"v"`
	ID               uint32    `json:"id"`
	Alias            string    `json:"alias"`
	Role             Role      `json:"role"`
	Talkgroups       []uint16  `json:"talkgroups,omitempty"`
	CertFingerprint  string    `json:"cert_sha256,omitempty"`
	HPKEPublicKey    []byte    `json:"hpke_public_key,omitempty"`
	SigningPublicKey []byte    `json:"signing_public_key,omitempty"`
	Cert             []byte    `json:"cert,omitempty"` // since version 2
	Stunned          bool      `json:"stunned,omitempty"`
	Enrolled         time.Time `json:"enrolled"`
}

// keysRecord is a talkgroup's key state and the member keys of its current
// epoch (since version 2).
type keysRecord struct {
	V         int               `json:"v"`
	Talkgroup uint16            `json:"tg"`
	Epoch     uint32            `json:"epoch"`
	Stale     bool              `json:"stale,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	KMFCert   []byte            `json:"kmf_cert,omitempty"`
	Keys      []memberKeyRecord `json:"keys,omitempty"` // sorted by unit, unique
}

type memberKeyRecord struct {
	Unit uint32 `json:"unit"`
	Key  []byte `json:"key"`
}

type presenceRecord struct {
	V         int       `json:"v"`
	Unit      uint32    `json:"unit"`
	Online    bool      `json:"online"`
	Remote    string    `json:"remote,omitempty"`
	Since     time.Time `json:"since"`
	LastHeard time.Time `json:"last_heard"`
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain structs of strings, numbers, times and byte slices are
		// marshalled here; failure is a programming error.
		panic("store: marshal: " + err.Error())
	}
	return string(b)
}

func encodeTalkgroup(tg Talkgroup) string {
	return mustJSON(talkgroupRecord{V: schemaVersion, ID: tg.ID, Name: tg.Name, Priority: tg.Priority})
}

func encodeUnit(u Unit) string {
	return mustJSON(unitRecord{
		V: schemaVersion, ID: u.ID, Alias: u.Alias, Role: u.Role, Talkgroups: u.Talkgroups,
		CertFingerprint: u.CertFingerprint, HPKEPublicKey: u.HPKEPublicKey, SigningPublicKey: u.SigningPublicKey,
		Cert: u.Cert, Stunned: u.Stunned, Enrolled: u.Enrolled.UTC(),
	})
}

func encodeKeys(k talkgroupKeys) string {
	return mustJSON(keysRecord{
		V: schemaVersion, Talkgroup: k.Talkgroup, Epoch: k.Epoch, Stale: k.Stale, Reason: k.Reason,
		KMFCert: k.kmfCert, Keys: k.keys,
	})
}

func encodePresence(p Presence) string {
	return mustJSON(presenceRecord{
		V: liveSchemaVersion, Unit: p.Unit, Online: p.Online, Remote: p.Remote,
		Since: p.Since.UTC(), LastHeard: p.LastHeard.UTC(),
	})
}

// newerSchemaError is wrapped in the error of a record whose version is newer
// than this build understands.
type newerSchemaError struct{ v int }

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("schema version %d; this version of Varta reads versions %d to %d", e.v, minSchemaVersion, schemaVersion)
}

// decodeStrict decodes a JSON object into v, refusing unknown fields,
// trailing data and a version outside minSchemaVersion..schemaVersion.
func decodeStrict(val string, v any) error {
	var hdr struct {
		V *int `json:"v"`
	}
	if err := json.Unmarshal([]byte(val), &hdr); err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	switch {
	case hdr.V == nil:
		return errors.New("no schema version")
	case *hdr.V > schemaVersion:
		return &newerSchemaError{*hdr.V}
	case *hdr.V < minSchemaVersion:
		return fmt.Errorf("unknown schema version %d", *hdr.V)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(val)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("does not decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// decodeStrictText is decodeStrict for records that hold free text:
// encoding/json would turn invalid UTF-8 into U+FFFD, and Varta never
// writes it.
func decodeStrictText(val string, v any) error {
	if !utf8.ValidString(val) {
		return errors.New("not valid UTF-8")
	}
	return decodeStrict(val, v)
}

func decodeTalkgroup(key, val string) (Talkgroup, error) {
	var r talkgroupRecord
	if err := decodeStrict(val, &r); err != nil {
		return Talkgroup{}, err
	}
	tg := Talkgroup{ID: r.ID, Name: r.Name, Priority: r.Priority}
	if key != talkgroupKey(tg.ID) {
		return Talkgroup{}, fmt.Errorf("holds talkgroup %d", tg.ID)
	}
	if err := checkTalkgroup(tg); err != nil {
		return Talkgroup{}, err
	}
	return tg, nil
}

// decodeUnit decodes and checks a unit record; whether its talkgroups exist
// is checked by the caller.
func decodeUnit(key, val string) (Unit, error) {
	var r unitRecord
	if err := decodeStrict(val, &r); err != nil {
		return Unit{}, err
	}
	u := Unit{
		ID: r.ID, Alias: r.Alias, Role: r.Role, Talkgroups: r.Talkgroups,
		CertFingerprint: r.CertFingerprint, HPKEPublicKey: r.HPKEPublicKey, SigningPublicKey: r.SigningPublicKey,
		Cert: r.Cert, Stunned: r.Stunned, Enrolled: r.Enrolled,
	}
	if key != unitKey(u.ID) {
		return Unit{}, fmt.Errorf("holds unit %d", u.ID)
	}
	n, err := normalizeUnit(u)
	if err != nil {
		return Unit{}, err
	}
	if !slices.Equal(n.Talkgroups, u.Talkgroups) || n.CertFingerprint != u.CertFingerprint {
		return Unit{}, errors.New("talkgroups or fingerprint not in canonical form")
	}
	return n, nil
}

// decodeKeys decodes and checks a keys record; whether its talkgroup exists
// and its units may hold the key is checked by the caller.
func decodeKeys(key, val string) (talkgroupKeys, error) {
	var r keysRecord
	if err := decodeStrict(val, &r); err != nil {
		return talkgroupKeys{}, err
	}
	if key != keysKey(r.Talkgroup) {
		return talkgroupKeys{}, fmt.Errorf("holds the keys of talkgroup %d", r.Talkgroup)
	}
	k := talkgroupKeys{
		KeyState: KeyState{Talkgroup: r.Talkgroup, Epoch: r.Epoch, Stale: r.Stale, Reason: r.Reason},
	}
	// Empty, not nil, slices decode from "" and []; keep them nil.
	if len(r.KMFCert) > 0 {
		k.kmfCert = r.KMFCert
	}
	if len(r.Keys) > 0 {
		k.keys = r.Keys
	}
	if err := k.check(); err != nil {
		return talkgroupKeys{}, err
	}
	return k, nil
}

func decodePresence(key, val string) (Presence, error) {
	var r presenceRecord
	if err := decodeStrict(val, &r); err != nil {
		return Presence{}, err
	}
	if key != presenceKey(r.Unit) {
		return Presence{}, fmt.Errorf("holds unit %d", r.Unit)
	}
	if err := checkUnitID(r.Unit); err != nil {
		return Presence{}, err
	}
	return Presence{Unit: r.Unit, Online: r.Online, Remote: r.Remote, Since: r.Since, LastHeard: r.LastHeard}, nil
}

func decodeSchema(val string) (schemaRecord, error) {
	var r schemaRecord
	err := decodeStrict(val, &r)
	return r, err
}
