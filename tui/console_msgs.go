package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/varta-ptt/varta/protocol/pb"
)

// Action is a dispatch request the console asks of the relay. The console
// model only describes it; ConsoleConfig.Act performs it (in a tea.Cmd)
// and answers with the message named on each type.
type Action interface {
	// Describe says what the action does, for the event log.
	Describe() string
}

// Actions and what Act returns for them.
type (
	// ActQueryUnits lists every unit. Answer: UnitsMsg.
	ActQueryUnits struct{}
	// ActNearest finds the nearest available units to a point. Answer:
	// NearestMsg.
	ActNearest struct {
		Lat, Lon float64
		Count    int
	}
	// ActEmergencies lists the open emergencies. Answer: EmergenciesMsg.
	ActEmergencies struct{}
	// ActAck acknowledges a unit's emergency. Answer: ActionResult.
	ActAck struct{ Unit uint32 }
	// ActClear clears a unit's emergency. Answer: ActionResult.
	ActClear struct{ Unit uint32 }
	// ActStun stuns a unit. Answer: ActionResult.
	ActStun struct{ Unit uint32 }
	// ActRevive revives a stunned unit. Answer: ActionResult.
	ActRevive struct{ Unit uint32 }
	// ActCheck radio-checks a unit. Answer: ActionResult.
	ActCheck struct{ Unit uint32 }
	// ActMessage sends a text message (or, with Alert, a call alert) to a
	// unit or a talkgroup. Answer: ActionResult.
	ActMessage struct {
		Unit, Talkgroup uint32
		Text            string
		Alert           bool
	}
	// ActRegroup moves units into a talkgroup, or back with Undo. Answer:
	// ActionResult.
	ActRegroup struct {
		Talkgroup uint32
		Units     []uint32
		Undo      bool
	}
	// ActPatch bridges talkgroups. Answer: ActionResult.
	ActPatch struct{ Talkgroups []uint32 }
	// ActUnpatch dissolves a patch. Answer: ActionResult.
	ActUnpatch struct{ Patch uint32 }
	// ActPrivateCall sets up a private call with a unit. Answer:
	// ActionResult with the call's talkgroup.
	ActPrivateCall struct{ Unit uint32 }
	// ActEndCall ends a private call. Answer: ActionResult.
	ActEndCall struct{ Talkgroup uint32 }
)

func (ActQueryUnits) Describe() string  { return "list units" }
func (ActEmergencies) Describe() string { return "list emergencies" }
func (a ActNearest) Describe() string {
	return fmt.Sprintf("nearest available units to %.5f,%.5f", a.Lat, a.Lon)
}
func (a ActAck) Describe() string    { return fmt.Sprintf("acknowledge the emergency of unit %d", a.Unit) }
func (a ActClear) Describe() string  { return fmt.Sprintf("clear the emergency of unit %d", a.Unit) }
func (a ActStun) Describe() string   { return fmt.Sprintf("stun unit %d", a.Unit) }
func (a ActRevive) Describe() string { return fmt.Sprintf("revive unit %d", a.Unit) }
func (a ActCheck) Describe() string  { return fmt.Sprintf("radio check of unit %d", a.Unit) }
func (a ActMessage) Describe() string {
	what := "message"
	if a.Alert {
		what = "call alert"
	}
	if a.Unit != 0 {
		return fmt.Sprintf("%s to unit %d", what, a.Unit)
	}
	return fmt.Sprintf("%s to talkgroup %d", what, a.Talkgroup)
}
func (a ActRegroup) Describe() string {
	if a.Undo {
		return fmt.Sprintf("undo regroup of %v from talkgroup %d", a.Units, a.Talkgroup)
	}
	return fmt.Sprintf("regroup %v into talkgroup %d", a.Units, a.Talkgroup)
}
func (a ActPatch) Describe() string {
	s := make([]string, len(a.Talkgroups))
	for i, t := range a.Talkgroups {
		s[i] = fmt.Sprint(t)
	}
	return "patch talkgroups " + strings.Join(s, "+")
}
func (a ActUnpatch) Describe() string { return fmt.Sprintf("dissolve patch %d", a.Patch) }
func (a ActPrivateCall) Describe() string {
	return fmt.Sprintf("private call to unit %d", a.Unit)
}
func (a ActEndCall) Describe() string {
	return fmt.Sprintf("end the private call on talkgroup %d", a.Talkgroup)
}

// ActionResult answers an Action: Text says what happened (for the log),
// Err why it failed.
type ActionResult struct {
	Action Action
	Text   string
	Err    error
	// Talkgroup is the talkgroup an action made (a private call's).
	Talkgroup uint32
}

// UnitsMsg answers ActQueryUnits.
type UnitsMsg struct {
	Units []*pb.UnitInfo
	At    time.Time
	Err   error
}

// NearestMsg answers ActNearest.
type NearestMsg struct {
	Lat, Lon float64
	Units    []*pb.UnitInfo
	Err      error
}

// EmergenciesMsg answers ActEmergencies.
type EmergenciesMsg struct {
	Alarms []*pb.EmergencyAlarm
	Err    error
}

// AlarmMsg carries an emergency alarm event (raised, acknowledged or
// cleared).
type AlarmMsg struct{ Alarm *pb.EmergencyAlarm }

// UnitStatusMsg carries a unit's status change.
type UnitStatusMsg struct{ Status *pb.UnitStatusEvent }

// TextMsg carries a text message or call alert sent to the console.
type TextMsg struct{ Message *pb.TextMessage }

// ReceiptMsg says a message the console sent reached a radio.
type ReceiptMsg struct{ Receipt *pb.DeliveryReceipt }

// TalkgroupsMsg carries the talkgroups the console may use now, after the
// relay changed them (a patch made or dissolved, a regroup).
type TalkgroupsMsg struct {
	Talkgroups []Talkgroup
	Reason     string
}
