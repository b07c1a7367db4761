package store

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/tidwall/buntdb"
)

// The standard unit status codes. An agency may define its own (see
// UnitStatus.Code).
const (
	StatusAvailable    = "available"
	StatusBusy         = "busy"
	StatusEnRoute      = "en-route"
	StatusOnScene      = "on-scene"
	StatusOutOfService = "out-of-service"
)

// MaxStatusCodeLen is the longest status code, in bytes.
const MaxStatusCodeLen = 24

// statusCode matches every valid status code, the standard ones included.
var statusCode = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,23}$`)

// UnitStatus is a unit's dispatch status. Statuses do not expire: a unit
// keeps its last status until it or a dispatcher sets another.
type UnitStatus struct {
	Unit uint32
	// Code is one of the Status constants or an agency-defined code: 1 to
	// MaxStatusCodeLen lower-case letters, digits and hyphens, beginning
	// with a letter or digit.
	Code string
	// Time is when the status was set (any year from 0 to 9999), stored and
	// returned in UTC.
	Time time.Time
	// By is the unit (an officer, or a dispatcher) that set it, or 0 if the
	// relay did.
	By uint32
}

// statusRecord is the value of status:<unit>. Its fields are written in
// this order, which scanStatusCode relies on.
type statusRecord struct {
	V    int       `json:"v"`
	Unit uint32    `json:"unit"`
	Code string    `json:"code"`
	Time time.Time `json:"time"`
	By   uint32    `json:"by"`
}

func checkStatus(st UnitStatus) error {
	if err := checkUnitID(st.Unit); err != nil {
		return err
	}
	if !statusCode.MatchString(st.Code) {
		return invalidf("status code %q of unit %d is not valid: use %s, %s, %s, %s, %s, or an agency code of 1 to %d "+
			"lower-case letters, digits and hyphens that begins with a letter or digit",
			st.Code, st.Unit, StatusAvailable, StatusBusy, StatusEnRoute, StatusOnScene, StatusOutOfService, MaxStatusCodeLen)
	}
	if st.By != 0 {
		if err := checkUnitID(st.By); err != nil {
			return invalidf("the unit that set the status of unit %d, %d, is out of range (1 to %d, or 0 for the relay)", st.Unit, st.By, MaxUnitID)
		}
	}
	return checkTime(fmt.Sprintf("time of the status of unit %d", st.Unit), st.Time)
}

func encodeStatus(st UnitStatus) string {
	return mustJSON(statusRecord{V: liveSchemaVersion, Unit: st.Unit, Code: st.Code, Time: st.Time.UTC(), By: st.By})
}

func decodeStatus(key, val string) (UnitStatus, error) {
	var r statusRecord
	if err := decodeStrict(val, &r); err != nil {
		return UnitStatus{}, err
	}
	if key != statusKey(r.Unit) {
		return UnitStatus{}, fmt.Errorf("holds unit %d", r.Unit)
	}
	st := UnitStatus{Unit: r.Unit, Code: r.Code, Time: r.Time, By: r.By}
	if err := checkStatus(st); err != nil {
		return UnitStatus{}, err
	}
	if encodeStatus(st) != val {
		return UnitStatus{}, errors.New("not in canonical form")
	}
	return st, nil
}

// scanStatusCode reads the code of a status value in canonical form,
// {"v":1,"unit":101,"code":"available",...}.
func scanStatusCode(val string) (string, bool) {
	f := fieldScanner{rest: val, ok: true}
	f.next(`{"v":`, ',')
	f.next(`,"unit":`, ',')
	code := f.next(`,"code":"`, '"')
	return code, f.ok
}

// scanStatus reads a status value in canonical form, as decodeStatus would,
// for the same reason as scanPosition.
func scanStatus(val string) (UnitStatus, bool) {
	f := fieldScanner{rest: val, ok: true}
	f.next(`{"v":`, ',')
	unitS := f.next(`,"unit":`, ',')
	code := f.next(`,"code":"`, '"')
	timeS := f.next(`","time":"`, '"')
	byS := f.next(`","by":`, '}')
	if !f.ok || f.rest != "}" {
		return UnitStatus{}, false
	}
	unit, err1 := strconv.ParseUint(unitS, 10, 32)
	t, err2 := time.Parse(time.RFC3339Nano, timeS)
	by, err3 := strconv.ParseUint(byS, 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		return UnitStatus{}, false
	}
	return UnitStatus{Unit: uint32(unit), Code: code, Time: t, By: uint32(by)}, true
}

// statusCodeOf returns unit's status code inside tx, or "" if it has none.
func statusCodeOf(tx *buntdb.Tx, unit uint32) (string, error) {
	val, err := tx.Get(statusKey(unit))
	if errors.Is(err, buntdb.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	code, ok := scanStatusCode(val)
	if !ok {
		return "", fmt.Errorf("store: internal error: %s is not in canonical form", statusKey(unit))
	}
	return code, nil
}

// SetStatus records st as its unit's status, replacing the previous one. The
// unit need not be in the roster. It returns an error matching ErrInvalid,
// and records nothing, if st breaks a rule of UnitStatus. Like all live
// state, a status set less than about a second before a crash may be lost.
func (s *Store) SetStatus(st UnitStatus) error {
	if err := checkStatus(st); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	val := encodeStatus(st)
	return dbErr(s.live.Update(func(tx *buntdb.Tx) error {
		_, _, err := tx.Set(statusKey(st.Unit), val, nil)
		return err
	}))
}

// Status returns unit's status, or an error matching ErrNotFound if none was
// recorded.
func (s *Store) Status(unit uint32) (UnitStatus, error) {
	if err := checkUnitID(unit); err != nil {
		return UnitStatus{}, err
	}
	if s.closed.Load() {
		return UnitStatus{}, ErrClosed
	}
	var st UnitStatus
	err := s.live.View(func(tx *buntdb.Tx) error {
		key := statusKey(unit)
		val, err := tx.Get(key)
		if errors.Is(err, buntdb.ErrNotFound) {
			return errorf(ErrNotFound, "no status recorded for unit %d", unit)
		}
		if err != nil {
			return err
		}
		var ok bool
		if st, ok = scanStatus(val); !ok {
			return fmt.Errorf("store: internal error: %s is not in canonical form", key)
		}
		return nil
	})
	return st, dbErr(err)
}
