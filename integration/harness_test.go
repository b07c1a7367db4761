// Package integration runs the real relay on 127.0.0.1 with real QUIC
// clients built on the client package, a real BuntDB store and real
// certificates from a per-test agency CA.
package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

const waitLimit = 10 * time.Second

type relay struct {
	tap   *tapConn // every UDP payload the relay sent or received
	t     *testing.T
	ca    *pki.CA
	store *store.Store
	cfg   server.Config
	srv   *server.Server
	addr  string
	pc    net.PacketConn
	errc  chan error
}

// startRelay creates an agency with talkgroups 100 and 200 and runs a relay
// on 127.0.0.1. mutate may change the server's Config.
func startRelay(t *testing.T, mutate func(*server.Config)) *relay {
	t.Helper()
	dir := t.TempDir()
	// The CA is a month old, so that tests can issue certificates that
	// have already expired.
	ca, err := pki.NewCA("Test Police", rand.Reader, time.Now().Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	id, err := pki.IssueServer(ca, nil, rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, tg := range []store.Talkgroup{{ID: 100, Name: "Patrol North"}, {ID: 200, Name: "Patrol South"}} {
		if err := st.AddTalkgroup(tg); err != nil {
			t.Fatal(err)
		}
	}
	cfg := server.Config{Store: st, Identity: id}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mutate != nil {
		mutate(&cfg)
	}
	r := &relay{t: t, ca: ca, store: st, cfg: cfg}
	r.serve("127.0.0.1:0")
	t.Cleanup(r.stop)
	return r
}

// serve starts a relay on addr with r's store and config.
func (r *relay) serve(addr string) {
	r.t.Helper()
	srv, err := server.New(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	pc := &tapConn{PacketConn: udp}
	r.tap = pc
	r.srv, r.pc, r.addr, r.errc = srv, pc, pc.LocalAddr().String(), make(chan error, 1)
	go func() { r.errc <- srv.Serve(context.Background(), pc) }()
}

// stop shuts the relay down, telling its units.
func (r *relay) stop() {
	if r.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.srv.Shutdown(ctx, "test over")
	<-r.errc
	r.pc.Close()
	r.srv = nil
}

// restart stops the relay and starts a new one on the same address and
// store, as after an upgrade or a crash.
func (r *relay) restart() {
	addr := r.addr
	r.stop()
	r.serve(addr)
}

// enrol issues a unit identity and adds the unit to the roster.
func (r *relay) enrol(id uint32, alias string, role store.Role, tgs ...uint16) *pki.Identity {
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

// dial connects ident to the relay; the session is closed at cleanup.
func (r *relay) dial(ident *pki.Identity) *client.Client {
	r.t.Helper()
	c, err := r.tryDial(ident)
	if err != nil {
		r.t.Fatalf("dial unit %d: %v", ident.UnitID, err)
	}
	return c
}

func (r *relay) tryDial(ident *pki.Identity) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Identity: ident, Addr: r.addr, DialTimeout: waitLimit})
	if err != nil {
		return nil, err
	}
	r.t.Cleanup(func() { c.Close() })
	return c, nil
}

// unit enrols and connects a unit and affiliates it to tgs.
func (r *relay) unit(id uint32, alias string, tgs ...uint16) *client.Client {
	r.t.Helper()
	c := r.dial(r.enrol(id, alias, store.RoleOfficer, tgs...))
	affiliate(r.t, c, tgs...)
	return c
}

func affiliate(t *testing.T, c *client.Client, tgs ...uint16) {
	t.Helper()
	ids := make([]uint32, len(tgs))
	for i, tg := range tgs {
		ids[i] = uint32(tg)
	}
	res, err := c.Affiliate(ctxT(t), ids...)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Results {
		if !a.Ok {
			t.Fatalf("unit %d affiliate %d: %s", c.Unit(), a.Talkgroup, a.Reason)
		}
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

func request(t *testing.T, c *client.Client, tg uint16, prio uint32, em pb.Emergency) *pb.FloorResult {
	t.Helper()
	res, err := c.RequestFloor(ctxT(t), uint32(tg), prio, em)
	if err != nil {
		t.Fatalf("unit %d floor request: %v", c.Unit(), err)
	}
	return res
}

// frame builds a voice datagram with a distinct opaque sealed payload.
func frame(tg uint16, sender uint32, seq int, flags uint8) []byte {
	return frameSized(tg, sender, seq, flags, 48)
}

func frameSized(tg uint16, sender uint32, seq int, flags uint8, size int) []byte {
	b := protocol.AppendVoiceHeader(nil, protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: flags, Talkgroup: tg, Sender: sender})
	payload := make([]byte, size)
	rand.Read(payload)
	payload[0], payload[1] = byte(seq>>8), byte(seq)
	return append(b, payload...)
}

// talk sends n frames 2 ms apart, the last with end-of-burst when eob is set.
func talk(t *testing.T, c *client.Client, tg uint16, n int, eob bool) [][]byte {
	t.Helper()
	var sent [][]byte
	for i := range n {
		var flags uint8
		if eob && i == n-1 {
			flags = protocol.FlagEndOfBurst
		}
		b := frame(tg, c.Unit(), i, flags)
		if err := c.SendVoice(b); err != nil {
			t.Fatalf("send voice: %v", err)
		}
		sent = append(sent, b)
		time.Sleep(2 * time.Millisecond)
	}
	return sent
}

// receive collects n datagrams from c, failing after waitLimit.
func receive(t *testing.T, c *client.Client, n int) [][]byte {
	t.Helper()
	var got [][]byte
	timeout := time.After(waitLimit)
	for len(got) < n {
		select {
		case b := <-c.Voice():
			got = append(got, b)
		case <-timeout:
			t.Fatalf("unit %d received %d of %d datagrams", c.Unit(), len(got), n)
		}
	}
	return got
}

// silent fails if c receives any voice within d.
func silent(t *testing.T, c *client.Client, d time.Duration) {
	t.Helper()
	select {
	case b := <-c.Voice():
		t.Fatalf("unit %d received voice it must not get: % x", c.Unit(), b[:6])
	case <-time.After(d):
	}
}

// waitFloor waits for a floor event of kind on tg and returns it, skipping others.
func waitFloor(t *testing.T, c *client.Client, tg uint16, kind pb.FloorEventKind) *pb.FloorEvent {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case env := <-c.Events():
			if fe := env.GetFloorEvent(); fe != nil && fe.Kind == kind && fe.Talkgroup == uint32(tg) {
				return fe
			}
		case <-c.Done():
			t.Fatalf("unit %d session ended waiting for %v: %v", c.Unit(), kind, c.Err())
		case <-timeout:
			t.Fatalf("unit %d got no %v on talkgroup %d", c.Unit(), kind, tg)
		}
	}
}

// sameDatagrams reports whether got holds exactly the datagrams of want.
func sameDatagrams(want, got [][]byte) error {
	if len(want) != len(got) {
		return fmt.Errorf("got %d datagrams, want %d", len(got), len(want))
	}
	left := make(map[string]int)
	for _, b := range want {
		left[string(b)]++
	}
	for _, b := range got {
		if left[string(b)] == 0 {
			return errors.New("received a datagram that was not sent, or altered")
		}
		left[string(b)]--
	}
	return nil
}

// dialVia connects ident through addr (a proxy in front of the relay).
func dialVia(t *testing.T, ident *pki.Identity, addr string) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Identity: ident, Addr: addr, DialTimeout: waitLimit})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// tapConn records every UDP payload that passes through the relay's socket,
// up to 64 MiB, for tests that look at everything the relay handled.
type tapConn struct {
	net.PacketConn
	mu  sync.Mutex
	buf [][]byte
	n   int
}

func (c *tapConn) record(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n+len(p) <= 64<<20 {
		c.buf = append(c.buf, bytes.Clone(p))
		c.n += len(p)
	}
}

func (c *tapConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if n > 0 {
		c.record(p[:n])
	}
	return n, addr, err
}

func (c *tapConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.record(p)
	return c.PacketConn.WriteTo(p, addr)
}

// packets returns what was recorded so far.
func (c *tapConn) packets() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.buf)
}
