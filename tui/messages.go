package tui

import (
	"time"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// Talkgroup is a talkgroup the radio can select.
type Talkgroup struct {
	ID   uint32
	Name string // "" until the relay names it
}

// PTTRequest is what the model asks of PTTDown, PTTUp and Emergency.
type PTTRequest struct {
	// Seq numbers the model's transmissions; replies carry it back so that
	// an answer to an abandoned request is recognised and ignored.
	Seq       uint64
	Talkgroup uint32
	// Emergency asks for an emergency call: raised priority, pre-empting
	// the talker, flagged to every dispatcher.
	Emergency bool
	// HotMic is set on the request made when an emergency is declared: the
	// radio transmits without the key held, for the hot-mic time.
	HotMic bool
	// Also lists more talkgroups to talk on at once (the console's
	// multiselect): the same audio is sealed for each with its own key.
	Also []uint32
	// Broadcast makes it a broadcast group call: only this unit talks
	// until the call ends (dispatchers).
	Broadcast bool
}

// ConnState is the link to the relay going up or down.
type ConnState struct {
	Up  bool
	Err string // why it went down, for a person
	// Fatal is set when the radio will not reconnect (the relay refused
	// it, or the unit is in use on another device).
	Fatal bool
}

// FloorMsg carries a floor event the relay pushed (Taken, Idle, Call end
// to all members; Granted, Queued, Denied, Revoked to this radio).
type FloorMsg struct {
	Event *pb.FloorEvent
}

// FloorResultMsg answers PTTDown and Emergency: the relay's reply to the
// floor request, or Err when the request could not be made or failed.
type FloorResultMsg struct {
	Seq       uint64
	Talkgroup uint32
	Result    *pb.FloorResult
	Err       error
}

// PTTEndedMsg says this radio's transmission ended: in reply to PTTUp, or
// by itself (the hot-mic time ran out, the recording ended, the connection
// was lost). Reason says why when it ended by itself.
type PTTEndedMsg struct {
	Seq       uint64
	Talkgroup uint32
	Reason    string
	Err       error
}

// TalkerMsg says audio of a talker is being heard (Active) or has ended.
type TalkerMsg struct {
	Talkgroup uint32
	Unit      uint32
	Alias     string
	Emergency bool
	Active    bool
	// When the transmission ended: how long it played, how many 20 ms
	// slots were lost and concealed (FEC or PLC), and whether the end
	// marker arrived.
	Heard     time.Duration
	Concealed int
	Complete  bool
	// Verification says whether the talker's signature over the
	// transmission checked out (when it ended).
	Verification radio.Verification
}

// KeyState says whether the radio holds the voice key of a talkgroup.
type KeyState struct {
	Talkgroup uint32
	Have      bool
	Epoch     uint32
}

// AudioStatus says which audio devices the radio has. Why explains what is
// missing, for a person.
type AudioStatus struct {
	Capture, Playback bool
	Why               string
}

// TxLevel is the microphone's peak level while on air, 0 (silence) to 1
// (full scale).
type TxLevel struct {
	Level float64
}

// EventMsg is a line for the radio's event list.
type EventMsg struct {
	Text string
}

// WelcomeMsg carries what the relay said about the unit on (re)connect.
type WelcomeMsg struct {
	Alias      string
	Talkgroups []Talkgroup // the names of the talkgroups the unit may use
	MaxTalk    time.Duration
}

// tickMsg refreshes the clocks on screen.
type tickMsg time.Time
