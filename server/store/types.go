package store

import (
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role is what a unit is allowed to do on the relay.
type Role string

// The roles a unit can have.
const (
	RoleOfficer    Role = "officer"
	RoleDispatcher Role = "dispatcher"
	RoleCommander  Role = "commander"
	RoleKMF        Role = "kmf"
	RoleRecorder   Role = "recorder"
)

var roles = []Role{RoleOfficer, RoleDispatcher, RoleCommander, RoleKMF, RoleRecorder}

// ParseRole returns the role named s (case and surrounding space ignored). An
// unknown name gives an error matching ErrInvalid that lists the valid roles.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(roles, r) {
		return r, nil
	}
	return "", invalidf("unknown role %q (valid roles: %s)", s, roleList())
}

func roleList() string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// Limits of the roster.
const (
	// MaxUnitID is the largest P25 unit ID.
	MaxUnitID = 1<<24 - 1
	// MaxAliasLen is the longest unit alias, in characters.
	MaxAliasLen = 32
	// MaxTalkgroupNameLen is the longest talkgroup name, in characters.
	MaxTalkgroupNameLen = 64
	// MaxPublicKeyLen bounds each of a unit's public keys, in bytes.
	MaxPublicKeyLen = 8192
)

// Unit is a radio of the roster.
type Unit struct {
	ID    uint32 // 1..MaxUnitID (P25 unit ID range)
	Alias string // human alias, 1..32 printable characters, no leading or trailing space
	Role  Role
	// Talkgroups the unit is a member of: sorted, unique, every one exists.
	// AddUnit and SetUnitTalkgroups sort and de-duplicate what they are given.
	Talkgroups []uint16
	// CertFingerprint is the lower-case hex SHA-256 of the DER of the unit
	// certificate currently enrolled, or "" if the unit has no credentials
	// yet. It and the two public keys are all set or all empty.
	CertFingerprint  string
	HPKEPublicKey    []byte
	SigningPublicKey []byte
	// Stunned units may not connect.
	Stunned bool
	// Enrolled is when the current credentials were enrolled. AddUnit sets it
	// to Config.Now if the unit has credentials and it is zero;
	// ReplaceUnitCredentials always sets it.
	Enrolled time.Time
}

// Talkgroup is a group of units that hear each other.
type Talkgroup struct {
	ID       uint16 // 1..65535
	Name     string // 1..64 printable characters, no leading or trailing space
	Priority uint8
}

// Presence is the live state of a unit's connection.
type Presence struct {
	Unit      uint32
	Online    bool
	Remote    string // the unit's address as the relay saw it
	Since     time.Time
	LastHeard time.Time
}

func checkUnitID(id uint32) error {
	if id < 1 || id > MaxUnitID {
		return invalidf("unit ID %d is out of range (1 to %d)", id, MaxUnitID)
	}
	return nil
}

func checkTalkgroupID(id uint16) error {
	if id == 0 {
		return invalidf("talkgroup ID 0 is out of range (1 to 65535)")
	}
	return nil
}

// checkText enforces the rules shared by aliases and names.
func checkText(what, s string, max int) error {
	n := utf8.RuneCountInString(s)
	switch {
	case s == "":
		return invalidf("%s is empty", what)
	case !utf8.ValidString(s):
		return invalidf("%s %q is not valid UTF-8", what, s)
	case n > max:
		return invalidf("%s %q is %d characters long (at most %d)", what, s, n, max)
	case strings.TrimSpace(s) != s:
		return invalidf("%s %q begins or ends with a space", what, s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return invalidf("%s %q contains a non-printable character", what, s)
		}
	}
	return nil
}

func checkTalkgroup(tg Talkgroup) error {
	if err := checkTalkgroupID(tg.ID); err != nil {
		return err
	}
	return checkText("talkgroup name", tg.Name, MaxTalkgroupNameLen)
}

// normalizeTalkgroups returns a sorted, de-duplicated copy of tgs, or an error
// if one is 0.
func normalizeTalkgroups(tgs []uint16) ([]uint16, error) {
	if len(tgs) == 0 {
		return nil, nil
	}
	out := slices.Clone(tgs)
	slices.Sort(out)
	out = slices.Compact(out)
	if out[0] == 0 {
		return nil, checkTalkgroupID(0)
	}
	return out, nil
}

// normalizeCredentials checks a unit's credentials and returns the
// fingerprint in lower case and copies of the keys.
func normalizeCredentials(id uint32, fp string, hpke, signing []byte) (string, []byte, []byte, error) {
	if fp == "" && len(hpke) == 0 && len(signing) == 0 {
		return "", nil, nil, nil
	}
	if fp == "" || len(hpke) == 0 || len(signing) == 0 {
		return "", nil, nil, invalidf("unit %d needs all of a certificate fingerprint, an HPKE public key and a signing public key, or none", id)
	}
	fp = strings.ToLower(fp)
	if b, err := hex.DecodeString(fp); err != nil || len(b) != 32 {
		return "", nil, nil, invalidf("certificate fingerprint %q of unit %d is not a hex SHA-256 (64 hex digits)", fp, id)
	}
	if len(hpke) > MaxPublicKeyLen || len(signing) > MaxPublicKeyLen {
		return "", nil, nil, invalidf("a public key of unit %d is longer than %d bytes", id, MaxPublicKeyLen)
	}
	return fp, slices.Clone(hpke), slices.Clone(signing), nil
}

// normalizeUnit checks every rule a unit obeys on its own (not whether its
// talkgroups exist) and returns a copy the caller does not share.
func normalizeUnit(u Unit) (Unit, error) {
	if err := checkUnitID(u.ID); err != nil {
		return Unit{}, err
	}
	if err := checkText("alias", u.Alias, MaxAliasLen); err != nil {
		return Unit{}, err
	}
	if !slices.Contains(roles, u.Role) {
		return Unit{}, invalidf("unknown role %q for unit %d (valid roles: %s)", u.Role, u.ID, roleList())
	}
	var err error
	if u.Talkgroups, err = normalizeTalkgroups(u.Talkgroups); err != nil {
		return Unit{}, err
	}
	if u.CertFingerprint, u.HPKEPublicKey, u.SigningPublicKey, err = normalizeCredentials(u.ID, u.CertFingerprint, u.HPKEPublicKey, u.SigningPublicKey); err != nil {
		return Unit{}, err
	}
	u.Enrolled = u.Enrolled.UTC()
	return u, nil
}
