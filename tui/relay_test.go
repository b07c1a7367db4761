package tui

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/kmf"
	"github.com/varta-ptt/varta/radio"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

const waitLimit = 10 * time.Second

// testRelay is a real relay on 127.0.0.1 with a per-test agency, its KMF,
// and talkgroups 100 and 200 (as in package integration's harness).
type testRelay struct {
	t     *testing.T
	ca    *pki.CA
	store *store.Store
	srv   *server.Server
	addr  string
}

func startTestRelay(t *testing.T) *testRelay {
	t.Helper()
	ca, err := pki.NewCA("Test Police", rand.Reader, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.IssueServer(ca, nil, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, tg := range []store.Talkgroup{{ID: 100, Name: "Patrol North"}, {ID: 200, Name: "Patrol South"}} {
		if err := st.AddTalkgroup(tg); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := server.New(server.Config{Store: st, Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background(), pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx, "test over")
		<-errc
		pc.Close()
	})
	r := &testRelay{t: t, ca: ca, store: st, srv: srv, addr: pc.LocalAddr().String()}
	kmfID := r.enrol(16777000, "KMF-1", store.RoleKMF)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kmf.Run(ctx, kmf.Config{Identity: kmfID, Addr: r.addr}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kmf: %v", err)
		}
	})
	return r
}

func (r *testRelay) enrol(id uint32, alias string, role store.Role, tgs ...uint16) *pki.Identity {
	r.t.Helper()
	ident, err := pki.IssueUnit(r.ca, pki.UnitSpec{ID: id, Alias: alias, Role: string(role), Server: r.addr}, rand.Reader, time.Now())
	if err != nil {
		r.t.Fatal(err)
	}
	u, err := agency.UnitRecord(ident, tgs)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.srv.AddUnit(u); err != nil {
		r.t.Fatal(err)
	}
	return ident
}

// waitKeys waits until the KMF has keyed tg for its members and cr holds
// that epoch.
func (r *testRelay) waitKeys(t *testing.T, tg uint16, cr *client.Crypto, fetch *client.Client) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		st, err := r.store.KeyState(tg)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Stale && st.Epoch > 0 {
			if fetch != nil {
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				cr.FetchKeys(ctx, fetch)
				cancel()
			}
			if e, ok := cr.Epoch(tg); ok && e >= st.Epoch {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no settled key for talkgroup %d", tg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// listener enrols a unit on talkgroup 100 that listens with package
// radio's receiver (deep jitter buffer, no trimming: it records) and hands
// over each transmission.
func (r *testRelay) listener(t *testing.T, id uint32, alias string) (<-chan radio.Transmission, *client.Crypto) {
	t.Helper()
	return r.listenerOn(t, id, alias, 100)
}

// listenerOn is listener on talkgroup tg.
func (r *testRelay) listenerOn(t *testing.T, id uint32, alias string, tg uint16) (<-chan radio.Transmission, *client.Crypto) {
	t.Helper()
	lid := r.enrol(id, alias, store.RoleOfficer, tg)
	lcr, err := client.NewCrypto(lid, nil)
	if err != nil {
		t.Fatal(err)
	}
	link := client.NewLink(client.LinkConfig{Client: client.Config{Identity: lid, Addr: r.addr}, Talkgroups: []uint32{uint32(tg)}, Crypto: lcr, RetryMin: 50 * time.Millisecond})
	got := make(chan radio.Transmission, 4)
	lctx, lcancel := context.WithCancel(context.Background())
	senders := radio.NewSenderKeys(lctx, lcr, link.Client)
	rx := radio.NewReceiver(radio.ReceiverConfig{Crypto: lcr, OnTransmission: func(tx radio.Transmission) { got <- tx },
		SenderKey: senders.Key, Learn: senders.Learn,
		Jitter: codec.JitterConfig{StartDepth: 200 * time.Millisecond, MinDepth: 200 * time.Millisecond, MaxDepth: 400 * time.Millisecond, NoTrim: true}})
	var lwg sync.WaitGroup
	t.Cleanup(func() { lcancel(); lwg.Wait() })
	lwg.Go(func() { link.Run(lctx) })
	lwg.Go(func() { rx.Run(lctx) })
	lwg.Go(func() {
		for {
			select {
			case <-lctx.Done():
				return
			case env := <-link.Events():
				rx.Event(env)
			case d := <-link.Voice():
				rx.Datagram(d, time.Now())
			}
		}
	})
	select {
	case <-link.Connected():
	case <-time.After(waitLimit):
		t.Fatal("listener did not connect")
	}
	r.waitKeys(t, tg, lcr, nil)
	return got, lcr
}

// talkingUnit enrols, connects and affiliates officer id on tg, with the
// talkgroup's key, and waits until the screen watched by watch has the
// same key epoch, so that it can hear what the unit says. The session is
// closed at the end of the test.
func (r *testRelay) talkingUnit(ctx context.Context, t *testing.T, watch *msgWatch, id uint32, alias string, tg uint16) (*client.Client, *client.Crypto) {
	t.Helper()
	ident := r.enrol(id, alias, store.RoleOfficer, tg)
	cr, err := client.NewCrypto(ident, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx, client.Config{Identity: ident, Addr: r.addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Affiliate(ctx, uint32(tg)); err != nil {
		t.Fatal(err)
	}
	r.waitKeys(t, tg, cr, c)
	watch.wait(t, "the key of the new epoch", func(m tea.Msg) bool {
		k, ok := m.(KeyState)
		e, _ := cr.Epoch(tg)
		return ok && k.Talkgroup == uint32(tg) && k.Epoch >= e
	})
	return c, cr
}

// msgWatch sees every message the radio's program handles (through
// tea.WithFilter, on the program's goroutine) and keeps the model.
type msgWatch struct {
	mu      sync.Mutex
	msgs    []tea.Msg
	model   *RadioModel
	console *ConsoleModel
	seen    chan struct{}
}

func newMsgWatch() *msgWatch { return &msgWatch{seen: make(chan struct{}, 1)} }

func (w *msgWatch) filter(m tea.Model, msg tea.Msg) tea.Msg {
	w.mu.Lock()
	w.msgs = append(w.msgs, msg)
	switch m := m.(type) {
	case *RadioModel:
		w.model = m
	case *ConsoleModel:
		w.console = m
	}
	w.mu.Unlock()
	select {
	case w.seen <- struct{}{}:
	default:
	}
	return msg
}

// wait waits for a message that ok accepts.
func (w *msgWatch) wait(t *testing.T, what string, ok func(tea.Msg) bool) tea.Msg {
	t.Helper()
	deadline := time.After(3 * waitLimit)
	next := 0
	for {
		w.mu.Lock()
		msgs := w.msgs[next:]
		next = len(w.msgs)
		w.mu.Unlock()
		for _, m := range msgs {
			if ok(m) {
				return m
			}
		}
		select {
		case <-w.seen:
		case <-deadline:
			t.Fatalf("the radio never saw %s", what)
		}
	}
}

// The radio against a real relay, end to end encrypted: its key goes down,
// it transmits (here a recording, for want of a microphone), a second
// radio receives exactly what it sent; a third radio talks and the radio's
// speaker plays it; q ends it cleanly.
func TestRunRadioWithRelay(t *testing.T) {
	r := startTestRelay(t)

	got, lcr := r.listener(t, 102, "P-102")

	// Unit 101 is the radio under test.
	id := r.enrol(101, "P-101", store.RoleOfficer, 100, 200)
	clip := tonePCM(50)
	spk := &speaker{}
	watch := newMsgWatch()
	keys, typeKeys := io.Pipe()
	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		errc <- RunRadio(ctx, RadioRun{
			Identity: id, TxClip: clip, Input: keys, Output: io.Discard,
			ProgramOptions: []tea.ProgramOption{tea.WithFilter(watch.filter), tea.WithWindowSize(80, 24)},
			speaker:        spk.write, retryMin: 50 * time.Millisecond,
		})
	}()
	watch.wait(t, "the key of talkgroup 100", func(m tea.Msg) bool {
		k, ok := m.(KeyState)
		return ok && k.Talkgroup == 100 && k.Have
	})
	r.waitKeys(t, 100, lcr, nil)

	// Push to talk: toggle mode (a pipe reports no key releases); the
	// recording ends the transmission by itself.
	io.WriteString(typeKeys, " ")
	watch.wait(t, "the grant", func(m tea.Msg) bool {
		f, ok := m.(FloorResultMsg)
		if ok && f.Err != nil {
			t.Fatalf("PTT: %v", f.Err)
		}
		return ok && f.Result.GetStatus() == 1
	})
	watch.wait(t, "the end of the transmission", func(m tea.Msg) bool { _, ok := m.(PTTEndedMsg); return ok })
	want, err := radio.Reference(clip, codec.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case tx := <-got:
		if tx.Talker != 101 || tx.Talkgroup != 100 || !tx.Complete || !tx.Verification.Verified {
			t.Fatalf("heard %d on %d, complete %v, %v", tx.Talker, tx.Talkgroup, tx.Complete, tx.Verification)
		}
		if len(tx.PCM) != len(want) || codec.SNR(want, tx.PCM) < 1e9 {
			t.Fatalf("received %d samples (want %d), SNR %.1f dB against the local decode", len(tx.PCM), len(want), codec.SNR(want, tx.PCM))
		}
	case <-time.After(3 * waitLimit):
		t.Fatal("the listener heard nothing")
	}

	// Unit 103 talks; the radio plays it.
	tc, tcr := r.talkingUnit(ctx, t, watch, 103, "P-103", 100)
	speech := tonePCM(75)
	if _, err := radio.Transmit(ctx, tc, tc.Events(), tcr, speech, radio.TxConfig{Talkgroup: 100}); err != nil {
		t.Fatal(err)
	}
	heard := watch.wait(t, "P-103's transmission end", func(m tea.Msg) bool {
		h, ok := m.(TalkerMsg)
		return ok && !h.Active && h.Unit == 103
	}).(TalkerMsg)
	if !heard.Complete || heard.Alias != "P-103" || heard.Heard < 1400*time.Millisecond || heard.Heard > 1600*time.Millisecond || !heard.Verification.Verified {
		t.Fatalf("heard %+v, want 1.5 s from P-103", heard)
	}
	spk.mu.Lock()
	played := len(spk.pcm)
	e := energy(spk.pcm) / energy(speech)
	spk.mu.Unlock()
	if d := time.Duration(played) * time.Second / codec.SampleRate; d < 1400*time.Millisecond || d > 1700*time.Millisecond || e < 0.7 || e > 1.3 {
		t.Fatalf("the speaker played %v at %.2f of the energy sent, want about 1.5 s at 1", d, e)
	}

	io.WriteString(typeKeys, "q")
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("RunRadio: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("q did not end the radio")
	}
	watch.mu.Lock()
	screen := ansi.Strip(watch.model.render())
	watch.mu.Unlock()
	for _, s := range []string{"P-101 (101)", "TG 100", "Patrol North", "heard P-103 (103) for 1.5 s, signature verified", "transmission ended: the audio to send ended"} {
		if !strings.Contains(screen, s) {
			t.Errorf("final screen lacks %q:\n%s", s, screen)
		}
	}
}

// Stopping the radio (SIGTERM: its context is cancelled) on air ends the
// transmission properly: the listeners get the end of the burst.
func TestRunRadioStopsOnAir(t *testing.T) {
	r := startTestRelay(t)
	got, _ := r.listener(t, 102, "P-102")
	id := r.enrol(101, "P-101", store.RoleOfficer, 100)
	watch := newMsgWatch()
	keys, typeKeys := io.Pipe()
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		errc <- RunRadio(ctx, RadioRun{
			Identity: id, Talkgroups: []uint32{100}, TxClip: tonePCM(500), Input: keys, Output: io.Discard, NoAudio: true,
			ProgramOptions: []tea.ProgramOption{tea.WithFilter(watch.filter)},
			retryMin:       50 * time.Millisecond,
		})
	}()
	watch.wait(t, "the key", func(m tea.Msg) bool { k, ok := m.(KeyState); return ok && k.Have })
	io.WriteString(typeKeys, " ")
	watch.wait(t, "the grant", func(m tea.Msg) bool {
		f, ok := m.(FloorResultMsg)
		return ok && f.Result.GetStatus() == 1
	})
	watch.wait(t, "the microphone level", func(m tea.Msg) bool { l, ok := m.(TxLevel); return ok && l.Level > 0 })
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("RunRadio: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("RunRadio did not stop")
	}
	select {
	case tx := <-got:
		if tx.Talker != 101 || !tx.Complete || len(tx.PCM) == 0 || len(tx.PCM) >= 500*codec.FrameSamples {
			t.Fatalf("heard %d, complete %v, %d samples", tx.Talker, tx.Complete, len(tx.PCM))
		}
	case <-time.After(3 * waitLimit):
		t.Fatal("the listener heard nothing")
	}
}
