package tui

import (
	"context"
	"io"
	"math"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/internal/position"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server/store"
)

// The handheld reports its status on connect and each position as it
// comes, and its emergency alarm carries the newest one: a dispatcher sees
// them through the real relay.
func TestRunRadioReportsPosition(t *testing.T) {
	r := startTestRelay(t)
	id := r.enrol(101, "P-101", store.RoleOfficer, 100)
	did := r.enrol(900, "DISPATCH-1", store.RoleDispatcher, 100)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := client.Dial(ctx, client.Config{Identity: did, Addr: r.addr})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	fixes := make(chan position.Fix, 4)
	fixes <- position.Fix{Lat: 51.5007, Lon: -0.1246, AccuracyM: 5}
	keys, typeKeys := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- RunRadio(ctx, RadioRun{
			Identity: id, Status: "en-route", Fixes: fixes, TxClip: tonePCM(25),
			Input: keys, Output: io.Discard, ProgramOptions: []tea.ProgramOption{tea.WithWindowSize(80, 24)},
			speaker: func([]int16) {}, retryMin: 50 * time.Millisecond,
		})
	}()
	seen := func(lat float64) *pb.UnitInfo {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for {
			us, err := d.QueryUnits(ctx, &pb.QueryUnits{After: 100, Count: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(us) == 1 && us[0].Status == "en-route" && us[0].Position != nil && math.Abs(us[0].Position.Lat-lat) < 1e-9 {
				return us[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("the dispatcher never saw P-101 en-route at latitude %v: %v", lat, us)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	seen(51.5007)
	fixes <- position.Fix{Lat: 51.5033, Lon: -0.1195}
	seen(51.5033)

	// The emergency button: the alarm carries the newest position.
	io.WriteString(typeKeys, "ee")
	deadline := time.After(waitLimit)
	for alarm := (*pb.EmergencyAlarm)(nil); alarm == nil; {
		select {
		case env := <-d.Events():
			if a := env.GetEmergencyAlarm(); a != nil && a.Unit == 101 {
				alarm = a
				if a.Position == nil || math.Abs(a.Position.Lat-51.5033) > 1e-9 {
					t.Fatalf("alarm position %v, want the newest fix", a.Position)
				}
			}
		case <-deadline:
			t.Fatal("no emergency alarm")
		}
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
}
