package tui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/tui/geomap"
)

func (m *ConsoleModel) keyPress(msg tea.KeyPressMsg) tea.Cmd {
	k := msg.Key()
	s := msg.String()
	if s == "ctrl+c" {
		return m.quit()
	}
	if m.prompt != promptNone {
		return m.promptKey(msg)
	}
	if k.Code == tea.KeySpace {
		// Push-to-talk works whatever else is on screen.
		m.confirm = nil
		return m.pttPress(k)
	}
	if m.confirm != nil {
		p := m.confirm
		m.confirm = nil
		if s != "y" && s != "Y" {
			m.logf("cancelled: %s", strings.TrimSuffix(p.question, "?"))
			return nil
		}
		if p.quit {
			return m.quit()
		}
		return m.do(p.act)
	}
	if m.help {
		switch s {
		case "?", "esc", "q":
			m.help = false
		case "down", "j":
			m.helpTop++
		case "pgdown", "end":
			m.helpTop += m.pageRows()
		case "up", "k":
			m.helpTop--
		case "pgup", "home":
			m.helpTop -= m.pageRows()
		}
		m.helpTop = max(min(m.helpTop, len(consoleHelp)-m.bodyHeight()+1), 0)
		return nil
	}
	switch s {
	case "q":
		m.confirm = &pending{question: "Quit the console?", quit: true}
		return nil
	case "?", "f1":
		m.help, m.helpTop = true, 0
		return nil
	case "1", "f2":
		m.view = viewTalkgroups
		return nil
	case "2", "f3":
		m.view = viewUnits
		return nil
	case "3", "f4":
		m.view = viewMap
		return m.mapShown()
	case "4", "f5":
		m.view = viewLog
		return nil
	case "tab":
		m.view = (m.view + 1) % 4
		if m.view == viewMap {
			return m.mapShown()
		}
		return nil
	case "shift+tab":
		m.view = (m.view + 3) % 4
		if m.view == viewMap {
			return m.mapShown()
		}
		return nil
	case "a":
		return m.ackTop()
	case "x":
		if a := m.topAlarm(); a != nil {
			m.confirm = &pending{question: fmt.Sprintf("Clear the emergency of %s?", who(a.Unit, a.Alias)), act: ActClear{Unit: a.Unit}}
		}
		return nil
	case "e":
		if a := m.topAlarm(); a != nil {
			if a.Position == nil {
				m.logf("no known location for %s", who(a.Unit, a.Alias))
				return nil
			}
			m.centre(a.Position.Lat, a.Position.Lon, who(a.Unit, a.Alias))
			m.view = viewMap
			return m.mapShown()
		}
		m.logf("no emergency open")
		return nil
	}
	switch m.view {
	case viewTalkgroups:
		return m.tgKey(s)
	case viewUnits:
		return m.unitKey(s)
	case viewMap:
		return m.mapKey(s)
	case viewLog:
		m.logKey(s)
	}
	return nil
}

func (m *ConsoleModel) keyRelease(msg tea.KeyReleaseMsg) tea.Cmd {
	k := msg.Key()
	if m.mode != modeHold {
		m.mode = modeHold
		m.logf("push-to-talk: hold space to talk (the terminal reported a key release)")
		if k.Code == tea.KeySpace && m.active() {
			return m.stopPTT()
		}
	}
	if k.Code != tea.KeySpace || !m.pttHeld {
		return nil
	}
	m.pttHeld = false
	if m.active() {
		return m.stopPTT()
	}
	return nil
}

func (m *ConsoleModel) pttPress(k tea.Key) tea.Cmd {
	if m.mode == modeHold {
		if k.IsRepeat || m.pttHeld {
			return nil
		}
		m.pttHeld = true
		if m.active() {
			return nil
		}
		return m.startPTT()
	}
	now := m.now()
	if !m.lastSpace.IsZero() && now.Sub(m.lastSpace) < toggleGuard {
		m.lastSpace = now
		return nil
	}
	m.lastSpace = now
	if m.active() {
		return m.stopPTT()
	}
	return m.startPTT()
}

// txSet lists the talkgroups space talks on: the transmit talkgroup, then
// the multiselected ones in order.
func (m *ConsoleModel) txSet() []uint32 {
	var set []uint32
	if m.txTG != 0 {
		set = append(set, m.txTG)
	}
	for _, r := range m.tgs {
		if m.multi[r.ID] && r.ID != m.txTG {
			set = append(set, r.ID)
		}
	}
	return set
}

func (m *ConsoleModel) startPTT() tea.Cmd {
	set := m.txSet()
	if len(set) == 0 {
		m.failPTT("no talkgroup selected to talk on (t on a talkgroup selects it)")
		return nil
	}
	if m.connKnown && !m.conn.Up {
		m.failPTT("not connected to the relay")
		return nil
	}
	m.seq++
	m.phase, m.queuePos, m.reason = phaseRequesting, 0, ""
	m.req = PTTRequest{Seq: m.seq, Talkgroup: set[0], Also: set[1:], Broadcast: m.broadcast}
	return call(m.cfg.PTTDown, m.req)
}

func (m *ConsoleModel) stopPTT() tea.Cmd {
	req := m.req
	m.phase, m.reason = phaseIdle, ""
	return call(m.cfg.PTTUp, req)
}

func (m *ConsoleModel) quit() tea.Cmd {
	m.quitting = true
	if m.active() {
		return tea.Sequence(m.stopPTT(), tea.Quit)
	}
	return tea.Quit
}

func (m *ConsoleModel) ackTop() tea.Cmd {
	for _, a := range m.sortedAlarms() {
		if a.State == pb.EmergencyState_EMERGENCY_RAISED {
			return m.do(ActAck{Unit: a.Unit})
		}
	}
	m.logf("no emergency waiting for acknowledgement")
	return nil
}

// moveCursor moves a cursor within n rows.
func moveCursor(cur, n int, s string, page int) int {
	switch s {
	case "up", "k":
		cur--
	case "down", "j":
		cur++
	case "pgup":
		cur -= page
	case "pgdown":
		cur += page
	case "home", "g":
		cur = 0
	case "end", "G":
		cur = n - 1
	}
	return max(0, min(cur, n-1))
}

func (m *ConsoleModel) tgKey(s string) tea.Cmd {
	switch s {
	case "up", "k", "down", "j", "pgup", "pgdown", "home", "end":
		m.tgCur = moveCursor(m.tgCur, len(m.tgs), s, m.pageRows())
		return nil
	}
	if m.tgCur >= len(m.tgs) {
		return nil
	}
	r := m.tgs[m.tgCur]
	switch s {
	case "enter", "m":
		r.monitor = !r.monitor
		if r.monitor {
			m.logf("tg %s: monitored", tgLabel(r.Talkgroup))
		} else {
			m.logf("tg %s: muted", tgLabel(r.Talkgroup))
		}
		return m.setGain(r)
	case "+", "=":
		r.volume = min(r.volume+1, volumeMax)
		return m.setGain(r)
	case "-", "_":
		r.volume = max(r.volume-1, 0)
		return m.setGain(r)
	case "t":
		if m.active() {
			m.logf("release push-to-talk before changing the transmit talkgroup")
			return nil
		}
		m.txTG = r.ID
		delete(m.multi, r.ID)
		m.logf("transmit on tg %s", tgLabel(r.Talkgroup))
	case "s":
		if m.active() {
			m.logf("release push-to-talk before changing the multiselect")
			return nil
		}
		if r.ID == m.txTG {
			m.logf("tg %s is the transmit talkgroup already", tgLabel(r.Talkgroup))
			return nil
		}
		m.multi[r.ID] = !m.multi[r.ID]
		if !m.multi[r.ID] {
			delete(m.multi, r.ID)
		}
		m.logf("multiselect: %s", m.txText())
	case "r", "R":
		if len(r.recalls) == 0 {
			m.logf("tg %s: nothing to recall yet", tgLabel(r.Talkgroup))
			return nil
		}
		rc := r.recalls[len(r.recalls)-1-r.recSel]
		m.logf("replaying %s on tg %d, %s", who(rc.Unit, rc.Alias), rc.Talkgroup, rc.At.Format("15:04:05"))
		return call(m.cfg.Replay, rc.ID)
	case "[":
		r.recSel = min(r.recSel+1, max(len(r.recalls)-1, 0))
	case "]":
		r.recSel = max(r.recSel-1, 0)
	case "w":
		if len(r.recalls) == 0 {
			m.logf("tg %s: nothing to save yet", tgLabel(r.Talkgroup))
			return nil
		}
		return call(m.cfg.Save, r.recalls[len(r.recalls)-1-r.recSel].ID)
	case "o":
		return call(m.cfg.Replay, 0)
	case "p":
		m.openPrompt(promptPatch, 0, "patch talkgroups: ", m.patchSuggestion())
	case "u":
		if isCall(r.Name) {
			m.confirm = &pending{question: fmt.Sprintf("End the private call %s?", tgLabel(r.Talkgroup)), act: ActEndCall{Talkgroup: r.ID}}
			return nil
		}
		if len(r.patch) == 0 {
			m.logf("tg %s is not a patch", tgLabel(r.Talkgroup))
			return nil
		}
		m.confirm = &pending{question: fmt.Sprintf("Dissolve patch %s?", tgLabel(r.Talkgroup)), act: ActUnpatch{Patch: r.ID}}
	case "b":
		if m.active() {
			m.logf("release push-to-talk before changing the call type")
			return nil
		}
		m.broadcast = !m.broadcast
		if m.broadcast {
			m.logf("broadcast calls: space talks and only you talk until the call ends")
		} else {
			m.logf("group calls: the floor passes as usual")
		}
	case "M":
		m.openPrompt(promptMessage, 0, fmt.Sprintf("message to tg %d: ", r.ID), "")
		m.target = r.ID
	}
	return nil
}

// patchSuggestion offers the transmit and multiselected talkgroups.
func (m *ConsoleModel) patchSuggestion() string {
	set := m.txSet()
	if len(set) < 2 && m.tgCur < len(m.tgs) && !slices.Contains(set, m.tgs[m.tgCur].ID) {
		set = append(set, m.tgs[m.tgCur].ID)
	}
	s := make([]string, len(set))
	for i, t := range set {
		s[i] = strconv.FormatUint(uint64(t), 10)
	}
	return strings.Join(s, ",")
}

func (m *ConsoleModel) unitKey(s string) tea.Cmd {
	switch s {
	case "up", "k", "down", "j", "pgup", "pgdown", "home", "end":
		m.unitCur = moveCursor(m.unitCur, len(m.shown), s, m.pageRows())
		return nil
	case "/":
		m.openPrompt(promptSearch, 0, "search: ", m.search)
		return nil
	case "f":
		m.filter = (m.filter + 1) % unitFilter(len(filterNames))
		m.refilter()
		return nil
	case "F":
		m.filter, m.search = filterAll, ""
		m.refilter()
		return nil
	}
	u := m.selectedUnit()
	if u == nil {
		return nil
	}
	name := who(u.Unit, u.Alias)
	switch s {
	case "m":
		m.openPrompt(promptMessage, u.Unit, "message to "+name+": ", "")
	case "c":
		return m.do(ActMessage{Unit: u.Unit, Alert: true})
	case "P":
		return m.do(ActPrivateCall{Unit: u.Unit})
	case "r":
		return m.do(ActCheck{Unit: u.Unit})
	case "S":
		m.confirm = &pending{question: fmt.Sprintf("STUN %s? Its radio will be disabled and wiped of keys.", name), act: ActStun{Unit: u.Unit}}
	case "V":
		m.confirm = &pending{question: fmt.Sprintf("Revive %s?", name), act: ActRevive{Unit: u.Unit}}
	case "g":
		m.openPrompt(promptRegroup, u.Unit, "regroup "+name+" into talkgroup (-N undoes): ", strconv.FormatUint(uint64(m.txTG), 10))
	case "a":
		if a := m.alarms[u.Unit]; a != nil && a.State == pb.EmergencyState_EMERGENCY_RAISED {
			return m.do(ActAck{Unit: u.Unit})
		}
	case "x":
		if m.alarms[u.Unit] != nil {
			m.confirm = &pending{question: fmt.Sprintf("Clear the emergency of %s?", name), act: ActClear{Unit: u.Unit}}
		}
	case "enter", "l":
		if u.Position == nil {
			m.logf("no fresh location for %s", name)
			return nil
		}
		m.centre(u.Position.Lat, u.Position.Lon, name)
		m.view = viewMap
		return m.mapShown()
	}
	return nil
}

// mapShown asks for the nearest available units to the map's centre.
func (m *ConsoleModel) mapShown() tea.Cmd {
	if !m.mapSet {
		return nil
	}
	if n := m.nearest; n != nil && n.Lat == m.mapLat && n.Lon == m.mapLon {
		return nil
	}
	if m.connKnown && !m.conn.Up {
		return nil
	}
	return m.act(ActNearest{Lat: m.mapLat, Lon: m.mapLon, Count: mapNearest})
}

func (m *ConsoleModel) mapKey(s string) tea.Cmd {
	step := func() float64 { return m.mapScale() } // a pan moves 10 cells
	switch s {
	case "/", "L":
		m.openPrompt(promptLocation, 0, "centre on LAT,LON: ", "")
	case "+", "=":
		m.mapMPC = geomap.ZoomIn(m.mapScale())
	case "-", "_":
		m.mapMPC = geomap.ZoomOut(m.mapScale())
	case "f":
		m.mapMPC = 0
	case "left", "h", "right", "l", "up", "k", "down", "j":
		// Panning keeps the centre where the dispatcher moved it.
		if !m.autoCentre() {
			return nil
		}
		m.mapSet = true
		d := step() * 10
		dx, dy := 0.0, 0.0
		switch s {
		case "left", "h":
			dx = -d
		case "right", "l":
			dx = d
		case "up", "k":
			dy = 2 * d / 2
		case "down", "j":
			dy = -2 * d / 2
		}
		lat, lon := offset(m.mapLat, m.mapLon, dx, dy)
		m.mapLat, m.mapLon, m.mapLabel = lat, lon, ""
		if m.mapMPC == 0 {
			m.mapMPC = m.mapScale()
		}
	case "n":
		m.nearest = nil
		// The nearest units to the centre shown, which stays.
		m.mapSet = m.autoCentre()
		return m.mapShown()
	}
	return nil
}

func (m *ConsoleModel) logKey(s string) {
	page := m.pageRows()
	switch s {
	case "up", "k":
		m.logTop++
	case "down", "j":
		m.logTop--
	case "pgup":
		m.logTop += page
	case "pgdown":
		m.logTop -= page
	case "home", "g":
		m.logTop = len(m.events)
	case "end", "G":
		m.logTop = 0
	}
	m.logTop = max(0, min(m.logTop, len(m.events)-1))
}

func (m *ConsoleModel) openPrompt(k promptKind, target uint32, label, value string) {
	m.prompt, m.target = k, target
	m.input.Prompt = label
	m.input.SetValue(value)
	m.input.CursorEnd()
	m.input.Focus()
}

func (m *ConsoleModel) closePrompt() {
	m.prompt = promptNone
	m.input.Blur()
}

// promptKey handles a key while the prompt line is open: enter acts, esc
// closes, the rest edits.
func (m *ConsoleModel) promptKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "esc":
		if m.prompt == promptSearch {
			m.search = ""
			m.refilter()
		}
		m.closePrompt()
		return nil
	case "enter":
		v := strings.TrimSpace(m.input.Value())
		k, target := m.prompt, m.target
		m.closePrompt()
		return m.submit(k, target, v)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	m.promptChanged()
	return cmd
}

// promptChanged filters the units as the search is typed.
func (m *ConsoleModel) promptChanged() {
	if m.prompt == promptSearch {
		m.search = m.input.Value()
		m.refilter()
	}
}

func (m *ConsoleModel) submit(k promptKind, target uint32, v string) tea.Cmd {
	switch k {
	case promptSearch:
		m.search = v
		m.refilter()
	case promptMessage:
		if v == "" {
			return nil
		}
		if m.tgIdx[target] != nil && m.view == viewTalkgroups {
			return m.do(ActMessage{Talkgroup: target, Text: v})
		}
		return m.do(ActMessage{Unit: target, Text: v})
	case promptRegroup:
		undo := strings.HasPrefix(v, "-")
		n, err := strconv.ParseUint(strings.TrimPrefix(v, "-"), 10, 16)
		if err != nil || n == 0 {
			m.logf("regroup: %q is not a talkgroup number", v)
			return nil
		}
		return m.do(ActRegroup{Talkgroup: uint32(n), Units: []uint32{target}, Undo: undo})
	case promptPatch:
		tgs, err := parseTalkgroups(v)
		if err != nil {
			m.logf("patch: %v", err)
			return nil
		}
		if len(tgs) < 2 {
			m.logf("patch: name at least two talkgroups, e.g. 100,200")
			return nil
		}
		return m.do(ActPatch{Talkgroups: tgs})
	case promptLocation:
		lat, lon, err := parseLatLon(v)
		if err != nil {
			m.logf("map: %v", err)
			return nil
		}
		m.centre(lat, lon, fmt.Sprintf("%.5f,%.5f", lat, lon))
		return m.mapShown()
	}
	return nil
}

// pageRows is how many rows a page of a list moves.
func (m *ConsoleModel) pageRows() int { return max(m.bodyHeight()-2, 1) }
