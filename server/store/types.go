package store

import (
	"crypto/sha256"
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
	// MaxCertLen bounds a unit's certificate (Unit.Cert) and the KMF's
	// certificate stored with a talkgroup's keys, in bytes of DER.
	MaxCertLen = 16 << 10
	// MaxMemberKeyLen bounds one member's sealed, signed epoch key, in bytes.
	MaxMemberKeyLen = 8 << 10
	// MaxKeyBundleLen bounds the member keys and the KMF certificate of one
	// epoch of one talkgroup together, in bytes (protocol.MaxKMFMessageSize).
	MaxKeyBundleLen = 16 << 20
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
	// Cert is the DER of that certificate (at most MaxCertLen bytes), which
	// the KMF checks against the agency CA before it seals a key to
	// HPKEPublicKey. It is set only together with the credentials above, and
	// its SHA-256 must be CertFingerprint. ReplaceUnitCredentials requires
	// it, but it is optional otherwise: units enrolled before Varta stored
	// certificates have none, and the KMF leaves them out until they are
	// re-issued.
	Cert []byte
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

// credentials are a unit's certificate fingerprint, public keys and
// certificate.
type credentials struct {
	fp            string
	hpke, signing []byte
	cert          []byte // optional, see Unit.Cert
}

// normalizeCredentials checks a unit's credentials and returns them with the
// fingerprint in lower case and copies of the byte slices.
func normalizeCredentials(id uint32, c credentials) (credentials, error) {
	if c.fp == "" && len(c.hpke) == 0 && len(c.signing) == 0 && len(c.cert) == 0 {
		return credentials{}, nil
	}
	if c.fp == "" || len(c.hpke) == 0 || len(c.signing) == 0 {
		return credentials{}, invalidf("unit %d needs all of a certificate fingerprint, an HPKE public key and a signing public key, or none", id)
	}
	fp := strings.ToLower(c.fp)
	if b, err := hex.DecodeString(fp); err != nil || len(b) != sha256.Size {
		return credentials{}, invalidf("certificate fingerprint %q of unit %d is not a hex SHA-256 (64 hex digits)", fp, id)
	}
	if len(c.hpke) > MaxPublicKeyLen || len(c.signing) > MaxPublicKeyLen {
		return credentials{}, invalidf("a public key of unit %d is longer than %d bytes", id, MaxPublicKeyLen)
	}
	if len(c.cert) > MaxCertLen {
		return credentials{}, invalidf("the certificate of unit %d is %d bytes long (at most %d)", id, len(c.cert), MaxCertLen)
	}
	if len(c.cert) > 0 {
		if sum := sha256.Sum256(c.cert); hex.EncodeToString(sum[:]) != fp {
			return credentials{}, invalidf("the certificate of unit %d does not match its fingerprint %s (its SHA-256 is %x): "+
				"give the fingerprint of that certificate", id, fp, sum)
		}
	}
	return credentials{fp: fp, hpke: slices.Clone(c.hpke), signing: slices.Clone(c.signing), cert: cloneBytes(c.cert)}, nil
}

// cloneBytes returns a copy of b, or nil if b is empty.
func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

func (u *Unit) credentials() credentials {
	return credentials{fp: u.CertFingerprint, hpke: u.HPKEPublicKey, signing: u.SigningPublicKey, cert: u.Cert}
}

func (u *Unit) setCredentials(c credentials) {
	u.CertFingerprint, u.HPKEPublicKey, u.SigningPublicKey, u.Cert = c.fp, c.hpke, c.signing, c.cert
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
	c, err := normalizeCredentials(u.ID, u.credentials())
	if err != nil {
		return Unit{}, err
	}
	u.setCredentials(c)
	u.Enrolled = u.Enrolled.UTC()
	return u, nil
}
