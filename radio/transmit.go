package radio

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

// Session is what a transmission needs of a client session; *client.Client
// implements it.
type Session interface {
	RequestFloor(ctx context.Context, tg, priority uint32, em pb.Emergency) (*pb.FloorResult, error)
	RequestBroadcast(ctx context.Context, tg, priority uint32) (*pb.FloorResult, error)
	ReleaseFloor(ctx context.Context, tg uint32) error
	SendVoice(b []byte) error
}

var _ Session = (*client.Client)(nil)

// TxConfig configures one transmission.
type TxConfig struct {
	// Talkgroup to talk on. Required.
	Talkgroup uint16
	// Also lists more talkgroups to talk on at the same time (multiselect):
	// each gets the call sealed under its own key; they are not bridged.
	Also []uint16
	// Priority requested (capped by the relay at the unit's role cap).
	Priority uint32
	// Emergency level of the call.
	Emergency pb.Emergency
	// Broadcast makes it a broadcast group call: only this unit talks
	// until the call ends (dispatchers and commanders).
	Broadcast bool
	// Encoder settings. The zero value is Varta's default.
	Encoder codec.EncoderConfig
	// QueueWait is how long to wait for the floor when queued. Default 30 s.
	QueueWait time.Duration
	// OnGranted, if set, is called when the floor is granted.
	OnGranted func()
}

// TxResult describes a finished transmission.
type TxResult struct {
	Slots    int           // 20 ms slots of input
	Sent     int           // Opus frames sent
	DTX      int           // silent slots not sent (DTX)
	Queued   bool          // the request waited in the queue
	Patch    uint16        // the patch talkgroup the floor was granted on, if the talkgroup is patched
	Duration time.Duration // from grant to end of burst
}

// FloorError is a floor request that was denied, or a floor that was
// revoked mid-transmission. Its message is for a person.
type FloorError struct {
	Cause   pb.Cause
	Reason  string
	Revoked bool
}

func (e *FloorError) Error() string {
	if e.Revoked {
		return "the floor was revoked: " + e.Reason
	}
	return "the floor was denied: " + e.Reason
}

// Transmit talks pcm (48 kHz mono) on the talkgroup: it requests the floor
// (waiting in the queue if need be), sends the audio paced in real time as
// sealed voice datagrams, ends the burst and releases the floor. With
// cfg.Also (multiselect, for dispatchers) it holds the floor of every
// listed talkgroup and sends each frame sealed for each, without bridging
// them: each talkgroup hears the call under its own key. Events of the
// session must be readable on events for the duration; Transmit consumes
// them. A denial or revocation on any talkgroup returns a *FloorError.
func Transmit(ctx context.Context, s Session, events <-chan *pb.Envelope, cr *client.Crypto, pcm []int16, cfg TxConfig) (TxResult, error) {
	var res TxResult
	if cfg.QueueWait == 0 {
		cfg.QueueWait = 30 * time.Second
	}
	want := append([]uint16{cfg.Talkgroup}, cfg.Also...)
	for _, tg := range want {
		if !cr.HasKey(tg) {
			return res, fmt.Errorf("radio: no voice key for talkgroup %d yet (is the key management facility running?)", tg)
		}
	}
	enc, err := codec.NewEncoder(cfg.Encoder)
	if err != nil {
		return res, err
	}
	var held []uint32 // floors held, in order: released on every way out
	release := func() {
		for _, tg := range held {
			s.ReleaseFloor(context.WithoutCancel(ctx), tg)
		}
	}
	for _, t := range want {
		tg := uint32(t)
		var fr *pb.FloorResult
		if cfg.Broadcast {
			fr, err = s.RequestBroadcast(ctx, tg, cfg.Priority)
		} else {
			fr, err = s.RequestFloor(ctx, tg, cfg.Priority, cfg.Emergency)
		}
		if err != nil {
			release()
			return res, err
		}
		if fr.Talkgroup != 0 && fr.Talkgroup != tg {
			// The talkgroup is patched: the floor is the patch's, and the
			// voice is sealed for the patch so every patched talkgroup
			// hears it.
			tg = fr.Talkgroup
			res.Patch = uint16(tg)
		}
		switch fr.Status {
		case pb.FloorStatus_FLOOR_DENIED:
			release()
			return res, &FloorError{Cause: fr.Cause, Reason: fr.Reason}
		case pb.FloorStatus_FLOOR_QUEUED:
			res.Queued = true
			if err := waitGrant(ctx, events, cr, tg, cfg.QueueWait); err != nil {
				s.ReleaseFloor(context.WithoutCancel(ctx), tg)
				release()
				return res, err
			}
		}
		if !slices.Contains(held, tg) {
			held = append(held, tg)
		}
	}
	if cfg.OnGranted != nil {
		cfg.OnGranted()
	}
	start := time.Now()
	frames := codec.SplitFrames(pcm)
	res.Slots = len(frames)
	tick := time.NewTicker(codec.FrameDuration)
	defer tick.Stop()
	out := NewBurstSender(cr, s.SendVoice, cr.BurstSigner)
	var flags uint8
	if cfg.Emergency != pb.Emergency_EMERGENCY_NONE {
		flags = protocol.FlagEmergency
	}
	for i, f := range frames {
		if i > 0 {
			select {
			case <-ctx.Done():
				release()
				return res, ctx.Err()
			case <-tick.C:
			}
		}
		if err := checkRevoked(events, cr, held); err != nil {
			release()
			return res, err
		}
		opus, ok, err := enc.Encode(f)
		if err != nil {
			release()
			return res, err
		}
		if !ok {
			res.DTX++
			if out.Pause() {
				continue
			}
			// A very long pause: the DTX frame goes out anyway.
		}
		if err := out.Send(held, flags, opus); err != nil {
			release()
			return res, fmt.Errorf("radio: send voice: %w", err)
		}
		res.Sent++
	}
	if err := out.End(held, flags); err != nil {
		release()
		return res, fmt.Errorf("radio: end the burst: %w", err)
	}
	res.Duration = time.Since(start)
	for _, tg := range held {
		if err := s.ReleaseFloor(ctx, tg); err != nil {
			return res, err
		}
	}
	return res, nil
}

// waitGrant waits for a queued request's grant.
func waitGrant(ctx context.Context, events <-chan *pb.Envelope, cr *client.Crypto, tg uint32, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return &FloorError{Cause: pb.Cause_CAUSE_QUEUE_TIMEOUT, Reason: fmt.Sprintf("still queued after %s", limit)}
		case env, ok := <-events:
			if !ok {
				return errors.New("radio: the session ended while queued")
			}
			installKeys(cr, env)
			fe := env.GetFloorEvent()
			if fe == nil || fe.Talkgroup != tg {
				continue
			}
			switch fe.Kind {
			case pb.FloorEventKind_FLOOR_EVENT_GRANTED:
				return nil
			case pb.FloorEventKind_FLOOR_EVENT_DENIED:
				return &FloorError{Cause: fe.Cause, Reason: fe.Reason}
			}
		}
	}
}

// checkRevoked reads pending events, installs new keys, and reports a
// revocation of any held talkgroup.
func checkRevoked(events <-chan *pb.Envelope, cr *client.Crypto, held []uint32) error {
	for {
		select {
		case env := <-events:
			installKeys(cr, env)
			if fe := env.GetFloorEvent(); fe != nil && slices.Contains(held, fe.Talkgroup) && fe.Kind == pb.FloorEventKind_FLOOR_EVENT_REVOKED {
				return &FloorError{Cause: fe.Cause, Reason: fe.Reason, Revoked: true}
			}
		default:
			return nil
		}
	}
}

// installKeys installs a key bundle event: a rekey during a transmission
// must reach the sealer, or listeners drop the rest once the overlap ends.
func installKeys(cr *client.Crypto, env *pb.Envelope) {
	if kb := env.GetKeyBundle(); kb != nil {
		cr.Install(kb) // a refused bundle is counted by Crypto
	}
}
