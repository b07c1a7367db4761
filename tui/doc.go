// Package tui holds Varta's Bubble Tea screens: the handheld radio
// (RadioModel, run by RunRadio) and, later, the dispatcher's console.
//
// Radio flow: RunRadio keeps a client.Link to the relay and runs three
// loops beside the Bubble Tea program: the event pump (floor events, key
// bundles, affiliation changes -> messages for the model), the voice pump
// (datagrams -> live receiver: SFrame open, one jitter buffer per talker,
// mixed into the speaker every 20 ms) and, while the key is down, a talk
// loop (microphone frames -> Opus -> SFrame -> voice datagrams, the same
// payload as package radio, then end of burst and floor release).
//
// The model does no I/O: a key press returns a tea.Cmd that calls one of
// RadioConfig's functions (PTTDown, PTTUp, Emergency, SelectTalkgroup),
// and everything that happens elsewhere arrives as a message (ConnState,
// FloorMsg, FloorResultMsg, PTTEndedMsg, TalkerMsg, KeyState, AudioStatus,
// TxLevel, EventMsg, WelcomeMsg).
package tui
