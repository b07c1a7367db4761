package integration

import (
	"sync"
	"testing"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

// Three units on one talkgroup: one talks, the other two receive every
// datagram byte for byte, the talker receives none of its own, and a unit on
// another talkgroup receives nothing.
func TestThreeUnitsOneTalks(t *testing.T) {
	r := startRelay(t, nil)
	talker := r.unit(101, "P-101", 100)
	l1 := r.unit(102, "P-102", 100)
	l2 := r.unit(103, "P-103", 100)
	outsider := r.unit(104, "P-104", 200)

	if res := request(t, talker, 100, 50, pb.Emergency_EMERGENCY_NONE); res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("floor: %v %s", res.Status, res.Reason)
	}
	taken := waitFloor(t, l1, 100, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
	if taken.Talker != 101 || taken.TalkerAlias != "P-101" {
		t.Fatalf("listener told talker %d %q, want 101 P-101", taken.Talker, taken.TalkerAlias)
	}
	sent := talk(t, talker, 100, 100, true)
	if err := sameDatagrams(sent, receive(t, l1, len(sent))); err != nil {
		t.Fatalf("unit 102: %v", err)
	}
	if err := sameDatagrams(sent, receive(t, l2, len(sent))); err != nil {
		t.Fatalf("unit 103: %v", err)
	}
	waitFloor(t, l2, 100, pb.FloorEventKind_FLOOR_EVENT_IDLE)
	silent(t, talker, 100*time.Millisecond)
	silent(t, outsider, 0)

	st := r.srv.Stats()
	if st.Forwarded != uint64(len(sent)) {
		t.Errorf("relay forwarded %d, want %d", st.Forwarded, len(sent))
	}
}

// Two simultaneous requests give one grant and one queue; the queued unit
// is granted when the talker releases.
func TestContentionQueueThenGrant(t *testing.T) {
	r := startRelay(t, nil)
	a := r.unit(101, "P-101", 100)
	b := r.unit(102, "P-102", 100)
	r.unit(103, "P-103", 100)

	results := make(map[uint32]*pb.FloorResult)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range []*client.Client{a, b} {
		wg.Go(func() {
			res, err := c.RequestFloor(ctxT(t), 100, 50, pb.Emergency_EMERGENCY_NONE)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			results[c.Unit()] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	var granted, queued *client.Client
	for _, c := range []*client.Client{a, b} {
		switch results[c.Unit()].Status {
		case pb.FloorStatus_FLOOR_GRANTED:
			granted = c
		case pb.FloorStatus_FLOOR_QUEUED:
			queued = c
			if results[c.Unit()].Position != 1 {
				t.Fatalf("queued at %d, want 1", results[c.Unit()].Position)
			}
		}
	}
	if granted == nil || queued == nil {
		t.Fatalf("want one grant and one queue, got %v and %v", results[101].Status, results[102].Status)
	}
	talk(t, granted, 100, 5, false)
	if err := granted.ReleaseFloor(ctxT(t), 100); err != nil {
		t.Fatal(err)
	}
	waitFloor(t, queued, 100, pb.FloorEventKind_FLOOR_EVENT_GRANTED)
	sent := talk(t, queued, 100, 5, true)
	if err := sameDatagrams(sent, receive(t, granted, 5)); err != nil {
		t.Fatalf("the former talker did not hear the new one: %v", err)
	}
}

func lastN(b [][]byte, n int) [][]byte { return b[len(b)-n:] }

// An emergency request pre-empts the talker.
func TestEmergencyPreempts(t *testing.T) {
	r := startRelay(t, nil)
	a := r.unit(101, "P-101", 100)
	b := r.unit(102, "P-102", 100)
	c := r.unit(103, "P-103", 100)
	request(t, a, 100, 100, pb.Emergency_EMERGENCY_NONE)
	talk(t, a, 100, 3, false)
	res := request(t, b, 100, 0, pb.Emergency_EMERGENCY_EMERGENCY)
	if res.Status != pb.FloorStatus_FLOOR_GRANTED {
		t.Fatalf("emergency request: %v %s", res.Status, res.Reason)
	}
	rev := waitFloor(t, a, 100, pb.FloorEventKind_FLOOR_EVENT_REVOKED)
	if rev.Cause != pb.Cause_CAUSE_PREEMPTED {
		t.Fatalf("revoked with %v, want PREEMPTED", rev.Cause)
	}
	taken := waitFloor(t, c, 100, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
	for taken.Talker != 102 {
		taken = waitFloor(t, c, 100, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
	}
	if taken.Emergency != pb.Emergency_EMERGENCY_EMERGENCY {
		t.Fatalf("listeners not told of the emergency: %v", taken.Emergency)
	}
	// The pre-empted unit's voice no longer passes.
	before := r.srv.Stats().Dropped(server.DropNotHolder)
	a.SendVoice(frame(100, 101, 99, 0))
	sent := talk(t, b, 100, 3, true)
	got := receive(t, c, 3+3)
	if err := sameDatagrams(sent, lastN(got, 3)); err != nil {
		t.Fatal(err)
	}
	waitDrop(t, r, server.DropNotHolder, before+1)
}

func waitDrop(t *testing.T, r *relay, reason server.DropReason, want uint64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for r.srv.Stats().Dropped(reason) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s drops: %d, want %d", reason, r.srv.Stats().Dropped(reason), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The talk-time limit revokes a talker who keeps talking.
func TestTalkTimeLimit(t *testing.T) {
	r := startRelay(t, func(c *server.Config) { c.MaxTalkTime = 300 * time.Millisecond })
	a := r.unit(101, "P-101", 100)
	b := r.unit(102, "P-102", 100)
	res := request(t, a, 100, 50, pb.Emergency_EMERGENCY_NONE)
	if res.MaxTalkMs != 300 {
		t.Fatalf("grant says max talk %d ms, want 300", res.MaxTalkMs)
	}
	stop := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				a.SendVoice(frame(100, 101, i, 0))
			}
		}
	}()
	defer close(stop)
	rev := waitFloor(t, a, 100, pb.FloorEventKind_FLOOR_EVENT_REVOKED)
	if rev.Cause != pb.Cause_CAUSE_MAX_TALK_TIME {
		t.Fatalf("revoked with %v %q, want MAX_TALK_TIME", rev.Cause, rev.Reason)
	}
	waitFloor(t, b, 100, pb.FloorEventKind_FLOOR_EVENT_IDLE)
}

// A unit affiliating mid-burst is told who talks and hears the rest.
func TestLateEntryMidBurst(t *testing.T) {
	r := startRelay(t, nil)
	a := r.unit(101, "P-101", 100)
	b := r.unit(102, "P-102", 100)
	late := r.dial(r.enrol(103, "P-103", store.RoleOfficer, 100))
	request(t, a, 100, 50, pb.Emergency_EMERGENCY_NONE)
	talk(t, a, 100, 10, false)
	// Once P-102 has them the relay has forwarded all ten, so none of
	// them can reach the late unit after it affiliates.
	receive(t, b, 10)

	start := time.Now()
	affiliate(t, late, 100)
	taken := waitFloor(t, late, 100, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
	if taken.Talker != 101 || taken.TalkerAlias != "P-101" {
		t.Fatalf("late entry names %d %q, want 101 P-101", taken.Talker, taken.TalkerAlias)
	}
	t.Logf("late entry: talker known %s after affiliating", time.Since(start))
	sent := talk(t, a, 100, 10, true)
	if err := sameDatagrams(sent, receive(t, late, 10)); err != nil {
		t.Fatalf("late unit: %v", err)
	}
}

// A unit may affiliate only to talkgroups it is a member of.
func TestAffiliationRefused(t *testing.T) {
	r := startRelay(t, nil)
	c := r.dial(r.enrol(101, "P-101", store.RoleOfficer, 100))
	res, err := c.Affiliate(ctxT(t), 100, 200, 300, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{
		100: "",
		200: "unit 101 is not a member of talkgroup 200 (ask the administrator to add it)",
		300: "talkgroup 300 does not exist on this relay",
		0:   "talkgroup 0 is out of range (1 to 65535)",
	}
	for _, a := range res.Results {
		if a.Ok != (want[a.Talkgroup] == "") || a.Reason != want[a.Talkgroup] {
			t.Errorf("talkgroup %d: ok=%v reason %q, want %q", a.Talkgroup, a.Ok, a.Reason, want[a.Talkgroup])
		}
	}
	res2 := request(t, c, 200, 50, pb.Emergency_EMERGENCY_NONE)
	if res2.Status != pb.FloorStatus_FLOOR_DENIED || res2.Cause != pb.Cause_CAUSE_NOT_AFFILIATED {
		t.Fatalf("floor on a talkgroup not affiliated: %v %v", res2.Status, res2.Cause)
	}
}
