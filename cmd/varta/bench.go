package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/varta-ptt/varta/bench"
)

// cmdBench runs `varta bench`: a bounded load run on 127.0.0.1 against a
// vartad child process (the binary next to varta, on PATH, or --vartad),
// against a relay in this process when there is none or with --in-process,
// or against the relay already running on --relay-data DIR (at --server, on
// loopback); printed as a table or, with --json, as JSON.
func cmdBench(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	units := fs.Int("units", 50, fmt.Sprintf("units to connect (at most %d)", bench.MaxUnits))
	tgs := fs.Int("talkgroups", 5, "talkgroups")
	listeners := fs.Int("listeners", 0, "members per talkgroup (default units/talkgroups)")
	talkers := fs.Int("talkers", 5, "simultaneous talkers, at most one per talkgroup")
	dur := fs.Duration("for", 5*time.Second, "how long the talkers talk")
	burst := fs.Duration("burst", time.Second, "one transmission before the floor changes hands")
	vartad := fs.String("vartad", "", "vartad binary to run as the relay (default: the one next to varta, else on PATH)")
	inProcess := fs.Bool("in-process", false, "run the relay inside this process (CPU and memory then include the load generator's)")
	cpuProfile := fs.String("relay-cpuprofile", "", "write the vartad child's CPU profile to this file (`go tool pprof -top FILE`)")
	memProfile := fs.String("relay-memprofile", "", "write the vartad child's heap profile, with every unit connected, to this file")
	ear := fs.Bool("mouth-to-ear", false, "measure mouth-to-ear delay instead (real Opus codec, in-process relay, jitter buffer; about 5 s)")
	relayData := fs.String("relay-data", "", "load the relay already running on this machine with this data directory instead (its units and talkgroups are added through its admin socket and removed at the end; needs DIR/ca.key)")
	serverAddr := fs.String("server", "", "with --relay-data: the running relay's loopback address (default: the agency's advertised address)")
	cleanup := fs.Bool("relay-cleanup", false, "with --relay-data: only remove the units and talkgroups an interrupted bench run left in that agency's roster")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if *ear {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		r, err := bench.MouthToEar(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return r.WriteJSON(out)
		}
		return r.WriteTable(out)
	}
	cfg := bench.Config{Units: *units, Talkgroups: *tgs, Listeners: *listeners, Talkers: *talkers, Duration: *dur, Burst: *burst}
	var note string
	switch {
	case (*serverAddr != "" || *cleanup) && *relayData == "":
		return errors.New("bench: --server and --relay-cleanup go with --relay-data DIR (a running relay's data directory)")
	case *relayData != "" && (*inProcess || *vartad != "" || *cpuProfile != "" || *memProfile != ""):
		return errors.New("bench: --relay-data loads a relay that already runs; drop --in-process, --vartad and --relay-cpuprofile/--relay-memprofile")
	case *cleanup:
		nu, nt, err := bench.RemoveLeftovers(*relayData)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %d bench units and %d bench talkgroups from the roster in %s\n", nu, nt, *relayData)
		return nil
	case *relayData != "":
		cfg.RelayData, cfg.RelayAddr = *relayData, *serverAddr
	case *inProcess && (*vartad != "" || *cpuProfile != "" || *memProfile != ""):
		return errors.New("bench: --in-process runs no vartad; drop --vartad and --relay-cpuprofile/--relay-memprofile")
	case *inProcess:
	case *vartad != "":
		cfg.Vartad = *vartad
	default:
		cfg.Vartad = bench.FindVartad()
		if cfg.Vartad == "" {
			if *cpuProfile != "" || *memProfile != "" {
				return errors.New("bench: --relay-cpuprofile and --relay-memprofile need a vartad binary (give --vartad PATH)")
			}
			note = "no vartad binary next to varta or on PATH (build it with `make build`, or give --vartad PATH): the relay ran in this process, so CPU and memory are relay and load generator together"
		}
	}
	cfg.RelayCPUProfile, cfg.RelayMemProfile = *cpuProfile, *memProfile
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := bench.Run(ctx, cfg)
	if r == nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = fmt.Errorf("bench: interrupted: %w", err)
		}
		return err
	}
	// With a report, err can only say that a running relay's roster was
	// not cleaned up: print the report, then that.
	if note != "" {
		r.Notes = append([]string{note}, r.Notes...)
	}
	var werr error
	if *asJSON {
		werr = r.WriteJSON(out)
	} else {
		werr = r.WriteTable(out)
	}
	return errors.Join(err, werr)
}
