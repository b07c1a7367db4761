package server

import (
	"context"
	"testing"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// newBareServer builds a Server without a store, listener or QUIC, for tests
// of the floor and the forwarding path. Talkgroups are created by addTG.
func newBareServer(t testing.TB, mutate func(*Config)) *Server {
	t.Helper()
	cfg := Config{}
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.setDefaults(); err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, sessions: make(map[uint32]*session), metrics: newMetrics(),
		dispatch: newDispatchState()}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	m := map[uint16]*talkgroup{}
	s.tgs.Store(&m)
	return s
}

func (s *Server) addTG(id uint16) *talkgroup {
	m := *s.tgs.Load()
	tg := newTalkgroup(s, id, "TG", 0)
	m[id] = tg
	return tg
}

// bareSession is a session with no connection; its control messages stay
// in ctrlQ for the test to read.
func (s *Server) bareSession(unit uint32, alias string, role store.Role, tgs ...uint16) *session {
	sess := s.newSession(s.ctx, nil, store.Unit{ID: unit, Alias: alias, Role: role, Talkgroups: tgs})
	return sess
}

// join affiliates sess to tg through the same path a request takes.
func join(t testing.TB, sess *session, ids ...uint32) {
	t.Helper()
	res := sess.affiliate(ids)
	for _, a := range res.Results {
		if !a.Ok {
			t.Fatalf("affiliate %d: %s", a.Talkgroup, a.Reason)
		}
	}
}

// nextEvent returns the next queued floor event of sess, failing if none.
func nextEvent(t testing.TB, sess *session) *pb.FloorEvent {
	t.Helper()
	for {
		select {
		case env := <-sess.ctrlQ:
			if fe := env.GetFloorEvent(); fe != nil {
				return fe
			}
		default:
			t.Fatalf("unit %d: no floor event queued", sess.unit)
			return nil
		}
	}
}

// drain empties sess's control queue and returns the floor events in it.
func drain(sess *session) []*pb.FloorEvent {
	var out []*pb.FloorEvent
	for {
		select {
		case env := <-sess.ctrlQ:
			if fe := env.GetFloorEvent(); fe != nil {
				out = append(out, fe)
			}
		default:
			return out
		}
	}
}

func kinds(evs []*pb.FloorEvent) []pb.FloorEventKind {
	var k []pb.FloorEventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}
