// Command varta is the Varta client: radio, console and tools.
//
//	varta check    --identity FILE [--server ADDR] [--talkgroup 100[,200]] [--for 10s]
//	varta radio    --identity FILE ...   (transmit a file, record, or the handheld screen)
//	varta console  --identity FILE ...   (the dispatcher's console)
//	varta dispatch --identity FILE ACTION ...   (scriptable dispatcher commands)
//	varta bench    ...   (loopback load test)
//
// check connects to the relay with a unit's identity, shows what the relay
// says about the unit, affiliates to the talkgroups and prints floor events
// for a while: the quickest way to see that a radio's identity and the relay
// work together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
)

const usage = `varta: the Varta client.

  varta check --identity FILE [--server HOST:PORT] [--talkgroup 100[,200]] [--for 10s]
  varta radio --identity FILE [--server HOST:PORT] --talkgroup 100[,200] --tx speech.wav [--emergency] [--broadcast] [--priority N]
  varta radio --identity FILE [--server HOST:PORT] --call UNIT --tx speech.wav      (private call)
  varta radio --identity FILE [--server HOST:PORT] --talkgroup 100[,200] --record DIR [--for 30s]
              (talkgroup --tx, --record and the handheld also take [--position LAT,LON | --route FILE | --nmea DEVICE] [--status STATUS])
  varta radio --identity FILE [--server HOST:PORT] [--talkgroup 100[,200]] [--no-audio] [--ptt-file F.wav]
              (interactive handheld: space talks, t changes talkgroup, e e emergency, ? help)

  varta bench [--units 50] [--talkgroups 5] [--talkers 5] [--for 5s] [--relay-data DIR [--server ADDR]] [--json]   (loopback load test: a vartad child, or the relay running on DIR)
  varta console --identity FILE [--server HOST:PORT] [--no-audio] [--ptt-file F.wav] [--recall-dir DIR] [--priority N]
              (dispatcher console: talkgroups, units, map, emergencies; ? lists every key)
  varta dispatch --identity FILE [--server HOST:PORT] [--json] ACTION ...
              (units, status, emergencies, ack, clear, check, stun, revive, message, alert,
              regroup, patch, unpatch; varta dispatch -h explains each)

varta radio --tx exits 0 when the file was sent, 2 when the floor was denied
or revoked (the reason is printed), 1 on any other error.
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "varta:", err)
		var fe *radio.FloorError
		if errors.As(err, &fe) {
			os.Exit(exitFloor)
		}
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "check":
		return cmdCheck(args[1:], out)
	case "radio":
		return cmdRadio(args[1:], out)
	case "dispatch":
		return cmdDispatch(args[1:], out)
	case "console":
		return cmdConsole(args[1:], out)
	case "bench":
		return cmdBench(args[1:], out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func cmdCheck(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("varta check", flag.ContinueOnError)
	identity := fs.String("identity", "", "the unit's identity file (required)")
	server := fs.String("server", "", "relay address (default: the one in the identity file)")
	tgList := fs.String("talkgroup", "", "talkgroups to affiliate to, comma-separated (default: all allowed)")
	dur := fs.Duration("for", 0, "listen for floor events this long (0: only connect)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := loadIdentity(*identity)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := client.Dial(ctx, client.Config{Identity: id, Addr: *server, Software: "varta-check/0.1"})
	if err != nil {
		return err
	}
	defer c.Close()
	w := c.Welcome()
	fmt.Fprintf(out, "connected to %s as unit %d %q (%s)\n", c.Conn().RemoteAddr(), w.Unit, w.Alias, w.Role)
	var tgs []uint32
	for _, t := range w.Allowed {
		fmt.Fprintf(out, "  may use talkgroup %d %q\n", t.Id, t.Name)
		tgs = append(tgs, t.Id)
	}
	if *tgList != "" {
		tgs = nil
		for _, f := range strings.Split(*tgList, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
			if err != nil {
				return fmt.Errorf("--talkgroup: %q is not a talkgroup ID", f)
			}
			tgs = append(tgs, uint32(n))
		}
	}
	res, err := c.Affiliate(ctx, tgs...)
	if err != nil {
		return err
	}
	for _, a := range res.Results {
		if a.Ok {
			fmt.Fprintf(out, "affiliated to talkgroup %d\n", a.Talkgroup)
		} else {
			fmt.Fprintf(out, "not affiliated to talkgroup %d: %s\n", a.Talkgroup, a.Reason)
		}
	}
	rtt, err := c.Ping(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "round trip %s\n", rtt.Round(time.Microsecond))
	if *dur <= 0 {
		return nil
	}
	timer := time.NewTimer(*dur)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return c.Err()
		case ev := <-c.Events():
			fmt.Fprintln(out, describe(ev))
		case <-c.Voice():
		}
	}
}

// loadIdentity loads the identity file given with --identity, which is
// required, and warns on stderr when others may read it.
func loadIdentity(path string) (*pki.Identity, error) {
	if path == "" {
		return nil, errors.New("--identity FILE is required")
	}
	id, err := pki.LoadIdentityFile(path)
	if err != nil {
		return nil, err
	}
	if err := pki.CheckFileMode(path); err != nil {
		fmt.Fprintf(os.Stderr, "varta: warning: %v (chmod 600 %s)\n", err, path)
	}
	return id, nil
}

// describe renders an event for a person.
func describe(env *pb.Envelope) string {
	now := time.Now().Format("15:04:05")
	if fe := env.GetFloorEvent(); fe != nil {
		switch fe.Kind {
		case pb.FloorEventKind_FLOOR_EVENT_TAKEN:
			em := ""
			if fe.Emergency != pb.Emergency_EMERGENCY_NONE {
				em = " EMERGENCY"
			}
			return fmt.Sprintf("%s tg %d: %s (unit %d) talking%s", now, fe.Talkgroup, fe.TalkerAlias, fe.Talker, em)
		case pb.FloorEventKind_FLOOR_EVENT_IDLE:
			return fmt.Sprintf("%s tg %d: idle", now, fe.Talkgroup)
		case pb.FloorEventKind_FLOOR_EVENT_CALL_END:
			return fmt.Sprintf("%s tg %d: call ended", now, fe.Talkgroup)
		default:
			return fmt.Sprintf("%s tg %d: %s %s", now, fe.Talkgroup, strings.TrimPrefix(fe.Kind.String(), "FLOOR_EVENT_"), fe.Reason)
		}
	}
	if ac := env.GetAffiliationChanged(); ac != nil {
		return fmt.Sprintf("%s affiliations changed: %v (%s)", now, ac.Talkgroups, ac.Reason)
	}
	if e := env.GetError(); e != nil {
		return fmt.Sprintf("%s relay error: %s", now, e.Reason)
	}
	return fmt.Sprintf("%s event %T", now, env.Body)
}
