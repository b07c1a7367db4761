package tui

// The console's dispatch side: the unit roster, emergencies, statuses,
// messages, the answers to actions, the map's centre and the event log.

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/protocol/pb"
)

func (m *ConsoleModel) unitsMsg(msg UnitsMsg) {
	m.polling = false
	if msg.Err != nil {
		if m.pollFailed == "" {
			m.logf("unit list not refreshed: %v", msg.Err)
		}
		m.pollFailed = msg.Err.Error()
		return
	}
	m.pollFailed = ""
	units := make(map[uint32]*pb.UnitInfo, len(msg.Units))
	for _, u := range msg.Units {
		units[u.Unit] = u
	}
	m.units, m.unitsAt = units, cmp.Or(msg.At, m.now())
	m.refilter()
}

func (m *ConsoleModel) nearestMsg(msg NearestMsg) {
	if msg.Err != nil {
		m.logf("nearest units: %v", msg.Err)
		return
	}
	m.nearest = &msg
	if len(msg.Units) == 0 {
		m.logf("no available unit with a fresh position near %.5f,%.5f", msg.Lat, msg.Lon)
	}
}

func (m *ConsoleModel) emergenciesMsg(msg EmergenciesMsg) tea.Cmd {
	if msg.Err != nil {
		m.logf("emergency list: %v", msg.Err)
		return nil
	}
	var cmds []tea.Cmd
	seen := make(map[uint32]bool)
	for _, a := range msg.Alarms {
		seen[a.Unit] = true
		cmds = append(cmds, m.alarm(a))
	}
	for u := range m.alarms {
		if !seen[u] {
			delete(m.alarms, u)
		}
	}
	return tea.Batch(cmds...)
}

// alarm takes an emergency alarm in: a new or raised-again one rings the
// bell and centres the map on it.
func (m *ConsoleModel) alarm(a *pb.EmergencyAlarm) tea.Cmd {
	if a == nil {
		return nil
	}
	old := m.alarms[a.Unit]
	switch a.State {
	case pb.EmergencyState_EMERGENCY_CLEARED:
		delete(m.alarms, a.Unit)
		m.logf("emergency of %s cleared by %s", who(a.Unit, a.Alias), who(a.By, a.ByAlias))
		return nil
	case pb.EmergencyState_EMERGENCY_ACKNOWLEDGED:
		m.alarms[a.Unit] = a
		if old == nil || old.State != a.State {
			m.logf("emergency of %s acknowledged by %s", who(a.Unit, a.Alias), who(a.By, a.ByAlias))
		}
		return nil
	}
	m.alarms[a.Unit] = a
	if old != nil && old.State == pb.EmergencyState_EMERGENCY_RAISED && old.RaisedMs == a.RaisedMs {
		return nil
	}
	level := "EMERGENCY"
	if a.Level == pb.Emergency_EMERGENCY_IMMINENT_PERIL {
		level = "IMMINENT PERIL"
	}
	m.logf("%s: %s on tg %s at %s", level, who(a.Unit, a.Alias), m.tgName(a.Talkgroup), posText(a.Position, m.now()))
	if p := a.Position; p != nil && !m.mapSet {
		m.centre(p.Lat, p.Lon, who(a.Unit, a.Alias))
	}
	return tea.Raw("\a")
}

func (m *ConsoleModel) unitStatus(s *pb.UnitStatusEvent) {
	if s == nil {
		return
	}
	if u := m.units[s.Unit]; u != nil {
		u.Status = s.Code
		m.refilter()
	}
	m.logf("%s status %s", who(s.Unit, s.Alias), s.Code)
}

func (m *ConsoleModel) textMsg(t *pb.TextMessage) tea.Cmd {
	if t == nil {
		return nil
	}
	// A unit's message or alert rings the bell, stands out in the log
	// and is counted on the tabs line until the log is read.
	if t.Alert {
		m.logf("CALL ALERT from %s", who(t.From, t.FromAlias))
	} else {
		m.logf("MESSAGE from %s: %s", who(t.From, t.FromAlias), t.Text)
	}
	m.events[len(m.events)-1].alert = true
	if m.view != viewLog {
		m.unread++
	}
	return tea.Raw("\a")
}

func (m *ConsoleModel) actionResult(r ActionResult) tea.Cmd {
	if r.Err != nil {
		m.logf("%s failed: %v", r.Action.Describe(), r.Err)
		return nil
	}
	if r.Text != "" {
		m.logf("%s", r.Text)
	} else {
		m.logf("done: %s", r.Action.Describe())
	}
	switch r.Action.(type) {
	case ActStun, ActRevive, ActRegroup:
		// Show the change at once rather than at the next poll.
		return m.poll()
	case ActAck, ActClear:
		return m.act(ActEmergencies{})
	case ActPrivateCall:
		// Talk on the call as soon as its talkgroup is there.
		m.callTX = r.Talkgroup
		m.takeCall()
	}
	return nil
}

// takeCall makes a private call just set up the transmit talkgroup, once
// the relay has listed it.
func (m *ConsoleModel) takeCall() {
	if m.callTX == 0 || m.tgIdx[m.callTX] == nil || m.active() {
		return
	}
	m.txTG, m.callTX = m.callTX, 0
	clear(m.multi)
	m.logf("transmit on tg %s (private call)", m.tgName(m.txTG))
}

// centre puts the map's centre on a point.
func (m *ConsoleModel) centre(lat, lon float64, label string) {
	m.mapLat, m.mapLon, m.mapLabel, m.mapSet = lat, lon, label, true
	m.mapMPC = 0
	m.nearest = nil
}

// refilter recomputes the rows of the units table.
func (m *ConsoleModel) refilter() {
	var cur uint32
	if m.unitCur < len(m.shown) {
		cur = m.shown[m.unitCur].Unit
	}
	m.shown = m.shown[:0]
	q := strings.ToLower(strings.TrimSpace(m.search))
	for _, u := range m.units {
		if !m.keep(u, q) {
			continue
		}
		m.shown = append(m.shown, u)
	}
	slices.SortFunc(m.shown, func(a, b *pb.UnitInfo) int {
		// Units in emergency first, then by ID.
		ea, eb := m.alarms[a.Unit] != nil, m.alarms[b.Unit] != nil
		if ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Unit, b.Unit)
	})
	m.unitCur = 0
	for i, u := range m.shown {
		if u.Unit == cur {
			m.unitCur = i
		}
	}
}

func (m *ConsoleModel) keep(u *pb.UnitInfo, q string) bool {
	switch m.filter {
	case filterOnline:
		if !u.Online {
			return false
		}
	case filterAvailable:
		if u.Status != "available" || !u.Online {
			return false
		}
	case filterEmergency:
		if m.alarms[u.Unit] == nil {
			return false
		}
	case filterStunned:
		if !u.Stunned {
			return false
		}
	}
	if q == "" {
		return true
	}
	return strings.HasPrefix(strconv.FormatUint(uint64(u.Unit), 10), q) ||
		strings.Contains(strings.ToLower(u.Alias), q) ||
		strings.Contains(strings.ToLower(u.Status), q) ||
		strings.Contains(strings.ToLower(u.Role), q)
}

func (m *ConsoleModel) logf(format string, args ...any) {
	m.events = append(m.events, eventLine{at: m.now(), text: printable(fmt.Sprintf(format, args...))})
	if over := len(m.events) - m.cfg.Events; over > 0 {
		m.events = slices.Delete(m.events, 0, over)
	}
	if m.logTop > 0 {
		m.logTop++ // keep the scrolled-back view still
	}
}

// tgName names a talkgroup briefly: "100 Patrol North".
func (m *ConsoleModel) tgName(id uint32) string {
	if r := m.tgIdx[id]; r != nil {
		return tgLabel(r.Talkgroup)
	}
	return strconv.FormatUint(uint64(id), 10)
}

// selectedUnit returns the unit under the cursor in the units view.
func (m *ConsoleModel) selectedUnit() *pb.UnitInfo {
	if m.unitCur < len(m.shown) {
		return m.shown[m.unitCur]
	}
	return nil
}

// topAlarm returns the alarm the banner's keys act on: the oldest raised
// one, else the oldest acknowledged one.
func (m *ConsoleModel) topAlarm() *pb.EmergencyAlarm {
	var top *pb.EmergencyAlarm
	for _, a := range m.sortedAlarms() {
		if top == nil || (a.State == pb.EmergencyState_EMERGENCY_RAISED && top.State != pb.EmergencyState_EMERGENCY_RAISED) {
			top = a
		}
	}
	return top
}

// sortedAlarms lists the open alarms, oldest first.
func (m *ConsoleModel) sortedAlarms() []*pb.EmergencyAlarm {
	as := make([]*pb.EmergencyAlarm, 0, len(m.alarms))
	for _, a := range m.alarms {
		as = append(as, a)
	}
	slices.SortFunc(as, func(a, b *pb.EmergencyAlarm) int {
		return cmp.Or(cmp.Compare(a.RaisedMs, b.RaisedMs), cmp.Compare(a.Unit, b.Unit))
	})
	return as
}

// posText describes a position and its age.
func posText(p *pb.Position, now time.Time) string {
	if p == nil {
		return "no known location"
	}
	s := fmt.Sprintf("%.5f,%.5f", p.Lat, p.Lon)
	if p.TimeMs > 0 {
		s += " (" + age(now.Sub(time.UnixMilli(p.TimeMs))) + " ago)"
	}
	return s
}

// age says how long ago, briefly: "4s", "12m", "3h", "2d".
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// parseLatLon reads "lat,lon".
func parseLatLon(s string) (lat, lon float64, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), ",")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want LAT,LON, e.g. 52.52,13.405", s)
	}
	if lat, err = strconv.ParseFloat(strings.TrimSpace(a), 64); err != nil || math.Abs(lat) > 90 || math.IsNaN(lat) {
		return 0, 0, fmt.Errorf("%q: latitude must be a number from -90 to 90", a)
	}
	if lon, err = strconv.ParseFloat(strings.TrimSpace(b), 64); err != nil || math.Abs(lon) > 180 || math.IsNaN(lon) {
		return 0, 0, fmt.Errorf("%q: longitude must be a number from -180 to 180", b)
	}
	return lat, lon, nil
}

// parseTalkgroups reads "100,200" or "100 200".
func parseTalkgroups(s string) ([]uint32, error) {
	var tgs []uint32
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '+' }) {
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q is not a talkgroup number (1-65535)", f)
		}
		if !slices.Contains(tgs, uint32(n)) {
			tgs = append(tgs, uint32(n))
		}
	}
	return tgs, nil
}
