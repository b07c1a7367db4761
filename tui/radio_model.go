package tui

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// Timings of the radio screen.
const (
	// toggleGuard: in toggle mode a space press this soon after the last
	// one is ignored. Terminals that do not report key releases repeat a
	// held key (after a delay of 250-600 ms, then every 30-50 ms); without
	// the guard, holding the key would switch the transmitter on and off.
	toggleGuard = 700 * time.Millisecond
	// confirmWindow is how long the emergency key waits for its confirming
	// second press.
	confirmWindow = 5 * time.Second
	// tickEvery refreshes the clocks while something runs.
	tickEvery = 250 * time.Millisecond
	// levelHold is how long a microphone level stays on screen.
	levelHold = 500 * time.Millisecond
)

// RadioConfig configures the radio screen. The functions are the radio's
// I/O: the model never calls them itself, it returns a tea.Cmd that does.
type RadioConfig struct {
	// Unit and Alias name this radio.
	Unit  uint32
	Alias string
	// Talkgroups the radio can select, in the order the talkgroup key
	// cycles through them. Empty: those of the first WelcomeMsg, and of
	// every later one (the relay's list of talkgroups the unit may use).
	Talkgroups []Talkgroup
	// Selected is the talkgroup selected at start. Default: the first.
	Selected uint32
	// MaxTalk is the relay's maximum talk time, shown until a grant says
	// otherwise. Default 60 s.
	MaxTalk time.Duration
	// Events is how many event lines the screen keeps. Default 5.
	Events int
	// Now is the clock. Default time.Now.
	Now func() time.Time

	// PTTDown requests the floor for the request's talkgroup and, once it
	// is granted, transmits until PTTUp. It returns a FloorResultMsg. It
	// is also called with the Seq of a running hot-mic transmission when
	// the key is pressed during it: the radio then keeps transmitting
	// until the key is released.
	PTTDown func(PTTRequest) tea.Msg
	// PTTUp ends the transmission (end of burst, floor release) or
	// withdraws the request. It returns a PTTEndedMsg or nil.
	PTTUp func(PTTRequest) tea.Msg
	// Emergency makes the emergency call that follows a declaration: an
	// emergency floor request and, once granted, the hot mic. It returns a
	// FloorResultMsg. Default: PTTDown.
	Emergency func(PTTRequest) tea.Msg
	// SelectTalkgroup tells the radio which talkgroup to listen to. It may
	// return nil.
	SelectTalkgroup func(tg uint32) tea.Msg
}

// floorPhase is this radio's floor state on the selected talkgroup.
type floorPhase int

const (
	phaseIdle       floorPhase = iota
	phaseRequesting            // PTTDown sent, no answer yet
	phaseQueued                // waiting in the queue
	phaseOnAir                 // granted: transmitting
	phaseDenied                // the request was refused
	phaseRevoked               // the floor was taken away
	phaseFailed                // the request could not be made
)

// pttMode is how the space bar keys the transmitter.
type pttMode int

const (
	modeToggle pttMode = iota // press to start, press again to stop
	modeHold                  // held to talk: the terminal reports releases
)

type confirmKind int

const (
	confirmNone confirmKind = iota
	confirmDeclare
	confirmClear
)

// talkerInfo is who holds the floor of a talkgroup.
type talkerInfo struct {
	unit      uint32
	alias     string
	emergency bool
	since     time.Time
}

type eventLine struct {
	at    time.Time
	text  string
	alert bool // shown in bold: a message or alert from a unit
}

// RadioModel is the handheld's screen: a Bubble Tea model.
type RadioModel struct {
	cfg RadioConfig
	now func() time.Time

	alias    string
	tgs      []Talkgroup
	sel      int
	relayTGs bool          // tgs come from the relay's Welcome
	maxTalk  time.Duration // relay default

	conn      ConnState
	connKnown bool

	// This radio's floor.
	phase      floorPhase
	seq        uint64
	reqTG      uint32
	queuePos   uint32
	onAirSince time.Time
	onAirMax   time.Duration
	reason     string // why denied, revoked or failed
	hotMic     bool   // the transmission is an emergency hot mic
	emergCall  bool   // the transmission is an emergency call

	mode      pttMode
	modeWhy   string
	pttHeld   bool      // hold mode: the key is down
	lastSpace time.Time // toggle mode: last space press, for the repeat guard

	emergency bool
	confirm   confirmKind
	confirmAt time.Time

	talkers map[uint32]talkerInfo // floor holder per talkgroup
	heard   map[uint32]TalkerMsg  // audio being heard per talkgroup
	keys    map[uint32]KeyState

	audio      AudioStatus
	audioKnown bool
	level      float64
	levelAt    time.Time

	events []eventLine
	help   bool

	width, height int
	ticking       bool
	quitting      bool
	tickCmd       func() tea.Cmd // makes the next tick; tests replace it
}

// NewRadio returns the radio screen for cfg.
func NewRadio(cfg RadioConfig) *RadioModel {
	if cfg.MaxTalk == 0 {
		cfg.MaxTalk = 60 * time.Second
	}
	if cfg.Events == 0 {
		cfg.Events = 5
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Emergency == nil {
		cfg.Emergency = cfg.PTTDown
	}
	m := &RadioModel{
		cfg:      cfg,
		now:      cfg.Now,
		alias:    cfg.Alias,
		tgs:      append([]Talkgroup(nil), cfg.Talkgroups...),
		relayTGs: len(cfg.Talkgroups) == 0,
		maxTalk:  cfg.MaxTalk,
		modeWhy:  "until the terminal says it reports key releases",
		talkers:  make(map[uint32]talkerInfo),
		heard:    make(map[uint32]TalkerMsg),
		keys:     make(map[uint32]KeyState),
	}
	for i, tg := range m.tgs {
		if tg.ID == cfg.Selected {
			m.sel = i
		}
	}
	return m
}

// Init starts nothing: the runner sends the radio's state as messages.
func (m *RadioModel) Init() tea.Cmd { return nil }

// Selected returns the selected talkgroup's ID, or 0 if there is none.
func (m *RadioModel) Selected() uint32 {
	if len(m.tgs) == 0 {
		return 0
	}
	return m.tgs[m.sel].ID
}

// HoldToTalk reports whether space is held to talk (the terminal reports
// key releases) rather than toggled.
func (m *RadioModel) HoldToTalk() bool { return m.mode == modeHold }

// OnAir reports whether this radio is transmitting.
func (m *RadioModel) OnAir() bool { return m.phase == phaseOnAir }

// Emergency reports whether this radio has declared an emergency.
func (m *RadioModel) Emergency() bool { return m.emergency }

// active reports whether a request or transmission is under way.
func (m *RadioModel) active() bool {
	return m.phase == phaseRequesting || m.phase == phaseQueued || m.phase == phaseOnAir
}

// Update handles a message. It does no I/O: what needs the network or the
// audio devices is returned as a tea.Cmd.
func (m *RadioModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyboardEnhancementsMsg:
		if msg.SupportsEventTypes() && m.mode != modeHold {
			m.setHold("the terminal reports key releases")
		}
	case tea.KeyPressMsg:
		cmd = m.keyPress(msg)
	case tea.KeyReleaseMsg:
		cmd = m.keyRelease(msg)
	case tickMsg:
		m.ticking = false
		if m.confirm != confirmNone && m.now().Sub(m.confirmAt) >= confirmWindow {
			m.confirm = confirmNone
		}
	case ConnState:
		m.connState(msg)
	case WelcomeMsg:
		cmd = m.welcome(msg)
	case FloorMsg:
		m.floorEvent(msg.Event)
	case FloorResultMsg:
		m.floorResult(msg)
	case PTTEndedMsg:
		m.pttEnded(msg)
	case TalkerMsg:
		m.talker(msg)
	case KeyState:
		m.keys[msg.Talkgroup] = msg
	case AudioStatus:
		m.audio, m.audioKnown = msg, true
	case TxLevel:
		m.level, m.levelAt = msg.Level, m.now()
	case EventMsg:
		m.logf("%s", msg.Text)
	}
	return m, tea.Batch(cmd, m.tick())
}

// tick keeps the clocks running while something on screen changes with
// time. At most one tick is pending.
func (m *RadioModel) tick() tea.Cmd {
	if m.ticking || m.quitting {
		return nil
	}
	_, talking := m.talkers[m.Selected()]
	if !(m.phase == phaseOnAir || m.phase == phaseQueued || talking || m.confirm != confirmNone) {
		return nil
	}
	m.ticking = true
	if m.tickCmd != nil {
		return m.tickCmd()
	}
	return tea.Tick(tickEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m *RadioModel) setHold(why string) {
	m.mode, m.modeWhy = modeHold, why
	m.logf("push-to-talk: hold space to talk (%s)", why)
}

func isSpace(k tea.Key) bool { return k.Code == tea.KeySpace }

func (m *RadioModel) keyPress(msg tea.KeyPressMsg) tea.Cmd {
	k := msg.Key()
	if isSpace(k) {
		// Push-to-talk always works, whatever else is on screen.
		m.confirm = confirmNone
		return m.pttPress(k)
	}
	if k.IsRepeat {
		return nil
	}
	s := msg.String()
	if m.confirm != confirmNone {
		pending := m.confirm
		m.confirm = confirmNone
		if s == "e" && m.now().Sub(m.confirmAt) < confirmWindow {
			return m.confirmed(pending)
		}
		if s == "e" || s == "esc" {
			return nil
		}
	}
	switch s {
	case "ctrl+c", "q":
		return m.quit()
	case "t", "tab":
		return m.cycle(1)
	case "shift+tab", "T":
		return m.cycle(-1)
	case "e":
		m.confirm, m.confirmAt = confirmDeclare, m.now()
		if m.emergency {
			m.confirm = confirmClear
		}
	case "?", "h":
		m.help = !m.help
	case "esc":
		m.help = false
	}
	return nil
}

func (m *RadioModel) keyRelease(msg tea.KeyReleaseMsg) tea.Cmd {
	k := msg.Key()
	if m.mode != modeHold {
		// A release proves the terminal reports them, even if it did not
		// say so.
		m.setHold("the terminal reported a key release")
		if isSpace(k) && m.active() {
			// The transmission was toggled on; this release ends it, as
			// it would have in hold mode.
			return m.stop()
		}
	}
	if !isSpace(k) || !m.pttHeld {
		return nil
	}
	m.pttHeld = false
	if m.active() {
		return m.stop()
	}
	return nil
}

func (m *RadioModel) pttPress(k tea.Key) tea.Cmd {
	if m.mode == modeHold {
		if k.IsRepeat || m.pttHeld {
			return nil
		}
		m.pttHeld = true
		if m.hotMic && m.active() {
			return m.takeOver()
		}
		if m.active() {
			return nil
		}
		return m.start(false)
	}
	now := m.now()
	if !m.lastSpace.IsZero() && now.Sub(m.lastSpace) < toggleGuard {
		m.lastSpace = now // a held key repeating, or a bounce
		return nil
	}
	m.lastSpace = now
	if m.hotMic && m.active() {
		return m.takeOver()
	}
	if m.active() {
		return m.stop()
	}
	return m.start(false)
}

// start requests the floor of the selected talkgroup.
func (m *RadioModel) start(hotMic bool) tea.Cmd {
	tg := m.Selected()
	if tg == 0 {
		m.fail("no talkgroup to talk on")
		return nil
	}
	if m.connKnown && !m.conn.Up {
		m.fail("not connected to the relay")
		return nil
	}
	m.seq++
	m.phase, m.reqTG, m.queuePos, m.reason = phaseRequesting, tg, 0, ""
	m.hotMic, m.emergCall = hotMic, m.emergency
	m.onAirMax = m.maxTalk
	req := PTTRequest{Seq: m.seq, Talkgroup: tg, Emergency: m.emergency, HotMic: hotMic}
	if hotMic {
		return call(m.cfg.Emergency, req)
	}
	return call(m.cfg.PTTDown, req)
}

// takeOver keeps a hot-mic transmission going under the key.
func (m *RadioModel) takeOver() tea.Cmd {
	m.hotMic = false
	return call(m.cfg.PTTDown, PTTRequest{Seq: m.seq, Talkgroup: m.reqTG, Emergency: m.emergCall})
}

// stop ends the transmission or withdraws the request.
func (m *RadioModel) stop() tea.Cmd {
	req := PTTRequest{Seq: m.seq, Talkgroup: m.reqTG, Emergency: m.emergCall, HotMic: m.hotMic}
	m.phase, m.hotMic, m.reason = phaseIdle, false, ""
	return call(m.cfg.PTTUp, req)
}

func (m *RadioModel) fail(why string) {
	m.phase, m.reason, m.hotMic = phaseFailed, why, false
	m.logf("cannot talk: %s", why)
}

func (m *RadioModel) quit() tea.Cmd {
	m.quitting = true
	if m.active() {
		return tea.Sequence(m.stop(), tea.Quit)
	}
	return tea.Quit
}

func (m *RadioModel) cycle(step int) tea.Cmd {
	if len(m.tgs) < 2 {
		return nil
	}
	if m.active() {
		m.logf("release the key before changing talkgroup")
		return nil
	}
	m.sel = (m.sel + step + len(m.tgs)) % len(m.tgs)
	if m.phase != phaseIdle {
		m.phase, m.reason = phaseIdle, ""
	}
	tg := m.tgs[m.sel]
	m.logf("talkgroup %s", tgLabel(tg))
	return call(m.cfg.SelectTalkgroup, tg.ID)
}

func (m *RadioModel) confirmed(k confirmKind) tea.Cmd {
	switch k {
	case confirmDeclare:
		m.emergency = true
		m.logf("EMERGENCY declared on talkgroup %d", m.Selected())
		if m.active() {
			m.logf("the emergency flag applies from the next transmission")
			return nil
		}
		return m.start(true)
	case confirmClear:
		m.emergency = false
		m.logf("emergency cleared on this radio")
	}
	return nil
}

func (m *RadioModel) connState(msg ConnState) {
	was := m.conn
	m.conn, m.connKnown = msg, true
	switch {
	case msg.Up && !was.Up:
		m.logf("connected to the relay")
	case !msg.Up && msg.Fatal:
		m.logf("the radio is off the network: %s", msg.Err)
	case !msg.Up && (was.Up || msg.Err != was.Err):
		m.logf("connection lost: %s", msg.Err)
	}
	if !msg.Up {
		clear(m.talkers)
		clear(m.heard)
		if m.active() {
			m.phase, m.reason, m.hotMic = phaseFailed, "the connection was lost", false
		}
	}
}

func (m *RadioModel) welcome(msg WelcomeMsg) tea.Cmd {
	if msg.Alias != "" {
		m.alias = msg.Alias
	}
	if msg.MaxTalk > 0 {
		m.maxTalk = msg.MaxTalk
	}
	if m.relayTGs && len(msg.Talkgroups) > 0 {
		// The relay's list, keeping the selection if it is still there.
		old := m.Selected()
		m.tgs, m.sel = append(m.tgs[:0], msg.Talkgroups...), 0
		for i, tg := range m.tgs {
			if tg.ID == old {
				m.sel = i
			}
		}
		if tg := m.Selected(); tg != old {
			return call(m.cfg.SelectTalkgroup, tg)
		}
		return nil
	}
	for _, n := range msg.Talkgroups {
		for i := range m.tgs {
			if m.tgs[i].ID == n.ID && n.Name != "" {
				m.tgs[i].Name = n.Name
			}
		}
	}
	return nil
}

// mine reports whether a floor event is about this radio's request.
func (m *RadioModel) mine(fe *pb.FloorEvent) bool {
	return m.active() && fe.Talkgroup == m.reqTG
}

func (m *RadioModel) floorEvent(fe *pb.FloorEvent) {
	if fe == nil {
		return
	}
	switch fe.Kind {
	case pb.FloorEventKind_FLOOR_EVENT_TAKEN:
		m.talkers[fe.Talkgroup] = talkerInfo{unit: fe.Talker, alias: fe.TalkerAlias, emergency: fe.Emergency != pb.Emergency_EMERGENCY_NONE, since: m.now()}
		if fe.Talker == m.cfg.Unit {
			if m.mine(fe) && m.phase != phaseOnAir {
				m.onAir(0)
			}
			return
		}
		if fe.Emergency != pb.Emergency_EMERGENCY_NONE {
			m.logf("tg %d: EMERGENCY call from %s", fe.Talkgroup, who(fe.Talker, fe.TalkerAlias))
		} else {
			m.logf("tg %d: %s talking", fe.Talkgroup, who(fe.Talker, fe.TalkerAlias))
		}
	case pb.FloorEventKind_FLOOR_EVENT_IDLE:
		delete(m.talkers, fe.Talkgroup)
	case pb.FloorEventKind_FLOOR_EVENT_CALL_END:
		delete(m.talkers, fe.Talkgroup)
		m.logf("tg %d: call ended", fe.Talkgroup)
	case pb.FloorEventKind_FLOOR_EVENT_GRANTED:
		if m.mine(fe) && m.phase != phaseOnAir {
			m.onAir(fe.MaxTalkMs)
		}
	case pb.FloorEventKind_FLOOR_EVENT_QUEUED:
		if m.mine(fe) && m.phase != phaseOnAir {
			m.phase, m.queuePos = phaseQueued, fe.Position
		}
	case pb.FloorEventKind_FLOOR_EVENT_DENIED:
		if m.mine(fe) {
			m.phase, m.reason, m.hotMic = phaseDenied, causeText(fe.Cause, fe.Reason), false
			m.logf("floor denied: %s", m.reason)
		}
	case pb.FloorEventKind_FLOOR_EVENT_REVOKED:
		if m.mine(fe) {
			m.phase, m.reason, m.hotMic = phaseRevoked, causeText(fe.Cause, fe.Reason), false
			m.logf("floor revoked: %s", m.reason)
		}
	}
}

func (m *RadioModel) onAir(maxMs uint32) {
	m.phase, m.onAirSince, m.reason = phaseOnAir, m.now(), ""
	if maxMs > 0 {
		m.onAirMax = time.Duration(maxMs) * time.Millisecond
	}
	m.level, m.levelAt = 0, time.Time{}
}

func (m *RadioModel) floorResult(msg FloorResultMsg) {
	if msg.Seq != m.seq || !m.active() {
		return // the answer to a request that was withdrawn
	}
	if msg.Err != nil {
		m.fail(msg.Err.Error())
		return
	}
	r := msg.Result
	if r == nil {
		return
	}
	switch r.Status {
	case pb.FloorStatus_FLOOR_GRANTED:
		if m.phase != phaseOnAir {
			m.onAir(r.MaxTalkMs)
		}
	case pb.FloorStatus_FLOOR_QUEUED:
		if m.phase == phaseRequesting {
			m.phase, m.queuePos = phaseQueued, r.Position
			m.logf("floor busy: queued #%d", r.Position)
		}
	case pb.FloorStatus_FLOOR_DENIED:
		m.phase, m.reason, m.hotMic = phaseDenied, causeText(r.Cause, r.Reason), false
		m.logf("floor denied: %s", m.reason)
	}
}

func (m *RadioModel) pttEnded(msg PTTEndedMsg) {
	if msg.Err != nil {
		m.logf("transmission ended: %v", msg.Err)
	} else if msg.Reason != "" {
		m.logf("transmission ended: %s", msg.Reason)
	}
	if msg.Seq != m.seq || !m.active() {
		return
	}
	m.phase, m.hotMic = phaseIdle, false
	if msg.Err != nil {
		m.phase, m.reason = phaseFailed, msg.Err.Error()
	}
}

func (m *RadioModel) talker(msg TalkerMsg) {
	if msg.Active {
		m.heard[msg.Talkgroup] = msg
		return
	}
	delete(m.heard, msg.Talkgroup)
	if msg.Heard > 0 {
		lost := ""
		if msg.Concealed > 0 {
			lost = fmt.Sprintf(", %d lost frames concealed", msg.Concealed)
		}
		m.logf("tg %d: heard %s for %.1f s%s%s", msg.Talkgroup, who(msg.Unit, msg.Alias), msg.Heard.Seconds(), lost, verifiedText(msg.Verification))
	}
}

func (m *RadioModel) logf(format string, args ...any) {
	m.events = append(m.events, eventLine{at: m.now(), text: printable(fmt.Sprintf(format, args...))})
	if over := len(m.events) - m.cfg.Events; over > 0 {
		m.events = append(m.events[:0], m.events[over:]...)
	}
}

// verifiedText says how a heard transmission's signature checked out, for
// the end of a log line; nothing when it was not checked.
func verifiedText(v radio.Verification) string {
	switch {
	case v.Verified:
		return ", signature verified"
	case v.Why == "" || v.Why == "not checked":
		return ""
	}
	return ", UNVERIFIED (" + v.Why + ")"
}

// printable makes text from elsewhere (a radio's message, a relay's
// reason) safe for the screen: a newline or an escape sequence would break
// the layout or reach the terminal, so control characters become spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// call wraps one of the radio's I/O functions in a tea.Cmd; it runs only
// when Bubble Tea executes the command.
func call[T any](f func(T) tea.Msg, arg T) tea.Cmd {
	if f == nil {
		return nil
	}
	return func() tea.Msg { return f(arg) }
}

// who names a unit for a person.
func who(unit uint32, alias string) string {
	if alias == "" {
		return fmt.Sprintf("unit %d", unit)
	}
	return fmt.Sprintf("%s (%d)", alias, unit)
}

func tgLabel(tg Talkgroup) string {
	if tg.Name == "" {
		return fmt.Sprintf("%d", tg.ID)
	}
	return fmt.Sprintf("%d %s", tg.ID, tg.Name)
}

// causeText says why a floor was denied or revoked.
func causeText(c pb.Cause, reason string) string {
	if reason != "" {
		return reason
	}
	switch c {
	case pb.Cause_CAUSE_NOT_AFFILIATED:
		return "this radio is not affiliated to the talkgroup"
	case pb.Cause_CAUSE_UNKNOWN_TALKGROUP:
		return "unknown talkgroup"
	case pb.Cause_CAUSE_NOT_ALLOWED:
		return "this radio may not transmit here"
	case pb.Cause_CAUSE_QUEUE_FULL:
		return "the queue is full"
	case pb.Cause_CAUSE_RATE_LIMITED:
		return "too many requests; wait a moment"
	case pb.Cause_CAUSE_QUEUE_TIMEOUT:
		return "waited in the queue too long"
	case pb.Cause_CAUSE_PREEMPTED:
		return "a higher-priority call took the floor"
	case pb.Cause_CAUSE_MAX_TALK_TIME:
		return "maximum talk time reached"
	case pb.Cause_CAUSE_NO_MEDIA:
		return "no audio was sent"
	case pb.Cause_CAUSE_DEAFFILIATED:
		return "this radio left the talkgroup"
	case pb.Cause_CAUSE_SHUTDOWN:
		return "the relay is shutting down"
	}
	return strings.ToLower(strings.TrimPrefix(c.String(), "CAUSE_"))
}
