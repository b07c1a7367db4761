package tui

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/tui/geomap"
)

// Styles of the console, beside the radio's. Everything that matters is
// also said in words, so the console reads on a monochrome terminal.
var (
	styleTab      = lipgloss.NewStyle().Reverse(true).Bold(true)
	styleCursor   = lipgloss.NewStyle().Reverse(true)
	styleTalking  = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("10"))
	styleAcked    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("11"))
	styleHeader   = lipgloss.NewStyle().Underline(true)
	styleQuestion = lipgloss.NewStyle().Reverse(true).Bold(true).Foreground(lipgloss.Color("11"))
)

// consoleHelp describes every key; it fits 80x24.
var consoleHelp = []string{
	"Everywhere",
	"  space  push-to-talk on the TX talkgroup and the multiselected ones: held",
	"         where the terminal reports key releases, else press, press to stop",
	"  1 2 3 4  talkgroups, units, map, log (tab, shift+tab)   ? help   esc close",
	"  a  acknowledge emergency   x  clear it (y/n)   e  map on the emergency",
	"  q  quit (y/n)   ctrl+c  quit at once",
	"Talkgroups",
	"  up/down move   enter or m  monitor/mute   + -  volume   M  message the group",
	"  t  transmit on it   s  add to/remove from multiselect   b  broadcast calls",
	"  r  replay recall   [ ]  older/newer   w  save it as WAV   o  stop replay",
	"  p  patch talkgroups (asks which)   u  dissolve patch / end call (y/n)",
	"Units",
	"  up/down move   /  search alias, ID, status   f  next filter   F  clear both",
	"  m  message   c  call alert   r  radio check   g  regroup (-N undoes)",
	"  P  private call (then space talks; u on its row in talkgroups ends it)",
	"  S  stun (y/n)   V  revive (y/n)   a x  its emergency   enter  on the map",
	"Map",
	"  /  centre on LAT,LON, list the nearest available units   n  list again",
	"  arrows  pan   + -  zoom   f  fit",
	"Event log",
	"  up/down pgup/pgdown home/end  scroll",
}

// View renders the console. It fits 80x24 and uses whatever more it gets.
func (m *ConsoleModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.KeyboardEnhancements.ReportEventTypes = true
	v.WindowTitle = "Varta console " + m.alias
	return v
}

func (m *ConsoleModel) size() (w, h int) {
	w, h = m.width, m.height
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 24
	}
	return max(w, 40), max(h, 12)
}

// Lines around the body.
func (m *ConsoleModel) alarmLines() int {
	w, _ := m.size()
	return len(m.bannerLines(w))
}
func (m *ConsoleModel) eventLines() int {
	_, h := m.size()
	if m.view == viewLog || m.help || h < 20 {
		return 0
	}
	return min(3+(h-24)/8, 6)
}

// bodyHeight is the height of the view between the fixed lines.
func (m *ConsoleModel) bodyHeight() int {
	_, h := m.size()
	// header, tabs, push-to-talk line, key line
	return max(h-4-m.alarmLines()-m.eventLines(), 3)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (m *ConsoleModel) render() string {
	w, h := m.size()
	lines := make([]string, 0, h)
	add := func(s string) { lines = append(lines, pad(s, w)) }

	add(m.headerLine(w))
	add(m.tabsLine())
	for _, l := range m.bannerLines(w) {
		add(l)
	}
	add(m.pttLine(w))
	body := m.body(w, m.bodyHeight())
	for _, l := range body {
		add(l)
	}
	for range m.bodyHeight() - len(body) {
		add("")
	}
	if n := m.eventLines(); n > 0 {
		add(styleDim.Render(strings.Repeat("─", w)))
		ev := m.events[max(len(m.events)-n+1, 0):]
		for _, e := range ev {
			add(fmt.Sprintf("%s %s", styleDim.Render(e.at.Format("15:04:05")), eventText(e)))
		}
		for range n - 1 - len(ev) {
			add("")
		}
	}
	add(m.footerLine(w))
	if len(lines) > h {
		lines = lines[:h]
	}
	return strings.Join(lines, "\n")
}

// pad fits s into exactly w cells.
func pad(s string, w int) string {
	s = fit(s, w)
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

func (m *ConsoleModel) headerLine(w int) string {
	left := styleTitle.Render("VARTA CONSOLE") + " " + who(m.cfg.Unit, m.alias)
	conn := "connecting"
	switch {
	case m.connKnown && m.conn.Up:
		conn = "● online"
	case m.connKnown && m.conn.Fatal:
		conn = styleAlert.Render("✖ refused: " + m.conn.Err)
	case m.connKnown:
		conn = styleAlert.Render("○ OFFLINE, reconnecting")
	}
	if !m.audio.Playback && m.audio.Why != "" {
		conn += styleAlert.Render("  no speaker")
	}
	right := conn + "  " + m.now().Format("15:04:05")
	mid := "  TX " + m.txText()
	gap := w - ansi.StringWidth(left) - ansi.StringWidth(mid) - ansi.StringWidth(right)
	if gap < 1 {
		mid = ""
		gap = max(w-ansi.StringWidth(left)-ansi.StringWidth(right), 1)
	}
	return left + mid + strings.Repeat(" ", gap) + right
}

// txText names the talkgroups space talks on.
func (m *ConsoleModel) txText() string {
	set := m.txSet()
	if len(set) == 0 {
		return "none"
	}
	s := m.tgName(set[0])
	for _, t := range set[1:] {
		s += fmt.Sprintf(" +%d", t)
	}
	return s
}

func (m *ConsoleModel) tabsLine() string {
	var b strings.Builder
	for i, n := range viewNames {
		t := fmt.Sprintf(" %d %s ", i+1, n)
		if consoleView(i) == m.view && !m.help {
			t = styleTab.Render(t)
		}
		b.WriteString(t)
	}
	help := " ? Help "
	if m.help {
		help = styleTab.Render(help)
	}
	b.WriteString(help)
	if n := len(m.alarms); n > 0 {
		b.WriteString(styleEmergency.Render(fmt.Sprintf(" %d EMERGENCY ", n)))
	}
	if m.unread > 0 {
		b.WriteString(styleTab.Render(fmt.Sprintf(" %d NEW MESSAGE%s: 4 ", m.unread, pick1(m.unread > 1, "S", ""))))
	}
	return b.String()
}

// bannerLines shows the open emergencies, oldest first: raised ones in
// red reverse video, acknowledged ones in yellow.
func (m *ConsoleModel) bannerLines(w int) []string {
	as := m.sortedAlarms()
	var out []string
	for i, a := range as {
		if i == 3 {
			out = append(out, styleAlert.Render(fmt.Sprintf("   ... and %d more emergencies (units view, filter: in emergency)", len(as)-3)))
			break
		}
		level := "EMERGENCY"
		if a.Level == pb.Emergency_EMERGENCY_IMMINENT_PERIL {
			level = "IMMINENT PERIL"
		}
		since := ""
		if a.RaisedMs > 0 {
			since = " raised " + age(m.now().Sub(time.UnixMilli(a.RaisedMs))) + " ago"
		}
		where := "no known location"
		if p := a.Position; p != nil {
			where = fmt.Sprintf("at %.5f,%.5f", p.Lat, p.Lon)
			if p.TimeMs > 0 {
				where += " (fix " + age(m.now().Sub(time.UnixMilli(p.TimeMs))) + " old)"
			}
		}
		style := styleEmergency
		head := fmt.Sprintf("!! %s %s [a ack] [x clear] [e map]  tg %s", level, who(a.Unit, a.Alias), m.tgName(a.Talkgroup))
		if a.State == pb.EmergencyState_EMERGENCY_ACKNOWLEDGED {
			style = styleAcked
			head = fmt.Sprintf("!! %s %s ACKNOWLEDGED by %s [x clear]  tg %s", level, who(a.Unit, a.Alias), who(a.By, a.ByAlias), m.tgName(a.Talkgroup))
		}
		tail := where + since
		if one := head + "  " + tail; ansi.StringWidth(one) <= w {
			out = append(out, style.Render(pad(one, w)))
			continue
		}
		// Too narrow for one line: the location must not be cut off.
		out = append(out, style.Render(pad(head, w)), style.Render(pad("   "+tail, w)))
	}
	return out
}

func (m *ConsoleModel) pttLine(w int) string {
	tx := m.tgName(m.req.Talkgroup)
	if len(m.req.Also) > 0 {
		for _, t := range m.req.Also {
			tx += fmt.Sprintf(" +%d", t)
		}
	}
	switch m.phase {
	case phaseOnAir:
		el := m.now().Sub(m.onAirSince)
		s := fmt.Sprintf(" ● ON AIR%s  tg %s  %s / %s  %s", pick1(m.req.Broadcast, " BROADCAST", ""), tx, clock(el), clock(m.onAirMax), meter(m.level, 10))
		return styleOnAir.Render(pad(s, w))
	case phaseRequesting:
		return styleAlert.Render(fmt.Sprintf(" requesting the floor on tg %s ...", tx))
	case phaseQueued:
		return styleAlert.Render(fmt.Sprintf(" QUEUED #%d on tg %s: you will be on air when the talker ends", m.queuePos, tx))
	case phaseDenied:
		return styleAlert.Render(" DENIED on tg " + tx + ": " + m.reason)
	case phaseRevoked:
		return styleAlert.Render(" REVOKED on tg " + tx + ": " + m.reason)
	case phaseFailed:
		return styleAlert.Render(" CANNOT TALK: " + m.reason)
	}
	how := "press space to talk, again to stop"
	if m.mode == modeHold {
		how = "hold space to talk"
	}
	if m.broadcast {
		how += " (BROADCAST: only you talk until the call ends)"
	}
	return styleDim.Render(fmt.Sprintf(" standby: %s on tg %s", how, m.txText()))
}

func (m *ConsoleModel) footerLine(w int) string {
	switch {
	case m.confirm != nil:
		return styleQuestion.Render(pad(" "+m.confirm.question+"  y = yes, any other key = no", w))
	case m.prompt != promptNone:
		return m.input.View() + styleDim.Render("   enter: ok  esc: cancel")
	}
	var keys string
	switch {
	case m.help:
		keys = "esc: close help"
	case m.view == viewTalkgroups:
		keys = "↑↓ move  enter mute  +- vol  t tx  s multi  r replay  p patch  ? help"
	case m.view == viewUnits:
		keys = "↑↓ move  / search  f filter  m msg  c alert  r check  S stun  V revive  g regroup"
	case m.view == viewMap:
		keys = "/ go to LAT,LON  arrows pan  +- zoom  f fit  n nearest  ? help"
	default:
		keys = "↑↓ pgup pgdn home end: scroll  ? help"
	}
	return styleDim.Render(" " + keys)
}

func (m *ConsoleModel) body(w, h int) []string {
	if m.help {
		lines := consoleHelp[min(m.helpTop, len(consoleHelp)):]
		if len(lines) > h {
			lines = append(slices.Clip(lines[:h-1]), styleDim.Render("  ... more below: down scrolls"))
		}
		return lines
	}
	switch m.view {
	case viewUnits:
		return m.unitsBody(w, h)
	case viewMap:
		return m.mapBody(w, h)
	case viewLog:
		return m.logBody(h)
	}
	return m.tgBody(w, h)
}

// window returns the first row to show so that cur is visible in h rows.
func window(cur, n, h int) int {
	if n <= h {
		return 0
	}
	return max(0, min(cur-h/2, n-h))
}

func (m *ConsoleModel) tgBody(w, h int) []string {
	if len(m.tgs) == 0 {
		return []string{"", "  No talkgroups yet: waiting for the relay."}
	}
	recallRows := 0
	if h >= 12 {
		recallRows = min(4, h-9)
	}
	rows := h - 1 - boolInt(recallRows > 0)*(recallRows+1)
	out := []string{styleHeader.Render(pad("  HEAR VOL TX  TALKGROUP              FLOOR", w))}
	top := window(m.tgCur, len(m.tgs), rows)
	for i := top; i < min(top+rows, len(m.tgs)); i++ {
		out = append(out, m.tgRowLine(m.tgs[i], i == m.tgCur, w))
	}
	for len(out) < rows+1 {
		out = append(out, "")
	}
	if recallRows > 0 && m.tgCur < len(m.tgs) {
		r := m.tgs[m.tgCur]
		out = append(out, styleHeader.Render(pad(fmt.Sprintf(" Recall tg %s (%d kept): r replay  [ ] older/newer  w save  o stop", tgLabel(r.Talkgroup), len(r.recalls)), w)))
		if len(r.recalls) == 0 {
			out = append(out, styleDim.Render("   nothing heard yet"))
		}
		for i := 0; i < min(recallRows, len(r.recalls)); i++ {
			// Newest first.
			idx := i
			if r.recSel >= recallRows {
				idx = r.recSel - recallRows + 1 + i
			}
			if idx >= len(r.recalls) {
				break
			}
			rc := r.recalls[len(r.recalls)-1-idx]
			em := "  unverified"
			if rc.Verified {
				em = "  signed"
			}
			if rc.Emergency {
				em += " EMERGENCY"
			}
			line := fmt.Sprintf("   %s  %-24s %5.1f s%s", rc.At.Format("15:04:05"), who(rc.Unit, rc.Alias), rc.Duration.Seconds(), em)
			if idx == r.recSel {
				line = styleCursor.Render(pad(" ›"+line[2:], w))
			}
			out = append(out, line)
		}
	}
	return out
}

func (m *ConsoleModel) tgRowLine(r *tgRow, cur bool, w int) string {
	hear := "mute"
	if r.monitor {
		hear = " on "
	}
	tx := "  "
	switch {
	case r.ID == m.txTG:
		tx = "TX"
	case m.multi[r.ID]:
		tx = " +"
	}
	name := tgLabel(r.Talkgroup)
	if len(r.patch) > 0 {
		name = fmt.Sprintf("%d PATCH %s", r.ID, joinIDs(r.patch, "+"))
	}
	if rest, ok := strings.CutPrefix(r.Name, "call:"); ok {
		name = fmt.Sprintf("%d CALL %s", r.ID, strings.ReplaceAll(rest, ",", "↔"))
	}
	floor := styleDim.Render("idle")
	if r.last != "" {
		floor = styleDim.Render("idle · last " + r.last + " " + age(m.now().Sub(r.lastAt)) + " ago")
	}
	if t := r.talker; t != nil {
		s := fmt.Sprintf("TALKING %s %s", who(t.unit, t.alias), clock(m.now().Sub(t.since)))
		if t.unit == m.cfg.Unit {
			s = "YOU ARE ON AIR"
		}
		switch {
		case t.emergency:
			floor = styleEmergency.Render("EMERGENCY " + s)
		default:
			floor = styleTalking.Render(s)
		}
	}
	var flags []string
	if ps := m.patchesOf(r.ID); len(ps) > 0 {
		flags = append(flags, "patched "+joinIDs(ps, ","))
	}
	for _, a := range m.alarms {
		if a.Talkgroup == r.ID && a.State == pb.EmergencyState_EMERGENCY_RAISED {
			flags = append(flags, styleEmergency.Render("EMERG"))
			break
		}
	}
	if r.keyed && !r.key.Have {
		flags = append(flags, styleAlert.Render("NO KEY"))
	}
	line := fmt.Sprintf("%s %s  %2d %s  %s  %s", pick1(cur, "›", " "), hear, r.volume, tx, padPlain(name, 20), floor)
	if len(flags) > 0 {
		line += "  " + strings.Join(flags, " ")
	}
	if cur {
		return styleCursor.Render(pad(ansi.Strip(line), w))
	}
	return line
}

func pick1(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// padPlain pads or cuts plain text to n cells.
func padPlain(s string, n int) string {
	s = fit(s, n)
	return s + strings.Repeat(" ", max(n-ansi.StringWidth(s), 0))
}

func joinIDs(ids []uint32, sep string) string {
	s := make([]string, len(ids))
	for i, t := range ids {
		s[i] = fmt.Sprint(t)
	}
	return strings.Join(s, sep)
}

func (m *ConsoleModel) unitsBody(w, h int) []string {
	search := ""
	if m.search != "" {
		search = fmt.Sprintf(" · search %q", m.search)
	}
	updated := "not loaded yet"
	if !m.unitsAt.IsZero() {
		updated = "updated " + age(m.now().Sub(m.unitsAt)) + " ago"
	}
	if m.pollFailed != "" {
		updated += " · " + styleAlert.Render("refresh failed: "+m.pollFailed)
	}
	out := []string{
		fmt.Sprintf(" Units %d of %d · filter %s%s · %s", len(m.shown), len(m.units), filterNames[m.filter], search, updated),
		styleHeader.Render(pad("  ID       ALIAS            ROLE       STATUS         ON  TALKGROUPS      HEARD  LOC", w)),
	}
	rows := h - 2
	top := window(m.unitCur, len(m.shown), rows)
	now := m.now()
	for i := top; i < min(top+rows, len(m.shown)); i++ {
		u := m.shown[i]
		on := " - "
		if u.Online {
			on = "yes"
		}
		status := u.Status
		if status == "" {
			status = "-"
		}
		if u.Stunned {
			status = "STUNNED"
		}
		heard := "-"
		if u.LastHeardMs > 0 {
			heard = age(now.Sub(time.UnixMilli(u.LastHeardMs)))
		}
		loc := "-"
		if u.Position != nil && u.Position.TimeMs > 0 {
			loc = age(now.Sub(time.UnixMilli(u.Position.TimeMs)))
		}
		line := fmt.Sprintf("%s %-8d %s %s %s %s %s %6s %5s", pick1(i == m.unitCur, "›", " "), u.Unit,
			padPlain(u.Alias, 16), padPlain(u.Role, 10), padPlain(status, 14), on, padPlain(joinIDs(u.Talkgroups, ","), 14), heard, loc)
		switch {
		case i == m.unitCur:
			line = styleCursor.Render(pad(line, w))
		case m.alarms[u.Unit] != nil:
			line = styleEmergency.Render(pad("!"+line[1:], w))
		case !u.Online:
			line = styleDim.Render(line)
		}
		out = append(out, line)
	}
	if len(m.shown) == 0 {
		out = append(out, styleDim.Render("   no unit matches"))
	}
	return out
}

// eventText is an event line's text, in bold when it is a unit's message.
func eventText(e eventLine) string {
	if e.alert {
		return styleAlert.Render(e.text)
	}
	return e.text
}

func (m *ConsoleModel) logBody(h int) []string {
	n := len(m.events)
	if n == 0 {
		return []string{styleDim.Render(" nothing has happened yet")}
	}
	end := n - m.logTop
	start := max(end-h+1, 0)
	out := []string{styleHeader.Render(fmt.Sprintf(" Event log: %d lines%s", n, pick1(m.logTop > 0, fmt.Sprintf(", %d newer below (end: newest)", m.logTop), "")))}
	for _, e := range m.events[start:end] {
		out = append(out, fmt.Sprintf(" %s %s", styleDim.Render(e.at.Format("15:04:05")), eventText(e)))
	}
	return out
}

// mapPoints are the units with a fresh position, and the emergencies.
func (m *ConsoleModel) mapPoints() []geomap.Point {
	pts := make([]geomap.Point, 0, len(m.units)+len(m.alarms))
	for _, u := range m.units {
		if u.Position == nil || m.alarms[u.Unit] != nil {
			continue
		}
		pts = append(pts, geomap.Point{Lat: u.Position.Lat, Lon: u.Position.Lon, Label: cmpAlias(u), Mark: statusMark(u.Status), Dim: !u.Online || u.Status == "out-of-service"})
	}
	for _, a := range m.alarms {
		p := a.Position
		if u := m.units[a.Unit]; u != nil && u.Position != nil {
			p = u.Position // fresher than the alarm's
		}
		if p == nil {
			continue
		}
		pts = append(pts, geomap.Point{Lat: p.Lat, Lon: p.Lon, Label: cmpAlias(&pb.UnitInfo{Unit: a.Unit, Alias: a.Alias}), Mark: '!', Emergency: true})
	}
	// Stable order, so the drawing does not flicker between polls.
	slices.SortFunc(pts, func(a, b geomap.Point) int { return strings.Compare(a.Label, b.Label) })
	return pts
}

func cmpAlias(u *pb.UnitInfo) string {
	if u.Alias != "" {
		return u.Alias
	}
	return fmt.Sprint(u.Unit)
}

// statusMark is the map marker for a status.
func statusMark(s string) rune {
	switch s {
	case "available":
		return 'A'
	case "busy":
		return 'B'
	case "en-route":
		return 'R'
	case "on-scene":
		return 'S'
	case "out-of-service":
		return 'O'
	}
	return '*'
}

// mapScale is the map's metres per cell: the dispatcher's zoom, or one
// that fits the units around the centre.
func (m *ConsoleModel) mapScale() float64 {
	if m.mapMPC > 0 {
		return m.mapMPC
	}
	w, h := m.mapSize()
	return geomap.Fit(geomap.View{Lat: m.mapLat, Lon: m.mapLon, Width: w, Height: h}, m.mapPoints())
}

// mapSize is the map's size in cells: the body less the side list.
func (m *ConsoleModel) mapSize() (w, h int) {
	bw, _ := m.size()
	side := 0
	if bw >= 70 {
		side = 34
	}
	return bw - side, m.bodyHeight() - 1
}

// autoCentre centres the map on the first emergency or unit with a
// position until the dispatcher chooses a centre. It reports whether the
// map has a centre.
func (m *ConsoleModel) autoCentre() bool {
	if m.mapSet {
		return true
	}
	pts := m.mapPoints()
	if len(pts) == 0 {
		return false
	}
	m.mapLat, m.mapLon = pts[0].Lat, pts[0].Lon
	for _, p := range pts {
		if p.Emergency {
			m.mapLat, m.mapLon = p.Lat, p.Lon
			break
		}
	}
	return true
}

func (m *ConsoleModel) mapBody(w, h int) []string {
	if !m.autoCentre() {
		return []string{"", "  No unit has reported a location yet.", "  Press / to centre the map on a LAT,LON."}
	}
	mw, mh := m.mapSize()
	mpc := m.mapScale()
	label := m.mapLabel
	if label == "" {
		label = fmt.Sprintf("%.5f,%.5f", m.mapLat, m.mapLon)
	}
	out := []string{styleHeader.Render(pad(fmt.Sprintf(" Map around %s · %s per cell · A avail B busy R en-route S on-scene O out ! emergency", label, geomap.FormatDistance(mpc)), w))}
	grid := geomap.Render(geomap.View{Lat: m.mapLat, Lon: m.mapLon, MetresPerCell: mpc, Width: mw, Height: mh}, m.mapPoints())
	side := m.nearestLines(w - mw)
	for i := range mh {
		line := ""
		if i < len(grid) {
			line = grid[i]
		}
		if w > mw && i < len(side) {
			line = pad(line, mw) + side[i]
		}
		out = append(out, line)
	}
	return out
}

// nearestLines lists the nearest available units to the map's centre.
func (m *ConsoleModel) nearestLines(w int) []string {
	if w < 20 {
		return nil
	}
	out := []string{styleHeader.Render(padPlain(" Nearest available", w))}
	n := m.nearest
	if n == nil || n.Lat != m.mapLat || n.Lon != m.mapLon {
		return append(out, styleDim.Render(" press n to look"))
	}
	if len(n.Units) == 0 {
		return append(out, styleDim.Render(" none with a fresh fix"))
	}
	for i, u := range n.Units {
		d := u.DistanceM
		dir := ""
		if u.Position != nil {
			if d == 0 {
				d = geomap.Distance(n.Lat, n.Lon, u.Position.Lat, u.Position.Lon)
			}
			dir = geomap.Compass(geomap.Bearing(n.Lat, n.Lon, u.Position.Lat, u.Position.Lon))
		}
		out = append(out, fit(fmt.Sprintf(" %d %s %s %s", i+1, padPlain(who(u.Unit, u.Alias), w-16), padPlain(geomap.FormatDistance(d), 7), dir), w))
	}
	return out
}

// offset moves a point by dx metres east and dy metres north.
func offset(lat, lon, dx, dy float64) (float64, float64) {
	const r = 6371008.8
	lat2 := lat + dy/r*180/math.Pi
	lon2 := lon + dx/(r*math.Cos(lat*math.Pi/180))*180/math.Pi
	lat2 = max(min(lat2, 89.9), -89.9)
	lon2 = math.Mod(lon2+540, 360) - 180
	return lat2, lon2
}
