package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/audiodev"
	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// ConsoleRun configures RunConsole.
type ConsoleRun struct {
	// Identity is the dispatcher position's identity (role dispatcher or
	// commander). Required.
	Identity *pki.Identity
	// Addr is the relay's address. Default: the identity's.
	Addr string
	// NoAudio leaves the audio devices closed.
	NoAudio bool
	// Audio configures the audio devices.
	Audio audiodev.Config
	// TxClip, if set, is what push-to-talk sends instead of the
	// microphone (48 kHz mono).
	TxClip []int16
	// RecallDir is where saved recalls go. Default: the working directory.
	RecallDir string
	// Priority is the floor priority requested (capped by the relay).
	// Default 100: dispatchers normally outrank patrol.
	Priority uint32
	// Logger receives the console's logs. Default: discard.
	Logger *slog.Logger
	// Input and Output are the terminal. Default: standard input and
	// output.
	Input  io.Reader
	Output io.Writer
	// ProgramOptions are passed to the Bubble Tea program after
	// RunConsole's own.
	ProgramOptions []tea.ProgramOption

	// Test hooks.
	speaker  func(pcm []int16)
	retryMin time.Duration
}

// actTimeout bounds each dispatch request.
const actTimeout = 10 * time.Second

// RunConsole runs the dispatcher's console on the terminal until the
// dispatcher quits or ctx is done. It returns nil when the dispatcher
// quits, and the relay's refusal when the relay will not have the console.
func RunConsole(ctx context.Context, run ConsoleRun) error {
	if run.Identity == nil {
		return errors.New("tui: no identity")
	}
	if run.Logger == nil {
		run.Logger = slog.New(slog.DiscardHandler)
	}
	if run.Priority == 0 {
		run.Priority = 100
	}
	if run.RecallDir == "" {
		run.RecallDir = "."
	}
	cr, err := client.NewCrypto(run.Identity, nil)
	if err != nil {
		return err
	}
	dev := openAudio(RadioRun{NoAudio: run.NoAudio, Audio: run.Audio, TxClip: run.TxClip, speaker: run.speaker})
	defer dev.close()

	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	out := newOutbox(4096)
	gains := newGains()
	recalls := newRecallStore()

	var link *client.Link
	link = client.NewLink(client.LinkConfig{
		Client:   client.Config{Identity: run.Identity, Addr: run.Addr, Software: "varta-console", Logger: run.Logger},
		Crypto:   cr,
		RetryMin: run.retryMin,
		OnState:  linkState(out, cr, func() *client.Client { return link.Client() }, nil),
	})
	tk := newTalker(talkerConfig{
		session: linkSession(link),
		crypto:  cr, source: dev.source, noSource: dev.noSource, send: out.offer,
		priority: run.Priority,
	})
	senders := radio.NewSenderKeys(rctx, cr, link.Client)
	rx := newLiveRx(liveRxConfig{
		open: cr, out: dev.speaker, send: out.offer,
		senderKey: senders.Key, learn: senders.Learn,
		gain:   gains.get,
		recall: func(rec *Recording) { out.offer(recalls.add(rec)) },
	})
	current := func() (*client.Client, error) {
		if c := link.Client(); c != nil {
			return c, nil
		}
		return nil, errNotConnected
	}
	act := func(a Action) tea.Msg {
		ctx, cancel := context.WithTimeout(rctx, actTimeout)
		defer cancel()
		c, err := current()
		return perform(ctx, c, err, a)
	}
	model := NewConsole(ConsoleConfig{
		Unit: run.Identity.UnitID, Alias: run.Identity.Alias,
		PTTDown: tk.Down, PTTUp: tk.Up, Act: act,
		SetGain: func(g TalkgroupGain) tea.Msg { gains.set(g.Talkgroup, g.Gain); return nil },
		Replay: func(id uint64) tea.Msg {
			if id == 0 {
				rx.play(nil)
				return EventMsg{Text: "replay stopped"}
			}
			if dev.speaker == nil {
				return EventMsg{Text: "cannot replay: there is no speaker (w saves the recall to a WAV file)"}
			}
			rec := recalls.get(id)
			if rec == nil {
				return EventMsg{Text: "that transmission is no longer kept"}
			}
			pcm, err := rec.PCM()
			if err != nil {
				return EventMsg{Text: "cannot replay: " + err.Error()}
			}
			rx.play(pcm)
			return nil
		},
		Save: func(id uint64) tea.Msg {
			rec := recalls.get(id)
			if rec == nil {
				return EventMsg{Text: "that transmission is no longer kept"}
			}
			path, err := saveRecall(run.RecallDir, rec)
			if err != nil {
				return EventMsg{Text: "recall not saved: " + err.Error()}
			}
			return EventMsg{Text: fmt.Sprintf("saved %s (%.1f s) to %s", who(rec.Unit, rec.Alias), rec.Duration().Seconds(), path)}
		},
	})
	p := tea.NewProgram(model, programOptions(ctx, run.Input, run.Output, run.ProgramOptions)...)
	out.offer(dev.status)

	return runScreen(ctx, rctx, cancel, p, link, out, rx, tk, func(env *pb.Envelope) tea.Msg { return consoleEvent(env, cr) })
}

// consoleEvent turns a relay event into a message for the console, or nil.
func consoleEvent(env *pb.Envelope, cr *client.Crypto) tea.Msg {
	switch {
	case env.GetEmergencyAlarm() != nil:
		return AlarmMsg{Alarm: env.GetEmergencyAlarm()}
	case env.GetUnitStatus() != nil:
		return UnitStatusMsg{Status: env.GetUnitStatus()}
	case env.GetTextMessage() != nil:
		return TextMsg{Message: env.GetTextMessage()}
	case env.GetDeliveryReceipt() != nil:
		return ReceiptMsg{Receipt: env.GetDeliveryReceipt()}
	case env.GetAffiliationChanged() != nil:
		ac := env.GetAffiliationChanged()
		m := TalkgroupsMsg{Reason: ac.Reason}
		for _, t := range ac.Allowed {
			m.Talkgroups = append(m.Talkgroups, Talkgroup{ID: t.Id, Name: t.Name})
		}
		if len(m.Talkgroups) == 0 {
			return EventMsg{Text: "affiliations changed: " + ac.Reason}
		}
		return m
	}
	return eventMsg(env, cr)
}

// perform carries out a console action on the session c.
func perform(ctx context.Context, c *client.Client, err error, a Action) tea.Msg {
	result := func(text string, err error) tea.Msg { return ActionResult{Action: a, Text: text, Err: err} }
	if err != nil {
		switch a := a.(type) {
		case ActQueryUnits:
			return UnitsMsg{Err: err}
		case ActNearest:
			return NearestMsg{Lat: a.Lat, Lon: a.Lon, Err: err}
		case ActEmergencies:
			return EmergenciesMsg{Err: err}
		}
		return result("", err)
	}
	switch a := a.(type) {
	case ActQueryUnits:
		us, err := c.AllUnits(ctx, false)
		return UnitsMsg{Units: us, At: time.Now(), Err: err}
	case ActNearest:
		us, err := c.QueryUnits(ctx, &pb.QueryUnits{Near: true, Lat: a.Lat, Lon: a.Lon, Count: uint32(a.Count), AvailableOnly: true})
		return NearestMsg{Lat: a.Lat, Lon: a.Lon, Units: us, Err: err}
	case ActEmergencies:
		as, err := c.Emergencies(ctx)
		return EmergenciesMsg{Alarms: as, Err: err}
	case ActAck:
		return result(fmt.Sprintf("acknowledged the emergency of unit %d", a.Unit), c.AckEmergency(ctx, a.Unit))
	case ActClear:
		return result(fmt.Sprintf("cleared the emergency of unit %d", a.Unit), c.ClearEmergency(ctx, a.Unit))
	case ActStun:
		return result(fmt.Sprintf("STUNNED unit %d: refused, radio ordered to wipe its keys, its talkgroups rekeyed", a.Unit), c.UnitAction(ctx, a.Unit, pb.UnitActionKind_UNIT_STUN))
	case ActRevive:
		return result(fmt.Sprintf("revived unit %d", a.Unit), c.UnitAction(ctx, a.Unit, pb.UnitActionKind_UNIT_REVIVE))
	case ActCheck:
		r, err := c.RadioCheck(ctx, a.Unit)
		if err != nil {
			return result("", err)
		}
		if !r.Answered {
			return result(fmt.Sprintf("radio check of unit %d: NO ANSWER (%s)", a.Unit, r.Reason), nil)
		}
		return result(fmt.Sprintf("radio check of unit %d: answered in %d ms", a.Unit, r.RoundTripMs), nil)
	case ActMessage:
		acc, err := c.SendMessage(ctx, &pb.SendMessage{ToUnit: a.Unit, ToTalkgroup: a.Talkgroup, Text: a.Text, Alert: a.Alert})
		if err != nil {
			return result("", err)
		}
		return result(fmt.Sprintf("%s: sent as message %d (%d delivered now, %d queued for radios that are off)", a.Describe(), acc.Id, acc.Delivered, acc.Queued), nil)
	case ActRegroup:
		return result("", c.Regroup(ctx, a.Talkgroup, a.Units, a.Undo))
	case ActPatch:
		r, err := c.Patch(ctx, a.Talkgroups...)
		if err != nil {
			return result("", err)
		}
		return result(fmt.Sprintf("patched talkgroups %s as talkgroup %d", joinIDs(r.Talkgroups, "+"), r.Patch), nil)
	case ActPrivateCall:
		r, err := c.PrivateCall(ctx, a.Unit)
		if err != nil {
			return result("", err)
		}
		return ActionResult{Action: a, Talkgroup: r.Talkgroup,
			Text: fmt.Sprintf("private call with unit %d on talkgroup %d: only the two of you hear it; space talks", a.Unit, r.Talkgroup)}
	case ActEndCall:
		return result(fmt.Sprintf("ended the private call on talkgroup %d", a.Talkgroup), c.EndPrivateCall(ctx, a.Talkgroup))
	case ActUnpatch:
		_, err := c.Unpatch(ctx, a.Patch)
		return result(fmt.Sprintf("dissolved patch %d", a.Patch), err)
	}
	return result("", fmt.Errorf("unknown action %T", a))
}

// gains holds each talkgroup's playback gain for the mixer; talkgroups
// not set play at 1.
type gains struct {
	mu sync.RWMutex
	m  map[uint16]*atomic.Uint64
}

func newGains() *gains { return &gains{m: make(map[uint16]*atomic.Uint64)} }

func (g *gains) set(tg uint32, v float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := g.m[uint16(tg)]
	if a == nil {
		a = new(atomic.Uint64)
		g.m[uint16(tg)] = a
	}
	a.Store(math.Float64bits(v))
}

func (g *gains) get(tg uint16) float64 {
	g.mu.RLock()
	a := g.m[tg]
	g.mu.RUnlock()
	if a == nil {
		return 1
	}
	return math.Float64frombits(a.Load())
}

// saveRecall writes rec to dir as a WAV file named after its time,
// talkgroup and unit, and returns the path.
func saveRecall(dir string, rec *Recording) (string, error) {
	pcm, err := rec.PCM()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	name := fmt.Sprintf("recall-%s-tg%d-unit%d.wav", rec.Start.Format("20060102-150405.000"), rec.Talkgroup, rec.Unit)
	path := filepath.Join(dir, name)
	if err := codec.WriteWAVFile(path, pcm, codec.SampleRate); err != nil {
		return "", err
	}
	return path, nil
}
