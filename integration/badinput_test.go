package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

// rawConn is a unit's QUIC connection driven byte by byte.
type rawConn struct {
	conn *quic.Conn
	str  *quic.Stream
	r    *protocol.Reader
}

func (r *relay) rawDial(t *testing.T, id *pki.Identity, qc *quic.Config) *rawConn {
	t.Helper()
	if qc == nil {
		qc = &quic.Config{}
	}
	qc.EnableDatagrams = true
	conn, err := quic.DialAddr(ctxT(t), r.addr, pki.ClientTLSConfig(id, nil), qc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	str, err := conn.OpenStreamSync(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return &rawConn{conn: conn, str: str, r: protocol.NewReader(str)}
}

func (c *rawConn) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := c.str.Write(b); err != nil {
		t.Fatal(err)
	}
}

func (c *rawConn) send(t *testing.T, env *pb.Envelope) {
	t.Helper()
	b, err := protocol.AppendMessage(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	c.write(t, b)
}

func (c *rawConn) hello(t *testing.T) {
	t.Helper()
	c.send(t, &pb.Envelope{Id: 1, Body: &pb.Envelope_Hello{Hello: &pb.Hello{Software: "raw"}}})
	env := c.read(t)
	if env.GetWelcome() == nil {
		t.Fatalf("first reply %v, want Welcome", env)
	}
}

func (c *rawConn) read(t *testing.T) *pb.Envelope {
	t.Helper()
	c.str.SetReadDeadline(time.Now().Add(waitLimit))
	env, err := c.r.Read()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return env
}

// closedWith waits for the relay to close the connection and returns the
// application error it gave.
func (c *rawConn) closedWith(t *testing.T) *quic.ApplicationError {
	t.Helper()
	select {
	case <-c.conn.Context().Done():
	case <-time.After(waitLimit):
		t.Fatal("the relay did not close the connection")
	}
	var app *quic.ApplicationError
	if !errors.As(context.Cause(c.conn.Context()), &app) {
		t.Fatalf("closed with %v, want an application error", context.Cause(c.conn.Context()))
	}
	return app
}

// Malformed and oversized control messages get a clear refusal; a healthy
// unit on the same relay does not notice.
func TestMalformedControl(t *testing.T) {
	r := startRelay(t, nil)
	healthy := r.unit(101, "P-101", 100)
	t.Run("garbage first message", func(t *testing.T) {
		c := r.rawDial(t, r.enrol(102, "P-102", store.RoleOfficer, 100), nil)
		c.write(t, []byte{0x05, 0xff, 0xff, 0xff, 0xff, 0xff})
		app := c.closedWith(t)
		if uint64(app.ErrorCode) != protocol.CloseProtocol || !strings.Contains(app.ErrorMessage, "could not be decoded") {
			t.Fatalf("closed with %d %q", app.ErrorCode, app.ErrorMessage)
		}
	})
	t.Run("undecodable message mid-session", func(t *testing.T) {
		c := r.rawDial(t, r.enrol(103, "P-103", store.RoleOfficer, 100), nil)
		c.hello(t)
		c.write(t, []byte{0x03, 0x0a, 0xff, 0xff}) // field 1 of wire type 2 with a length past the end
		env := c.read(t)
		if e := env.GetError(); e == nil || e.Code != pb.ErrorCode_ERROR_BAD_REQUEST {
			t.Fatalf("got %v, want a BAD_REQUEST error", env)
		}
		c.send(t, &pb.Envelope{Id: 7, Body: &pb.Envelope_Ping{Ping: &pb.Ping{}}})
		if env := c.read(t); env.Id != 7 || env.GetPong() == nil {
			t.Fatalf("the session did not go on after a bad message: %v", env)
		}
	})
	t.Run("unknown message type", func(t *testing.T) {
		c := r.rawDial(t, r.enrol(104, "P-104", store.RoleOfficer, 100), nil)
		c.hello(t)
		// Envelope{id: 9, field 99: "x"}
		body := []byte{0x08, 0x09, 0x9a, 0x06, 0x01, 'x'}
		c.write(t, append([]byte{byte(len(body))}, body...))
		env := c.read(t)
		if e := env.GetError(); env.Id != 9 || e == nil || e.Code != pb.ErrorCode_ERROR_UNSUPPORTED {
			t.Fatalf("got %v, want UNSUPPORTED for request 9", env)
		}
	})
	t.Run("oversized message", func(t *testing.T) {
		c := r.rawDial(t, r.enrol(105, "P-105", store.RoleOfficer, 100), nil)
		c.hello(t)
		c.write(t, binary.AppendUvarint(nil, 1<<20))
		app := c.closedWith(t)
		if uint64(app.ErrorCode) != protocol.CloseProtocol || !strings.Contains(app.ErrorMessage, "larger than") {
			t.Fatalf("closed with %d %q", app.ErrorCode, app.ErrorMessage)
		}
	})
	t.Run("request without an ID", func(t *testing.T) {
		c := r.rawDial(t, r.enrol(106, "P-106", store.RoleOfficer, 100), nil)
		c.hello(t)
		c.send(t, &pb.Envelope{Body: &pb.Envelope_FloorRequest{FloorRequest: &pb.FloorRequest{Talkgroup: 100}}})
		if e := c.read(t).GetError(); e == nil || !strings.Contains(e.Reason, "request ID") {
			t.Fatalf("got %v", e)
		}
	})
	if _, err := healthy.Ping(ctxT(t)); err != nil {
		t.Fatalf("healthy unit disturbed: %v", err)
	}
	if res := request(t, healthy, 100, 50, 0); res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("healthy unit cannot get the floor: %v", res.Status)
	}
}

// Malformed, spoofed and oversized datagrams are dropped and counted; the
// listeners get nothing from them.
func TestMalformedDatagrams(t *testing.T) {
	r := startRelay(t, nil)
	talker := r.unit(101, "P-101", 100)
	listener := r.unit(102, "P-102", 100)
	request(t, talker, 100, 50, 0)
	bad := []struct {
		b      []byte
		reason server.DropReason
	}{
		{[]byte{0x10}, server.DropMalformed},
		{append(protocol.AppendVoiceHeader(nil, protocol.VoiceHeader{Kind: 7, Talkgroup: 100, Sender: 101}), make([]byte, 40)...), server.DropMalformed},
		{frame(100, 102, 0, 0), server.DropSpoofed},
		{frame(999, 101, 0, 0), server.DropUnknownTG},
		{append(frame(100, 101, 0, 0), make([]byte, protocol.MaxVoiceDatagram)...), server.DropOversize},
	}
	for _, tt := range bad {
		before := r.srv.Stats().Dropped(tt.reason)
		if err := talker.SendVoice(tt.b); err != nil {
			t.Fatal(err)
		}
		waitDrop(t, r, tt.reason, before+1)
	}
	silent(t, listener, 50*time.Millisecond)
	sent := talk(t, talker, 100, 3, true)
	if err := sameDatagrams(sent, receive(t, listener, 3)); err != nil {
		t.Fatal(err)
	}
}

// A flood of floor requests is rate limited; other units are served.
func TestFloorRequestFlood(t *testing.T) {
	r := startRelay(t, nil)
	flooder := r.unit(101, "P-101", 100)
	other := r.unit(102, "P-102", 200)
	limited := 0
	for range 60 { // fewer than the control burst: the floor limit must act alone
		res := request(t, flooder, 100, 50, 0)
		if res.Cause == pb.Cause_CAUSE_RATE_LIMITED {
			limited++
			if !strings.Contains(res.Reason, "too many floor requests") {
				t.Fatalf("reason %q", res.Reason)
			}
		}
	}
	if limited < 40 {
		t.Fatalf("only %d of 60 flood requests were rate limited", limited)
	}
	if res := request(t, other, 200, 50, 0); res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("other unit: %v", res.Status)
	}
}

// A unit that floods the control stream is disconnected with a reason.
func TestControlFlood(t *testing.T) {
	r := startRelay(t, nil)
	healthy := r.unit(101, "P-101", 100)
	c := r.rawDial(t, r.enrol(102, "P-102", store.RoleOfficer, 100), nil)
	c.hello(t)
	go func() { // read replies so that only the flood, not backpressure, ends the session
		for {
			if _, err := c.r.Read(); err != nil {
				return
			}
		}
	}()
	var buf []byte
	for i := range 2000 {
		buf, _ = protocol.AppendMessage(buf, &pb.Envelope{Id: uint64(i + 2), Body: &pb.Envelope_Ping{Ping: &pb.Ping{}}})
	}
	c.str.Write(buf)
	app := c.closedWith(t)
	if uint64(app.ErrorCode) != protocol.CloseFlood {
		t.Fatalf("closed with %d %q, want flood", app.ErrorCode, app.ErrorMessage)
	}
	if _, err := healthy.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// A listener that stops receiving (its network goes dark) never delays the
// others: they get every datagram while the stalled listener's queue drops
// its oldest ones.
func TestStalledListener(t *testing.T) {
	r := startRelay(t, func(c *server.Config) {
		c.DatagramRate = 10000
		c.DatagramBurst = 10000
		c.IdleTimeout = 20 * time.Second
	})
	talker := r.unit(101, "P-101", 100)
	healthy := r.unit(102, "P-102", 100)

	proxy := newUDPProxy(t, r.addr)
	id := r.enrol(103, "P-103", store.RoleOfficer, 100)
	stalled, err := dialVia(t, id, proxy.addr())
	if err != nil {
		t.Fatal(err)
	}
	affiliate(t, stalled, 100)
	proxy.blackout.Store(true)

	request(t, talker, 100, 50, 0)
	const n = 400
	var sent [][]byte
	for i := range n {
		// Large frames, so that the dark path's congestion window fills.
		var flags uint8
		if i == n-1 {
			flags = protocol.FlagEndOfBurst
		}
		b := frameSized(100, 101, i, flags, 900)
		if err := talker.SendVoice(b); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, b)
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := sameDatagrams(sent, receive(t, healthy, n)); err != nil {
		t.Fatalf("healthy listener: %v", err)
	}
	waitDrop(t, r, server.DropQueueFull, 1)
	st := r.srv.Stats()
	t.Logf("stalled listener: %d datagrams dropped oldest-first, %d sent", st.Dropped(server.DropQueueFull), st.Sent)
}

// A unit that stops reading its control stream is disconnected once its
// queue fills; it never holds up the floor or the other units.
func TestControlReaderStalls(t *testing.T) {
	r := startRelay(t, func(c *server.Config) {
		c.ControlQueueLen = 16
		c.FloorRate, c.FloorBurst = 10000, 10000
	})
	talker := r.unit(101, "P-101", 100)
	stalled := r.rawDial(t, r.enrol(102, "P-102", store.RoleOfficer, 100), &quic.Config{
		InitialStreamReceiveWindow: 1 << 10, MaxStreamReceiveWindow: 1 << 10,
		InitialConnectionReceiveWindow: 1 << 10, MaxConnectionReceiveWindow: 1 << 10,
	})
	stalled.hello(t)
	stalled.send(t, &pb.Envelope{Id: 2, Body: &pb.Envelope_Affiliate{Affiliate: &pb.Affiliate{Talkgroups: []uint32{100}}}})
	if res := stalled.read(t).GetAffiliateResult(); res == nil || !res.Results[0].Ok {
		t.Fatalf("affiliate: %v", res)
	}
	// From here on the stalled unit reads nothing. Every burst of the
	// talker sends it a TAKEN and an IDLE event.
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("the stalled unit was never disconnected")
		}
		res := request(t, talker, 100, 50, 0)
		if res.Status != pb.FloorStatus_FLOOR_GRANTED {
			t.Fatalf("burst %d: talker not granted: %v %s", i, res.Status, res.Reason)
		}
		talker.SendVoice(frame(100, 101, i, protocol.FlagEndOfBurst))
		waitFloor(t, talker, 100, pb.FloorEventKind_FLOOR_EVENT_IDLE)
		if stalled.conn.Context().Err() != nil {
			t.Logf("stalled unit disconnected after %d bursts", i+1)
			break
		}
	}
	app := stalled.closedWith(t)
	if uint64(app.ErrorCode) != protocol.CloseNotReading {
		t.Fatalf("closed with %d %q, want not-reading", app.ErrorCode, app.ErrorMessage)
	}
	if _, err := talker.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}
