package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/internal/position"
	"github.com/varta-ptt/varta/protocol/pb"
)

const dispatchUsage = `varta dispatch --identity FILE [--server HOST:PORT] [--json] ACTION

  units [--near LAT,LON] [--count N] [--available]   list units, or the nearest to a point
  units --area LAT,LON,LAT,LON                       units inside a box (south-west and north-east corners)
  status UNIT                                        a unit's status, position and presence
  emergencies                                        raised and acknowledged emergencies
  ack UNIT | clear UNIT                              acknowledge or clear a unit's emergency
  check UNIT                                         radio check: does the radio answer?
  stun UNIT | revive UNIT                            disable a radio (keys zeroized, rekey) or undo it
  message TARGET TEXT...                             text to a unit (101) or a talkgroup (tg:100)
  alert UNIT                                         call alert (page) to a unit
  regroup [--undo] TG UNIT...                        move units into a talkgroup for an operation, or back
  patch TG TG...                                     bridge talkgroups (prints the patch talkgroup)
  unpatch PATCH                                      dissolve a patch
`

// cmdDispatch is the scriptable dispatcher command line.
func cmdDispatch(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("varta dispatch", flag.ContinueOnError)
	identity := fs.String("identity", "", "the dispatcher's identity file (required)")
	server := fs.String("server", "", "relay address (default: the one in the identity file)")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	fs.Usage = func() { fmt.Fprint(os.Stderr, dispatchUsage) }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *identity == "" || fs.NArg() == 0 {
		fs.Usage()
		return errors.New("give --identity FILE and an action")
	}
	id, err := loadIdentity(*identity)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{Identity: id, Addr: *server, Software: "varta-dispatch/0.1"})
	if err != nil {
		return err
	}
	defer c.Close()
	d := dispatcher{c: c, json: *asJSON, out: out}
	action, rest := fs.Arg(0), fs.Args()[1:]
	switch action {
	case "units":
		return d.units(ctx, rest)
	case "status":
		return d.status(ctx, rest)
	case "emergencies":
		return d.emergencies(ctx)
	case "message", "alert":
		return d.message(ctx, action, rest)
	case "regroup":
		return d.regroup(ctx, rest)
	case "patch", "unpatch":
		return d.patch(ctx, action, rest)
	case "ack", "clear", "check", "stun", "revive":
		unit, err := oneUnit(action, rest)
		if err != nil {
			return err
		}
		return d.unitAction(ctx, action, unit)
	}
	fs.Usage()
	return fmt.Errorf("unknown action %q", action)
}

type dispatcher struct {
	c    *client.Client
	json bool
	out  io.Writer
}

func oneUnit(action string, args []string) (uint32, error) {
	if len(args) != 1 {
		return 0, fmt.Errorf("%s needs one unit ID", action)
	}
	n, err := strconv.ParseUint(args[0], 10, 32)
	if err != nil || n == 0 || n > 16777215 {
		return 0, fmt.Errorf("%q is not a unit ID (1..16777215)", args[0])
	}
	return uint32(n), nil
}

// printJSON prints a protobuf message as JSON with the proto field names.
func (d dispatcher) printJSON(m proto.Message) error {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	var v any
	json.Unmarshal(b, &v)
	enc := json.NewEncoder(d.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (d dispatcher) units(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("units", flag.ContinueOnError)
	near := fs.String("near", "", "LAT,LON: rank by distance from this point")
	count := fs.Uint("count", 0, "at most this many (default 10 with --near)")
	avail := fs.Bool("available", false, "only units whose status is available")
	area := fs.String("area", "", "MINLAT,MINLON,MAXLAT,MAXLON: only units inside this box")
	if err := fs.Parse(args); err != nil {
		return err
	}
	q := &pb.QueryUnits{Count: uint32(*count), AvailableOnly: *avail}
	if *area != "" {
		parts := strings.Split(*area, ",")
		if len(parts) != 4 {
			return fmt.Errorf("--area wants MINLAT,MINLON,MAXLAT,MAXLON, got %q", *area)
		}
		sw, err1 := position.ParseLatLon(parts[0] + "," + parts[1])
		ne, err2 := position.ParseLatLon(parts[2] + "," + parts[3])
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("--area: %w", err)
		}
		q.Area = &pb.Area{MinLat: sw.Lat, MinLon: sw.Lon, MaxLat: ne.Lat, MaxLon: ne.Lon}
	}
	if *near != "" {
		fix, err := position.ParseLatLon(*near)
		if err != nil {
			return fmt.Errorf("--near: %w", err)
		}
		q.Near, q.Lat, q.Lon = true, fix.Lat, fix.Lon
	}
	var units []*pb.UnitInfo
	var err error
	if q.Near || q.Area != nil {
		units, err = d.c.QueryUnits(ctx, q)
	} else if units, err = d.c.AllUnits(ctx, q.AvailableOnly); q.Count > 0 && len(units) > int(q.Count) {
		units = units[:q.Count]
	}
	if err != nil {
		return err
	}
	if d.json {
		return d.printJSON(&pb.UnitList{Units: units})
	}
	w := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	if q.Near {
		fmt.Fprintln(w, "UNIT\tALIAS\tSTATUS\tDISTANCE\tONLINE\tPOSITION AGE")
	} else {
		fmt.Fprintln(w, "UNIT\tALIAS\tROLE\tSTATUS\tONLINE\tTALKGROUPS\tPOSITION AGE")
	}
	for _, u := range units {
		age := "-"
		if u.Position != nil {
			age = time.Since(time.UnixMilli(u.Position.TimeMs)).Round(time.Second).String()
		}
		if q.Near {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%v\t%s\n", u.Unit, u.Alias, orDash(u.Status), metres(u.DistanceM), u.Online, age)
		} else {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%v\t%s\t%s\n", u.Unit, u.Alias, u.Role, orDash(u.Status), u.Online, joinIDs(u.Talkgroups, "-"), age)
		}
	}
	return w.Flush()
}

func (d dispatcher) status(ctx context.Context, args []string) error {
	unit, err := oneUnit("status", args)
	if err != nil {
		return err
	}
	units, err := d.c.QueryUnits(ctx, &pb.QueryUnits{After: unit - 1, Count: 1})
	if err != nil {
		return err
	}
	for _, u := range units {
		if u.Unit != unit {
			continue
		}
		if d.json {
			return d.printJSON(u)
		}
		pos := "no fresh position"
		if u.Position != nil {
			pos = fmt.Sprintf("%.5f,%.5f (±%.0f m, %s ago)", u.Position.Lat, u.Position.Lon, u.Position.AccuracyM, time.Since(time.UnixMilli(u.Position.TimeMs)).Round(time.Second))
		}
		online := "offline"
		if u.Online {
			online = "online"
		}
		stunned := ""
		if u.Stunned {
			stunned = ", STUNNED"
		}
		fmt.Fprintf(d.out, "unit %d %s (%s): %s, %s%s\nposition: %s\ntalkgroups: %s\n", u.Unit, u.Alias, u.Role, orDash(u.Status), online, stunned, pos, joinIDs(u.Talkgroups, "-"))
		return nil
	}
	return fmt.Errorf("unit %d is not in the roster", unit)
}

func (d dispatcher) emergencies(ctx context.Context) error {
	alarms, err := d.c.Emergencies(ctx)
	if err != nil {
		return err
	}
	if d.json {
		return d.printJSON(&pb.Emergencies{Alarms: alarms})
	}
	if len(alarms) == 0 {
		fmt.Fprintln(d.out, "no emergencies")
		return nil
	}
	w := tabwriter.NewWriter(d.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "UNIT\tALIAS\tLEVEL\tSTATE\tTALKGROUP\tRAISED\tPOSITION")
	for _, a := range alarms {
		pos := "-"
		if a.Position != nil {
			pos = fmt.Sprintf("%.5f,%.5f", a.Position.Lat, a.Position.Lon)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", a.Unit, a.Alias, levelName(a.Level), stateName(a.State), a.Talkgroup, time.UnixMilli(a.RaisedMs).Format("15:04:05"), pos)
	}
	return w.Flush()
}

func (d dispatcher) unitAction(ctx context.Context, action string, unit uint32) error {
	var err error
	switch action {
	case "ack":
		err = d.c.AckEmergency(ctx, unit)
	case "clear":
		err = d.c.ClearEmergency(ctx, unit)
	case "stun":
		err = d.c.UnitAction(ctx, unit, pb.UnitActionKind_UNIT_STUN)
	case "revive":
		err = d.c.UnitAction(ctx, unit, pb.UnitActionKind_UNIT_REVIVE)
	case "check":
		res, err := d.c.RadioCheck(ctx, unit)
		if err != nil {
			return err
		}
		if d.json {
			return d.printJSON(res)
		}
		if res.Answered {
			fmt.Fprintf(d.out, "unit %d answered in %d ms\n", unit, res.RoundTripMs)
			return nil
		}
		return fmt.Errorf("radio check: %s", res.Reason)
	}
	if err != nil {
		return err
	}
	if d.json {
		return json.NewEncoder(d.out).Encode(map[string]any{"action": action, "unit": unit, "ok": true})
	}
	done := map[string]string{"ack": "emergency acknowledged", "clear": "emergency cleared", "stun": "stunned: the radio is refused, its keys zeroized, its talkgroups rekeyed", "revive": "revived"}
	fmt.Fprintf(d.out, "unit %d %s\n", unit, done[action])
	return nil
}

func metres(m float64) string {
	if m >= 1000 {
		return fmt.Sprintf("%.2f km", m/1000)
	}
	return fmt.Sprintf("%.0f m", m)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// joinIDs lists talkgroup or unit IDs comma-separated, or says none when
// there are none.
func joinIDs(ids []uint32, none string) string {
	if len(ids) == 0 {
		return none
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

func levelName(e pb.Emergency) string {
	if e == pb.Emergency_EMERGENCY_IMMINENT_PERIL {
		return "imminent-peril"
	}
	return "EMERGENCY"
}

func stateName(s pb.EmergencyState) string {
	switch s {
	case pb.EmergencyState_EMERGENCY_RAISED:
		return "RAISED"
	case pb.EmergencyState_EMERGENCY_ACKNOWLEDGED:
		return "acknowledged"
	case pb.EmergencyState_EMERGENCY_CLEARED:
		return "cleared"
	}
	return "-"
}

func (d dispatcher) message(ctx context.Context, action string, args []string) error {
	m := &pb.SendMessage{Alert: action == "alert"}
	if len(args) == 0 || (action == "message" && len(args) < 2) || (action == "alert" && len(args) != 1) {
		return fmt.Errorf("%s needs a target%s", action, map[bool]string{true: "", false: " and the text"}[action == "alert"])
	}
	if tg, ok := strings.CutPrefix(args[0], "tg:"); ok {
		n, err := strconv.ParseUint(tg, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a talkgroup (tg:1..tg:65535)", args[0])
		}
		m.ToTalkgroup = uint32(n)
	} else {
		unit, err := oneUnit(action, args[:1])
		if err != nil {
			return err
		}
		m.ToUnit = unit
	}
	m.Text = strings.Join(args[1:], " ")
	acc, err := d.c.SendMessage(ctx, m)
	if err != nil {
		return err
	}
	if d.json {
		return d.printJSON(acc)
	}
	fmt.Fprintf(d.out, "%s %d accepted: %d delivered now, %d waiting for radios that are off\n", action, acc.Id, acc.Delivered, acc.Queued)
	return nil
}

func (d dispatcher) regroup(ctx context.Context, args []string) error {
	undo := len(args) > 0 && args[0] == "--undo"
	if undo {
		args = args[1:]
	}
	if len(args) < 2 {
		return errors.New("regroup needs a talkgroup and at least one unit")
	}
	tg, err := strconv.ParseUint(args[0], 10, 16)
	if err != nil || tg == 0 {
		return fmt.Errorf("%q is not a talkgroup ID", args[0])
	}
	var units []uint32
	for _, a := range args[1:] {
		u, err := oneUnit("regroup", []string{a})
		if err != nil {
			return err
		}
		units = append(units, u)
	}
	if err := d.c.Regroup(ctx, uint32(tg), units, undo); err != nil {
		return err
	}
	if d.json {
		return json.NewEncoder(d.out).Encode(map[string]any{"action": "regroup", "talkgroup": tg, "units": units, "undo": undo, "ok": true})
	}
	if undo {
		fmt.Fprintf(d.out, "units %s left talkgroup %d\n", joinIDs(units, "-"), tg)
	} else {
		fmt.Fprintf(d.out, "units %s regrouped into talkgroup %d\n", joinIDs(units, "-"), tg)
	}
	return nil
}

func (d dispatcher) patch(ctx context.Context, action string, args []string) error {
	var ids []uint32
	for _, a := range args {
		n, err := strconv.ParseUint(a, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a talkgroup ID", a)
		}
		ids = append(ids, uint32(n))
	}
	var res *pb.PatchResult
	var err error
	switch {
	case action == "patch" && len(ids) >= 2:
		res, err = d.c.Patch(ctx, ids...)
	case action == "unpatch" && len(ids) == 1:
		res, err = d.c.Unpatch(ctx, ids[0])
	default:
		return fmt.Errorf("%s needs %s", action, map[string]string{"patch": "two or more talkgroups", "unpatch": "the patch talkgroup"}[action])
	}
	if err != nil {
		return err
	}
	if d.json {
		return d.printJSON(res)
	}
	if action == "patch" {
		fmt.Fprintf(d.out, "talkgroups %s patched as talkgroup %d\n", joinIDs(res.Talkgroups, "-"), res.Patch)
	} else {
		fmt.Fprintf(d.out, "patch %d dissolved (talkgroups %s)\n", res.Patch, joinIDs(res.Talkgroups, "-"))
	}
	return nil
}
