package server

import (
	"testing"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// A request without a request ID is refused before it is carried out, a
// message of a type the relay does not serve is refused if it carries an
// ID, and ignored if not.
func TestHandleRequestIDs(t *testing.T) {
	s := newBareServer(t, nil)
	s.addTG(100)
	floor := newBucket(s.cfg.FloorRate, s.cfg.FloorBurst, s.now())
	tests := []struct {
		name     string
		env      *pb.Envelope
		wantID   uint64
		wantCode pb.ErrorCode // ERROR_UNSPECIFIED: nothing is sent
	}{
		{"ping without ID", &pb.Envelope{Body: &pb.Envelope_Ping{Ping: &pb.Ping{}}}, 0, pb.ErrorCode_ERROR_BAD_REQUEST},
		{"affiliate without ID", &pb.Envelope{Body: &pb.Envelope_Affiliate{Affiliate: &pb.Affiliate{Talkgroups: []uint32{100}}}}, 0, pb.ErrorCode_ERROR_BAD_REQUEST},
		{"floor request without ID", &pb.Envelope{Body: &pb.Envelope_FloorRequest{FloorRequest: &pb.FloorRequest{Talkgroup: 100}}}, 0, pb.ErrorCode_ERROR_BAD_REQUEST},
		{"message without ID", &pb.Envelope{Body: &pb.Envelope_SendMessage{SendMessage: &pb.SendMessage{ToUnit: 102, Text: "x"}}}, 0, pb.ErrorCode_ERROR_BAD_REQUEST},
		{"radio check reply without ID", &pb.Envelope{Body: &pb.Envelope_RadioCheckReply{RadioCheckReply: &pb.RadioCheckReply{Check: 1}}}, 0, pb.ErrorCode_ERROR_BAD_REQUEST},
		{"not a request, with ID", &pb.Envelope{Id: 5, Body: &pb.Envelope_Pong{Pong: &pb.Pong{}}}, 5, pb.ErrorCode_ERROR_UNSUPPORTED},
		{"not a request, without ID", &pb.Envelope{Body: &pb.Envelope_Pong{Pong: &pb.Pong{}}}, 0, pb.ErrorCode_ERROR_UNSPECIFIED},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess := s.bareSession(101, "P-101", store.RoleOfficer, 100)
			sess.handle(tt.env, &floor)
			var got []*pb.Envelope
			for len(sess.ctrlQ) > 0 {
				got = append(got, <-sess.ctrlQ)
			}
			if tt.wantCode == pb.ErrorCode_ERROR_UNSPECIFIED {
				if len(got) != 0 {
					t.Fatalf("sent %v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || got[0].Id != tt.wantID || got[0].GetError().GetCode() != tt.wantCode {
				t.Fatalf("sent %v, want one %v error for request %d", got, tt.wantCode, tt.wantID)
			}
			// The request was not carried out.
			sess.mu.Lock()
			n := len(sess.tgs)
			sess.mu.Unlock()
			if n != 0 {
				t.Fatalf("affiliated to %d talkgroups without a request ID", n)
			}
		})
	}
}
