package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/server"
	"github.com/varta-ptt/varta/server/store"
)

const (
	readyLimit = 30 * time.Second // a spawned vartad must say where it listens within this
	stopLimit  = 10 * time.Second // a spawned vartad must exit this long after SIGTERM, else SIGKILL
)

// Relay modes, as in Report.RelayMode.
const (
	modeChild     = "vartad child"
	modeInProcess = "in-process"
	modeRunning   = "running"
)

// relay is the relay under load: in this process, a vartad child, or a
// relay that was already running; the CPU time and resident memory of the
// latter two are read from /proc.
type relay struct {
	addr    string
	pid     int // 0 when in-process
	mode    string
	desc    string
	stop    func()
	metrics string // the child's Prometheus endpoint, or ""
	// cleanup, for a running relay, removes the bench's units and
	// talkgroups from it again; nil otherwise.
	cleanup func() error
}

// memStats is where a relay's memory goes, from the Go runtime.
type memStats struct {
	goroutines, heapInuse, stackInuse float64 // count, bytes, bytes
}

// mem reads the relay's goroutines and heap and stack in use: from the
// child's metrics endpoint, or from this process's runtime when in-process.
func (r *relay) mem() (memStats, bool) {
	if r.pid == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return memStats{float64(runtime.NumGoroutine()), float64(ms.HeapInuse), float64(ms.StackInuse)}, true
	}
	if r.metrics == "" {
		return memStats{}, false
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(r.metrics)
	if err != nil {
		return memStats{}, false
	}
	defer resp.Body.Close()
	var m memStats
	found := 0
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 16<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		var dst *float64
		switch f[0] {
		case "go_goroutines":
			dst = &m.goroutines
		case "go_memstats_heap_inuse_bytes":
			dst = &m.heapInuse
		case "go_memstats_stack_inuse_bytes":
			dst = &m.stackInuse
		default:
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return memStats{}, false
		}
		*dst = v
		found++
	}
	return m, found == 3
}

// cpu returns the relay's CPU time so far: the child's from /proc, or this
// process's (relay and load generator together) when in-process.
func (r *relay) cpu() time.Duration {
	if r.pid == 0 {
		return selfCPU()
	}
	return procCPU(r.pid)
}

// rss returns the relay's resident memory in bytes (0 if unknown).
func (r *relay) rss() int64 {
	if r.pid == 0 {
		return procRSS("self")
	}
	return procRSS(strconv.Itoa(r.pid))
}

// prepareAgency creates an agency in dir (CA, relay identity) with
// talkgroups firstTG.. and the units enrolled directly in the store, before
// any relay runs: issuing is spread over the cores, and the store is written
// by this process alone. It sets each unit's ident.
func prepareAgency(ctx context.Context, dir string, talkgroups int, units []*unit) error {
	if _, err := agency.Init(dir, "Varta Bench", "127.0.0.1:7700", []string{"127.0.0.1", "localhost"}); err != nil {
		return err
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		return err
	}
	if err := issueIdentities(ctx, ca, "127.0.0.1:7700", units); err != nil {
		return err
	}
	st, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		return err
	}
	defer st.Close()
	for g := range talkgroups {
		if err := st.AddTalkgroup(store.Talkgroup{ID: uint16(firstTG + g), Name: benchPrefix + strconv.Itoa(g+1)}); err != nil {
			return err
		}
	}
	for _, u := range units {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := u.record()
		if err != nil {
			return err
		}
		if err := st.AddUnit(rec); err != nil {
			return err
		}
	}
	return st.Close()
}

// benchPrefix starts the alias of every bench unit and the name of every
// bench talkgroup.
const benchPrefix = "Bench "

// issueIdentities issues each unit an officer identity for the relay at
// serverAddr, in parallel (key generation and signing are the cost), and
// sets its ident.
func issueIdentities(ctx context.Context, ca *pki.CA, serverAddr string, units []*unit) error {
	var (
		wg       sync.WaitGroup
		next     = make(chan *unit)
		errOnce  sync.Once
		issueErr error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for u := range next {
				id, err := pki.IssueUnit(ca, pki.UnitSpec{ID: u.id, Alias: benchPrefix + strconv.Itoa(int(u.id)), Role: string(store.RoleOfficer), Server: serverAddr}, rand.Reader, time.Now())
				if err != nil {
					errOnce.Do(func() { issueErr = err })
					continue
				}
				u.ident = id
			}
		})
	}
	for _, u := range units {
		if ctx.Err() != nil {
			break
		}
		next <- u
	}
	close(next)
	wg.Wait()
	if issueErr != nil {
		return issueErr
	}
	return ctx.Err()
}

// record is u's roster entry: its identity, and its talkgroup if it has one.
func (u *unit) record() (store.Unit, error) {
	var tgs []uint16
	if u.tg != 0 {
		tgs = []uint16{u.tg}
	}
	return agency.UnitRecord(u.ident, tgs)
}

// startInProcess serves the agency in dir from this process on 127.0.0.1.
func startInProcess(dir string) (*relay, error) {
	id, err := pki.LoadServer(dir)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		return nil, err
	}
	srv, err := server.New(server.Config{Store: st, Identity: id})
	if err != nil {
		st.Close()
		return nil, err
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		st.Close()
		return nil, err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(context.Background(), pc) }()
	return &relay{
		addr: pc.LocalAddr().String(),
		mode: modeInProcess,
		desc: "in-process relay (relay and load generator share one process: CPU and RSS are both together)",
		stop: func() {
			sctx, cancel := context.WithTimeout(context.Background(), stopLimit)
			defer cancel()
			srv.Shutdown(sctx, "bench over")
			select {
			case <-serveErr:
			case <-sctx.Done():
			}
			pc.Close()
			st.Close()
		},
	}, nil
}

// spawnVartad runs `vartad serve` on the agency in dir as a child process
// listening on 127.0.0.1 (a port of its choosing), without the embedded KMF
// so that key distribution does not load the relay, and waits until it says
// where it listens. The child is killed by stop, and by the kernel if this
// process dies first.
func spawnVartad(ctx context.Context, path, dir, cpuProfile, memProfile string) (*relay, error) {
	args := []string{"serve", "--data", dir, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--log-level", "warn", "--kmf=false", "--snapshot-every", "24h"}
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	if memProfile != "" {
		args = append(args, "--memprofile", memProfile)
	}
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", path, err)
	}
	exited := make(chan struct{})
	var tail lastLines
	addrc := make(chan string, 1)
	metricsc := make(chan string, 1)
	go func() {
		// Read stderr to the end so the child never blocks on it; keep the
		// last lines for an error message.
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			if _, rest, ok := strings.Cut(line, "Prometheus metrics on "); ok {
				select {
				case metricsc <- strings.TrimSpace(rest):
				default:
				}
			}
			if _, rest, ok := strings.Cut(line, "relay listening on "); ok {
				a, _, _ := strings.Cut(rest, " ")
				select {
				case addrc <- a:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(exited)
	}()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopLimit):
			cmd.Process.Kill()
			<-exited
		}
	}
	t := time.NewTimer(readyLimit)
	defer t.Stop()
	select {
	case a := <-addrc:
		r := &relay{addr: a, pid: cmd.Process.Pid, mode: modeChild, desc: fmt.Sprintf("vartad child process %d (%s)", cmd.Process.Pid, path), stop: stop}
		select {
		case r.metrics = <-metricsc: // printed before the listening line
		default:
		}
		return r, nil
	case <-exited:
		return nil, fmt.Errorf("bench: %s exited before listening: %s", path, tail.String())
	case <-t.C:
		stop()
		return nil, fmt.Errorf("bench: %s did not start listening within %s: %s", path, readyLimit, tail.String())
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
}

// FindVartad returns the vartad binary next to this executable, else the
// one on PATH, else "".
func FindVartad() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "vartad")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("vartad"); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
	}
	return ""
}

// lastLines keeps the last few lines of a child's output.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 8 {
		l.lines = l.lines[1:]
	}
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(l.lines, " | ")
}

// raiseFileLimit lifts the soft limit on open files to the hard limit and
// checks that need descriptors fit (each client unit has its own UDP
// socket).
func raiseFileLimit(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // not Linux-like; let the dials report it
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if uint64(need) > lim.Cur {
		return fmt.Errorf("bench: %d units need about %d open files but the limit is %d (raise it with `ulimit -n`)", need-fileMargin, need, lim.Cur)
	}
	return nil
}

const fileMargin = 256 // descriptors besides the units' sockets

// selfCPU returns this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's times; 100 on Linux
// for every architecture Go supports.
const clockTick = 100

// procCPU returns utime+stime of process pid from /proc/PID/stat, or 0.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields from the state (3) on follow the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0
	}
	return time.Duration(ut+st) * time.Second / clockTick
}

// procRSS returns VmRSS of /proc/WHO/status in bytes ("self" or a PID), or 0.
func procRSS(who string) int64 {
	b, err := os.ReadFile("/proc/" + who + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) < 1 {
				return 0
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
