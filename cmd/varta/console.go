package main

import (
	"context"
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/varta-ptt/varta/codec"
	"github.com/varta-ptt/varta/tui"
)

// cmdConsole runs the dispatcher's console.
func cmdConsole(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("varta console", flag.ContinueOnError)
	identity := fs.String("identity", "", "the dispatcher position's identity file (from vartad unit add)")
	server := fs.String("server", "", "relay address HOST:PORT (default: the one in the identity)")
	noAudio := fs.Bool("no-audio", false, "do not open the speaker and microphone")
	pttFile := fs.String("ptt-file", "", "push-to-talk sends this WAV file instead of the microphone")
	recallDir := fs.String("recall-dir", ".", "where w saves recalled transmissions as WAV files")
	priority := fs.Uint("priority", 100, "floor priority to request (the relay caps it at the role's cap)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id, err := loadIdentity(*identity)
	if err != nil {
		return err
	}
	var clip []int16
	if *pttFile != "" {
		if clip, err = codec.ReadWAVFile(*pttFile); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return tui.RunConsole(ctx, tui.ConsoleRun{
		Identity:  id,
		Addr:      *server,
		NoAudio:   *noAudio,
		TxClip:    clip,
		RecallDir: *recallDir,
		Priority:  uint32(min(*priority, 255)),
		Output:    out,
	})
}
