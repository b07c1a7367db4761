package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/protocol/pb"
)

// ConsoleConfig configures the dispatcher's console. The functions are the
// console's I/O: the model never calls them itself, it returns a tea.Cmd
// that does.
type ConsoleConfig struct {
	// Unit and Alias name the dispatcher's position.
	Unit  uint32
	Alias string
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Poll is how often the unit roster is refreshed. Default 2 s.
	Poll time.Duration
	// Events is how many event log lines are kept. Default 1000.
	Events int

	// PTTDown requests the floor of the request's talkgroups and, once
	// granted, transmits until PTTUp; it returns a FloorResultMsg. PTTUp
	// ends the transmission and returns a PTTEndedMsg or nil.
	PTTDown, PTTUp func(PTTRequest) tea.Msg
	// Act performs a dispatch action and returns its answer.
	Act func(Action) tea.Msg
	// SetGain sets how loud a talkgroup plays: 0 mutes it, 1 is as
	// received. It may return nil.
	SetGain func(TalkgroupGain) tea.Msg
	// Replay plays a recalled transmission (ID 0 stops a replay); Save
	// writes one to a WAV file. They return an EventMsg or nil.
	Replay, Save func(id uint64) tea.Msg
}

// TalkgroupGain is what SetGain is asked.
type TalkgroupGain struct {
	Talkgroup uint32
	Gain      float64
}

// Console views.
type consoleView int

const (
	viewTalkgroups consoleView = iota
	viewUnits
	viewMap
	viewLog
)

var viewNames = []string{"Talkgroups", "Units", "Map", "Log"}

// Unit filters, cycled by f in the units view.
type unitFilter int

const (
	filterAll unitFilter = iota
	filterOnline
	filterAvailable
	filterEmergency
	filterStunned
)

var filterNames = []string{"all", "online", "available", "in emergency", "stunned"}

// What the prompt line is asking for.
type promptKind int

const (
	promptNone promptKind = iota
	promptSearch
	promptMessage
	promptRegroup
	promptPatch
	promptLocation
)

// Volume steps: 0 is muted, volumeUnity plays as received.
const (
	volumeMax   = 10
	volumeUnity = 5
	// consoleTick refreshes clocks and drives the roster poll.
	consoleTick = 500 * time.Millisecond
	// mapNearest is how many nearest available units the map lists.
	mapNearest = 5
)

// tgRow is a talkgroup on the console.
type tgRow struct {
	Talkgroup
	patch   []uint32 // for a patch: the talkgroups it bridges
	monitor bool     // heard
	volume  int      // 0..volumeMax
	talker  *talkerInfo
	hearing bool // audio of the talker is playing
	last    string
	lastAt  time.Time
	key     KeyState
	keyed   bool // key state known
	recalls []RecallMsg
	recSel  int // index into recalls, from the newest
}

// pending is an action waiting for the dispatcher's y.
type pending struct {
	question string
	act      Action
	quit     bool
}

// ConsoleModel is the dispatcher's console: a Bubble Tea model.
type ConsoleModel struct {
	cfg ConsoleConfig
	now func() time.Time

	alias     string
	conn      ConnState
	connKnown bool
	audio     AudioStatus
	maxTalk   time.Duration

	tgs   []*tgRow
	tgIdx map[uint32]*tgRow
	tgCur int
	txTG  uint32 // the talkgroup space talks on
	// callTX is a private call just set up, to talk on once the relay
	// lists its talkgroup.
	callTX uint32
	multi  map[uint32]bool // more talkgroups to talk on (multiselect)
	// broadcast makes space start broadcast group calls: only the console
	// talks until the call ends.
	broadcast bool

	// Push-to-talk.
	phase      floorPhase
	seq        uint64
	req        PTTRequest
	queuePos   uint32
	onAirSince time.Time
	onAirMax   time.Duration
	reason     string
	mode       pttMode
	pttHeld    bool
	lastSpace  time.Time
	level      float64

	// Units.
	units      map[uint32]*pb.UnitInfo
	unitsAt    time.Time
	shown      []*pb.UnitInfo // filtered and sorted
	unitCur    int
	unitTop    int
	filter     unitFilter
	search     string
	polling    bool
	lastPoll   time.Time
	pollFailed string

	// Emergencies, by unit.
	alarms map[uint32]*pb.EmergencyAlarm

	// Map.
	mapLat, mapLon float64
	mapLabel       string
	mapSet         bool
	mapMPC         float64 // metres per cell; 0 = fit
	nearest        *NearestMsg

	// Event log.
	unread  int // messages from units since the log was last shown
	events  []eventLine
	logTop  int // lines scrolled back from the newest
	view    consoleView
	help    bool
	helpTop int // help lines scrolled past
	prompt  promptKind
	input   textinput.Model
	target  uint32 // unit or talkgroup the prompt is about
	confirm *pending

	width, height int
	ticking       bool
	quitting      bool
	tickCmd       func() tea.Cmd // makes the next tick; tests replace it
}

// NewConsole returns the console for cfg.
func NewConsole(cfg ConsoleConfig) *ConsoleModel {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll == 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Events == 0 {
		cfg.Events = 1000
	}
	in := textinput.New()
	in.CharLimit = 400
	return &ConsoleModel{
		cfg:     cfg,
		now:     cfg.Now,
		alias:   cfg.Alias,
		maxTalk: 60 * time.Second,
		tgIdx:   make(map[uint32]*tgRow),
		multi:   make(map[uint32]bool),
		units:   make(map[uint32]*pb.UnitInfo),
		alarms:  make(map[uint32]*pb.EmergencyAlarm),
		input:   in,
	}
}

// Init starts the clock.
func (m *ConsoleModel) Init() tea.Cmd { return m.tick() }

// OnAir reports whether the console is transmitting.
func (m *ConsoleModel) OnAir() bool { return m.phase == phaseOnAir }

func (m *ConsoleModel) active() bool {
	return m.phase == phaseRequesting || m.phase == phaseQueued || m.phase == phaseOnAir
}

// Update handles a message. It does no I/O: what needs the network or the
// audio devices is returned as a tea.Cmd.
func (m *ConsoleModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyboardEnhancementsMsg:
		if msg.SupportsEventTypes() && m.mode != modeHold {
			m.mode = modeHold
			m.logf("push-to-talk: hold space to talk (the terminal reports key releases)")
		}
	case tea.KeyPressMsg:
		cmd = m.keyPress(msg)
	case tea.KeyReleaseMsg:
		cmd = m.keyRelease(msg)
	case tea.PasteMsg:
		if m.prompt != promptNone {
			m.input, cmd = m.input.Update(msg)
			m.promptChanged()
		}
	case consoleTickMsg:
		m.ticking = false
		cmd = m.maybePoll()
	case ConnState:
		cmd = m.connState(msg)
	case WelcomeMsg:
		cmd = m.welcome(msg)
	case TalkgroupsMsg:
		if msg.Reason != "" {
			m.logf("talkgroups changed: %s", msg.Reason)
		}
		cmd = m.setTalkgroups(msg.Talkgroups)
	case FloorMsg:
		m.floorEvent(msg.Event)
	case FloorResultMsg:
		m.floorResult(msg)
	case PTTEndedMsg:
		m.pttEnded(msg)
	case TalkerMsg:
		m.talkerMsg(msg)
	case KeyState:
		if r := m.tgIdx[msg.Talkgroup]; r != nil {
			r.key, r.keyed = msg, true
		}
	case AudioStatus:
		m.audio = msg
		if msg.Why != "" {
			m.logf("audio: %s", msg.Why)
		}
	case TxLevel:
		m.level = msg.Level
	case EventMsg:
		m.logf("%s", msg.Text)
	case RecallMsg:
		m.recall(msg)
	case UnitsMsg:
		m.unitsMsg(msg)
	case NearestMsg:
		m.nearestMsg(msg)
	case EmergenciesMsg:
		cmd = m.emergenciesMsg(msg)
		m.refilter() // units in emergency first, and the emergency filter
	case AlarmMsg:
		cmd = m.alarm(msg.Alarm)
		m.refilter()
	case UnitStatusMsg:
		m.unitStatus(msg.Status)
	case TextMsg:
		cmd = m.textMsg(msg.Message)
	case ReceiptMsg:
		r := msg.Receipt
		m.logf("message %d delivered to %s", r.GetId(), who(r.GetUnit(), r.GetAlias()))
	case ActionResult:
		cmd = m.actionResult(msg)
	default:
		if m.prompt != promptNone {
			// The text field's own messages (its cursor blinking).
			m.input, cmd = m.input.Update(msg)
		}
	}
	if m.view == viewLog {
		m.unread = 0 // read
	}
	return m, tea.Batch(cmd, m.tick())
}

type consoleTickMsg time.Time

// tick keeps one clock tick pending while the console runs.
func (m *ConsoleModel) tick() tea.Cmd {
	if m.ticking || m.quitting {
		return nil
	}
	m.ticking = true
	if m.tickCmd != nil {
		return m.tickCmd()
	}
	return tea.Tick(consoleTick, func(t time.Time) tea.Msg { return consoleTickMsg(t) })
}

// maybePoll refreshes the unit roster every Poll while connected.
func (m *ConsoleModel) maybePoll() tea.Cmd {
	if !m.conn.Up || m.polling || m.now().Sub(m.lastPoll) < m.pollEvery() {
		return nil
	}
	return m.poll()
}

// pollEvery is how often the roster is fetched: every Poll for up to 1,000
// units, less often for more, so that a large agency's consoles do not
// keep the relay busy listing it (statuses and emergencies arrive as
// events in between; positions wait for the next poll).
func (m *ConsoleModel) pollEvery() time.Duration {
	return m.cfg.Poll * time.Duration(max(1, len(m.units)/1000))
}

func (m *ConsoleModel) poll() tea.Cmd {
	m.polling, m.lastPoll = true, m.now()
	return m.act(ActQueryUnits{})
}

// act returns the command that performs a.
func (m *ConsoleModel) act(a Action) tea.Cmd { return call(m.cfg.Act, a) }

// do performs an action the dispatcher asked for, with a line in the log.
func (m *ConsoleModel) do(a Action) tea.Cmd {
	if m.connKnown && !m.conn.Up {
		m.logf("cannot %s: not connected to the relay", a.Describe())
		return nil
	}
	m.logf("%s ...", a.Describe())
	return m.act(a)
}

func (m *ConsoleModel) connState(msg ConnState) tea.Cmd {
	was := m.conn.Up && m.connKnown
	m.conn, m.connKnown = msg, true
	if !msg.Up {
		if was || msg.Fatal {
			m.logf("disconnected: %s", msg.Err)
		}
		if m.active() {
			m.phase, m.reason = phaseFailed, "the connection to the relay was lost"
		}
		for _, r := range m.tgs {
			r.talker, r.hearing = nil, false
		}
		return nil
	}
	m.logf("connected to the relay")
	m.polling = false
	return tea.Batch(m.poll(), m.act(ActEmergencies{}))
}

func (m *ConsoleModel) welcome(msg WelcomeMsg) tea.Cmd {
	if msg.Alias != "" {
		m.alias = msg.Alias
	}
	if msg.MaxTalk > 0 {
		m.maxTalk = msg.MaxTalk
	}
	return m.setTalkgroups(msg.Talkgroups)
}

// setTalkgroups makes the rows match the talkgroups the console may use,
// keeping what the dispatcher set on those that stay. New talkgroups are
// monitored at normal volume.
func (m *ConsoleModel) setTalkgroups(tgs []Talkgroup) tea.Cmd {
	var cmds []tea.Cmd
	rows := make([]*tgRow, 0, len(tgs))
	idx := make(map[uint32]*tgRow, len(tgs))
	for _, tg := range tgs {
		if _, dup := idx[tg.ID]; dup {
			continue
		}
		r := m.tgIdx[tg.ID]
		if r == nil {
			r = &tgRow{Talkgroup: tg, monitor: true, volume: volumeUnity}
			cmds = append(cmds, m.setGain(r))
		}
		r.Name = cmp.Or(tg.Name, r.Name)
		r.patch = patchMembers(r.Name)
		rows = append(rows, r)
		idx[tg.ID] = r
	}
	for id := range m.tgIdx {
		if idx[id] == nil {
			delete(m.multi, id)
		}
	}
	// Talkgroups in ID order, then patches and private calls.
	slices.SortStableFunc(rows, func(a, b *tgRow) int {
		if pa, pb := len(a.patch) > 0 || isCall(a.Name), len(b.patch) > 0 || isCall(b.Name); pa != pb {
			if pa {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	cur := uint32(0)
	if m.tgCur < len(m.tgs) {
		cur = m.tgs[m.tgCur].ID
	}
	m.tgs, m.tgIdx, m.tgCur = rows, idx, 0
	for i, r := range rows {
		if r.ID == cur {
			m.tgCur = i
		}
	}
	if idx[m.txTG] == nil {
		m.txTG = 0
		for _, r := range rows {
			if len(r.patch) == 0 && !isCall(r.Name) {
				m.txTG = r.ID
				break
			}
		}
	}
	m.takeCall()
	return tea.Batch(cmds...)
}

// isCall reports whether a talkgroup is a private call ("call:900,101").
func isCall(name string) bool { return strings.HasPrefix(name, "call:") }

// patchMembers reads the talkgroups of a patch from its name
// ("patch:100,200"), or nil for a talkgroup that is not a patch.
func patchMembers(name string) []uint32 {
	rest, ok := strings.CutPrefix(name, "patch:")
	if !ok {
		return nil
	}
	var tgs []uint32
	for _, f := range strings.Split(rest, ",") {
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil {
			return nil
		}
		tgs = append(tgs, uint32(n))
	}
	return tgs
}

// patchesOf lists the patches a talkgroup is in.
func (m *ConsoleModel) patchesOf(tg uint32) []uint32 {
	var ps []uint32
	for _, r := range m.tgs {
		if slices.Contains(r.patch, tg) {
			ps = append(ps, r.ID)
		}
	}
	return ps
}

func (m *ConsoleModel) setGain(r *tgRow) tea.Cmd {
	g := 0.0
	if r.monitor {
		g = float64(r.volume) / volumeUnity
	}
	return call(m.cfg.SetGain, TalkgroupGain{Talkgroup: r.ID, Gain: g})
}

func (m *ConsoleModel) floorEvent(fe *pb.FloorEvent) {
	if fe == nil {
		return
	}
	r := m.tgIdx[fe.Talkgroup]
	mine := m.active() && (fe.Talkgroup == m.req.Talkgroup)
	switch fe.Kind {
	case pb.FloorEventKind_FLOOR_EVENT_TAKEN:
		if r != nil {
			r.talker = &talkerInfo{unit: fe.Talker, alias: fe.TalkerAlias, emergency: fe.Emergency != pb.Emergency_EMERGENCY_NONE, since: m.now()}
			r.last, r.lastAt = who(fe.Talker, fe.TalkerAlias), m.now()
		}
		if fe.Talker == m.cfg.Unit {
			if mine && m.phase != phaseOnAir {
				m.onAir(0)
			}
			return
		}
		what := "talking"
		if fe.Emergency != pb.Emergency_EMERGENCY_NONE {
			what = "EMERGENCY CALL"
		}
		m.logf("tg %s: %s %s", m.tgName(fe.Talkgroup), who(fe.Talker, fe.TalkerAlias), what)
	case pb.FloorEventKind_FLOOR_EVENT_IDLE, pb.FloorEventKind_FLOOR_EVENT_CALL_END:
		if r != nil {
			r.talker = nil
		}
	case pb.FloorEventKind_FLOOR_EVENT_GRANTED:
		if mine && m.phase != phaseOnAir {
			m.onAir(fe.MaxTalkMs)
		}
	case pb.FloorEventKind_FLOOR_EVENT_QUEUED:
		if mine && m.phase != phaseOnAir {
			m.phase, m.queuePos = phaseQueued, fe.Position
		}
	case pb.FloorEventKind_FLOOR_EVENT_DENIED:
		if mine {
			m.phase, m.reason = phaseDenied, causeText(fe.Cause, fe.Reason)
			m.logf("floor denied on tg %s: %s", m.tgName(fe.Talkgroup), m.reason)
		}
	case pb.FloorEventKind_FLOOR_EVENT_REVOKED:
		if mine {
			m.phase, m.reason = phaseRevoked, causeText(fe.Cause, fe.Reason)
			m.logf("floor revoked on tg %s: %s", m.tgName(fe.Talkgroup), m.reason)
		}
	}
}

func (m *ConsoleModel) onAir(maxMs uint32) {
	m.phase, m.onAirSince, m.reason = phaseOnAir, m.now(), ""
	m.onAirMax = m.maxTalk
	if maxMs > 0 {
		m.onAirMax = time.Duration(maxMs) * time.Millisecond
	}
	m.level = 0
}

func (m *ConsoleModel) floorResult(msg FloorResultMsg) {
	if msg.Seq != m.seq || !m.active() {
		return
	}
	if msg.Err != nil {
		m.failPTT(msg.Err.Error())
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
			m.logf("tg %s busy: queued #%d", m.tgName(msg.Talkgroup), r.Position)
		}
	case pb.FloorStatus_FLOOR_DENIED:
		m.phase, m.reason = phaseDenied, causeText(r.Cause, r.Reason)
		m.logf("floor denied on tg %s: %s", m.tgName(msg.Talkgroup), m.reason)
	}
}

func (m *ConsoleModel) pttEnded(msg PTTEndedMsg) {
	if msg.Err != nil {
		m.logf("transmission ended: %v", msg.Err)
	} else if msg.Reason != "" {
		m.logf("transmission ended: %s", msg.Reason)
	}
	if msg.Seq != m.seq || !m.active() {
		return
	}
	m.phase = phaseIdle
	if msg.Err != nil {
		m.phase, m.reason = phaseFailed, msg.Err.Error()
	}
}

func (m *ConsoleModel) failPTT(why string) {
	m.phase, m.reason = phaseFailed, why
	m.logf("cannot talk: %s", why)
}

func (m *ConsoleModel) talkerMsg(msg TalkerMsg) {
	r := m.tgIdx[msg.Talkgroup]
	if r == nil {
		return
	}
	r.hearing = msg.Active
	if msg.Active {
		if r.talker == nil {
			// Audio before (or without) the floor event.
			r.talker = &talkerInfo{unit: msg.Unit, alias: msg.Alias, emergency: msg.Emergency, since: m.now()}
		}
		return
	}
	if msg.Heard > 0 {
		lost := ""
		if msg.Concealed > 0 {
			lost = fmt.Sprintf(", %d lost frames concealed", msg.Concealed)
		}
		m.logf("tg %s: heard %s for %.1f s%s%s", m.tgName(msg.Talkgroup), who(msg.Unit, msg.Alias), msg.Heard.Seconds(), lost, verifiedText(msg.Verification))
	}
}

func (m *ConsoleModel) recall(msg RecallMsg) {
	r := m.tgIdx[msg.Talkgroup]
	if r == nil {
		return
	}
	r.recalls = append(r.recalls, msg)
	if over := len(r.recalls) - recallPerTalkgroup; over > 0 {
		r.recalls = slices.Delete(r.recalls, 0, over)
	}
	if r.recSel > 0 {
		// Keep the dispatcher's choice on the same transmission.
		r.recSel = min(r.recSel+1, len(r.recalls)-1)
	}
}
