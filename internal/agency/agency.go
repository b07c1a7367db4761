// Package agency lays out an agency's data directory and carries out the
// administrator's operations that need the CA key: creating the agency and
// enrolling units. Roster changes go through a server.Roster, which is the
// store itself when the relay is stopped and the relay's admin socket when
// it runs, so that only one process ever writes the store. RunningRelay
// finds a running relay and its process; relay.go also lists the reserved
// unit and talkgroup ID ranges.
//
// Data directory:
//
//	DIR/ca.crt, DIR/ca.key          agency CA (key 0600)
//	DIR/server.crt, DIR/server.key  the relay's identity (key 0600)
//	DIR/agency.json                 agency name and the relay's advertised address
//	DIR/kmf.pem                     identity of the embedded key management facility (0600)
//	DIR/roster.db, DIR/live.db      BuntDB stores (see server/store)
//	DIR/snapshots/                  periodic roster snapshots
//	DIR/admin.sock                  admin socket while the relay runs
package agency

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

// Info is DIR/agency.json.
type Info struct {
	Name string `json:"name"`
	// Advertise is the relay address written into unit identity files.
	Advertise string    `json:"advertise"`
	Created   time.Time `json:"created"`
}

const infoFile = "agency.json"

// KMFFile is the embedded KMF's identity file in the data directory.
const KMFFile = "kmf.pem"

// Embedded KMF unit: the highest unit IDs are left to infrastructure.
const (
	KMFUnitID = 16777214
	KMFAlias  = "KMF"
)

// ErrExists is returned by Init when DIR already holds an agency.
var ErrExists = errors.New("agency: an agency already exists here")

// Init creates a new agency in dir: CA, relay identity, empty stores. It
// refuses to touch a directory that already holds an agency.
func Init(dir, name, advertise string, hosts []string) (*Info, error) {
	for _, f := range []string{"ca.key", "ca.crt", infoFile, "roster.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return nil, fmt.Errorf("%w: %s exists in %s; refusing to overwrite it (use another --data directory)", ErrExists, f, dir)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agency: create %s: %w", dir, err)
	}
	now := time.Now()
	ca, err := pki.NewCA(name, rand.Reader, now)
	if err != nil {
		return nil, err
	}
	if err := ca.Save(dir); err != nil {
		return nil, err
	}
	srv, err := pki.IssueServer(ca, hosts, rand.Reader, now)
	if err != nil {
		return nil, err
	}
	if err := pki.SaveServer(dir, srv); err != nil {
		return nil, err
	}
	st, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	info := &Info{Name: name, Advertise: advertise, Created: now.UTC()}
	if err := writeInfo(dir, info); err != nil {
		return nil, err
	}
	// The embedded KMF is a unit like any other, with role kmf.
	st, err = store.Open(store.Config{Dir: dir})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, err := Enrol(dir, st, EnrolSpec{ID: KMFUnitID, Alias: KMFAlias, Role: store.RoleKMF, Out: filepath.Join(dir, KMFFile), ValidFor: 5 * 365 * 24 * time.Hour}); err != nil {
		return nil, fmt.Errorf("agency: enrol the embedded KMF: %w", err)
	}
	return info, st.Close()
}

func writeInfo(dir string, info *Info) error {
	b, _ := json.MarshalIndent(info, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, infoFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("agency: write %s: %w", infoFile, err)
	}
	return nil
}

// Load reads DIR/agency.json.
func Load(dir string) (*Info, error) {
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("agency: %s holds no agency (run `vartad init --data %s` first)", dir, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("agency: %w", err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("agency: %s is damaged: %w", filepath.Join(dir, infoFile), err)
	}
	return &info, nil
}

// OpenRoster returns the roster of the agency in dir: the running relay's
// admin socket when the relay holds the store, else the store itself. close
// must be called when done.
func OpenRoster(dir string) (r server.Roster, close func() error, err error) {
	if _, err := Load(dir); err != nil {
		return nil, nil, err
	}
	if store.Locked(dir) {
		return &server.AdminClient{Path: filepath.Join(dir, server.AdminSocketName)}, func() error { return nil }, nil
	}
	st, err := store.Open(store.Config{Dir: dir})
	if errors.Is(err, store.ErrLocked) {
		// The relay started in between.
		return &server.AdminClient{Path: filepath.Join(dir, server.AdminSocketName)}, func() error { return nil }, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return auditedStore{st}, st.Close, nil
}

// EnrolSpec describes a unit to enrol.
type EnrolSpec struct {
	ID         uint32
	Alias      string
	Role       store.Role
	Talkgroups []uint16
	Server     string        // relay address in the bundle; default the agency's Advertise
	ValidFor   time.Duration // certificate lifetime; default 2 years
	Out        string        // bundle path; must not exist
}

// Enrol issues a unit identity, writes its bundle to spec.Out (mode 0600)
// and adds the unit to the roster. If the roster refuses the unit, the
// bundle is removed again, so nothing changes.
func Enrol(dir string, roster server.Roster, spec EnrolSpec) (*pki.Identity, error) {
	info, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if spec.Server == "" {
		spec.Server = info.Advertise
	}
	if _, err := os.Stat(spec.Out); err == nil {
		return nil, fmt.Errorf("agency: %s already exists; refusing to overwrite an identity file", spec.Out)
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		return nil, err
	}
	id, err := pki.IssueUnit(ca, pki.UnitSpec{ID: spec.ID, Alias: spec.Alias, Role: string(spec.Role), Server: spec.Server, ValidFor: spec.ValidFor}, rand.Reader, time.Now())
	if err != nil {
		return nil, err
	}
	u, err := UnitRecord(id, spec.Talkgroups)
	if err != nil {
		return nil, err
	}
	if err := pki.WriteIdentityFile(spec.Out, id); err != nil {
		return nil, err
	}
	if err := roster.AddUnit(u); err != nil {
		os.Remove(spec.Out)
		return nil, err
	}
	return id, nil
}

// UnitRecord builds the roster entry for an issued identity.
func UnitRecord(id *pki.Identity, tgs []uint16) (store.Unit, error) {
	hp, err := pki.HPKEPublicKeyFromCert(id.Cert)
	if err != nil {
		return store.Unit{}, err
	}
	sp, err := pki.SigningPublicKeyFromCert(id.Cert)
	if err != nil {
		return store.Unit{}, err
	}
	role, err := store.ParseRole(id.Role)
	if err != nil {
		return store.Unit{}, err
	}
	return store.Unit{
		ID: id.UnitID, Alias: id.Alias, Role: role, Talkgroups: tgs,
		CertFingerprint: pki.Fingerprint(id.Cert),
		HPKEPublicKey:   hp.Bytes(), SigningPublicKey: sp, Cert: id.Cert.Raw,
		Enrolled: time.Now().UTC(),
	}, nil
}

// Reissue issues a new identity for an enrolled unit (a lost radio, a
// compromised or expiring identity file), writes it to out and replaces the
// unit's credentials: the old file stops working at once. The unit keeps its
// ID, alias, role and talkgroups.
func Reissue(dir string, roster server.Roster, id uint32, serverAddr, out string, validFor time.Duration) (*pki.Identity, error) {
	info, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if serverAddr == "" {
		serverAddr = info.Advertise
	}
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("agency: %s already exists; refusing to overwrite an identity file", out)
	}
	u, err := roster.Unit(id)
	if err != nil {
		return nil, err
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		return nil, err
	}
	ident, err := pki.IssueUnit(ca, pki.UnitSpec{ID: u.ID, Alias: u.Alias, Role: string(u.Role), Server: serverAddr, ValidFor: validFor}, rand.Reader, time.Now())
	if err != nil {
		return nil, err
	}
	rec, err := UnitRecord(ident, u.Talkgroups)
	if err != nil {
		return nil, err
	}
	if err := pki.WriteIdentityFile(out, ident); err != nil {
		return nil, err
	}
	if _, err := roster.ReplaceUnitCredentials(id, rec.CertFingerprint, rec.HPKEPublicKey, rec.SigningPublicKey, rec.Cert); err != nil {
		os.Remove(out)
		return nil, err
	}
	return ident, nil
}
