package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/audiodev"
	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/position"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// RadioRun configures RunRadio.
type RadioRun struct {
	// Identity is the unit's identity. Required.
	Identity *pki.Identity
	// Addr is the relay's address, host:port. Default: the identity's.
	Addr string
	// Talkgroups to affiliate to and offer on the talkgroup key, in that
	// order. Default: every talkgroup the relay allows the unit, as it
	// says on each connect.
	Talkgroups []uint32
	// Software names the radio in Hello. Default "varta-radio".
	Software string
	// Status, if set, is reported on every connect (available, busy, ...).
	Status string
	// Fixes, if set, are the radio's positions (internal/position): each
	// is reported as it comes, and the newest again on every connect and
	// with an emergency.
	Fixes <-chan position.Fix
	// NoAudio leaves the audio devices closed.
	NoAudio bool
	// Audio configures the audio devices. The zero value is right.
	Audio audiodev.Config
	// TxClip, if set, is what push-to-talk sends instead of the
	// microphone: 48 kHz mono PCM (codec.ReadWAVFile). Each transmission
	// sends it from the start and ends when it ends. The capture device
	// is then not opened.
	TxClip []int16
	// Encoder configures the Opus encoder; the zero value is Varta's
	// default.
	Encoder codec.EncoderConfig
	// Jitter configures each talker's jitter buffer; the zero value is
	// the live default.
	Jitter codec.JitterConfig
	// Priority is the floor priority requested (the relay caps it at the
	// unit's role cap). Default 0.
	Priority uint32
	// HotMic is how long the radio transmits by itself after an emergency
	// is declared. Default 10 s.
	HotMic time.Duration
	// Logger receives the radio's logs. Default: discard. It must not
	// write to the terminal the screen is on.
	Logger *slog.Logger
	// Input and Output are the terminal. Default: standard input and
	// output.
	Input  io.Reader
	Output io.Writer
	// ProgramOptions are passed to the Bubble Tea program after
	// RunRadio's own.
	ProgramOptions []tea.ProgramOption

	// Test hooks: a speaker and a microphone that replace the devices.
	speaker    func(pcm []int16)
	microphone frameSource
	retryMin   time.Duration
}

// RunRadio runs the handheld radio on the terminal until the person quits
// or ctx is done: it connects (and reconnects) to the relay, plays what
// the selected talkgroup says, and transmits from the microphone (or
// TxClip) while the key is down. It returns nil when the person quits,
// and the relay's refusal when the relay will not have the radio.
func RunRadio(ctx context.Context, run RadioRun) error {
	if run.Identity == nil {
		return errors.New("tui: no identity")
	}
	if run.Software == "" {
		run.Software = "varta-radio"
	}
	if run.Logger == nil {
		run.Logger = slog.New(slog.DiscardHandler)
	}
	ccfg := client.Config{Identity: run.Identity, Addr: run.Addr, Software: run.Software, Logger: run.Logger}

	var tgs []Talkgroup
	for _, id := range run.Talkgroups {
		if id == 0 || id > 0xffff {
			return fmt.Errorf("tui: talkgroup %d is outside 1..65535", id)
		}
		tgs = append(tgs, Talkgroup{ID: id})
	}
	cr, err := client.NewCrypto(run.Identity, nil)
	if err != nil {
		return err
	}
	dev := openAudio(run)
	defer dev.close()

	// The link and the pumps outlive ctx by the moments it takes to end a
	// transmission properly (end of burst, floor release) after the
	// program stops; they are cancelled right after.
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	out := newOutbox(1024)
	var selected atomic.Uint32
	if len(tgs) > 0 {
		selected.Store(tgs[0].ID)
	}

	var link *client.Link
	var rep *radio.Reporter
	state := linkState(out, cr, func() *client.Client { return link.Client() }, run.Talkgroups)
	link = client.NewLink(client.LinkConfig{
		Client: ccfg, Talkgroups: run.Talkgroups, Crypto: cr, RetryMin: run.retryMin,
		OnState: func(up bool, err error) {
			state(up, err)
			if up {
				rep.Connected()
			}
		},
	})
	rep = radio.NewReporter(rctx, link.Client, run.Status, func(err error) {
		out.offer(EventMsg{Text: "status or position not reported: " + err.Error()})
	})
	go func() {
		for {
			select {
			case <-rctx.Done():
				return
			case fix, ok := <-run.Fixes:
				if !ok {
					return
				}
				rep.Fix(fix)
			}
		}
	}()
	tk := newTalker(talkerConfig{
		session: linkSession(link),
		crypto:  cr, source: dev.source, noSource: dev.noSource, send: out.offer,
		encoder: run.Encoder, priority: run.Priority, hotMic: run.HotMic,
	})
	senders := radio.NewSenderKeys(rctx, cr, link.Client)
	rx := newLiveRx(liveRxConfig{
		open: cr, jitter: run.Jitter, out: dev.speaker, send: out.offer,
		senderKey: senders.Key, learn: senders.Learn,
		gain: func(tg uint16) float64 { return boolGain(uint32(tg) == selected.Load()) },
	})

	model := NewRadio(RadioConfig{
		Unit: run.Identity.UnitID, Alias: run.Identity.Alias, Talkgroups: tgs,
		PTTDown: tk.Down, PTTUp: tk.Up,
		Emergency: func(req PTTRequest) tea.Msg {
			// The emergency button: the alarm goes to every dispatcher
			// (with the radio's newest position) before the emergency
			// call pre-empts the talker. Runs in a tea.Cmd.
			if c := link.Client(); c != nil {
				if err := c.RaiseEmergency(ctx, pb.Emergency_EMERGENCY_EMERGENCY, req.Talkgroup, rep.Position()); err != nil {
					out.offer(EventMsg{Text: "emergency alarm not sent: " + err.Error()})
				}
			}
			return tk.Down(req)
		},
		SelectTalkgroup: func(tg uint32) tea.Msg { selected.Store(tg); return nil },
	})
	p := tea.NewProgram(model, programOptions(ctx, run.Input, run.Output, run.ProgramOptions)...)
	out.offer(dev.status)
	keyStates(out, cr, run.Talkgroups)

	return runScreen(ctx, rctx, cancel, p, link, out, rx, tk, func(env *pb.Envelope) tea.Msg { return eventMsg(env, cr) })
}

// runScreen runs the program p beside what every screen with a link
// needs: the link itself (a refusal ends the program), the outbox, the
// playout clock, and the voice and event pumps; conv turns relay events
// into messages for the screen. rctx is the loops' context and cancel ends
// it. It returns nil when the person quits, and the relay's refusal.
func runScreen(ctx, rctx context.Context, cancel context.CancelFunc, p *tea.Program, link *client.Link, out *outbox, rx *liveRx, tk *talker, conv func(*pb.Envelope) tea.Msg) error {
	var wg sync.WaitGroup
	var linkErr error
	wg.Go(func() {
		linkErr = link.Run(rctx)
		if linkErr != nil {
			out.offer(ConnState{Err: explainLink(linkErr), Fatal: true})
			out.offer(quitMsg{})
		}
	})
	wg.Go(func() { out.forward(rctx, p) })
	wg.Go(func() { rx.run(rctx) })
	wg.Go(func() {
		for {
			select {
			case <-rctx.Done():
				return
			case d := <-link.Voice():
				rx.datagram(d, time.Now())
			}
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-rctx.Done():
				return
			case env := <-link.Events():
				if fe := env.GetFloorEvent(); fe != nil {
					tk.event(fe)
					rx.event(fe)
				}
				if m := conv(env); m != nil {
					out.put(rctx, m)
				}
			}
		}
	})

	_, perr := p.Run()
	// End any transmission while the link is still up, then stop the rest.
	tk.close()
	cancel()
	wg.Wait()
	switch {
	case linkErr != nil:
		return linkErr
	case errors.Is(perr, tea.ErrProgramKilled) && ctx.Err() != nil, errors.Is(perr, tea.ErrInterrupted):
		return nil
	}
	return perr
}

// linkState returns a Link's OnState for a screen: the connection state
// and, once up, the welcome and the key state of tgs (with none, of the
// talkgroups the welcome allows). session returns the link's session.
func linkState(out *outbox, cr *client.Crypto, session func() *client.Client, tgs []uint32) func(up bool, err error) {
	return func(up bool, err error) {
		if !up {
			out.offer(ConnState{Err: explainLink(err)})
			return
		}
		out.offer(ConnState{Up: true})
		ids := tgs
		if c := session(); c != nil {
			w := welcomeMsg(c.Welcome())
			out.offer(w)
			if len(ids) == 0 {
				for _, tg := range w.Talkgroups {
					ids = append(ids, tg.ID)
				}
			}
		}
		keyStates(out, cr, ids)
	}
}

// keyStates tells the screen whether it holds each talkgroup's voice key.
func keyStates(out *outbox, cr *client.Crypto, ids []uint32) {
	for _, id := range ids {
		e, ok := cr.Epoch(uint16(id))
		out.offer(KeyState{Talkgroup: id, Have: ok, Epoch: e})
	}
}

// linkSession returns the link's current session for the talker: nil,
// not a nil *client.Client, while disconnected.
func linkSession(link *client.Link) func() session {
	return func() session {
		if c := link.Client(); c != nil {
			return c
		}
		return nil
	}
}

// programOptions are a screen's Bubble Tea options: ctx, the terminal
// (when not the standard one) and then extra.
func programOptions(ctx context.Context, in io.Reader, out io.Writer, extra []tea.ProgramOption) []tea.ProgramOption {
	opts := []tea.ProgramOption{tea.WithContext(ctx)}
	if in != nil {
		opts = append(opts, tea.WithInput(in))
	}
	if out != nil {
		opts = append(opts, tea.WithOutput(out))
	}
	return append(opts, extra...)
}

func welcomeMsg(w *pb.Welcome) WelcomeMsg {
	m := WelcomeMsg{Alias: w.GetAlias(), MaxTalk: time.Duration(w.GetMaxTalkMs()) * time.Millisecond}
	for _, t := range w.GetAllowed() {
		m.Talkgroups = append(m.Talkgroups, Talkgroup{ID: t.Id, Name: t.Name})
	}
	return m
}

// eventMsg turns a relay event into a message for the screen, or nil.
func eventMsg(env *pb.Envelope, cr *client.Crypto) tea.Msg {
	switch {
	case env.GetFloorEvent() != nil:
		return FloorMsg{Event: env.GetFloorEvent()}
	case env.GetKeyBundle() != nil:
		// The Link installed it before passing it on.
		tg := env.GetKeyBundle().Talkgroup
		e, ok := cr.Epoch(uint16(tg))
		return KeyState{Talkgroup: tg, Have: ok, Epoch: e}
	case env.GetAffiliationChanged() != nil:
		ac := env.GetAffiliationChanged()
		return EventMsg{Text: fmt.Sprintf("affiliations now %v: %s", ac.Talkgroups, ac.Reason)}
	case env.GetError() != nil:
		return EventMsg{Text: "relay: " + env.GetError().Reason}
	}
	return nil
}

// explainLink turns the link's error into words for the screen.
func explainLink(err error) string {
	if err == nil {
		return "disconnected"
	}
	return err.Error()
}

// quitMsg asks the program to end (the relay refused the radio).
type quitMsg struct{}

// audio is the radio's audio: devices or test hooks.
type audio struct {
	source   frameSource
	noSource string
	speaker  func([]int16)
	status   AudioStatus
	closers  []func() error
}

func (a *audio) close() {
	for _, c := range a.closers {
		c()
	}
}

// openAudio opens what RadioRun asks for, and says what is missing.
func openAudio(run RadioRun) *audio {
	a := &audio{speaker: run.speaker, source: run.microphone}
	var capErr, playErr error
	if a.speaker == nil && !run.NoAudio {
		var pl *audiodev.Playback
		if pl, playErr = audiodev.OpenPlayback(run.Audio); playErr == nil {
			a.speaker = pl.Write
			a.closers = append(a.closers, pl.Close)
		}
	}
	switch {
	case len(run.TxClip) > 0:
		a.source = clipSource{pcm: run.TxClip}
	case a.source != nil:
	case run.NoAudio:
		capErr = errors.New("audio is off")
	default:
		var c *audiodev.Capture
		if c, capErr = audiodev.OpenCapture(run.Audio); capErr == nil {
			a.source = captureSource{c}
			a.closers = append(a.closers, c.Close)
		}
	}
	a.status.Capture = a.source != nil
	a.status.Playback = a.speaker != nil
	switch {
	case run.NoAudio && len(run.TxClip) == 0:
		a.status.Why = "audio devices are off; push-to-talk has nothing to send"
	case run.NoAudio:
		a.status.Why = fmt.Sprintf("audio devices are off; push-to-talk sends the --ptt-file recording (%.1f s)", float64(len(run.TxClip))/codec.SampleRate)
	case len(run.TxClip) > 0:
		a.status.Why = fmt.Sprintf("push-to-talk sends the --ptt-file recording (%.1f s)", float64(len(run.TxClip))/codec.SampleRate)
		if playErr != nil {
			a.status.Why += "; " + audiodev.Sentence(playErr)
		}
	case capErr != nil || playErr != nil:
		a.status.Why = audiodev.Why(capErr, playErr)
	}
	if a.source == nil {
		a.noSource = "there is no microphone; start the radio with --ptt-file FILE to send a recording"
		if run.NoAudio {
			a.noSource = "audio is off; start the radio with --ptt-file FILE to send a recording"
		}
	}
	return a
}

// captureSource sends the microphone.
type captureSource struct{ c *audiodev.Capture }

func (s captureSource) open() (<-chan []int16, func()) {
	// Start with what is said now, not what was said before the key.
	s.c.Flush()
	return s.c.Frames(), func() {}
}

// clipSource sends a recording, paced in real time.
type clipSource struct{ pcm []int16 }

func (s clipSource) open() (<-chan []int16, func()) {
	frames := make(chan []int16)
	quit := make(chan struct{})
	go func() {
		defer close(frames)
		tick := time.NewTicker(codec.FrameDuration)
		defer tick.Stop()
		for i, f := range codec.SplitFrames(s.pcm) {
			if i > 0 {
				select {
				case <-tick.C:
				case <-quit:
					return
				}
			}
			select {
			case frames <- f:
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return frames, func() { once.Do(func() { close(quit) }) }
}

// outbox carries messages from the radio's goroutines to the program
// without blocking them: tea.Program.Send blocks until the program reads,
// and the Link's state callback must not block.
type outbox struct {
	ch      chan tea.Msg
	dropped atomic.Uint64
}

func newOutbox(n int) *outbox { return &outbox{ch: make(chan tea.Msg, n)} }

// offer queues m, or drops it if the queue is full.
func (o *outbox) offer(m tea.Msg) {
	select {
	case o.ch <- m:
	default:
		o.dropped.Add(1)
	}
}

// put queues m, waiting for room unless ctx is done.
func (o *outbox) put(ctx context.Context, m tea.Msg) {
	select {
	case o.ch <- m:
	case <-ctx.Done():
	}
}

// forward hands queued messages to p until ctx is done.
func (o *outbox) forward(ctx context.Context, p *tea.Program) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-o.ch:
			if _, ok := m.(quitMsg); ok {
				p.Quit()
				continue
			}
			p.Send(m)
		}
	}
}
