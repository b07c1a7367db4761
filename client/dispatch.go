package client

import (
	"context"
	"errors"
	"time"

	"github.com/varta-ptt/varta/protocol/pb"
)

// Dispatch services. Officers report status, position and emergencies;
// dispatchers and commanders query units, handle emergencies and stun,
// revive or radio-check units. A refusal (for example an officer trying to
// stun) comes back as a *RequestError whose Reason says why.

func (c *Client) ack(ctx context.Context, env *pb.Envelope) error {
	_, err := c.Do(ctx, env)
	return err
}

// SetStatus sets this unit's status: available, busy, en-route, on-scene,
// out-of-service or an agency code.
func (c *Client) SetStatus(ctx context.Context, code string) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_SetStatus{SetStatus: &pb.SetStatus{Code: code}}})
}

// ReportPosition reports this unit's position.
func (c *Client) ReportPosition(ctx context.Context, lat, lon, accuracyM float64, at time.Time) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_ReportPosition{ReportPosition: &pb.ReportPosition{
		Position: &pb.Position{Lat: lat, Lon: lon, AccuracyM: accuracyM, TimeMs: at.UnixMilli()},
	}}})
}

// RaiseEmergency raises this unit's emergency alarm (or imminent peril),
// with its position when known (pos may be nil).
func (c *Client) RaiseEmergency(ctx context.Context, level pb.Emergency, tg uint32, pos *pb.Position) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_RaiseEmergency{RaiseEmergency: &pb.RaiseEmergency{Level: level, Talkgroup: tg, Position: pos}}})
}

// AckEmergency acknowledges a unit's emergency (dispatchers).
func (c *Client) AckEmergency(ctx context.Context, unit uint32) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_EmergencyAction{EmergencyAction: &pb.EmergencyAction{Unit: unit, Kind: pb.EmergencyActionKind_EMERGENCY_ACK}}})
}

// ClearEmergency clears a unit's emergency (dispatchers).
func (c *Client) ClearEmergency(ctx context.Context, unit uint32) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_EmergencyAction{EmergencyAction: &pb.EmergencyAction{Unit: unit, Kind: pb.EmergencyActionKind_EMERGENCY_CLEAR}}})
}

// Emergencies lists the raised and acknowledged emergencies (dispatchers).
func (c *Client) Emergencies(ctx context.Context) ([]*pb.EmergencyAlarm, error) {
	e, err := request(ctx, c, &pb.Envelope{Body: &pb.Envelope_ListEmergencies{ListEmergencies: &pb.ListEmergencies{}}}, (*pb.Envelope).GetEmergencies, "ListEmergencies")
	if err != nil {
		return nil, err
	}
	return e.Alarms, nil
}

// QueryUnits lists units, or the nearest ones to a point (dispatchers).
func (c *Client) QueryUnits(ctx context.Context, q *pb.QueryUnits) ([]*pb.UnitInfo, error) {
	ul, err := request(ctx, c, &pb.Envelope{Body: &pb.Envelope_QueryUnits{QueryUnits: q}}, (*pb.Envelope).GetUnitList, "QueryUnits")
	if err != nil {
		return nil, err
	}
	return ul.Units, nil
}

// AllUnits lists every unit, in unit ID order, fetching the pages the
// relay sends (dispatchers).
func (c *Client) AllUnits(ctx context.Context, availableOnly bool) ([]*pb.UnitInfo, error) {
	var all []*pb.UnitInfo
	after := uint32(0)
	for {
		ul, err := request(ctx, c, &pb.Envelope{Body: &pb.Envelope_QueryUnits{QueryUnits: &pb.QueryUnits{After: after, AvailableOnly: availableOnly}}}, (*pb.Envelope).GetUnitList, "QueryUnits")
		if err != nil {
			return nil, err
		}
		all = append(all, ul.Units...)
		if ul.Next == 0 {
			return all, nil
		}
		if ul.Next <= after {
			return nil, errors.New("client: the relay's unit list does not advance")
		}
		after = ul.Next
	}
}

// UnitAction stuns or revives a unit (dispatchers).
func (c *Client) UnitAction(ctx context.Context, unit uint32, kind pb.UnitActionKind) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_UnitAction{UnitAction: &pb.UnitAction{Unit: unit, Kind: kind}}})
}

// RadioCheck asks a unit's radio to answer (dispatchers).
func (c *Client) RadioCheck(ctx context.Context, unit uint32) (*pb.RadioCheckResult, error) {
	return request(ctx, c, &pb.Envelope{Body: &pb.Envelope_UnitAction{UnitAction: &pb.UnitAction{Unit: unit, Kind: pb.UnitActionKind_UNIT_RADIO_CHECK}}}, (*pb.Envelope).GetRadioCheckResult, "a radio check")
}

// SendMessage sends a text message or call alert to a unit or a talkgroup.
func (c *Client) SendMessage(ctx context.Context, m *pb.SendMessage) (*pb.MessageAccepted, error) {
	return request(ctx, c, &pb.Envelope{Body: &pb.Envelope_SendMessage{SendMessage: m}}, (*pb.Envelope).GetMessageAccepted, "SendMessage")
}

// ConfirmMessage tells the relay a message was delivered to this radio.
func (c *Client) ConfirmMessage(ctx context.Context, id uint64) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_MessageReceipt{MessageReceipt: &pb.MessageReceipt{Id: id}}})
}

// Regroup moves units into a talkgroup for an operation, or back with undo
// (dispatchers).
func (c *Client) Regroup(ctx context.Context, tg uint32, units []uint32, undo bool) error {
	return c.ack(ctx, &pb.Envelope{Body: &pb.Envelope_Regroup{Regroup: &pb.Regroup{Talkgroup: tg, Units: units, Undo: undo}}})
}

// Patch bridges talkgroups and returns the patch talkgroup (dispatchers).
func (c *Client) Patch(ctx context.Context, tgs ...uint32) (*pb.PatchResult, error) {
	return c.patch(ctx, &pb.Patch{Talkgroups: tgs})
}

// Unpatch dissolves a patch (dispatchers).
func (c *Client) Unpatch(ctx context.Context, patch uint32) (*pb.PatchResult, error) {
	return c.patch(ctx, &pb.Patch{Dissolve: patch})
}

func (c *Client) patch(ctx context.Context, p *pb.Patch) (*pb.PatchResult, error) {
	return request(ctx, c, &pb.Envelope{Body: &pb.Envelope_Patch{Patch: p}}, (*pb.Envelope).GetPatchResult, "Patch")
}

// RequestBroadcast asks for the floor of tg for a broadcast group call, in
// which only this unit talks until the call ends (dispatchers).
func (c *Client) RequestBroadcast(ctx context.Context, tg, priority uint32) (*pb.FloorResult, error) {
	return c.requestFloor(ctx, &pb.FloorRequest{Talkgroup: tg, Priority: priority, Broadcast: true})
}

// PrivateCall sets up a unit-to-unit call and returns its talkgroup.
func (c *Client) PrivateCall(ctx context.Context, unit uint32) (*pb.PrivateCallResult, error) {
	return c.privateCall(ctx, &pb.PrivateCall{ToUnit: unit})
}

// EndPrivateCall ends a private call.
func (c *Client) EndPrivateCall(ctx context.Context, tg uint32) error {
	_, err := c.privateCall(ctx, &pb.PrivateCall{End: tg})
	return err
}

func (c *Client) privateCall(ctx context.Context, pc *pb.PrivateCall) (*pb.PrivateCallResult, error) {
	return request(ctx, c, &pb.Envelope{Body: &pb.Envelope_PrivateCall{PrivateCall: pc}}, (*pb.Envelope).GetPrivateCallResult, "PrivateCall")
}
