package tui

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/groupkey"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

// clearSealer "seals" without encryption, so tests can read what was
// sent, and clearOpener reads it back.
type clearSealer struct {
	unit uint32
	keys map[uint16]bool
}

func (s clearSealer) HasKey(tg uint16) bool { return s.keys == nil || s.keys[tg] }

func (s clearSealer) Seal(dst []byte, tg uint16, flags uint8, payload []byte) ([]byte, error) {
	dst = protocol.AppendVoiceHeader(dst, protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: flags, Talkgroup: tg, Sender: s.unit})
	return append(dst, payload...), nil
}

type clearOpener struct{}

func (clearOpener) Open(dst, d []byte) (protocol.VoiceHeader, []byte, groupkey.FrameInfo, error) {
	if len(d) < protocol.VoiceHeaderLen {
		return protocol.VoiceHeader{}, dst, groupkey.FrameInfo{}, errors.New("short")
	}
	h := protocol.VoiceHeader{Kind: d[0] >> 4, Flags: d[0] & 0x0f, Talkgroup: uint16(d[1])<<8 | uint16(d[2]), Sender: uint32(d[3])<<16 | uint32(d[4])<<8 | uint32(d[5])}
	return h, append(dst, d[protocol.VoiceHeaderLen:]...), groupkey.FrameInfo{}, nil
}

// fakeSession is a relay session whose floor answers the test sets.
type fakeSession struct {
	mu         sync.Mutex
	answer     func(tg uint32, em pb.Emergency) (*pb.FloorResult, error)
	requests   []pb.Emergency
	broadcasts int
	releases   int
	sent       [][]byte
	sentCh     chan []byte
	done       chan struct{}
}

func newFakeSession(status pb.FloorStatus) *fakeSession {
	return &fakeSession{
		answer: func(tg uint32, _ pb.Emergency) (*pb.FloorResult, error) {
			return &pb.FloorResult{Talkgroup: tg, Status: status, Position: 1, MaxTalkMs: 60000}, nil
		},
		sentCh: make(chan []byte, 1000),
		done:   make(chan struct{}),
	}
}

func (s *fakeSession) RequestFloor(ctx context.Context, tg, prio uint32, em pb.Emergency) (*pb.FloorResult, error) {
	s.mu.Lock()
	s.requests = append(s.requests, em)
	answer := s.answer
	s.mu.Unlock()
	return answer(tg, em)
}

func (s *fakeSession) RequestBroadcast(ctx context.Context, tg, prio uint32) (*pb.FloorResult, error) {
	s.mu.Lock()
	s.requests = append(s.requests, pb.Emergency_EMERGENCY_NONE)
	s.broadcasts++
	answer := s.answer
	s.mu.Unlock()
	return answer(tg, pb.Emergency_EMERGENCY_NONE)
}

func (s *fakeSession) ReleaseFloor(ctx context.Context, tg uint32) error {
	s.mu.Lock()
	s.releases++
	s.mu.Unlock()
	return nil
}

func (s *fakeSession) SendVoice(b []byte) error {
	b = append([]byte(nil), b...)
	s.mu.Lock()
	s.sent = append(s.sent, b)
	s.mu.Unlock()
	s.sentCh <- b
	return nil
}

func (s *fakeSession) Done() <-chan struct{} { return s.done }

func (s *fakeSession) counts() (requests, releases, sent int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests), s.releases, len(s.sent)
}

// chanSource is a microphone the test speaks into.
type chanSource struct{ ch chan []int16 }

func (s chanSource) open() (<-chan []int16, func()) { return s.ch, func() {} }

// msgLog collects what the talker sends to the screen.
type msgLog struct {
	mu   sync.Mutex
	msgs []tea.Msg
	ch   chan tea.Msg
}

func newMsgLog() *msgLog { return &msgLog{ch: make(chan tea.Msg, 1000)} }

func (l *msgLog) send(m tea.Msg) {
	l.mu.Lock()
	l.msgs = append(l.msgs, m)
	l.mu.Unlock()
	l.ch <- m
}

// ended waits for a PTTEndedMsg.
func (l *msgLog) ended(t *testing.T) PTTEndedMsg {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-l.ch:
			if e, ok := m.(PTTEndedMsg); ok {
				return e
			}
		case <-timeout:
			t.Fatal("no PTTEndedMsg")
		}
	}
}

// tone is a voiced 20 ms frame (a 440 Hz sine at -6 dBFS).
func tone(n int) []int16 {
	f := make([]int16, codec.FrameSamples)
	for i := range f {
		f[i] = int16(16000 * math.Sin(2*math.Pi*440*float64(n*codec.FrameSamples+i)/codec.SampleRate))
	}
	return f
}

type sentFrame struct {
	h protocol.VoiceHeader
	p radio.Payload
}

func parseSent(t *testing.T, d []byte) sentFrame {
	t.Helper()
	h, pt, _, err := clearOpener{}.Open(nil, d)
	if err != nil {
		t.Fatal(err)
	}
	p, err := radio.ParsePayload(pt)
	if err != nil {
		t.Fatal(err)
	}
	return sentFrame{h, p}
}

func waitSent(t *testing.T, s *fakeSession) sentFrame {
	t.Helper()
	select {
	case d := <-s.sentCh:
		return parseSent(t, d)
	case <-time.After(5 * time.Second):
		t.Fatal("nothing sent")
		return sentFrame{}
	}
}

type talkerTest struct {
	t    *testing.T
	tk   *talker
	sess *fakeSession
	mic  chanSource
	log  *msgLog
}

func newTalkerTest(t *testing.T, status pb.FloorStatus, mutate func(*talkerConfig)) *talkerTest {
	tt := &talkerTest{t: t, sess: newFakeSession(status), mic: chanSource{make(chan []int16, 100)}, log: newMsgLog()}
	cfg := talkerConfig{
		session: func() session { return tt.sess },
		crypto:  clearSealer{unit: 101},
		source:  tt.mic,
		send:    tt.log.send,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	tt.tk = newTalker(cfg)
	t.Cleanup(tt.tk.close)
	return tt
}

func TestTalkerTalksAndReleases(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, nil)
	req := PTTRequest{Seq: 7, Talkgroup: 100}
	res, ok := tt.tk.Down(req).(FloorResultMsg)
	if !ok || res.Err != nil || res.Result.Status != pb.FloorStatus_FLOOR_GRANTED || res.Seq != 7 {
		t.Fatalf("Down: %+v", res)
	}
	for i := range 10 {
		tt.mic.ch <- tone(i)
	}
	for i := range 10 {
		f := waitSent(t, tt.sess)
		if f.h.Talkgroup != 100 || f.h.Sender != 101 || f.h.Flags != 0 || f.p.Seq != uint16(i) || len(f.p.Opus) < 3 {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
	end, ok := tt.tk.Up(req).(PTTEndedMsg)
	if !ok || end.Err != nil || end.Seq != 7 {
		t.Fatalf("Up: %+v", end)
	}
	f := waitSent(t, tt.sess)
	if f.h.Flags != protocol.FlagEndOfBurst || f.p.Seq != 10 || len(f.p.Opus) != 0 {
		t.Fatalf("end marker: %+v", f)
	}
	if req, rel, _ := tt.sess.counts(); req != 1 || rel != 1 {
		t.Fatalf("%d requests, %d releases", req, rel)
	}
	// A second Up for the same transmission is a no-op.
	if m := tt.tk.Up(req); m != nil {
		t.Fatalf("second Up: %+v", m)
	}
}

// DTX: silence is not sent; the next frame carries the gap.
func TestTalkerSkipsSilence(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, nil)
	req := PTTRequest{Seq: 1, Talkgroup: 100}
	tt.tk.Down(req)
	for i := range 5 {
		tt.mic.ch <- tone(i)
	}
	for range 50 {
		tt.mic.ch <- make([]int16, codec.FrameSamples)
	}
	tt.mic.ch <- tone(0)
	var last sentFrame
	var n int
	timeout := time.After(5 * time.Second)
	for last.p.Gap == 0 {
		select {
		case d := <-tt.sess.sentCh:
			last = parseSent(t, d)
			n++
		case <-timeout:
			t.Fatalf("no frame with a DTX gap after %d frames", n)
		}
	}
	if n >= 56 || int(last.p.Seq) != n-1 {
		t.Fatalf("sent %d frames for 56 slots (last seq %d, gap %d)", n, last.p.Seq, last.p.Gap)
	}
	tt.tk.Up(req)
}

func TestTalkerQueued(t *testing.T) {
	for _, early := range []bool{false, true} {
		tt := newTalkerTest(t, pb.FloorStatus_FLOOR_QUEUED, nil)
		grant := &pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_GRANTED, Talkgroup: 100, MaxTalkMs: 30000}
		if early {
			// The grant overtakes the Queued reply.
			tt.sess.answer = func(tg uint32, _ pb.Emergency) (*pb.FloorResult, error) {
				tt.tk.event(grant)
				return &pb.FloorResult{Talkgroup: tg, Status: pb.FloorStatus_FLOOR_QUEUED, Position: 1}, nil
			}
		}
		req := PTTRequest{Seq: 1, Talkgroup: 100}
		res := tt.tk.Down(req).(FloorResultMsg)
		if res.Result.Status != pb.FloorStatus_FLOOR_QUEUED {
			t.Fatalf("Down: %+v", res)
		}
		tt.mic.ch <- tone(0)
		if !early {
			select {
			case <-tt.sess.sentCh:
				t.Fatal("sent voice while queued")
			case <-time.After(50 * time.Millisecond):
			}
			tt.tk.event(grant)
		}
		if f := waitSent(t, tt.sess); f.p.Seq != 0 {
			t.Fatalf("first frame after the grant: %+v", f)
		}
		tt.tk.Up(req)
	}
}

// Released while queued: the request is withdrawn and nothing is sent.
func TestTalkerWithdraw(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_QUEUED, nil)
	req := PTTRequest{Seq: 1, Talkgroup: 100}
	tt.tk.Down(req)
	tt.mic.ch <- tone(0)
	end := tt.tk.Up(req).(PTTEndedMsg)
	if end.Err != nil {
		t.Fatal(end.Err)
	}
	if _, rel, sent := tt.sess.counts(); rel != 1 || sent != 0 {
		t.Fatalf("%d releases, %d frames sent", rel, sent)
	}
}

func TestTalkerRevoked(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, nil)
	req := PTTRequest{Seq: 1, Talkgroup: 100}
	tt.tk.Down(req)
	tt.mic.ch <- tone(0)
	waitSent(t, tt.sess)
	tt.tk.event(&pb.FloorEvent{Kind: pb.FloorEventKind_FLOOR_EVENT_REVOKED, Talkgroup: 100, Cause: pb.Cause_CAUSE_PREEMPTED})
	// The transmission ends by itself. Wait for that without touching the
	// key (an early Up would end the burst normally, with a release); then
	// the key's release finds nothing.
	deadline := time.Now().Add(5 * time.Second)
	for {
		tt.tk.mu.Lock()
		busy := tt.tk.cur != nil
		tt.tk.mu.Unlock()
		if !busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still transmitting after the revocation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if msg := tt.tk.Up(req); msg != nil {
		t.Fatalf("the key's release after a revocation did something: %#v", msg)
	}
	tt.mic.ch <- tone(1)
	time.Sleep(50 * time.Millisecond)
	if _, rel, sent := tt.sess.counts(); rel != 0 || sent != 1 {
		t.Fatalf("after the revocation: %d releases, %d frames sent (want 0 and 1: no end marker)", rel, sent)
	}
	// The next press is a new request.
	if res := tt.tk.Down(PTTRequest{Seq: 2, Talkgroup: 100}).(FloorResultMsg); res.Err != nil {
		t.Fatal(res.Err)
	}
}

func TestTalkerHotMic(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, func(c *talkerConfig) { c.hotMic = 100 * time.Millisecond })
	req := PTTRequest{Seq: 1, Talkgroup: 100, Emergency: true, HotMic: true}
	tt.tk.Down(req)
	tt.mic.ch <- tone(0)
	if f := waitSent(t, tt.sess); f.h.Flags != protocol.FlagEmergency {
		t.Fatalf("emergency frame flags %x", f.h.Flags)
	}
	end := tt.log.ended(t)
	if end.Seq != 1 || end.Err != nil || !strings.Contains(end.Reason, "hot mic") {
		t.Fatalf("hot mic end: %+v", end)
	}
	if f := waitSent(t, tt.sess); f.h.Flags != protocol.FlagEmergency|protocol.FlagEndOfBurst {
		t.Fatalf("end marker flags %x", f.h.Flags)
	}
	tt.sess.mu.Lock()
	ems, rel := tt.sess.requests, tt.sess.releases
	tt.sess.mu.Unlock()
	if len(ems) != 1 || ems[0] != pb.Emergency_EMERGENCY_EMERGENCY || rel != 1 {
		t.Fatalf("requests %v, releases %d", ems, rel)
	}

	// Taken over by the key: it goes on past the hot-mic time.
	req = PTTRequest{Seq: 2, Talkgroup: 100, Emergency: true, HotMic: true}
	tt.tk.Down(req)
	res := tt.tk.Down(PTTRequest{Seq: 2, Talkgroup: 100, Emergency: true}).(FloorResultMsg)
	if res.Result.GetStatus() != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("take-over: %+v", res)
	}
	time.Sleep(200 * time.Millisecond)
	if _, rel, _ := tt.sess.counts(); rel != 1 {
		t.Fatal("the hot mic ended a transmission the key had taken over")
	}
	if end := tt.tk.Up(req).(PTTEndedMsg); end.Err != nil {
		t.Fatal(end.Err)
	}
}

func TestTalkerRefusals(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*talkerConfig)
		want   string
	}{
		{"no key", func(c *talkerConfig) { c.crypto = clearSealer{unit: 101, keys: map[uint16]bool{}} }, "no voice key for talkgroup 100"},
		{"offline", func(c *talkerConfig) { c.session = func() session { return nil } }, "not connected to the relay"},
		{"no microphone", func(c *talkerConfig) { c.source, c.noSource = nil, "there is no microphone" }, "there is no microphone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, tc.mutate)
			res := tt.tk.Down(PTTRequest{Seq: 1, Talkgroup: 100}).(FloorResultMsg)
			if res.Err == nil || !strings.Contains(res.Err.Error(), tc.want) {
				t.Fatalf("Down: %+v, want an error saying %q", res, tc.want)
			}
			if req, _, _ := tt.sess.counts(); req != 0 {
				t.Fatal("asked the relay anyway")
			}
		})
	}
}

func TestTalkerConnectionLost(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, nil)
	tt.tk.Down(PTTRequest{Seq: 1, Talkgroup: 100})
	close(tt.sess.done)
	if end := tt.log.ended(t); !errors.Is(end.Err, errLostOnAir) {
		t.Fatalf("end: %+v", end)
	}
}

// Closing the radio on air ends the burst properly.
func TestTalkerCloseOnAir(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, nil)
	tt.tk.Down(PTTRequest{Seq: 1, Talkgroup: 100})
	tt.mic.ch <- tone(0)
	waitSent(t, tt.sess)
	tt.tk.close()
	if f := waitSent(t, tt.sess); f.h.Flags != protocol.FlagEndOfBurst {
		t.Fatalf("last frame flags %x", f.h.Flags)
	}
	if _, rel, _ := tt.sess.counts(); rel != 1 {
		t.Fatalf("%d releases", rel)
	}
	if res := tt.tk.Down(PTTRequest{Seq: 2, Talkgroup: 100}).(FloorResultMsg); res.Err == nil {
		t.Fatal("Down after close worked")
	}
}

func TestLevelMeter(t *testing.T) {
	var l levelMeter
	for i := range 4 {
		if _, ok := l.add(tone(i)); ok {
			t.Fatal("level before five frames")
		}
	}
	lvl, ok := l.add(tone(4))
	// 16000 of 32768 is -6.2 dBFS: (60-6.2)/60.
	if !ok || math.Abs(lvl-0.896) > 0.01 {
		t.Fatalf("level %v %v", lvl, ok)
	}
	for range 5 {
		lvl, ok = l.add(make([]int16, codec.FrameSamples))
	}
	if !ok || lvl != 0 {
		t.Fatalf("silence level %v", lvl)
	}
}

// A broadcast request asks for a broadcast group call; an emergency is
// never a broadcast (it takes the floor by priority).
func TestTalkerBroadcast(t *testing.T) {
	tt := newTalkerTest(t, pb.FloorStatus_FLOOR_GRANTED, nil)
	req := PTTRequest{Seq: 1, Talkgroup: 100, Broadcast: true}
	if res, ok := tt.tk.Down(req).(FloorResultMsg); !ok || res.Err != nil {
		t.Fatalf("Down: %+v", res)
	}
	tt.tk.Up(req)
	tt.sess.mu.Lock()
	n := tt.sess.broadcasts
	tt.sess.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d broadcast requests, want 1", n)
	}
	req = PTTRequest{Seq: 2, Talkgroup: 100, Broadcast: true, Emergency: true}
	tt.tk.Down(req)
	tt.tk.Up(req)
	tt.sess.mu.Lock()
	n = tt.sess.broadcasts
	tt.sess.mu.Unlock()
	if n != 1 {
		t.Fatalf("an emergency was asked as a broadcast")
	}
}
