package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/varta-ptt/varta/bench"
)

// cmdBench runs `varta bench`: a bounded load run against a relay it starts
// in-process on 127.0.0.1, printed as a table or, with --json, as JSON.
func cmdBench(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	units := fs.Int("units", 50, "units to connect")
	tgs := fs.Int("talkgroups", 5, "talkgroups")
	listeners := fs.Int("listeners", 0, "members per talkgroup (default units/talkgroups)")
	talkers := fs.Int("talkers", 5, "simultaneous talkers, at most one per talkgroup")
	dur := fs.Duration("for", 5*time.Second, "how long the talkers talk")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := bench.Run(ctx, bench.Config{Units: *units, Talkgroups: *tgs, Listeners: *listeners, Talkers: *talkers, Duration: *dur})
	if err != nil {
		return err
	}
	if *asJSON {
		return r.WriteJSON(out)
	}
	return r.WriteTable(out)
}
