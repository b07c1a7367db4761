// Package tui holds Varta's Bubble Tea screens: the handheld radio
// (RadioModel, run by RunRadio) and the dispatcher's console
// (ConsoleModel, run by RunConsole; its map is package tui/geomap).
//
// Flow: each Run function keeps a client.Link to the relay and runs, beside
// the Bubble Tea program (runScreen), the event pump (floor events, key
// bundles, affiliation changes, and for the console alarms, unit status and
// messages -> messages for the model), the voice pump (datagrams -> live
// receiver: SFrame open, one jitter buffer per talker, mixed into the
// speaker every 20 ms, each talkgroup at its own gain, finished bursts kept
// for instant recall on the console) and, while the key is down, a talk
// loop (microphone frames -> Opus -> SFrame -> voice datagrams through
// radio.BurstSender, the same payload and burst signatures as package
// radio, then end of burst and floor release).
//
// The models do no I/O: a key press returns a tea.Cmd that calls one of
// the config's functions (RadioConfig's PTTDown, PTTUp, Emergency,
// SelectTalkgroup; ConsoleConfig's PTTDown, PTTUp, Act, SetGain, Replay,
// Save), and everything that happens elsewhere arrives as a message
// (ConnState, FloorMsg, FloorResultMsg, PTTEndedMsg, TalkerMsg, KeyState,
// AudioStatus, TxLevel, EventMsg, WelcomeMsg; for the console also
// ActionResult, UnitsMsg, NearestMsg, EmergenciesMsg, AlarmMsg,
// UnitStatusMsg, TextMsg, ReceiptMsg, TalkgroupsMsg and RecallMsg).
package tui
