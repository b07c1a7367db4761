package tui

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// session is what the talk loop needs of a client session; *client.Client
// implements it.
type session interface {
	radio.Session
	Done() <-chan struct{}
}

var _ session = (*client.Client)(nil)

// sealer seals voice frames; *client.Crypto implements it.
type sealer interface {
	HasKey(tg uint16) bool
	radio.Sealer
}

var _ sealer = (*client.Crypto)(nil)

// burstSigning is a sealer that also signs bursts; *client.Crypto is one.
type burstSigning interface {
	BurstSigner(tg uint16) (*groupkey.BurstSigner, error)
}

var _ burstSigning = (*client.Crypto)(nil)

// frameSource is the audio a transmission sends.
type frameSource interface {
	// open starts one transmission's audio: 20 ms frames of 48 kHz mono
	// arrive on frames in real time until it is closed (the audio ended)
	// or stop is called. stop must be called.
	open() (frames <-chan []int16, stop func())
}

// Timeouts of the talk loop's requests to the relay.
const (
	requestTimeout = 10 * time.Second
	releaseTimeout = 3 * time.Second
)

// talkerConfig configures a talker.
type talkerConfig struct {
	// session returns the current session, nil while disconnected.
	session func() session
	crypto  sealer
	// source is the audio to send; nil when there is none, and noSource
	// then says why.
	source   frameSource
	noSource string
	// send delivers messages to the screen (PTTEndedMsg for transmissions
	// that end by themselves, TxLevel); it must not block.
	send     func(tea.Msg)
	encoder  codec.EncoderConfig
	priority uint32
	// hotMic is how long an emergency declaration transmits by itself.
	hotMic time.Duration
}

// talker runs the screen's transmissions, one at a time: floor request,
// live audio (encode, seal, send every 20 ms), end of burst, release. Down
// and Up are called from tea.Cmds; event from the event pump.
type talker struct {
	cfg    talkerConfig
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards cur and closed
	cur    *txBurst
	closed bool
	wg     sync.WaitGroup
}

// txBurst is one transmission, run by its own goroutine (talker.run).
type txBurst struct {
	req    PTTRequest
	sess   session
	result chan tea.Msg            // the answer to Down
	events chan *pb.FloorEvent     // floor events of req.Talkgroup
	stop   chan struct{}           // closed by end: end the burst and release
	keep   chan struct{}           // closed when the key takes over the hot mic
	done   chan struct{}           // closed when run returns
	once   [2]sync.Once            // for stop and keep
	maxMs  atomic.Uint32           // the grant's maximum talk time
	grant  atomic.Bool             // the floor was granted
	err    error                   // why it failed; read after done
	level  levelMeter              // owned by run
	stats  struct{ sent, dtx int } // owned by run
	// held lists the talkgroups whose floor this transmission holds:
	// req.Talkgroup first, then those of req.Also that were granted.
	// Owned by run.
	held []uint32
}

func newTalker(cfg talkerConfig) *talker {
	if cfg.hotMic == 0 {
		cfg.hotMic = 10 * time.Second
	}
	if cfg.send == nil {
		cfg.send = func(tea.Msg) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &talker{cfg: cfg, ctx: ctx, cancel: cancel}
}

// Down requests the floor and starts the transmission's goroutine; it
// returns the relay's answer as a FloorResultMsg. Called from a tea.Cmd.
func (t *talker) Down(req PTTRequest) tea.Msg {
	fail := func(err error) tea.Msg { return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Err: err} }
	t.mu.Lock()
	b := t.cur
	t.mu.Unlock()
	if b != nil {
		if b.req.Seq == req.Seq {
			// The key pressed during the hot mic: keep talking until it
			// is released.
			b.once[1].Do(func() { close(b.keep) })
			if b.grant.Load() {
				return FloorResultMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Result: &pb.FloorResult{
					Talkgroup: req.Talkgroup, Status: pb.FloorStatus_FLOOR_GRANTED, MaxTalkMs: b.maxMs.Load()}}
			}
			return nil
		}
		// A transmission the screen has given up on: end it first.
		t.end(b)
	}
	t.mu.Lock()
	switch {
	case t.closed:
		t.mu.Unlock()
		return fail(errors.New("the radio is shutting down"))
	case t.cur != nil:
		t.mu.Unlock()
		return fail(errors.New("another transmission is still ending; try again"))
	case t.cfg.source == nil:
		t.mu.Unlock()
		return fail(errors.New(t.cfg.noSource))
	case req.Talkgroup == 0 || req.Talkgroup > 0xffff:
		t.mu.Unlock()
		return fail(fmt.Errorf("talkgroup %d is out of range", req.Talkgroup))
	case !t.cfg.crypto.HasKey(uint16(req.Talkgroup)):
		t.mu.Unlock()
		return fail(fmt.Errorf("no voice key for talkgroup %d yet (is the key management facility running?)", req.Talkgroup))
	}
	sess := t.cfg.session()
	if sess == nil {
		t.mu.Unlock()
		return fail(errNotConnected)
	}
	b = &txBurst{
		req: req, sess: sess,
		result: make(chan tea.Msg, 1),
		events: make(chan *pb.FloorEvent, 16),
		stop:   make(chan struct{}),
		keep:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	t.cur = b
	t.wg.Go(func() { t.run(b) })
	t.mu.Unlock()
	return <-b.result // run answers exactly once, before anything else
}

// Up ends the transmission req started (end of burst, release) or
// withdraws its request, and returns a PTTEndedMsg. Called from a tea.Cmd.
func (t *talker) Up(req PTTRequest) tea.Msg {
	t.mu.Lock()
	b := t.cur
	t.mu.Unlock()
	if b == nil || b.req.Seq != req.Seq {
		return nil // it ended already (revoked, hot mic over, connection lost)
	}
	return PTTEndedMsg{Seq: req.Seq, Talkgroup: req.Talkgroup, Err: t.end(b)}
}

// end stops b and waits for its goroutine.
func (t *talker) end(b *txBurst) error {
	b.once[0].Do(func() { close(b.stop) })
	<-b.done
	return b.err
}

// event hands a floor event to the transmission it concerns. Called from
// the event pump.
func (t *talker) event(fe *pb.FloorEvent) {
	switch fe.Kind {
	case pb.FloorEventKind_FLOOR_EVENT_GRANTED, pb.FloorEventKind_FLOOR_EVENT_DENIED, pb.FloorEventKind_FLOOR_EVENT_REVOKED:
	default:
		return
	}
	t.mu.Lock()
	b := t.cur
	t.mu.Unlock()
	if b == nil || (b.req.Talkgroup != fe.Talkgroup && !slices.Contains(b.req.Also, fe.Talkgroup)) {
		return
	}
	select {
	case b.events <- fe:
	case <-b.done:
	}
}

// close ends any transmission (end of burst and release, while the
// session is still up) and waits for the talk loop.
func (t *talker) close() {
	t.mu.Lock()
	t.closed = true
	b := t.cur
	t.mu.Unlock()
	if b != nil {
		t.end(b)
	}
	t.cancel()
	t.wg.Wait()
}

// run is the transmission's goroutine.
func (t *talker) run(b *txBurst) {
	defer func() {
		t.mu.Lock()
		if t.cur == b {
			t.cur = nil
		}
		t.mu.Unlock()
		close(b.done)
	}()
	answer := func(m tea.Msg) {
		select {
		case b.result <- m:
		default:
		}
	}
	tg := b.req.Talkgroup
	em := pb.Emergency_EMERGENCY_NONE
	if b.req.Emergency {
		em = pb.Emergency_EMERGENCY_EMERGENCY
	}
	ctx, cancel := context.WithTimeout(t.ctx, requestTimeout)
	res, err := t.request(ctx, b, tg, em)
	cancel()
	if err != nil {
		b.err = err
		answer(FloorResultMsg{Seq: b.req.Seq, Talkgroup: tg, Err: err})
		return
	}
	switch res.Status {
	case pb.FloorStatus_FLOOR_GRANTED:
		b.maxMs.Store(res.MaxTalkMs)
		b.grant.Store(true)
		answer(FloorResultMsg{Seq: b.req.Seq, Talkgroup: tg, Result: res})
	case pb.FloorStatus_FLOOR_QUEUED:
		answer(FloorResultMsg{Seq: b.req.Seq, Talkgroup: tg, Result: res})
		if !t.waitGrant(b) {
			return
		}
	default:
		answer(FloorResultMsg{Seq: b.req.Seq, Talkgroup: tg, Result: res})
		return
	}
	b.held = []uint32{tg}
	t.joinAlso(b)
	select {
	case <-b.stop:
		// The key came up before the grant: nothing was said.
		b.err = t.release(b)
		return
	default:
	}
	t.stream(b)
}

// waitGrant waits in the queue. It returns true once granted, false when
// the request ended (denied, withdrawn, session lost).
func (t *talker) waitGrant(b *txBurst) bool {
	for {
		select {
		case fe := <-b.events:
			switch fe.Kind {
			case pb.FloorEventKind_FLOOR_EVENT_GRANTED:
				b.maxMs.Store(fe.MaxTalkMs)
				b.grant.Store(true)
				return true
			case pb.FloorEventKind_FLOOR_EVENT_DENIED:
				return false
			}
		case <-b.stop:
			b.err = t.release(b) // withdraws the queued request
			return false
		case <-b.sess.Done():
			b.err = errLostOnAir
			return false
		case <-t.ctx.Done():
			return false
		}
	}
}

// joinAlso takes the floor of the multiselected talkgroups (req.Also)
// once the first is granted. A talkgroup that is busy, refused or has no
// key is left out, and the screen is told why: the call goes on where it
// can.
func (t *talker) joinAlso(b *txBurst) {
	for _, tg := range b.req.Also {
		if tg == b.req.Talkgroup || slices.Contains(b.held, tg) {
			continue
		}
		skip := func(why string) {
			t.cfg.send(EventMsg{Text: fmt.Sprintf("talkgroup %d left out of the call: %s", tg, why)})
		}
		if tg == 0 || tg > 0xffff || !t.cfg.crypto.HasKey(uint16(tg)) {
			skip("no voice key")
			continue
		}
		em := pb.Emergency_EMERGENCY_NONE
		if b.req.Emergency {
			em = pb.Emergency_EMERGENCY_EMERGENCY
		}
		ctx, cancel := context.WithTimeout(t.ctx, requestTimeout)
		res, err := t.request(ctx, b, tg, em)
		cancel()
		switch {
		case err != nil:
			skip(err.Error())
		case res.Status == pb.FloorStatus_FLOOR_GRANTED:
			b.held = append(b.held, tg)
		case res.Status == pb.FloorStatus_FLOOR_QUEUED:
			// Waiting would hold up the others: withdraw.
			t.releaseTG(b.sess, tg)
			skip(fmt.Sprintf("busy (queued at %d)", res.Position))
		default:
			skip(denyText(res))
		}
	}
}

// request asks for the floor of tg for b: a broadcast call when b's
// request says so (only this unit talks until the call ends).
func (t *talker) request(ctx context.Context, b *txBurst, tg uint32, em pb.Emergency) (*pb.FloorResult, error) {
	if b.req.Broadcast && em == pb.Emergency_EMERGENCY_NONE {
		return b.sess.RequestBroadcast(ctx, tg, t.cfg.priority)
	}
	return b.sess.RequestFloor(ctx, tg, t.cfg.priority, em)
}

// denyText says why a floor request was refused.
func denyText(res *pb.FloorResult) string {
	if res.Reason != "" {
		return res.Reason
	}
	return strings.ToLower(strings.TrimPrefix(res.Status.String(), "FLOOR_"))
}

// release releases the floors the transmission holds (or withdraws the
// request), bounded in time and done even while the radio shuts down.
func (t *talker) release(b *txBurst) error {
	tgs := b.held
	if len(tgs) == 0 {
		tgs = []uint32{b.req.Talkgroup}
	}
	var errs []error
	for _, tg := range tgs {
		if err := t.releaseTG(b.sess, tg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *talker) releaseTG(sess session, tg uint32) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), releaseTimeout)
	defer cancel()
	if err := sess.ReleaseFloor(ctx, tg); err != nil {
		return fmt.Errorf("release the floor of talkgroup %d: %w", tg, err)
	}
	return nil
}

// stream sends the source's audio until the key comes up, the floor is
// revoked, the hot mic runs out or the audio ends.
func (t *talker) stream(b *txBurst) {
	ended := func(reason string, err error) {
		t.cfg.send(TxLevel{})
		t.cfg.send(PTTEndedMsg{Seq: b.req.Seq, Talkgroup: b.req.Talkgroup, Reason: reason, Err: err})
	}
	enc, err := codec.NewEncoder(t.cfg.encoder)
	if err != nil {
		b.err = err
		t.release(b)
		ended("", err)
		return
	}
	frames, stopSource := t.cfg.source.open()
	defer stopSource()
	var hot <-chan time.Time
	if b.req.HotMic {
		timer := time.NewTimer(t.cfg.hotMic)
		defer timer.Stop()
		hot = timer.C
	}
	keep := b.keep
	var flags uint8
	if b.req.Emergency {
		flags = protocol.FlagEmergency
	}
	var start func(uint16) (*groupkey.BurstSigner, error)
	if s, ok := t.cfg.crypto.(burstSigning); ok {
		start = s.BurstSigner
	}
	out := radio.NewBurstSender(t.cfg.crypto, b.sess.SendVoice, start)
	// finish sends the end-of-burst marker and releases the floor.
	finish := func() error {
		t.cfg.send(TxLevel{})
		if err := out.End(b.held, flags); err != nil {
			t.release(b)
			return fmt.Errorf("end the burst: %w", err)
		}
		return t.release(b)
	}
	for {
		select {
		case <-b.stop:
			b.err = finish()
			return
		case <-t.ctx.Done():
			b.err = finish()
			return
		case <-keep:
			keep, hot = nil, nil
		case <-hot:
			b.err = finish()
			ended(fmt.Sprintf("the emergency hot mic closed after %s", t.cfg.hotMic), b.err)
			return
		case fe := <-b.events:
			if fe.Kind != pb.FloorEventKind_FLOOR_EVENT_REVOKED {
				continue
			}
			// The floor is someone else's now: stop sending there at
			// once, without an end marker the relay would refuse.
			b.held = slices.DeleteFunc(b.held, func(tg uint32) bool { return tg == fe.Talkgroup })
			if fe.Talkgroup != b.req.Talkgroup {
				t.cfg.send(EventMsg{Text: fmt.Sprintf("talkgroup %d left the call: %s", fe.Talkgroup, fe.Reason)})
				continue
			}
			t.cfg.send(TxLevel{})
			if len(b.held) > 0 {
				// The rest of a multiselect call ends properly.
				finish()
			}
			return
		case <-b.sess.Done():
			b.err = errLostOnAir
			ended("", errLostOnAir)
			return
		case f, ok := <-frames:
			if !ok {
				b.err = finish()
				ended("the audio to send ended", b.err)
				return
			}
			if lvl, ok := b.level.add(f); ok {
				t.cfg.send(TxLevel{Level: lvl})
			}
			opus, voiced, err := enc.Encode(f)
			if err != nil {
				b.err = err
				t.release(b)
				ended("", err)
				return
			}
			if !voiced && out.Pause() {
				continue // DTX; a very long pause sends the frame anyway
			}
			if err := out.Send(b.held, flags, opus); err != nil {
				b.err = fmt.Errorf("send voice: %w", err)
				t.release(b)
				ended("", b.err)
				return
			}
		}
	}
}

// levelMeter turns frames into a level for the screen every 100 ms.
type levelMeter struct {
	peak int
	n    int
}

// add takes a frame; every fifth it returns the peak level of the last
// five, on a dB scale from 0 (-60 dBFS or less) to 1 (full scale).
func (l *levelMeter) add(f []int16) (float64, bool) {
	for _, s := range f {
		l.peak = max(l.peak, abs(int(s)))
	}
	l.n++
	if l.n < 5 {
		return 0, false
	}
	peak := l.peak
	l.peak, l.n = 0, 0
	if peak == 0 {
		return 0, true
	}
	db := 20 * math.Log10(float64(peak)/32768)
	return min(max((db+60)/60, 0), 1), true
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
