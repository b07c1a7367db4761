// Command vartad is the Varta relay and its administration tool.
//
//	vartad init      --data DIR [--name NAME] [--advertise HOST:PORT] [--hosts H,H]
//	vartad serve     --data DIR [--listen 127.0.0.1:7700] ...
//	vartad talkgroup add|list|remove ...
//	vartad unit      add|list|remove|set-talkgroups|reissue ...
//	vartad snapshot  --data DIR
//	vartad audit     verify|list --data DIR
//	vartad kmf       --identity FILE [--server HOST:PORT]
//
// Roster commands work whether or not the relay runs: while it runs they go
// through its admin socket and take effect at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/kmf"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

const usage = `vartad: the Varta relay and its administration.

  vartad init      --data DIR [--name NAME] [--advertise HOST:PORT] [--hosts H,H,...]
  vartad serve     --data DIR [--listen 127.0.0.1:7700] [--log-level info] [--max-talk-time 60s]
                   [--roles officer,dispatcher,commander,kmf,recorder] [--snapshot-every 1h] [--metrics 127.0.0.1:9700]
                   [--kmf=false] [--cpuprofile FILE] [--memprofile FILE]
  vartad talkgroup add    --data DIR --id 100 --name "Patrol North" [--priority N]
  vartad talkgroup list   --data DIR
  vartad talkgroup remove --data DIR --id 100
  vartad unit add    --data DIR --id 101 --alias P-101 --role officer --talkgroups 100,200 --out FILE
  vartad unit list   --data DIR
  vartad unit remove --data DIR --id 101
  vartad unit set-talkgroups --data DIR --id 101 --talkgroups 100,300
  vartad unit reissue --data DIR --id 101 --out FILE   (new identity file; the old one stops working)
  vartad snapshot  --data DIR
  vartad audit verify --data DIR | --file SNAPSHOT   (check the audit log's hash chain)
  vartad audit list   --data DIR | --file SNAPSHOT [--from N] [--limit N]
  vartad kmf       --identity FILE [--server HOST:PORT] [--rekey-every 24h] [--log-level info]
                   (standalone key management facility)

Roles: officer, dispatcher, commander, kmf, recorder.
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vartad:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "init":
		return cmdInit(args, out)
	case "serve":
		return cmdServe(args)
	case "talkgroup", "tg":
		return cmdTalkgroup(args, out)
	case "unit":
		return cmdUnit(args, out)
	case "snapshot":
		return cmdSnapshot(args, out)
	case "audit":
		return cmdAudit(args, out)
	case "kmf":
		return cmdKMF(args)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func newFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("vartad "+name, flag.ContinueOnError)
	data := fs.String("data", "", "agency data directory (required)")
	return fs, data
}

func parse(fs *flag.FlagSet, args []string, data *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *data == "" {
		return errors.New("--data DIR is required")
	}
	return nil
}

func cmdInit(args []string, out io.Writer) error {
	fs, data := newFlags("init")
	name := fs.String("name", "Varta Agency", "agency name, shown in certificates")
	advertise := fs.String("advertise", "127.0.0.1:7700", "relay address written into unit identity files")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "names and addresses in the relay's certificate")
	if err := parse(fs, args, data); err != nil {
		return err
	}
	info, err := agency.Init(*data, *name, *advertise, splitList(*hosts))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "created agency %q in %s\n  CA: %s\n  relay address for identity files: %s\nnext: add talkgroups and units, then `vartad serve --data %s`\n",
		info.Name, *data, filepath.Join(*data, "ca.crt"), info.Advertise, *data)
	return nil
}

func cmdServe(args []string) error {
	fs, data := newFlags("serve")
	listen := fs.String("listen", "127.0.0.1:7700", "UDP address to listen on")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	maxTalk := fs.Duration("max-talk-time", 60*time.Second, "longest a unit may hold the floor")
	snapEvery := fs.Duration("snapshot-every", time.Hour, "how often to snapshot the roster")
	roleList := fs.String("roles", "officer,dispatcher,commander,kmf,recorder", "roles that may connect")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics on this address, e.g. 127.0.0.1:9700 (default: off)")
	embeddedKMF := fs.Bool("kmf", true, "run the key management facility inside the relay, as the unit in DIR/kmf.pem")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file, for `go tool pprof` (default: off)")
	memProfile := fs.String("memprofile", "", "on SIGINT or SIGTERM, before the units are told, write a heap profile to this file (default: off)")
	if err := parse(fs, args, data); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	var roles []store.Role
	for _, r := range splitList(*roleList) {
		role, err := store.ParseRole(r)
		if err != nil {
			return fmt.Errorf("--roles: %w", err)
		}
		roles = append(roles, role)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if _, err := agency.Load(*data); err != nil {
		return err
	}
	id, err := pki.LoadServer(*data)
	if err != nil {
		return err
	}
	st, err := store.Open(store.Config{Dir: *data, Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := server.New(server.Config{Store: st, Identity: id, Logger: log, MaxTalkTime: *maxTalk, AllowedRoles: roles})
	if err != nil {
		return err
	}
	addr, err := net.ResolveUDPAddr("udp", *listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	pc, err := net.ListenUDP("udp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	defer pc.Close()
	adminLn, err := server.ListenAdmin(filepath.Join(*data, server.AdminSocketName))
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go srv.ServeAdmin(ctx, adminLn)
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(srv.Collectors()...)
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(mln)
		defer hs.Close()
		fmt.Fprintf(os.Stderr, "vartad: Prometheus metrics on http://%s/metrics\n", mln.Addr())
	}
	if _, err := st.Snapshot(); err != nil {
		log.Warn("snapshot at start", "err", err)
	}
	go st.RunSnapshots(ctx, *snapEvery)

	fmt.Fprintf(os.Stderr, "vartad: relay listening on %s (UDP/QUIC, ALPN %s); admin socket %s\n", pc.LocalAddr(), pki.ALPN, filepath.Join(*data, server.AdminSocketName))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background(), pc) }()
	kmfDone := make(chan struct{})
	kmfCtx, stopKMF := context.WithCancel(context.Background())
	defer func() { stopKMF(); <-kmfDone }()
	if *embeddedKMF {
		go func() {
			defer close(kmfDone)
			runEmbeddedKMF(kmfCtx, *data, pc.LocalAddr().(*net.UDPAddr), log)
		}()
	} else {
		close(kmfDone)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			return err
		}
	}
	stopKMF()
	<-kmfDone
	if *memProfile != "" {
		writeHeapProfile(*memProfile, log)
	}
	log.Info("shutting down: telling connected units")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx, "the relay is shutting down for maintenance; reconnect when it is back"); err != nil {
		log.Warn("shutdown", "err", err)
	}
	<-errc
	if err := st.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	log.Info("relay stopped; stores closed")
	return nil
}

// writeHeapProfile writes the live heap, after a collection, to path.
func writeHeapProfile(path string, log *slog.Logger) {
	f, err := os.Create(path)
	if err != nil {
		log.Warn("--memprofile", "err", err)
		return
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		log.Warn("--memprofile", "err", err)
	}
}

func cmdTalkgroup(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("talkgroup: give add, list or remove")
	}
	sub, args := args[0], args[1:]
	fs, data := newFlags("talkgroup " + sub)
	id := fs.Uint("id", 0, "talkgroup ID, 1..65535")
	name := fs.String("name", "", "talkgroup name")
	prio := fs.Uint("priority", 0, "talkgroup priority, 0..255")
	if err := parse(fs, args, data); err != nil {
		return err
	}
	roster, closeRoster, err := agency.OpenRoster(*data)
	if err != nil {
		return err
	}
	defer closeRoster()
	switch sub {
	case "add":
		if *id == 0 || *id > 65535 || *prio > 255 {
			return errors.New("talkgroup add: --id must be 1..65535 and --priority 0..255")
		}
		if err := roster.AddTalkgroup(store.Talkgroup{ID: uint16(*id), Name: *name, Priority: uint8(*prio)}); err != nil {
			return err
		}
		fmt.Fprintf(out, "talkgroup %d %q added\n", *id, *name)
	case "remove":
		if *id == 0 || *id > 65535 {
			return errors.New("talkgroup remove: --id must be 1..65535")
		}
		if err := roster.RemoveTalkgroup(uint16(*id)); err != nil {
			return err
		}
		fmt.Fprintf(out, "talkgroup %d removed\n", *id)
	case "list":
		tgs, err := roster.Talkgroups()
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tPRIORITY")
		for _, t := range tgs {
			fmt.Fprintf(w, "%d\t%s\t%d\n", t.ID, t.Name, t.Priority)
		}
		return w.Flush()
	default:
		return fmt.Errorf("talkgroup: unknown command %q (add, list, remove)", sub)
	}
	return nil
}

func cmdUnit(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("unit: give add, list, remove, set-talkgroups or reissue")
	}
	sub, args := args[0], args[1:]
	fs, data := newFlags("unit " + sub)
	id := fs.Uint("id", 0, "unit ID, 1..16777215")
	alias := fs.String("alias", "", "unit alias, e.g. P-101")
	role := fs.String("role", "officer", "officer, dispatcher, commander, kmf or recorder")
	tgList := fs.String("talkgroups", "", "comma-separated talkgroup IDs")
	outFile := fs.String("out", "", "identity file to write (mode 0600)")
	srvAddr := fs.String("server", "", "relay address in the identity file (default: the agency's advertised address)")
	validFor := fs.Duration("valid-for", 2*365*24*time.Hour, "certificate lifetime")
	if err := parse(fs, args, data); err != nil {
		return err
	}
	tgs, err := parseTalkgroups(*tgList)
	if err != nil {
		return err
	}
	if sub != "list" && (*id == 0 || *id > 16777215) {
		return fmt.Errorf("unit %s: --id must be 1..16777215", sub)
	}
	roster, closeRoster, err := agency.OpenRoster(*data)
	if err != nil {
		return err
	}
	defer closeRoster()
	switch sub {
	case "add":
		if *outFile == "" {
			return errors.New("unit add: --out FILE is required (the unit's identity file)")
		}
		r, err := store.ParseRole(*role)
		if err != nil {
			return err
		}
		ident, err := agency.Enrol(*data, roster, agency.EnrolSpec{
			ID: uint32(*id), Alias: *alias, Role: r, Talkgroups: tgs, Server: *srvAddr, ValidFor: *validFor, Out: *outFile,
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "unit %d %q (%s) enrolled; identity file %s for relay %s\n", ident.UnitID, ident.Alias, ident.Role, *outFile, ident.Server)
	case "remove":
		if err := roster.RemoveUnit(uint32(*id)); err != nil {
			return err
		}
		fmt.Fprintf(out, "unit %d removed; its identity file no longer connects\n", *id)
	case "reissue":
		if *outFile == "" {
			return errors.New("unit reissue: --out FILE is required (the unit's new identity file)")
		}
		ident, err := agency.Reissue(*data, roster, uint32(*id), *srvAddr, *outFile, *validFor)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "unit %d %q re-issued; new identity file %s; the old one no longer connects\n", ident.UnitID, ident.Alias, *outFile)
	case "set-talkgroups":
		u, err := roster.SetUnitTalkgroups(uint32(*id), tgs)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "unit %d talkgroups: %s\n", u.ID, joinTalkgroups(u.Talkgroups))
	case "list":
		units, err := roster.Units()
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tALIAS\tROLE\tTALKGROUPS\tSTUNNED")
		for _, u := range units {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%v\n", u.ID, u.Alias, u.Role, joinTalkgroups(u.Talkgroups), u.Stunned)
		}
		return w.Flush()
	default:
		return fmt.Errorf("unit: unknown command %q (add, list, remove, set-talkgroups, reissue)", sub)
	}
	return nil
}

func cmdSnapshot(args []string, out io.Writer) error {
	fs, data := newFlags("snapshot")
	if err := parse(fs, args, data); err != nil {
		return err
	}
	if store.Locked(*data) {
		return fmt.Errorf("the relay is running and snapshots %s itself (see %s); stop it to take one by hand", *data, filepath.Join(*data, "snapshots"))
	}
	st, err := store.Open(store.Config{Dir: *data})
	if err != nil {
		return err
	}
	defer st.Close()
	path, err := st.Snapshot()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "snapshot written to %s\n", path)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseTalkgroups(s string) ([]uint16, error) {
	var tgs []uint16
	for _, f := range splitList(s) {
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("--talkgroups: %q is not a talkgroup ID (1..65535)", f)
		}
		tgs = append(tgs, uint16(n))
	}
	return tgs, nil
}

func joinTalkgroups(tgs []uint16) string {
	if len(tgs) == 0 {
		return "-"
	}
	s := make([]string, len(tgs))
	for i, t := range tgs {
		s[i] = strconv.Itoa(int(t))
	}
	return strings.Join(s, ",")
}

// runEmbeddedKMF runs the key management facility against this relay over
// loopback, as the kmf unit whose identity is DIR/kmf.pem.
func runEmbeddedKMF(ctx context.Context, data string, listen *net.UDPAddr, log *slog.Logger) {
	path := filepath.Join(data, agency.KMFFile)
	id, err := pki.LoadIdentityFile(path)
	if err != nil {
		log.Warn("no embedded key management facility: talkgroups get no voice keys until a KMF connects", "err", err,
			"fix", "vartad unit add --data "+data+" --role kmf --id 16777214 --alias KMF --out "+path)
		return
	}
	addr := listen.String()
	if listen.IP.IsUnspecified() {
		addr = net.JoinHostPort("127.0.0.1", fmt.Sprint(listen.Port))
		if listen.IP.To4() == nil {
			addr = net.JoinHostPort("::1", fmt.Sprint(listen.Port))
		}
	}
	log.Info("embedded key management facility starting", "unit", id.UnitID)
	if err := kmf.Run(ctx, kmf.Config{Identity: id, Addr: addr, Logger: log}); err != nil {
		log.Error("key management facility stopped", "err", err)
	}
}

func cmdKMF(args []string) error {
	fs := flag.NewFlagSet("vartad kmf", flag.ContinueOnError)
	identity := fs.String("identity", "", "the KMF unit's identity file (role kmf)")
	srvAddr := fs.String("server", "", "relay address (default: the one in the identity file)")
	rekey := fs.Duration("rekey-every", 24*time.Hour, "rekey every talkgroup this often")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *identity == "" {
		return errors.New("--identity FILE is required")
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	id, err := pki.LoadIdentityFile(*identity)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return kmf.Run(ctx, kmf.Config{Identity: id, Addr: *srvAddr, Logger: log, RekeyEvery: *rekey})
}
