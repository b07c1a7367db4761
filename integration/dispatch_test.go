package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
	"github.com/varta-ptt/varta/server/store"
)

// dispatcher connects a dispatcher unit on the given talkgroups.
func (r *relay) dispatcher(t *testing.T, id uint32, alias string, tgs ...uint16) *client.Client {
	t.Helper()
	c := r.dial(r.enrol(id, alias, store.RoleDispatcher, tgs...))
	affiliate(t, c, tgs...)
	return c
}

// waitAlarm waits for an emergency alarm event about unit in state.
func waitAlarm(t *testing.T, c *client.Client, unit uint32, state pb.EmergencyState) *pb.EmergencyAlarm {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case env := <-c.Events():
			if a := env.GetEmergencyAlarm(); a != nil && a.Unit == unit && a.State == state {
				return a
			}
		case <-timeout:
			t.Fatalf("unit %d got no %v alarm for unit %d", c.Unit(), state, unit)
		}
	}
}

// The emergency button: every dispatcher gets the alarm with the unit's
// last location; the emergency call pre-empts the talker; the alarm stays
// raised until a dispatcher acknowledges and clears it; officers may not.
func TestEmergencyAlarm(t *testing.T) {
	r := startRelay(t, nil)
	talker := r.unit(101, "P-101", 100)
	victim := r.unit(102, "P-102", 100)
	d1 := r.dispatcher(t, 900, "DISPATCH-1", 100)
	d2 := r.dispatcher(t, 901, "DISPATCH-2")

	if err := victim.ReportPosition(ctxT(t), 51.5072, -0.1276, 8, time.Now()); err != nil {
		t.Fatal(err)
	}
	request(t, talker, 100, 50, 0)
	if err := victim.RaiseEmergency(ctxT(t), pb.Emergency_EMERGENCY_EMERGENCY, 100, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*client.Client{d1, d2} {
		a := waitAlarm(t, d, 102, pb.EmergencyState_EMERGENCY_RAISED)
		if a.Alias != "P-102" || a.Level != pb.Emergency_EMERGENCY_EMERGENCY || a.Talkgroup != 100 || a.Position == nil || a.Position.Lat != 51.5072 {
			t.Fatalf("dispatcher %d alarm: %+v", d.Unit(), a)
		}
	}
	// The emergency call pre-empts the talker.
	if res := request(t, victim, 100, 0, pb.Emergency_EMERGENCY_EMERGENCY); res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("emergency call: %v %s", res.Status, res.Reason)
	}
	if rev := waitFloor(t, talker, 100, pb.FloorEventKind_FLOOR_EVENT_REVOKED); rev.Cause != pb.Cause_CAUSE_PREEMPTED {
		t.Fatalf("talker revoked with %v", rev.Cause)
	}
	// An officer may not acknowledge.
	err := talker.AckEmergency(ctxT(t), 102)
	var re *client.RequestError
	if !errors.As(err, &re) || re.Code != pb.ErrorCode_ERROR_NOT_ALLOWED || !strings.Contains(re.Reason, "officer") {
		t.Fatalf("officer acknowledging: %v", err)
	}
	// Raised until cleared.
	alarms, err := d1.Emergencies(ctxT(t))
	if err != nil || len(alarms) != 1 || alarms[0].State != pb.EmergencyState_EMERGENCY_RAISED {
		t.Fatalf("emergencies: %v %v", alarms, err)
	}
	if err := d1.AckEmergency(ctxT(t), 102); err != nil {
		t.Fatal(err)
	}
	if a := waitAlarm(t, victim, 102, pb.EmergencyState_EMERGENCY_ACKNOWLEDGED); a.By != 900 || a.ByAlias != "DISPATCH-1" {
		t.Fatalf("the unit is told %+v", a)
	}
	waitAlarm(t, d2, 102, pb.EmergencyState_EMERGENCY_ACKNOWLEDGED)
	if alarms, _ := d2.Emergencies(ctxT(t)); len(alarms) != 1 {
		t.Fatal("an acknowledged emergency must stay until cleared")
	}
	// It stays through a relay restart, with its position.
	r.restart()
	d2 = r.dispatcher(t, 902, "DISPATCH-3")
	alarms, err = d2.Emergencies(ctxT(t))
	if err != nil || len(alarms) != 1 || alarms[0].Unit != 102 || alarms[0].State != pb.EmergencyState_EMERGENCY_ACKNOWLEDGED || alarms[0].Position == nil {
		t.Fatalf("after a relay restart: %v %v", alarms, err)
	}
	d1 = r.dispatcher(t, 903, "DISPATCH-4")
	if err := d2.ClearEmergency(ctxT(t), 102); err != nil {
		t.Fatal(err)
	}
	waitAlarm(t, d1, 102, pb.EmergencyState_EMERGENCY_CLEARED)
	if alarms, _ := d1.Emergencies(ctxT(t)); len(alarms) != 0 {
		t.Fatalf("cleared emergency still listed: %v", alarms)
	}
}

// Status from the radio reaches the dispatchers; the nearest available
// units to a point come back in order of true distance.
func TestStatusAndNearestUnits(t *testing.T) {
	r := startRelay(t, nil)
	d := r.dispatcher(t, 900, "DISPATCH-1", 100)
	// Around Trafalgar Square: distances roughly 100 m, 600 m, 2 km, 5 km.
	places := []struct {
		id       uint32
		alias    string
		lat, lon float64
		status   string
	}{
		{101, "P-101", 51.5077, -0.1290, "available"},
		{102, "P-102", 51.5120, -0.1230, "busy"},
		{103, "P-103", 51.4950, -0.1450, "available"},
		{104, "P-104", 51.5400, -0.1000, "available"},
	}
	for _, p := range places {
		c := r.unit(p.id, p.alias, 100)
		if err := c.ReportPosition(ctxT(t), p.lat, p.lon, 5, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := c.SetStatus(ctxT(t), p.status); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(waitLimit)
	for seen := 0; seen < len(places); {
		select {
		case env := <-d.Events():
			if ev := env.GetUnitStatus(); ev != nil {
				seen++
			}
		case <-timeout:
			t.Fatal("dispatcher did not see every status change")
		}
	}
	units, err := d.QueryUnits(ctxT(t), &pb.QueryUnits{Near: true, Lat: 51.5080, Lon: -0.1281, Count: 3, AvailableOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, u := range units {
		got = append(got, u.Unit)
	}
	if len(got) != 3 || got[0] != 101 || got[1] != 103 || got[2] != 104 {
		t.Fatalf("nearest available: %v, want [101 103 104]", got)
	}
	if units[0].DistanceM < 50 || units[0].DistanceM > 120 {
		t.Fatalf("unit 101 at %.0f m, want about 70 m", units[0].DistanceM)
	}
	// The units inside an area: a box around Westminster holds 101 and 103.
	inside, err := d.QueryUnits(ctxT(t), &pb.QueryUnits{Area: &pb.Area{MinLat: 51.49, MinLon: -0.15, MaxLat: 51.509, MaxLon: -0.125}})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, u := range inside {
		got = append(got, u.Unit)
	}
	if !slices.Equal(got, []uint32{101, 103}) {
		t.Fatalf("units inside the box: %v, want [101 103]", got)
	}
	// A bad status is refused with the valid codes named.
	c := r.unit(105, "P-105", 100)
	err = c.SetStatus(ctxT(t), "Having Lunch!")
	var re *client.RequestError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "available") {
		t.Fatalf("bad status: %v", err)
	}
	// An officer may not query units.
	if _, err := c.QueryUnits(ctxT(t), &pb.QueryUnits{}); !errors.As(err, &re) || re.Code != pb.ErrorCode_ERROR_NOT_ALLOWED {
		t.Fatalf("officer query: %v", err)
	}
}

// Stun: the radio is told to zeroize and disconnected, cannot connect again
// (also after a relay restart), and cannot open the next transmission even
// with the keys it held. Revive undoes it. Officers may not stun.
func TestStunAndRevive(t *testing.T) {
	r := startRelay(t, nil)
	r.startKMF(t)
	d := r.dispatcher(t, 900, "DISPATCH-1")
	talker := r.secureUnit(t, 101, "P-101", 100)
	victimID := r.enrol(102, "P-102", store.RoleOfficer, 100)
	victimCrypto, _ := client.NewCrypto(victimID, nil)
	kept, _ := client.NewCrypto(victimID, nil) // the keys a tampered radio would keep
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := client.NewLink(client.LinkConfig{Client: client.Config{Identity: victimID, Addr: r.addr}, Talkgroups: []uint32{100}, Crypto: victimCrypto, RetryMin: 50 * time.Millisecond})
	linkDone := make(chan error, 1)
	go func() { linkDone <- link.Run(ctx) }()
	<-link.Connected()
	e := r.waitKeysFresh(t, 100)
	talker.waitEpoch(t, 100, e)
	if n, err := kept.FetchKeys(ctxT(t), link.Client()); err != nil || n != 1 {
		t.Fatalf("victim keys: %d %v", n, err)
	}

	// An officer may not stun.
	var re *client.RequestError
	if err := talker.UnitAction(ctxT(t), 102, pb.UnitActionKind_UNIT_STUN); !errors.As(err, &re) || re.Code != pb.ErrorCode_ERROR_NOT_ALLOWED {
		t.Fatalf("officer stun: %v", err)
	}
	if err := d.UnitAction(ctxT(t), 102, pb.UnitActionKind_UNIT_STUN); err != nil {
		t.Fatal(err)
	}
	// The radio zeroizes and the link stops with the reason.
	select {
	case err := <-linkDone:
		var refused *client.RefusedError
		if !errors.As(err, &refused) || !strings.Contains(err.Error(), "stunned") {
			t.Fatalf("stunned radio's link ended with %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the stunned radio stayed connected")
	}
	if victimCrypto.HasKey(100) {
		t.Fatal("the stunned radio did not zeroize its keys")
	}
	if _, err := r.tryDial(victimID); err == nil || !strings.Contains(err.Error(), "stunned") {
		t.Fatalf("stunned radio reconnecting: %v", err)
	}
	// Its talkgroup was rekeyed: the keys it kept open nothing new.
	e2 := r.waitKeysFresh(t, 100)
	if e2 <= e {
		t.Fatalf("no new epoch after the stun (epoch %d)", e2)
	}
	talker.waitEpoch(t, 100, e2)
	frame, err := talker.crypto.Seal(nil, 100, 0, []byte("suspect in custody"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := kept.Open(nil, frame); err == nil {
		t.Fatal("the stunned radio's old keys opened a transmission after the stun")
	}
	// Still stunned after a relay restart.
	r.restart()
	if _, err := r.tryDial(victimID); err == nil || !strings.Contains(err.Error(), "stunned") {
		t.Fatalf("after a restart: %v", err)
	}
	d = r.dispatcher(t, 903, "DISPATCH-3")
	if err := d.UnitAction(ctxT(t), 102, pb.UnitActionKind_UNIT_REVIVE); err != nil {
		t.Fatal(err)
	}
	back, err := r.tryDial(victimID)
	if err != nil {
		t.Fatalf("revived radio: %v", err)
	}
	affiliate(t, back, 100)
	// The audit log holds the stun and the revive, and verifies.
	n, err := r.store.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	log, _ := r.store.AuditLog(0, 1000)
	var actions []string
	for _, a := range log {
		if a.Target == "unit 102" {
			actions = append(actions, a.Action+":"+a.Outcome)
		}
	}
	joined := strings.Join(actions, " ")
	if !strings.Contains(joined, "stun:ok") || !strings.Contains(joined, "revive:ok") || !strings.Contains(joined, "stun:refused") {
		t.Fatalf("audit of unit 102: %v (of %d entries)", actions, n)
	}
}

// A radio check is answered by a connected radio and reported as not
// answered for one that is not connected.
func TestRadioCheck(t *testing.T) {
	r := startRelay(t, nil)
	d := r.dispatcher(t, 900, "DISPATCH-1")
	id := r.enrol(101, "P-101", store.RoleOfficer, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	link := client.NewLink(client.LinkConfig{Client: client.Config{Identity: id, Addr: r.addr}})
	go link.Run(ctx)
	<-link.Connected()
	go func() { // the radio's event pump
		for range link.Events() {
		}
	}()
	res, err := d.RadioCheck(ctxT(t), 101)
	if err != nil || !res.Answered {
		t.Fatalf("radio check of a connected radio: %+v %v", res, err)
	}
	r.enrol(102, "P-102", store.RoleOfficer, 100)
	res, err = d.RadioCheck(ctxT(t), 102)
	if err != nil || res.Answered || !strings.Contains(res.Reason, "not connected") {
		t.Fatalf("radio check of an absent radio: %+v %v", res, err)
	}
}

// runLink runs a reconnecting radio for the test and returns it.
func (r *relay) runLink(t *testing.T, id uint32, alias string, tgs ...uint16) *client.Link {
	t.Helper()
	return r.runLinkFor(t, r.enrol(id, alias, store.RoleOfficer, tgs...))
}

func (r *relay) runLinkFor(t *testing.T, ident *pki.Identity) *client.Link {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	link := client.NewLink(client.LinkConfig{Client: client.Config{Identity: ident, Addr: r.addr}, RetryMin: 50 * time.Millisecond, RetryMax: 300 * time.Millisecond})
	done := make(chan struct{})
	go func() { link.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-link.Connected():
	case <-time.After(waitLimit):
		t.Fatalf("unit %d did not connect", ident.UnitID)
	}
	return link
}

// waitText waits for a text message event on a link.
func waitText(t *testing.T, events <-chan *pb.Envelope) *pb.TextMessage {
	t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case env := <-events:
			if tm := env.GetTextMessage(); tm != nil {
				return tm
			}
		case <-timeout:
			t.Fatal("no text message arrived")
			return nil
		}
	}
}

// Messages and call alerts: delivered at once to a radio that is on, with
// a delivery receipt to the sender; kept (across a relay restart) for a
// radio that is off and delivered when it connects.
func TestMessagesAndCallAlerts(t *testing.T) {
	r := startRelay(t, nil)
	d := r.dispatcher(t, 900, "DISPATCH-1", 100)
	on := r.runLink(t, 101, "P-101", 100)
	offID := r.enrol(102, "P-102", store.RoleOfficer, 100)

	acc, err := d.SendMessage(ctxT(t), &pb.SendMessage{ToUnit: 101, Text: "Call the station on a landline"})
	if err != nil || acc.Delivered != 1 || acc.Queued != 0 {
		t.Fatalf("message to an online unit: %+v %v", acc, err)
	}
	tm := waitText(t, on.Events())
	if tm.Text != "Call the station on a landline" || tm.From != 900 || tm.FromAlias != "DISPATCH-1" {
		t.Fatalf("received %+v", tm)
	}
	timeout := time.After(waitLimit)
	for got := false; !got; {
		select {
		case env := <-d.Events():
			if rc := env.GetDeliveryReceipt(); rc != nil && rc.Id == acc.Id && rc.Unit == 101 {
				got = true
			}
		case <-timeout:
			t.Fatal("no delivery receipt")
		}
	}
	// To the offline unit: a call alert and a message wait for it, also
	// through a relay restart.
	alert, err := d.SendMessage(ctxT(t), &pb.SendMessage{ToUnit: 102, Alert: true})
	if err != nil || alert.Queued != 1 {
		t.Fatalf("alert to an offline unit: %+v %v", alert, err)
	}
	if _, err := d.SendMessage(ctxT(t), &pb.SendMessage{ToTalkgroup: 100, Text: "Briefing at 1400"}); err != nil {
		t.Fatal(err)
	}
	r.restart()
	off := r.runLinkFor(t, offID)
	first, second := waitText(t, off.Events()), waitText(t, off.Events())
	if !first.Alert || second.Text != "Briefing at 1400" || second.ToTalkgroup != 100 {
		t.Fatalf("queued delivery: %+v then %+v", first, second)
	}
	// Delivered means confirmed: nothing waits any more.
	deadline := time.Now().Add(waitLimit)
	for {
		pending, err := r.store.PendingMessages(102)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still queued after delivery", len(pending))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// An empty message is refused with a reason.
	d = r.dispatcher(t, 901, "DISPATCH-2")
	var re *client.RequestError
	if _, err := d.SendMessage(ctxT(t), &pb.SendMessage{ToUnit: 101}); !errors.As(err, &re) || re.Reason == "" {
		t.Fatalf("empty message: %v", err)
	}
}

// Dynamic regrouping: a dispatcher moves a unit into an operation's
// talkgroup; the unit is affiliated at once, gets its key and hears the
// operation; undoing it takes it out again. Officers may not regroup.
func TestRegroupHearsOperation(t *testing.T) {
	r := startRelay(t, nil)
	r.startKMF(t)
	d := r.dispatcher(t, 900, "DISPATCH-1")
	talker := r.secureUnit(t, 101, "P-101", 100)
	moved := r.secureUnit(t, 102, "P-102", 200)
	var re *client.RequestError
	if err := talker.Regroup(ctxT(t), 100, []uint32{102}, false); !errors.As(err, &re) || re.Code != pb.ErrorCode_ERROR_NOT_ALLOWED {
		t.Fatalf("officer regroup: %v", err)
	}
	if err := d.Regroup(ctxT(t), 100, []uint32{102}, false); err != nil {
		t.Fatal(err)
	}
	e := r.waitKeysFresh(t, 100)
	talker.waitEpoch(t, 100, e)
	moved.waitEpoch(t, 100, e)
	request(t, talker.Client, 100, 50, 0)
	d1, err := talker.crypto.Seal(nil, 100, protocol.FlagEndOfBurst, []byte("operation nightjar: move in"))
	if err != nil {
		t.Fatal(err)
	}
	if err := talker.SendVoice(d1); err != nil {
		t.Fatal(err)
	}
	got := receive(t, moved.Client, 1)
	if _, pt, _, err := moved.crypto.Open(nil, got[0]); err != nil || string(pt) != "operation nightjar: move in" {
		t.Fatalf("the regrouped unit could not hear the operation: %v", err)
	}
	if err := d.Regroup(ctxT(t), 100, []uint32{102}, true); err != nil {
		t.Fatal(err)
	}
	u, err := r.store.Unit(102)
	if err != nil || slices.Contains(u.Talkgroups, 100) || !slices.Contains(u.Talkgroups, 200) {
		t.Fatalf("after the operation: %v %v", u.Talkgroups, err)
	}
	if res := request(t, moved.Client, 100, 50, 0); res.Status != pb.FloorStatus_FLOOR_DENIED {
		t.Fatalf("the unit still uses the operation's talkgroup: %v", res.Status)
	}
}

// A patch: a transmission on either talkgroup is heard and decrypted on
// both, under the patch's own key; after unpatching it is not, and the
// patch key is gone from the radios.
func TestPatchBridgesTalkgroups(t *testing.T) {
	r := startRelay(t, nil)
	r.startKMF(t)
	d := r.dispatcher(t, 900, "DISPATCH-1")
	north := r.secureUnit(t, 101, "P-101", 100)
	southID := r.enrol(201, "P-201", store.RoleOfficer, 200)
	southCrypto, _ := client.NewCrypto(southID, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	south := client.NewLink(client.LinkConfig{Client: client.Config{Identity: southID, Addr: r.addr}, Crypto: southCrypto})
	go south.Run(ctx)
	<-south.Connected()

	pr, err := d.Patch(ctxT(t), 100, 200)
	if err != nil {
		t.Fatal(err)
	}
	p := uint16(pr.Patch)
	e := r.waitKeysFresh(t, p)
	north.waitEpoch(t, p, e)
	deadline := time.Now().Add(waitLimit)
	for !southCrypto.HasKey(p) {
		if time.Now().After(deadline) {
			t.Fatal("the south unit never got the patch key")
		}
		select {
		case <-south.Events():
		case <-time.After(10 * time.Millisecond):
		}
	}
	// North talks "on 100": the floor is the patch's, south hears it.
	res := request(t, north.Client, 100, 50, 0)
	if res.Status != pb.FloorStatus_FLOOR_GRANTED || res.Talkgroup != pr.Patch {
		t.Fatalf("floor on a patched talkgroup: %v on %d, want granted on %d", res.Status, res.Talkgroup, pr.Patch)
	}
	frame, err := north.crypto.Seal(nil, p, protocol.FlagEndOfBurst, []byte("all units north and south, stand by"))
	if err != nil {
		t.Fatal(err)
	}
	north.SendVoice(frame)
	select {
	case got := <-south.Voice():
		if _, pt, _, err := southCrypto.Open(nil, got); err != nil || string(pt) != "all units north and south, stand by" {
			t.Fatalf("south could not decrypt the patched transmission: %v", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("south did not hear the patched transmission")
	}
	// Unpatch: the key goes, and a transmission on 100 no longer reaches south.
	if _, err := d.Unpatch(ctxT(t), pr.Patch); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(waitLimit)
	for southCrypto.HasKey(p) {
		if time.Now().After(deadline) {
			t.Fatal("the patch key was not dropped after unpatching")
		}
		select {
		case <-south.Events():
		case <-time.After(10 * time.Millisecond):
		}
	}
	if res := request(t, north.Client, 100, 50, 0); res.Talkgroup != 100 {
		t.Fatalf("after unpatching the floor is on %d", res.Talkgroup)
	}
	e100 := r.waitKeysFresh(t, 100)
	north.waitEpoch(t, 100, e100)
	again, _ := north.crypto.Seal(nil, 100, protocol.FlagEndOfBurst, []byte("north only"))
	north.SendVoice(again)
	select {
	case got := <-south.Voice():
		t.Fatalf("south heard talkgroup 100 after unpatching: % x", got[:6])
	case <-time.After(200 * time.Millisecond):
	}
	if _, _, _, err := southCrypto.Open(nil, again); err == nil {
		t.Fatal("south can decrypt talkgroup 100 after unpatching")
	}
}

// Multiselect: a dispatcher talks on two talkgroups at once; each hears the
// call under its own key, and they stay separate (not bridged).
func TestMultiselect(t *testing.T) {
	pcm := speechPCM(t, "All units, all channels, be advised.")
	r := startRelay(t, nil)
	r.startKMF(t)
	l100 := r.listener(t, 101, "P-101", nil, 100)
	l200 := r.listener(t, 201, "P-201", nil, 200)
	d, cr := r.talkerRole(t, 900, "DISPATCH-1", store.RoleDispatcher, 100, 200)
	for _, tg := range []uint16{100, 200} {
		r.waitTalkerKey(t, d, cr, tg)
		e, _ := cr.Epoch(tg)
		waitListenersKey(t, tg, e, map[uint16]*listener{100: l100, 200: l200}[tg])
	}
	if _, err := radio.Transmit(txCtx(t), d, d.Events(), cr, pcm, radio.TxConfig{Talkgroup: 100, Also: []uint16{200}}); err != nil {
		t.Fatal(err)
	}
	want, _ := radio.Reference(pcm, codec.EncoderConfig{})
	for _, l := range []*listener{l100, l200} {
		tx := l.transmission(t)
		if tx.Talker != 900 || len(tx.PCM) != len(want) {
			t.Fatalf("multiselect: talkgroup %d got %d samples from %d", tx.Talkgroup, len(tx.PCM), tx.Talker)
		}
	}
	// Not bridged: each listener got its own talkgroup's copy only.
	select {
	case tx := <-l100.got:
		t.Fatalf("talkgroup 100 also got a transmission on %d", tx.Talkgroup)
	case <-time.After(300 * time.Millisecond):
	}
}

// A private call is heard by its callee alone: a third unit on the same
// talkgroup gets nothing and could open nothing.
func TestPrivateCall(t *testing.T) {
	r := startRelay(t, nil)
	r.startKMF(t)
	caller := r.secureUnit(t, 101, "P-101", 100)
	callee := r.secureUnit(t, 102, "P-102", 100)
	other := r.secureUnit(t, 103, "P-103", 100)
	pc, err := caller.PrivateCall(ctxT(t), 102)
	if err != nil {
		t.Fatal(err)
	}
	tg := uint16(pc.Talkgroup)
	e := r.waitKeysFresh(t, tg)
	caller.waitEpoch(t, tg, e)
	callee.waitEpoch(t, tg, e)
	if res := request(t, caller.Client, uint16(tg), 50, 0); res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("private call floor: %v %s", res.Status, res.Reason)
	}
	frame, err := caller.crypto.Seal(nil, tg, protocol.FlagEndOfBurst, []byte("meet me at the back entrance"))
	if err != nil {
		t.Fatal(err)
	}
	caller.SendVoice(frame)
	got := receive(t, callee.Client, 1)
	if _, pt, _, err := callee.crypto.Open(nil, got[0]); err != nil || string(pt) != "meet me at the back entrance" {
		t.Fatalf("callee: %v", err)
	}
	silent(t, other.Client, 200*time.Millisecond)
	if other.crypto.HasKey(tg) {
		t.Fatal("a third unit holds the private call's key")
	}
	if _, _, _, err := other.crypto.Open(nil, got[0]); err == nil {
		t.Fatal("a third unit opened the private call")
	}
	// Only the parties may end it; then it is gone.
	var re *client.RequestError
	if err := other.EndPrivateCall(ctxT(t), pc.Talkgroup); !errors.As(err, &re) {
		t.Fatalf("a third unit ending the call: %v", err)
	}
	if err := callee.EndPrivateCall(ctxT(t), pc.Talkgroup); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.Talkgroup(tg); err == nil {
		t.Fatal("the call talkgroup is still there after the call")
	}
}

// A broadcast group call through the relay: only the dispatcher who started
// it talks; an officer is refused with the reason; an emergency still gets
// through.
func TestBroadcastCall(t *testing.T) {
	r := startRelay(t, nil)
	d := r.dispatcher(t, 900, "DISPATCH-1", 100)
	a := r.unit(101, "P-101", 100)
	b := r.unit(102, "P-102", 100)
	res, err := d.RequestBroadcast(ctxT(t), 100, 100)
	if err != nil || res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("broadcast: %v %v", res, err)
	}
	if ev := waitFloor(t, a, 100, pb.FloorEventKind_FLOOR_EVENT_TAKEN); !ev.Broadcast || ev.Talker != 900 {
		t.Fatalf("members told %+v", ev)
	}
	if res := request(t, a, 100, 100, 0); res.Status != pb.FloorStatus_FLOOR_DENIED || res.Cause != pb.Cause_CAUSE_BROADCAST_CALL || !strings.Contains(res.Reason, "DISPATCH-1") {
		t.Fatalf("officer during a broadcast: %v %v %q", res.Status, res.Cause, res.Reason)
	}
	if res, err := a.RequestBroadcast(ctxT(t), 100, 0); err != nil || res.Cause != pb.Cause_CAUSE_NOT_ALLOWED {
		t.Fatalf("officer starting a broadcast: %v %v", res, err)
	}
	if res := request(t, b, 100, 0, pb.Emergency_EMERGENCY_EMERGENCY); res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("emergency during a broadcast: %v %q", res.Status, res.Reason)
	}
}

// A list of every unit comes in pages that each fit a control message: a
// dispatcher gets all of 1,500 units, in ID order, each once.
func TestUnitListPages(t *testing.T) {
	r := startRelay(t, nil)
	d := r.dispatcher(t, 900, "DISPATCH-1", 100)
	const n = 1500
	for i := range n {
		id := uint32(2000 + i)
		if err := r.srv.AddUnit(store.Unit{ID: id, Alias: fmt.Sprintf("Patrol-Unit-%05d", id), Role: store.RoleOfficer}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := d.QueryUnits(ctxT(t), &pb.QueryUnits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 || len(first) >= n {
		t.Fatalf("first page has %d units; want a page, not all %d", len(first), n)
	}
	all, err := d.AllUnits(ctxT(t), false)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint32]bool)
	for i, u := range all {
		if i > 0 && u.Unit <= all[i-1].Unit {
			t.Fatalf("unit %d after %d: not in ID order", u.Unit, all[i-1].Unit)
		}
		seen[u.Unit] = true
	}
	for i := range n {
		if !seen[uint32(2000+i)] {
			t.Fatalf("unit %d missing from %d listed", 2000+i, len(all))
		}
	}
	if !seen[900] {
		t.Fatal("the dispatcher itself is not listed")
	}
	t.Logf("%d units in pages of %d", len(all), len(first))
}
