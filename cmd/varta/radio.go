package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/position"
	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/radio"
	"github.com/varta-ptt/varta/tui"
)

// exitFloor is the exit status of a transmission whose floor was denied or
// revoked (1 is every other failure).
const exitFloor = 2

type radioFlags struct {
	identity, server, talkgroups, tx, record string
	dur, keyWait                             time.Duration
	priority                                 uint
	emergency                                bool
	bitrate                                  int
	noAudio, broadcast                       bool
	call                                     uint
	pttFile                                  string
	position, status, route, nmea            string
}

func cmdRadio(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("varta radio", flag.ContinueOnError)
	var f radioFlags
	fs.StringVar(&f.identity, "identity", "", "the unit's identity file (required)")
	fs.StringVar(&f.server, "server", "", "relay address (default: the one in the identity file)")
	fs.StringVar(&f.talkgroups, "talkgroup", "", "talkgroup(s), comma-separated; --tx talks on all of them at once (multiselect)")
	fs.StringVar(&f.tx, "tx", "", "transmit this WAV file, then exit")
	fs.StringVar(&f.record, "record", "", "record every received transmission into this directory")
	fs.DurationVar(&f.dur, "for", 0, "with --record: stop after this long (default: until interrupted)")
	fs.UintVar(&f.priority, "priority", 50, "floor priority requested, 0..255 (capped by the unit's role)")
	fs.BoolVar(&f.emergency, "emergency", false, "with --tx: transmit as an emergency call")
	fs.BoolVar(&f.broadcast, "broadcast", false, "with --tx: a broadcast group call, in which only this unit talks (dispatchers)")
	fs.UintVar(&f.call, "call", 0, "with --tx: a private call to this unit, heard by it alone")
	fs.IntVar(&f.bitrate, "bitrate", 0, "Opus bitrate in bit/s (default 24000)")
	fs.DurationVar(&f.keyWait, "key-wait", 10*time.Second, "with --tx: how long to wait for the talkgroup's voice key")
	fs.BoolVar(&f.noAudio, "no-audio", false, "interactive: do not open the microphone and speaker")
	fs.StringVar(&f.position, "position", "", "LAT,LON: report this position (on connect, every 30 s, with each transmission and emergency)")
	fs.StringVar(&f.route, "route", "", "replay positions from this file: one LAT,LON[,SECONDS] per line")
	fs.StringVar(&f.nmea, "nmea", "", "read positions from this NMEA 0183 source (GNSS serial device, pipe or file)")
	fs.StringVar(&f.status, "status", "", "set this unit status on connect: available, busy, en-route, on-scene, out-of-service or an agency code")
	fs.StringVar(&f.pttFile, "ptt-file", "", "interactive: push-to-talk sends this WAV file instead of the microphone")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := loadIdentity(f.identity)
	if err != nil {
		return err
	}
	tgs, err := parseTalkgroupList(f.talkgroups)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case f.tx != "" && f.record != "":
		return errors.New("give either --tx or --record, not both")
	case f.tx != "" && f.call != 0:
		return radioPrivateCall(ctx, id, f, out)
	case f.tx != "":
		return radioTx(ctx, id, f, tgs, out)
	case f.record != "":
		return radioRecord(ctx, id, f, tgs, out)
	}
	return radioInteractive(ctx, id, f, tgs)
}

func parseTalkgroupList(s string) ([]uint32, error) {
	var tgs []uint32
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("--talkgroup: %q is not a talkgroup ID (1..65535)", p)
		}
		tgs = append(tgs, uint32(n))
	}
	return tgs, nil
}

// radioTx sends a WAV file on the first talkgroup and exits.
func radioTx(ctx context.Context, id *pki.Identity, f radioFlags, tgs []uint32, out io.Writer) error {
	if len(tgs) == 0 {
		return errors.New("--tx needs --talkgroup")
	}
	pcm, err := codec.ReadWAVFile(f.tx)
	if err != nil {
		return err
	}
	c, err := client.Dial(ctx, client.Config{Identity: id, Addr: f.server, Software: "varta-radio/0.1"})
	if err != nil {
		return err
	}
	defer c.Close()
	res, err := c.Affiliate(ctx, tgs...)
	if err != nil {
		return err
	}
	for _, a := range res.Results {
		if !a.Ok {
			return fmt.Errorf("cannot use talkgroup %d: %s", a.Talkgroup, a.Reason)
		}
	}
	cr, err := client.NewCrypto(id, nil)
	if err != nil {
		return err
	}
	tg := uint16(tgs[0])
	pos, err := reportField(ctx, c, f)
	if err != nil {
		return err
	}
	var also []uint16 // multiselect: the same call on more talkgroups
	for _, t := range tgs {
		if err := waitForKey(ctx, c, cr, uint16(t), f.keyWait); err != nil {
			return err
		}
		if uint16(t) != tg {
			also = append(also, uint16(t))
		}
	}
	em := pb.Emergency_EMERGENCY_NONE
	if f.emergency {
		em = pb.Emergency_EMERGENCY_EMERGENCY
		// The emergency button: every dispatcher gets the alarm with the
		// unit's position, then the emergency call pre-empts the talker.
		if err := c.RaiseEmergency(ctx, em, uint32(tg), pos); err != nil {
			return err
		}
		fmt.Fprintf(out, "EMERGENCY raised on talkgroup %d\n", tg)
	}
	fmt.Fprintf(out, "requesting the floor of talkgroup %d ...\n", tg)
	txr, err := radio.Transmit(ctx, c, c.Events(), cr, pcm, radio.TxConfig{
		Talkgroup: tg, Also: also, Priority: uint32(min(f.priority, 255)), Emergency: em, Broadcast: f.broadcast,
		Encoder: codec.EncoderConfig{Bitrate: f.bitrate},
		OnGranted: func() {
			fmt.Fprintf(out, "on air: talkgroup %d, %.1f s of audio from %s\n", tg, float64(len(pcm))/codec.SampleRate, filepath.Base(f.tx))
		},
	})
	if err != nil {
		return err // a *radio.FloorError exits with exitFloor (main)
	}
	queued := ""
	if txr.Queued {
		queued = " (after waiting in the queue)"
	}
	fmt.Fprintf(out, "done%s: %d frames sent, %d silent frames skipped, %.2f s on air\n", queued, txr.Sent, txr.DTX, txr.Duration.Seconds())
	return nil
}

// waitForKey fetches the unit's keys, waiting for the KMF if the talkgroup
// has none yet.
func waitForKey(ctx context.Context, c *client.Client, cr *client.Crypto, tg uint16, limit time.Duration) error {
	if _, err := cr.FetchKeys(ctx, c); err != nil {
		fmt.Fprintf(os.Stderr, "varta: warning: %v\n", err)
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for !cr.HasKey(tg) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("no voice key for talkgroup %d after %s: is the key management facility running (vartad serve runs one by default)?", tg, limit)
		case <-c.Done():
			return c.Err()
		case env := <-c.Events():
			if kb := env.GetKeyBundle(); kb != nil {
				if err := cr.Install(kb); err != nil {
					fmt.Fprintf(os.Stderr, "varta: key bundle refused: %v\n", err)
				}
			}
		}
	}
	return nil
}

// radioRecord listens and writes one WAV per received transmission.
func radioRecord(ctx context.Context, id *pki.Identity, f radioFlags, tgs []uint32, out io.Writer) error {
	if err := os.MkdirAll(f.record, 0o750); err != nil {
		return err
	}
	if f.dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.dur)
		defer cancel()
	}
	cr, err := client.NewCrypto(id, nil)
	if err != nil {
		return err
	}
	var refused error
	var link *client.Link
	var rep *radio.Reporter
	link = client.NewLink(client.LinkConfig{
		Client:     client.Config{Identity: id, Addr: f.server, Software: "varta-radio/0.1"},
		Talkgroups: tgs, Crypto: cr,
		OnState: func(up bool, err error) {
			now := time.Now().Format("15:04:05")
			if up {
				rep.Connected() // the status and the newest fix
			}
			if up {
				fmt.Fprintf(out, "%s connected; listening on talkgroups %s\n", now, joinIDs(tgs, "(none)"))
			} else if err != nil {
				fmt.Fprintf(out, "%s connection lost (%v); reconnecting\n", now, err)
			}
		},
	})
	rep = radio.NewReporter(ctx, link.Client, f.status, func(err error) { fmt.Fprintf(os.Stderr, "varta: report: %v\n", err) })
	senders := radio.NewSenderKeys(ctx, cr, link.Client)
	rx := radio.NewReceiver(radio.ReceiverConfig{
		Crypto: cr, SenderKey: senders.Key, Learn: senders.Learn,
		Jitter: codec.JitterConfig{StartDepth: 200 * time.Millisecond, MinDepth: 200 * time.Millisecond, MaxDepth: 500 * time.Millisecond, NoTrim: true},
		OnTransmission: func(tx radio.Transmission) {
			name := fmt.Sprintf("%s-tg%d-unit%d.wav", tx.Start.UTC().Format("20060102T150405.000Z"), tx.Talkgroup, tx.Talker)
			path := filepath.Join(f.record, name)
			if err := codec.WriteWAVFile(path, tx.PCM, codec.SampleRate); err != nil {
				fmt.Fprintf(os.Stderr, "varta: write %s: %v\n", path, err)
				return
			}
			alias := tx.Alias
			if alias == "" {
				alias = "unit " + strconv.Itoa(int(tx.Talker))
			}
			em := ""
			if tx.Emergency {
				em = " EMERGENCY"
			}
			fmt.Fprintf(out, "%s tg %d: %s (unit %d)%s, %.2f s, %s -> %s\n", tx.Start.Format("15:04:05"), tx.Talkgroup, alias, tx.Talker, em, float64(len(tx.PCM))/codec.SampleRate, tx.Verification, path)
		},
	})
	fixes, err := positionSource(ctx, f)
	if err != nil {
		return err
	}
	rctx, stopRx := context.WithCancel(context.Background())
	rxDone := make(chan struct{})
	go func() { rx.Run(rctx); close(rxDone) }()
	linkDone := make(chan error, 1)
	go func() { linkDone <- link.Run(ctx) }()
	for {
		select {
		case fix := <-fixes:
			rep.Fix(fix)
		case env := <-link.Events():
			rx.Event(env)
		case d := <-link.Voice():
			rx.Datagram(d, time.Now())
		case refused = <-linkDone:
			// Let the last transmission finish playing out before writing it.
			time.Sleep(300 * time.Millisecond)
			stopRx()
			<-rxDone
			if n := rx.Refused(); n > 0 {
				fmt.Fprintf(out, "%d voice frames could not be opened and were not played\n", n)
			}
			return refused
		}
	}
}

// radioInteractive is the handheld screen.
func radioInteractive(ctx context.Context, id *pki.Identity, f radioFlags, tgs []uint32) error {
	var clip []int16
	if f.pttFile != "" {
		var err error
		if clip, err = codec.ReadWAVFile(f.pttFile); err != nil {
			return err
		}
	}
	fixes, err := positionSource(ctx, f)
	if err != nil {
		return err
	}
	return tui.RunRadio(ctx, tui.RadioRun{
		Identity:   id,
		Addr:       f.server,
		Talkgroups: tgs, // empty: every talkgroup the relay allows
		Software:   "varta-radio/0.1",
		Status:     f.status,
		Fixes:      fixes,
		Priority:   uint32(min(f.priority, 255)),
		Encoder:    codec.EncoderConfig{Bitrate: f.bitrate},
		NoAudio:    f.noAudio,
		TxClip:     clip,
	})
}

// reportField sends the --status and --position of the radio, and returns
// the position (nil without --position).
func reportField(ctx context.Context, c *client.Client, f radioFlags) (*pb.Position, error) {
	var pos *pb.Position
	if f.position != "" || f.route != "" || f.nmea != "" {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		fixes, err := positionSource(pctx, f)
		if err != nil {
			return nil, err
		}
		select {
		case fix := <-fixes:
			pos = &pb.Position{Lat: fix.Lat, Lon: fix.Lon, AccuracyM: fix.AccuracyM, TimeMs: time.Now().UnixMilli()}
			if err := c.ReportPosition(ctx, fix.Lat, fix.Lon, fix.AccuracyM, time.Now()); err != nil {
				return nil, fmt.Errorf("report position: %w", err)
			}
		case <-pctx.Done():
			fmt.Fprintln(os.Stderr, "varta: warning: no position fix within 5 s")
		}
	}
	if f.status != "" {
		if err := c.SetStatus(ctx, f.status); err != nil {
			return nil, fmt.Errorf("set status: %w", err)
		}
	}
	return pos, nil
}

// radioPrivateCall sends a WAV file to one unit in a private call.
func radioPrivateCall(ctx context.Context, id *pki.Identity, f radioFlags, out io.Writer) error {
	pcm, err := codec.ReadWAVFile(f.tx)
	if err != nil {
		return err
	}
	c, err := client.Dial(ctx, client.Config{Identity: id, Addr: f.server, Software: "varta-radio/0.1"})
	if err != nil {
		return err
	}
	defer c.Close()
	cr, err := client.NewCrypto(id, nil)
	if err != nil {
		return err
	}
	pc, err := c.PrivateCall(ctx, uint32(f.call))
	if err != nil {
		return err
	}
	defer c.EndPrivateCall(context.WithoutCancel(ctx), pc.Talkgroup)
	tg := uint16(pc.Talkgroup)
	fmt.Fprintf(out, "private call to unit %d on talkgroup %d; waiting for its key ...\n", f.call, tg)
	if err := waitForKey(ctx, c, cr, tg, f.keyWait); err != nil {
		return err
	}
	txr, err := radio.Transmit(ctx, c, c.Events(), cr, pcm, radio.TxConfig{Talkgroup: tg, Encoder: codec.EncoderConfig{Bitrate: f.bitrate}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "done: %d frames sent to unit %d, %.2f s on air; call ended\n", txr.Sent, f.call, txr.Duration.Seconds())
	return nil
}

// positionSource turns --position, --route or --nmea into a stream of
// fixes: a fixed position every 30 s, a route replayed, or each NMEA fix
// (at most one every 5 s). Without any of them the channel stays silent.
func positionSource(ctx context.Context, f radioFlags) (<-chan position.Fix, error) {
	out := make(chan position.Fix, 1)
	switch {
	case f.route != "":
		file, err := os.Open(f.route)
		if err != nil {
			return nil, fmt.Errorf("--route: %w", err)
		}
		route, err := position.ReadRoute(file, 30*time.Second)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("--route %s: %w", f.route, err)
		}
		go position.Replay(ctx, route, out)
	case f.nmea != "":
		raw := make(chan position.Fix)
		go func() {
			if err := position.FollowNMEA(ctx, f.nmea, raw); err != nil {
				fmt.Fprintf(os.Stderr, "varta: %v\n", err)
			}
		}()
		go func() {
			var last time.Time
			for fix := range raw {
				if time.Since(last) >= 5*time.Second {
					last = time.Now()
					select {
					case out <- fix:
					default:
					}
				}
			}
		}()
	case f.position != "":
		fix, err := position.ParseLatLon(f.position)
		if err != nil {
			return nil, fmt.Errorf("--position: %w", err)
		}
		go position.Replay(ctx, []position.RoutePoint{{Fix: fix, Dwell: 30 * time.Second}}, out)
	}
	return out, nil
}
