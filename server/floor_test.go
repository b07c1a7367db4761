package server

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

type floorFixture struct {
	s       *Server
	tg      *talkgroup
	a, b, c *session
}

// newFloorFixture makes a talkgroup 100 with three affiliated officers
// (101, 102, 103). Call it inside a synctest bubble.
func newFloorFixture(t *testing.T, mutate func(*Config)) *floorFixture {
	s := newBareServer(t, mutate)
	tg := s.addTG(100)
	f := &floorFixture{s: s, tg: tg,
		a: s.bareSession(101, "P-101", store.RoleOfficer, 100),
		b: s.bareSession(102, "P-102", store.RoleOfficer, 100),
		c: s.bareSession(103, "P-103", store.RoleOfficer, 100),
	}
	for _, sess := range []*session{f.a, f.b, f.c} {
		join(t, sess, 100)
	}
	return f
}

func (f *floorFixture) drainAll() {
	for _, s := range []*session{f.a, f.b, f.c} {
		drain(s)
	}
}

func wantKinds(t *testing.T, who string, got []*pb.FloorEvent, want ...pb.FloorEventKind) {
	t.Helper()
	if !slices.Equal(kinds(got), want) {
		t.Fatalf("%s got events %v, want %v", who, kinds(got), want)
	}
}

func TestFloorGrantQueueRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFloorFixture(t, nil)
		r := f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
		if r.Status != pb.FloorStatus_FLOOR_GRANTED {
			t.Fatalf("first request: %v, want granted", r.Status)
		}
		if f.tg.holder.Load() != f.a {
			t.Fatal("holder is not unit 101")
		}
		for _, s := range []*session{f.b, f.c} {
			evs := drain(s)
			wantKinds(t, "listener", evs, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
			if evs[0].Talker != 101 || evs[0].TalkerAlias != "P-101" {
				t.Fatalf("taken names %d %q, want 101 P-101", evs[0].Talker, evs[0].TalkerAlias)
			}
		}
		wantKinds(t, "talker", drain(f.a))

		r = f.tg.request(f.b, 50, pb.Emergency_EMERGENCY_NONE, false)
		if r.Status != pb.FloorStatus_FLOOR_QUEUED || r.Position != 1 {
			t.Fatalf("second request: %v position %d, want queued at 1", r.Status, r.Position)
		}
		r = f.tg.request(f.c, 50, pb.Emergency_EMERGENCY_NONE, false)
		if r.Status != pb.FloorStatus_FLOOR_QUEUED || r.Position != 2 {
			t.Fatalf("third request: %v position %d, want queued at 2", r.Status, r.Position)
		}
		f.drainAll()

		// The release waits for the end-of-burst datagram, then for the drain time.
		f.tg.release(f.a)
		if f.tg.holder.Load() != f.a {
			t.Fatal("floor freed before the end-of-burst drain")
		}
		time.Sleep(f.s.cfg.ReleaseDrain)
		synctest.Wait()
		if f.tg.holder.Load() != f.b {
			t.Fatal("queued unit 102 was not granted on release")
		}
		wantKinds(t, "102", drain(f.b), pb.FloorEventKind_FLOOR_EVENT_IDLE, pb.FloorEventKind_FLOOR_EVENT_GRANTED)
		evs := drain(f.c)
		wantKinds(t, "103", evs, pb.FloorEventKind_FLOOR_EVENT_IDLE, pb.FloorEventKind_FLOOR_EVENT_TAKEN, pb.FloorEventKind_FLOOR_EVENT_QUEUED)
		if evs[2].Position != 1 {
			t.Fatalf("103 now at position %d, want 1", evs[2].Position)
		}
		// End of burst frees the floor at once.
		f.tg.endOfBurst(f.b)
		if f.tg.holder.Load() != f.c {
			t.Fatal("end of burst did not pass the floor to 103")
		}
	})
}

func TestFloorPreemption(t *testing.T) {
	tests := []struct {
		name      string
		prio      uint32
		em        pb.Emergency
		preempted bool
	}{
		{"emergency pre-empts", 0, pb.Emergency_EMERGENCY_EMERGENCY, true},
		{"imminent peril pre-empts", 0, pb.Emergency_EMERGENCY_IMMINENT_PERIL, true},
		{"equal priority queues", 100, pb.Emergency_EMERGENCY_NONE, false},
		{"priority above the cap is capped and queues", 255, pb.Emergency_EMERGENCY_NONE, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFloorFixture(t, nil)
				f.tg.request(f.a, 100, pb.Emergency_EMERGENCY_NONE, false)
				f.drainAll()
				r := f.tg.request(f.b, int(tt.prio), tt.em, false)
				if !tt.preempted {
					if r.Status != pb.FloorStatus_FLOOR_QUEUED {
						t.Fatalf("got %v, want queued", r.Status)
					}
					return
				}
				if r.Status != pb.FloorStatus_FLOOR_GRANTED || f.tg.holder.Load() != f.b {
					t.Fatalf("got %v, want granted to 102", r.Status)
				}
				evs := drain(f.a)
				wantKinds(t, "pre-empted 101", evs, pb.FloorEventKind_FLOOR_EVENT_REVOKED, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
				if evs[0].Cause != pb.Cause_CAUSE_PREEMPTED || evs[0].Reason == "" {
					t.Fatalf("revoke cause %v %q, want PREEMPTED with a reason", evs[0].Cause, evs[0].Reason)
				}
				evs = drain(f.c)
				wantKinds(t, "103", evs, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
				if evs[0].Talker != 102 || evs[0].Emergency != tt.em {
					t.Fatalf("103 sees talker %d emergency %v", evs[0].Talker, evs[0].Emergency)
				}
			})
		})
	}
}

func TestFloorQueueOrderByPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newBareServer(t, nil)
		tg := s.addTG(100)
		holder := s.bareSession(101, "P-101", store.RoleCommander, 100)
		low := s.bareSession(102, "P-102", store.RoleOfficer, 100)
		high := s.bareSession(900, "D-1", store.RoleDispatcher, 100)
		for _, x := range []*session{holder, low, high} {
			join(t, x, 100)
		}
		tg.request(holder, 220, pb.Emergency_EMERGENCY_NONE, false)
		if r := tg.request(low, 100, pb.Emergency_EMERGENCY_NONE, false); r.Position != 1 {
			t.Fatalf("low at %d, want 1", r.Position)
		}
		if r := tg.request(high, 200, pb.Emergency_EMERGENCY_NONE, false); r.Position != 1 {
			t.Fatalf("dispatcher at %d, want 1 (ahead of the officer)", r.Position)
		}
		tg.endOfBurst(holder)
		if tg.holder.Load() != high {
			t.Fatal("the higher-priority queued request was not granted first")
		}
	})
}

func TestFloorTimers(t *testing.T) {
	t.Run("max talk time revokes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFloorFixture(t, func(c *Config) { c.MaxTalkTime = 10 * time.Second; c.EndOfMedia = time.Hour })
			f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
			f.drainAll()
			time.Sleep(10*time.Second - time.Millisecond)
			synctest.Wait()
			if f.tg.holder.Load() != f.a {
				t.Fatal("revoked before the talk limit")
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			evs := drain(f.a)
			wantKinds(t, "talker", evs, pb.FloorEventKind_FLOOR_EVENT_REVOKED, pb.FloorEventKind_FLOOR_EVENT_IDLE)
			if evs[0].Cause != pb.Cause_CAUSE_MAX_TALK_TIME {
				t.Fatalf("cause %v, want MAX_TALK_TIME", evs[0].Cause)
			}
			wantKinds(t, "listener", drain(f.b), pb.FloorEventKind_FLOOR_EVENT_IDLE)
		})
	})
	t.Run("end of media revokes a silent holder only", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFloorFixture(t, nil) // EndOfMedia 4 s
			f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
			f.drainAll()
			for range 5 { // voice every second keeps the floor
				time.Sleep(time.Second)
				f.tg.lastMedia.Store(time.Now().UnixNano())
			}
			synctest.Wait()
			if f.tg.holder.Load() != f.a {
				t.Fatal("a talking holder lost the floor")
			}
			time.Sleep(4 * time.Second)
			synctest.Wait()
			evs := drain(f.a)
			wantKinds(t, "talker", evs, pb.FloorEventKind_FLOOR_EVENT_REVOKED, pb.FloorEventKind_FLOOR_EVENT_IDLE)
			if evs[0].Cause != pb.Cause_CAUSE_NO_MEDIA {
				t.Fatalf("cause %v, want NO_MEDIA", evs[0].Cause)
			}
		})
	})
	t.Run("queue timeout denies", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFloorFixture(t, func(c *Config) { c.EndOfMedia = time.Hour; c.MaxTalkTime = time.Hour })
			f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
			f.tg.request(f.b, 50, pb.Emergency_EMERGENCY_NONE, false)
			f.drainAll()
			time.Sleep(30 * time.Second)
			synctest.Wait()
			evs := drain(f.b)
			wantKinds(t, "queued 102", evs, pb.FloorEventKind_FLOOR_EVENT_DENIED)
			if evs[0].Cause != pb.Cause_CAUSE_QUEUE_TIMEOUT {
				t.Fatalf("cause %v, want QUEUE_TIMEOUT", evs[0].Cause)
			}
			if len(f.tg.queue) != 0 {
				t.Fatal("timed-out request still queued")
			}
		})
	})
	t.Run("hang time keeps the call", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFloorFixture(t, nil) // HangTime 3 s
			f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
			call := f.tg.callID
			f.tg.endOfBurst(f.a)
			time.Sleep(2 * time.Second)
			f.tg.request(f.b, 50, pb.Emergency_EMERGENCY_NONE, false)
			if f.tg.callID != call {
				t.Fatal("a reply within hang time started a new call")
			}
			f.tg.endOfBurst(f.b)
			f.drainAll()
			time.Sleep(3 * time.Second)
			synctest.Wait()
			evs := drain(f.c)
			wantKinds(t, "listener", evs, pb.FloorEventKind_FLOOR_EVENT_CALL_END)
			if evs[0].CallId != call {
				t.Fatalf("call end for %d, want %d", evs[0].CallId, call)
			}
			f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
			if f.tg.callID == call {
				t.Fatal("a burst after hang time reused the ended call")
			}
		})
	})
}

func TestFloorDenials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newBareServer(t, func(c *Config) { c.MaxQueue = 1 })
		tg := s.addTG(100)
		a := s.bareSession(101, "P-101", store.RoleOfficer, 100)
		b := s.bareSession(102, "P-102", store.RoleOfficer, 100)
		c := s.bareSession(103, "P-103", store.RoleOfficer, 100)
		rec := s.bareSession(500, "REC", store.RoleRecorder, 100)
		outsider := s.bareSession(104, "P-104", store.RoleOfficer)
		for _, x := range []*session{a, b, c, rec} {
			join(t, x, 100)
		}
		tests := []struct {
			name  string
			who   *session
			cause pb.Cause
		}{
			{"not affiliated", outsider, pb.Cause_CAUSE_NOT_AFFILIATED},
			{"recorder may not transmit", rec, pb.Cause_CAUSE_NOT_ALLOWED},
		}
		for _, tt := range tests {
			r := tg.request(tt.who, 50, pb.Emergency_EMERGENCY_NONE, false)
			if r.Status != pb.FloorStatus_FLOOR_DENIED || r.Cause != tt.cause || r.Reason == "" {
				t.Errorf("%s: got %v %v %q", tt.name, r.Status, r.Cause, r.Reason)
			}
		}
		tg.request(a, 50, pb.Emergency_EMERGENCY_NONE, false)
		tg.request(b, 50, pb.Emergency_EMERGENCY_NONE, false)
		r := tg.request(c, 50, pb.Emergency_EMERGENCY_NONE, false)
		if r.Status != pb.FloorStatus_FLOOR_DENIED || r.Cause != pb.Cause_CAUSE_QUEUE_FULL {
			t.Fatalf("full queue: got %v %v", r.Status, r.Cause)
		}
	})
}

func TestFloorHolderLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFloorFixture(t, nil)
		f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
		f.tg.request(f.b, 50, pb.Emergency_EMERGENCY_NONE, false)
		f.drainAll()
		f.a.leaveAll(false, pb.Cause_CAUSE_NONE, "")
		if f.tg.holder.Load() != f.b {
			t.Fatal("the queued unit did not get the floor when the holder left")
		}
		if slices.Contains(*f.tg.members.Load(), f.a) {
			t.Fatal("the departed unit is still a member")
		}
		wantKinds(t, "103", drain(f.c), pb.FloorEventKind_FLOOR_EVENT_IDLE, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
	})
}

func TestLateEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newBareServer(t, nil)
		tg := s.addTG(100)
		a := s.bareSession(101, "P-101", store.RoleOfficer, 100)
		join(t, a, 100)
		tg.request(a, 50, pb.Emergency_EMERGENCY_EMERGENCY, false)
		late := s.bareSession(102, "P-102", store.RoleOfficer, 100)
		join(t, late, 100)
		evs := drain(late)
		wantKinds(t, "late unit", evs, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
		if evs[0].Talker != 101 || evs[0].Emergency != pb.Emergency_EMERGENCY_EMERGENCY {
			t.Fatalf("late entry names talker %d emergency %v", evs[0].Talker, evs[0].Emergency)
		}
	})
}

// A queued unit that pre-empts leaves the queue; its later release frees
// the floor rather than only withdrawing a stale queue entry.
func TestFloorQueuedUnitPreempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFloorFixture(t, nil)
		f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
		f.tg.request(f.b, 50, pb.Emergency_EMERGENCY_NONE, false)
		if r := f.tg.request(f.b, 0, pb.Emergency_EMERGENCY_EMERGENCY, false); r.Status != pb.FloorStatus_FLOOR_GRANTED {
			t.Fatalf("emergency from the queue: %v", r.Status)
		}
		if len(f.tg.queue) != 0 {
			t.Fatal("the granted unit is still queued")
		}
		f.tg.endOfBurst(f.b)
		if f.tg.holder.Load() != nil {
			t.Fatal("the floor was not freed")
		}
	})
}

// A talker who declares an emergency mid-burst is announced to the members.
func TestFloorTalkerRaisesEmergency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFloorFixture(t, nil)
		f.tg.request(f.a, 50, pb.Emergency_EMERGENCY_NONE, false)
		f.drainAll()
		f.tg.request(f.a, 0, pb.Emergency_EMERGENCY_EMERGENCY, false)
		evs := drain(f.b)
		wantKinds(t, "listener", evs, pb.FloorEventKind_FLOOR_EVENT_TAKEN)
		if evs[0].Emergency != pb.Emergency_EMERGENCY_EMERGENCY || evs[0].Priority != PriorityEmergency {
			t.Fatalf("listener sees emergency %v priority %d", evs[0].Emergency, evs[0].Priority)
		}
	})
}

// Roles with no transmit right are refused even for an emergency.
func TestFloorRecorderCannotTransmitEvenInEmergency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newBareServer(t, nil)
		tg := s.addTG(100)
		rec := s.bareSession(500, "REC", store.RoleRecorder, 100)
		join(t, rec, 100)
		r := tg.request(rec, 0, pb.Emergency_EMERGENCY_EMERGENCY, false)
		if r.Status != pb.FloorStatus_FLOOR_DENIED || r.Cause != pb.Cause_CAUSE_NOT_ALLOWED {
			t.Fatalf("recorder emergency: %v %v", r.Status, r.Cause)
		}
	})
}

// A broadcast group call: only its caller talks until the call ends (hang
// time after the release); an emergency still pre-empts.
func TestFloorBroadcastCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newBareServer(t, nil)
		tg := s.addTG(100)
		d := s.bareSession(900, "DISPATCH-1", store.RoleDispatcher, 100)
		a := s.bareSession(101, "P-101", store.RoleOfficer, 100)
		b := s.bareSession(102, "P-102", store.RoleOfficer, 100)
		for _, x := range []*session{d, a, b} {
			join(t, x, 100)
		}
		if r := tg.request(d, 100, pb.Emergency_EMERGENCY_NONE, true); r.Status != pb.FloorStatus_FLOOR_GRANTED {
			t.Fatalf("broadcast: %v", r.Status)
		}
		if evs := drain(a); len(evs) != 1 || !evs[0].Broadcast {
			t.Fatalf("members not told it is a broadcast: %v", evs)
		}
		deny := func(when string) {
			t.Helper()
			r := tg.request(a, 100, pb.Emergency_EMERGENCY_NONE, false)
			if r.Status != pb.FloorStatus_FLOOR_DENIED || r.Cause != pb.Cause_CAUSE_BROADCAST_CALL || !strings.Contains(r.Reason, "DISPATCH-1") {
				t.Fatalf("%s: officer request %v %v %q", when, r.Status, r.Cause, r.Reason)
			}
		}
		deny("during the broadcast")
		tg.endOfBurst(d)
		deny("in hang time after the broadcast")
		time.Sleep(s.cfg.HangTime)
		synctest.Wait()
		if r := tg.request(a, 100, pb.Emergency_EMERGENCY_NONE, false); r.Status != pb.FloorStatus_FLOOR_GRANTED {
			t.Fatalf("after the call ended: %v", r.Status)
		}
		tg.endOfBurst(a)
		time.Sleep(s.cfg.HangTime)
		synctest.Wait()
		tg.request(d, 100, pb.Emergency_EMERGENCY_NONE, true)
		if r := tg.request(b, 0, pb.Emergency_EMERGENCY_EMERGENCY, false); r.Status != pb.FloorStatus_FLOOR_GRANTED {
			t.Fatalf("emergency during a broadcast: %v %q", r.Status, r.Reason)
		}
	})
}
