package integration

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/radio"
	"github.com/varta-ptt/varta/server/store"
)

// speechPCM makes real speech with espeak-ng and reads it as 48 kHz PCM.
func speechPCM(t *testing.T, text string) []int16 {
	t.Helper()
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("espeak-ng is missing: scripts/deps.sh should have installed it")
		}
		t.Skip("espeak-ng is not installed; `make test` installs it")
	}
	path := filepath.Join(t.TempDir(), "speech.wav")
	if out, err := exec.Command("espeak-ng", "-w", path, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	pcm, err := codec.ReadWAVFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// txCtx bounds a transmission: its audio plays in real time.
func txCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// listener is a receiving radio: a Link that reconnects, with a Receiver
// that collects transmissions.
type listener struct {
	cr   *client.Crypto
	link *client.Link
	rx   *radio.Receiver
	got  chan radio.Transmission
	up   chan bool
}

func (r *relay) listener(t *testing.T, id uint32, alias string, drop func([]byte) bool, tgs ...uint16) *listener {
	t.Helper()
	ident := r.enrol(id, alias, store.RoleOfficer, tgs...)
	cr, err := client.NewCrypto(ident, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{cr: cr, got: make(chan radio.Transmission, 16), up: make(chan bool, 16)}
	var ids []uint32
	for _, tg := range tgs {
		ids = append(ids, uint32(tg))
	}
	l.link = client.NewLink(client.LinkConfig{
		Client:     client.Config{Identity: ident, Addr: r.addr},
		Talkgroups: ids, Crypto: cr, RetryMin: 50 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		OnState: func(up bool, err error) {
			select {
			case l.up <- up:
			default:
			}
		},
	})
	// A recording radio's jitter buffer: deep, and it never drops a frame to
	// cut delay, so a busy CI machine's scheduling hiccups do not turn into
	// missing audio. (The default, for live playout, trims.)
	jitter := codec.JitterConfig{StartDepth: 200 * time.Millisecond, MinDepth: 200 * time.Millisecond, MaxDepth: 400 * time.Millisecond, NoTrim: true}
	l.rx = radio.NewReceiver(radio.ReceiverConfig{Crypto: cr, Drop: drop, Jitter: jitter, OnTransmission: func(tx radio.Transmission) { l.got <- tx }})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { l.link.Run(ctx) })
	wg.Go(func() { l.rx.Run(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case env := <-l.link.Events():
				l.rx.Event(env)
			case d := <-l.link.Voice():
				l.rx.Datagram(d, time.Now())
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-l.link.Connected():
	case <-time.After(waitLimit):
		t.Fatalf("listener %d did not connect", id)
	}
	return l
}

func (l *listener) transmission(t *testing.T) radio.Transmission {
	t.Helper()
	select {
	case tx := <-l.got:
		return tx
	case <-time.After(3 * waitLimit):
		t.Fatal("no transmission received")
		return radio.Transmission{}
	}
}

// talker is a transmitting radio on a plain session.
func (r *relay) talker(t *testing.T, id uint32, alias string, tgs ...uint16) (*client.Client, *client.Crypto) {
	t.Helper()
	return r.talkerRole(t, id, alias, store.RoleOfficer, tgs...)
}

func (r *relay) talkerRole(t *testing.T, id uint32, alias string, role store.Role, tgs ...uint16) (*client.Client, *client.Crypto) {
	t.Helper()
	ident := r.enrol(id, alias, role, tgs...)
	c := r.dial(ident)
	affiliate(t, c, tgs...)
	cr, err := client.NewCrypto(ident, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, cr
}

// waitTalkerKey gives the talker the talkgroup's settled epoch.
func (r *relay) waitTalkerKey(t *testing.T, c *client.Client, cr *client.Crypto, tg uint16) {
	t.Helper()
	epoch := r.waitKeysFresh(t, tg)
	deadline := time.Now().Add(waitLimit)
	for {
		if _, err := cr.FetchKeys(ctxT(t), c); err != nil {
			t.Fatal(err)
		}
		if e, ok := cr.Epoch(tg); ok && e >= epoch {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("talker has no key for epoch %d", epoch)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitListenersKey waits until the listeners hold the talkgroup's epoch.
func waitListenersKey(t *testing.T, tg uint16, epoch uint32, ls ...*listener) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for _, l := range ls {
		for {
			if e, ok := l.cr.Epoch(tg); ok && e >= epoch {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a listener never got epoch %d of talkgroup %d", epoch, tg)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// A real speech WAV sent by one radio reaches two others through the real
// relay, end to end encrypted; with no loss each plays exactly what a local
// encode-then-decode of the input gives, sample for sample, and the
// transmission keeps its duration.
func TestRadioSpeechEndToEnd(t *testing.T) {
	pcm := speechPCM(t, "Dispatch, unit one oh one, traffic stop at Fifth and Main, two occupants.")
	r := startRelay(t, nil)
	r.startKMF(t)
	var relayedMu sync.Mutex
	var relayed [][]byte // the voice datagrams as the relay forwarded them
	capture := func(d []byte) bool {
		relayedMu.Lock()
		relayed = append(relayed, bytes.Clone(d))
		relayedMu.Unlock()
		return false
	}
	l1 := r.listener(t, 102, "P-102", capture, 100)
	l2 := r.listener(t, 103, "P-103", nil, 100)
	outsiderID := r.enrol(104, "P-104", store.RoleOfficer, 200)
	c, cr := r.talker(t, 101, "P-101", 100)
	r.waitTalkerKey(t, c, cr, 100)
	e, _ := cr.Epoch(100)
	waitListenersKey(t, 100, e, l1, l2)
	udpBefore := len(r.tap.packets())

	res, err := radio.Transmit(txCtx(t), c, c.Events(), cr, pcm, radio.TxConfig{Talkgroup: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sent %d of %d slots (%d DTX) in %s", res.Sent, res.Slots, res.DTX, res.Duration)
	want, err := radio.Reference(pcm, codec.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*listener{l1, l2} {
		tx := l.transmission(t)
		if tx.Talker != 101 || tx.Alias != "P-101" || !tx.Complete {
			t.Fatalf("transmission from %d %q complete=%v", tx.Talker, tx.Alias, tx.Complete)
		}
		if len(tx.PCM) != len(want) {
			t.Fatalf("received %d samples, want %d", len(tx.PCM), len(want))
		}
		for i := range want {
			if tx.PCM[i] != want[i] {
				t.Fatalf("sample %d differs: got %d, want %d", i, tx.PCM[i], want[i])
			}
		}
		input := float64(len(pcm)) / codec.SampleRate
		got := float64(len(tx.PCM)) / codec.SampleRate
		if got < input-0.5 || got > input+0.02 {
			t.Fatalf("duration %.2f s, input %.2f s", got, input)
		}
		t.Logf("listener: %.2f s of speech (input %.2f s), identical to the local decode; jitter stats %+v", got, input, tx.Stats)
	}

	// Everything the relay handled during the transmission, as UDP payloads
	// and as the voice datagrams it forwarded, holds neither the PCM nor
	// the Opus frames, and a unit outside the talkgroup opens none of it.
	frames, err := codec.EncodeAll(pcm, codec.EncoderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	relayedMu.Lock()
	handled := append(r.tap.packets()[udpBefore:], relayed...)
	voice := slices.Clone(relayed)
	relayedMu.Unlock()
	if len(voice) < res.Sent {
		t.Fatalf("captured %d voice datagrams, %d were sent", len(voice), res.Sent)
	}
	pcmBytes := make([]byte, 0, 64)
	for _, v := range pcm[len(pcm)/2 : len(pcm)/2+32] {
		pcmBytes = append(pcmBytes, byte(v), byte(v>>8))
	}
	checked := 0
	for _, f := range frames {
		if len(f) < 24 {
			continue
		}
		for _, b := range handled {
			if bytes.Contains(b, f[4:24]) {
				t.Fatal("an Opus frame appears in what the relay handled")
			}
		}
		checked++
	}
	for _, b := range handled {
		if bytes.Contains(b, pcmBytes) {
			t.Fatal("PCM appears in what the relay handled")
		}
	}
	ocr, err := client.NewCrypto(outsiderID, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range voice {
		if _, _, _, err := ocr.Open(nil, d); err == nil {
			t.Fatal("a unit outside the talkgroup opened relayed voice")
		}
	}
	t.Logf("%d UDP payloads and %d voice datagrams the relay handled: none holds any of %d Opus frames or the PCM; the outsider opened none", len(handled)-len(voice), len(voice), checked)
}

// With 10% of the voice datagrams dropped on the way in, playback stays
// continuous: FEC and PLC fill every gap, and the quality against the
// lossless decode is reported.
func TestRadioTenPercentLoss(t *testing.T) {
	pcm := speechPCM(t, "All units, be advised, suspect vehicle is a blue sedan heading north on Route nine.")
	r := startRelay(t, nil)
	r.startKMF(t)
	rng := rand.New(rand.NewPCG(7, 9))
	var mu sync.Mutex
	lost := 0
	drop := func(d []byte) bool {
		h, _, err := protocol.ParseVoiceHeader(d)
		if err != nil || h.Flags&protocol.FlagEndOfBurst != 0 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(10) == 0 {
			lost++
			return true
		}
		return false
	}
	l := r.listener(t, 102, "P-102", drop, 100)
	c, cr := r.talker(t, 101, "P-101", 100)
	r.waitTalkerKey(t, c, cr, 100)
	e, _ := cr.Epoch(100)
	waitListenersKey(t, 100, e, l)

	if _, err := radio.Transmit(txCtx(t), c, c.Events(), cr, pcm, radio.TxConfig{Talkgroup: 100}); err != nil {
		t.Fatal(err)
	}
	tx := l.transmission(t)
	want, _ := radio.Reference(pcm, codec.EncoderConfig{})
	if len(tx.PCM) != len(want) {
		t.Fatalf("playback has %d samples, the lossless decode %d: gaps were not filled", len(tx.PCM), len(want))
	}
	if tx.Stats.FEC == 0 {
		t.Fatalf("no frame recovered by FEC: %+v", tx.Stats)
	}
	snr := codec.SNR(want, tx.PCM)
	mu.Lock()
	t.Logf("10%% loss: %d datagrams dropped, %d recovered by FEC, %d by PLC; SNR %.1f dB against the lossless decode", lost, tx.Stats.FEC, tx.Stats.PLC, snr)
	mu.Unlock()
	if snr < 6 {
		t.Fatalf("SNR %.1f dB against the lossless decode; FEC and PLC should keep it above 6 dB", snr)
	}
}

// A listening radio survives a relay restart: it reconnects by itself and
// records the next transmission.
func TestRadioSurvivesRelayRestart(t *testing.T) {
	pcm := speechPCM(t, "Unit one oh three, copy.")
	r := startRelay(t, nil)
	r.startKMF(t)
	l := r.listener(t, 102, "P-102", nil, 100)
	talkerID := r.enrol(101, "P-101", store.RoleOfficer, 100)
	e := r.waitKeysFresh(t, 100)
	waitListenersKey(t, 100, e, l)

	r.restart()
	// The listener notices and comes back by itself.
	deadline := time.After(3 * waitLimit)
	for back := false; !back; {
		select {
		case up := <-l.up:
			back = up && l.link.Client() != nil
		case <-deadline:
			t.Fatal("the listener did not reconnect after the relay restart")
		}
	}
	c := r.dial(talkerID)
	affiliate(t, c, 100)
	cr, _ := client.NewCrypto(talkerID, nil)
	r.waitTalkerKey(t, c, cr, 100)
	if _, err := radio.Transmit(txCtx(t), c, c.Events(), cr, pcm, radio.TxConfig{Talkgroup: 100}); err != nil {
		t.Fatal(err)
	}
	tx := l.transmission(t)
	if tx.Talker != 101 || len(tx.PCM) == 0 {
		t.Fatalf("after the restart: transmission from %d with %d samples", tx.Talker, len(tx.PCM))
	}
}

// A talker whose address changes mid-call (QUIC connection migration)
// keeps its session and its floor, and the call completes.
func TestTalkerMigratesMidCall(t *testing.T) {
	pcm := speechPCM(t, "Moving to channel two, stand by, over.")
	r := startRelay(t, nil)
	r.startKMF(t)
	l := r.listener(t, 102, "P-102", nil, 100)
	ident := r.enrol(101, "P-101", store.RoleOfficer, 100)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	first := &cuttableConn{PacketConn: udp}
	c, err := client.Dial(ctxT(t), client.Config{Identity: ident, Addr: r.addr, PacketConn: first})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	affiliate(t, c, 100)
	cr, _ := client.NewCrypto(ident, nil)
	r.waitTalkerKey(t, c, cr, 100)
	e, _ := cr.Epoch(100)
	waitListenersKey(t, 100, e, l)

	migrated := make(chan error, 1)
	var second net.PacketConn
	cfg := radio.TxConfig{Talkgroup: 100, OnGranted: func() {
		go func() {
			time.Sleep(500 * time.Millisecond)
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				migrated <- err
				return
			}
			second = pc
			err = c.Migrate(ctxT(t), pc)
			// The old network is gone for good (as when a radio leaves
			// Wi-Fi): everything from here on must travel on the new path.
			first.dead.Store(true)
			migrated <- err
		}()
	}}
	if _, err := radio.Transmit(txCtx(t), c, c.Events(), cr, pcm, cfg); err != nil {
		t.Fatalf("transmission across the address change: %v", err)
	}
	if err := <-migrated; err != nil {
		t.Fatal(err)
	}
	if _, err := c.Ping(ctxT(t)); err != nil {
		t.Fatalf("session lost after migration: %v", err)
	}
	before, after := first.LocalAddr().String(), second.LocalAddr().String()
	tx := l.transmission(t)
	want, _ := radio.Reference(pcm, codec.EncoderConfig{})
	// Frames in flight while the path switches may be late or lost (the
	// listener hears a short gap); the call itself must go on to its end.
	if !tx.Complete || len(tx.PCM) < len(want)*9/10 {
		t.Fatalf("call across migration: complete=%v, %d of %d samples", tx.Complete, len(tx.PCM), len(want))
	}
	t.Logf("migrated %s -> %s mid-call; listener got the whole call (%d FEC, %d PLC)", before, after, tx.Stats.FEC, tx.Stats.PLC)
}

// cuttableConn is a UDP socket whose network can be cut: once dead, it
// sends nothing and hears nothing, like an interface that went away.
type cuttableConn struct {
	net.PacketConn
	dead atomic.Bool
}

func (c *cuttableConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.dead.Load() {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

func (c *cuttableConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || !c.dead.Load() {
			return n, addr, err
		}
	}
}
