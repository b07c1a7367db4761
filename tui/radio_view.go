package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Styles of the radio screen. Everything that matters is also said in
// words, so the screen reads on a monochrome terminal; the ON AIR bar and
// the emergency banner are in reverse video, which every terminal has.
var (
	styleTitle     = lipgloss.NewStyle().Bold(true)
	styleDim       = lipgloss.NewStyle().Faint(true)
	styleOnAir     = lipgloss.NewStyle().Reverse(true).Bold(true)
	styleEmergency = lipgloss.NewStyle().Reverse(true).Bold(true).Foreground(lipgloss.Color("9"))
	styleAlert     = lipgloss.NewStyle().Bold(true)
	stylePrompt    = lipgloss.NewStyle().Reverse(true)
)

// helpLines describe the keys.
var helpLines = []string{
	"space      push-to-talk",
	"           hold-to-talk when the terminal",
	"           reports key releases, else press",
	"           to talk and press again to stop",
	"t / tab    next talkgroup (shift+tab: back)",
	"e, e       declare or clear an emergency",
	"?          this help (esc closes)",
	"q, ctrl+c  quit",
}

// View renders the radio. It fits 80x24 and stays readable at 40 columns.
func (m *RadioModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	// Ask for key release events: with them space is hold-to-talk.
	v.KeyboardEnhancements.ReportEventTypes = true
	v.WindowTitle = "Varta " + m.alias
	return v
}

func (m *RadioModel) render() string {
	w := m.width
	if w <= 0 {
		w = 80
	}
	w = max(w, 20)
	var top []string
	add := func(s string) { top = append(top, fit(s, w)) }

	// Unit and connection.
	left := styleTitle.Render("VARTA") + " " + who(m.cfg.Unit, m.alias)
	right := m.connText()
	if gap := w - ansi.StringWidth(left) - ansi.StringWidth(right); gap >= 1 {
		add(left + strings.Repeat(" ", gap) + right)
	} else {
		add(left)
		add(right)
	}
	if m.emergency {
		add(styleEmergency.Render(center("!! EMERGENCY DECLARED !!", w)))
	}

	// Talkgroup and key.
	if len(m.tgs) == 0 {
		add("TG   waiting for the relay's list of talkgroups")
	} else {
		tg := m.tgs[m.sel]
		name := tg.Name
		if name == "" {
			name = "(name not known yet)"
		}
		add(fmt.Sprintf("TG %d  %s  [%d/%d]", tg.ID, styleTitle.Render(name), m.sel+1, len(m.tgs)))
		add(m.keyText(tg.ID, w))
	}

	// Who talks.
	add(m.talkerText(w))

	// This radio's floor.
	for _, l := range m.floorLines(w) {
		add(l)
	}
	add(m.modeText(w))

	// Why the link is down.
	if m.connKnown && !m.conn.Up && m.conn.Err != "" {
		top = append(top, wrap("Link   "+m.conn.Err, w, 3)...)
	}

	// Audio devices.
	for _, l := range m.audioLines(w) {
		top = append(top, l)
	}
	top = append(top, styleDim.Render(strings.Repeat("─", w)))

	// Events or help, then the key line.
	bottom := m.footer(w)
	room := len(helpLines)
	if m.height > 0 {
		room = max(m.height-len(top)-1, 0)
	}
	var mid []string
	if m.help {
		for _, l := range helpLines {
			mid = append(mid, fit(l, w))
		}
	} else {
		for _, e := range m.events {
			mid = append(mid, fit(styleDim.Render(e.at.Format("15:04:05"))+" "+e.text, w))
		}
	}
	if len(mid) > room {
		mid = mid[len(mid)-room:]
	}
	out := append(top, mid...)
	if m.height > 0 {
		for len(out) < m.height-1 {
			out = append(out, "")
		}
	}
	out = append(out, bottom)
	return strings.Join(out, "\n")
}

func (m *RadioModel) connText() string {
	switch {
	case m.quitting:
		return "signing off"
	case !m.connKnown:
		return "○ connecting"
	case m.conn.Up:
		return "● connected"
	case m.conn.Fatal:
		return styleAlert.Render("✖ OFF THE NETWORK")
	}
	return styleAlert.Render("○ OFFLINE, reconnecting")
}

func (m *RadioModel) keyText(tg uint32, w int) string {
	k, ok := m.keys[tg]
	switch {
	case !ok:
		return "Key  waiting for the voice key"
	case k.Have:
		return pick(w, fmt.Sprintf("Key  epoch %d, end-to-end encrypted", k.Epoch), fmt.Sprintf("Key  epoch %d (end-to-end)", k.Epoch))
	}
	return styleAlert.Render("Key  NONE: cannot talk or hear yet")
}

func (m *RadioModel) talkerText(w int) string {
	tg := m.Selected()
	t, ok := m.talkers[tg]
	if !ok {
		if h, heard := m.heard[tg]; heard {
			return "RX   " + who(h.Unit, h.Alias) + " (audio)"
		}
		return "RX   idle"
	}
	if t.unit == m.cfg.Unit && m.cfg.Unit != 0 {
		return "TX   this radio"
	}
	name := styleTitle.Render(who(t.unit, t.alias))
	var em, note string
	if t.emergency {
		em = " " + styleEmergency.Render("EMERGENCY")
	}
	if _, heard := m.heard[tg]; heard {
		note = " ♪"
	}
	since := clock(m.now().Sub(t.since))
	return pick(w,
		"RX   "+name+em+" talking "+since+note,
		"RX   "+name+em+" "+since+note)
}

func (m *RadioModel) floorLines(w int) []string {
	switch m.phase {
	case phaseRequesting:
		return []string{"PTT  requesting the floor…"}
	case phaseQueued:
		return []string{styleAlert.Render(fmt.Sprintf("PTT  QUEUED #%d, waiting for the floor", m.queuePos))}
	case phaseOnAir:
		label := fmt.Sprintf("ON AIR  %s / %s", clock(m.now().Sub(m.onAirSince)), clock(m.onAirMax))
		switch {
		case m.hotMic:
			label += "  HOT MIC"
		case m.emergCall:
			label += "  EMERGENCY"
		}
		lines := []string{styleOnAir.Render(center(label, w))}
		if m.levelAt.IsZero() || m.now().Sub(m.levelAt) > levelHold {
			lines = append(lines, "mic  "+meter(0, min(20, w-5)))
		} else {
			lines = append(lines, "mic  "+meter(m.level, min(20, w-5)))
		}
		return lines
	case phaseDenied:
		return []string{styleAlert.Render("PTT  DENIED: " + m.reason)}
	case phaseRevoked:
		return []string{styleAlert.Render("PTT  REVOKED: " + m.reason)}
	case phaseFailed:
		return []string{styleAlert.Render("PTT  cannot talk: " + m.reason)}
	}
	return []string{"PTT  idle"}
}

func (m *RadioModel) modeText(w int) string {
	switch {
	case m.mode == modeHold:
		return pick(w, "     hold space to talk (hold-to-talk)", "     hold space to talk")
	case m.active():
		return pick(w, "     press space again to stop (toggle mode)", "     space again to stop")
	}
	return pick(w,
		"     space to talk, space again to stop (toggle mode: no key-release reports)",
		"     space to talk, space again to stop (toggle mode)",
		"     space to talk, again to stop")
}

// pick returns the first variant that fits in w cells, or the last.
func pick(w int, variants ...string) string {
	for _, v := range variants {
		if ansi.StringWidth(v) <= w {
			return v
		}
	}
	return variants[len(variants)-1]
}

func (m *RadioModel) audioLines(w int) []string {
	var s string
	switch {
	case !m.audioKnown:
		s = "Audio  checking devices…"
	case m.audio.Capture && m.audio.Playback:
		s = "Audio  microphone and speaker ready"
	default:
		s = "Audio  " + m.audio.Why
		if m.audio.Why == "" {
			s = "Audio  microphone " + okText(m.audio.Capture) + ", speaker " + okText(m.audio.Playback)
		}
	}
	return wrap(s, w, 0)
}

// wrap word-wraps s at w cells into at most n lines (0: no limit).
func wrap(s string, w, n int) []string {
	lines := strings.Split(ansi.Wrap(s, w, " "), "\n")
	if n > 0 && len(lines) > n {
		lines = lines[:n]
		lines[n-1] = fit(lines[n-1]+"…", w)
	}
	return lines
}

func (m *RadioModel) footer(w int) string {
	switch m.confirm {
	case confirmDeclare:
		return stylePrompt.Render(fit("EMERGENCY? press e again to declare, any other key cancels", w))
	case confirmClear:
		return stylePrompt.Render(fit("Clear the emergency? press e again, any other key cancels", w))
	}
	if w < 60 {
		return styleDim.Render(fit("spc talk  t tg  e emerg  ? help  q quit", w))
	}
	return styleDim.Render(fit("space talk · t talkgroup · e emergency · ? help · q quit", w))
}

func okText(ok bool) string {
	if ok {
		return "ready"
	}
	return "missing"
}

// fit truncates s to w cells.
func fit(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// center pads s to w cells, centred.
func center(s string, w int) string {
	n := ansi.StringWidth(s)
	if n >= w {
		return fit(s, w)
	}
	l := (w - n) / 2
	return strings.Repeat(" ", l) + s + strings.Repeat(" ", w-n-l)
}

// clock formats a duration as m:ss.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// meter draws a level bar of n cells.
func meter(level float64, n int) string {
	if n <= 0 {
		return ""
	}
	k := int(level*float64(n) + 0.5)
	k = min(max(k, 0), n)
	return strings.Repeat("█", k) + strings.Repeat("░", n-k)
}
