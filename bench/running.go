package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

// A run against a running relay (Config.RelayData) enrols its units and
// creates its talkgroups through the relay's admin socket, as `vartad unit
// add` does while the relay runs, with IDs from agency.BenchUnitFirst and
// agency.BenchTalkgroupFirst. It refuses to start if the roster already has
// anything in those ranges, and removes what it added when the run ends,
// also on an error or ctrl-C. A unit is the bench's if its alias, and a
// talkgroup if its name, starts with benchPrefix; RemoveLeftovers removes
// those left by a run that was killed.

// cleanupLimit bounds the removal of n units and their talkgroups: half a
// minute plus 20 ms per unit (each removal is one synced store commit).
func cleanupLimit(n int) time.Duration {
	return 30*time.Second + time.Duration(n)*20*time.Millisecond
}

// runningRelayAddr returns the address to load the relay serving dir at:
// addr, or the agency's advertised address when addr is "", as an IP
// literal on loopback. Anything else is refused, without a DNS lookup.
func runningRelayAddr(dir, addr string) (string, error) {
	what := "--server " + addr
	if addr == "" {
		info, err := agency.Load(dir)
		if err != nil {
			return "", err
		}
		addr = info.Advertise
		what = "the agency's advertised address " + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bench: %s is not HOST:PORT (give --server 127.0.0.1:PORT with the port the relay listens on)", what)
	}
	ip := net.ParseIP(host)
	if host == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("bench: %s is not on loopback, and the bench sends load only to 127.0.0.0/8 or ::1 (give --server 127.0.0.1:PORT with the port the relay listens on)", what)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", fmt.Errorf("bench: %s has no usable port (give --server 127.0.0.1:PORT with the port the relay listens on)", what)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// attachRunning finds the relay serving dir and its process, issues the
// units' identities with the agency CA and adds the groups and units to the
// relay's roster. The returned relay's cleanup removes them again; if
// attachRunning fails it has removed what it added.
func attachRunning(ctx context.Context, dir, addr string, groups []*group, units []*unit) (*relay, error) {
	roster, pid, err := agency.RunningRelay(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, pki.CAKeyFile)); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("bench: %s holds no %s, which the bench needs to issue its units' identities: put the agency CA key back there (mode 0600, as the relay's user) for the run, and take it away again afterwards", dir, pki.CAKeyFile)
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: the agency CA key: %w", err)
	}
	if err := checkReserved(roster, dir); err != nil {
		return nil, err
	}
	if err := issueIdentities(ctx, ca, addr, units); err != nil {
		return nil, err
	}
	en := &enrolment{roster: roster, dir: dir}
	add := func() error {
		for _, g := range groups {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := roster.AddTalkgroup(store.Talkgroup{ID: g.id, Name: benchPrefix + strconv.Itoa(int(g.id))}); err != nil {
				return fmt.Errorf("bench: add talkgroup %d to the running relay: %w", g.id, err)
			}
			en.tgs = append(en.tgs, g.id)
		}
		for _, u := range units {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, err := u.record()
			if err != nil {
				return err
			}
			if err := roster.AddUnit(rec); err != nil {
				return fmt.Errorf("bench: enrol unit %d in the running relay: %w", u.id, err)
			}
			en.units = append(en.units, u.id)
		}
		return nil
	}
	if err := add(); err != nil {
		return nil, errors.Join(err, en.remove())
	}
	return &relay{
		addr:    addr,
		pid:     pid,
		mode:    modeRunning,
		desc:    fmt.Sprintf("running relay pid %d at %s (data %s)", pid, addr, dir),
		stop:    func() {},
		cleanup: en.remove,
	}, nil
}

// enrolment is what a run added to a running relay's roster.
type enrolment struct {
	roster server.Roster
	dir    string
	units  []uint32
	tgs    []uint16
}

// remove takes the enrolment's units, then its talkgroups, off the roster,
// within cleanupLimit; one already gone counts as removed. It says what is
// left, and how to remove it, when it could not finish.
func (e *enrolment) remove() error {
	deadline := time.Now().Add(cleanupLimit(len(e.units)))
	var errs []error
	var leftUnits, leftTGs int
	for _, id := range e.units {
		if time.Now().After(deadline) {
			leftUnits++
			continue
		}
		if err := e.roster.RemoveUnit(id); err != nil && !errors.Is(err, store.ErrNotFound) {
			leftUnits++
			errs = append(errs, err)
		}
	}
	for _, id := range e.tgs {
		if time.Now().After(deadline) {
			leftTGs++
			continue
		}
		if err := e.roster.RemoveTalkgroup(id); err != nil && !errors.Is(err, store.ErrNotFound) {
			leftTGs++
			errs = append(errs, err)
		}
	}
	e.units, e.tgs = nil, nil
	if leftUnits+leftTGs == 0 {
		return nil
	}
	why := "time ran out"
	if len(errs) > 0 {
		why = errs[0].Error()
	}
	return fmt.Errorf("bench: %d bench units and %d bench talkgroups are still in the relay's roster (%s); remove them with `varta bench --relay-data %s --relay-cleanup`", leftUnits, leftTGs, why, e.dir)
}

func reservedUnit(id uint32) bool {
	return id >= agency.BenchUnitFirst && id <= agency.BenchUnitLast
}

func reservedTalkgroup(id uint16) bool {
	return id >= agency.BenchTalkgroupFirst && id <= agency.BenchTalkgroupLast
}

// reserved lists the roster's units and talkgroups in the bench's ranges:
// the bench's own (left by an earlier run), and anything else by name.
func reserved(roster server.Roster) (units []uint32, tgs []uint16, foreign []string, err error) {
	us, err := roster.Units()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bench: list the relay's units: %w", err)
	}
	ts, err := roster.Talkgroups()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("bench: list the relay's talkgroups: %w", err)
	}
	for _, u := range us {
		switch {
		case !reservedUnit(u.ID):
		case strings.HasPrefix(u.Alias, benchPrefix) && u.Role == store.RoleOfficer:
			units = append(units, u.ID)
		default:
			foreign = append(foreign, fmt.Sprintf("unit %d %q", u.ID, u.Alias))
		}
	}
	for _, t := range ts {
		switch {
		case !reservedTalkgroup(t.ID):
		case strings.HasPrefix(t.Name, benchPrefix):
			tgs = append(tgs, t.ID)
		default:
			foreign = append(foreign, fmt.Sprintf("talkgroup %d %q", t.ID, t.Name))
		}
	}
	return units, tgs, foreign, nil
}

func foreignError(foreign []string) error {
	if len(foreign) > 3 {
		foreign = append(foreign[:3:3], fmt.Sprintf("%d more", len(foreign)-3))
	}
	return fmt.Errorf("bench: the relay's roster has %s in the ID ranges the bench reserves (units %d-%d, talkgroups %d-%d); move them out of those ranges, the bench will not run beside them",
		strings.Join(foreign, ", "), agency.BenchUnitFirst, agency.BenchUnitLast, agency.BenchTalkgroupFirst, agency.BenchTalkgroupLast)
}

// checkReserved refuses a roster that has anything in the bench's ranges.
func checkReserved(roster server.Roster, dir string) error {
	units, tgs, foreign, err := reserved(roster)
	switch {
	case err != nil:
		return err
	case len(foreign) > 0:
		return foreignError(foreign)
	case len(units)+len(tgs) > 0:
		return fmt.Errorf("bench: the relay's roster still holds %d units and %d talkgroups of an earlier bench run that did not finish; remove them with `varta bench --relay-data %s --relay-cleanup`, then run again", len(units), len(tgs), dir)
	}
	return nil
}

// RemoveLeftovers removes from the roster of the agency in dir (through the
// relay's admin socket if it runs, else from the store) the units and
// talkgroups a bench run left behind when it was killed, and returns how
// many it removed. It touches nothing if anything else is in the bench's
// ranges, and gives up after cleanupLimit.
func RemoveLeftovers(dir string) (units, talkgroups int, err error) {
	roster, closeRoster, err := agency.OpenRoster(dir)
	if err != nil {
		return 0, 0, err
	}
	defer closeRoster()
	us, ts, foreign, err := reserved(roster)
	if err != nil {
		return 0, 0, err
	}
	if len(foreign) > 0 {
		return 0, 0, foreignError(foreign)
	}
	en := &enrolment{roster: roster, dir: dir, units: us, tgs: ts}
	if err := en.remove(); err != nil {
		return 0, 0, err
	}
	return len(us), len(ts), nil
}
