// Package bench is the load generator behind `varta bench`: it prepares an
// agency in a temporary directory (generated CA, units enrolled directly in
// the store before any relay runs), starts a relay on 127.0.0.1 (a vartad
// child process whose own CPU time and resident memory are read from /proc,
// or a relay in this process), connects N units to it over real QUIC, and
// has T talkers send Opus-sized voice frames at 50 per second on G
// talkgroups for a bounded time, with floors changing hands and some
// listeners joining late.
//
// Against a relay that already runs on this machine (Config.RelayData), it
// enrols its units and creates its talkgroups through the relay's admin
// socket instead, in ID ranges reserved for it (see running.go), measures
// the relay process found from the socket's peer credentials, and removes
// them all again at the end.
//
// The voice payload is opaque: a 6-byte clear header and 60 bytes whose
// first 8 carry the send time. The relay reads only the header and never
// opens the sealed frame, so opaque bytes load it exactly as sealed Opus
// frames of the same size would. Sender and receivers share one process and
// one clock, so latency is send-to-receive time: the relay's forwarding plus
// the client libraries' and the loopback kernel path's overhead.
package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/crypto/pki"
	"github.com/varta-ptt/varta/internal/agency"
	"github.com/varta-ptt/varta/protocol"
	"github.com/varta-ptt/varta/protocol/pb"
)

const (
	frameInterval = 20 * time.Millisecond // 50 frames per second
	payloadLen    = 60                    // an Opus frame at about 16 kbit/s plus SFrame overhead
	firstTG       = 100
	firstUnit     = 1001
	opTimeout     = 10 * time.Second // bound on every dial and request
	drainLimit    = 3 * time.Second  // wait for stragglers after the last frame

	idleSettle = 2 * time.Second // all units connected, nobody talking, before the relay's RSS is read

	// Limits keep every run bounded in time and count.
	MaxUnits    = 20000
	MaxDuration = 10 * time.Minute
)

// setupLimit bounds enrolment, connection and the drain of a run of n units
// (beyond the talk time): a minute plus 20 ms per unit.
func setupLimit(n int) time.Duration {
	return time.Minute + time.Duration(n)*20*time.Millisecond
}

// Config is one run's load.
type Config struct {
	Units      int           // units connected; default 50
	Talkgroups int           // talkgroups; default 5
	Listeners  int           // members per talkgroup; default Units/Talkgroups
	Talkers    int           // simultaneous talkers, at most one per talkgroup; default 5
	Duration   time.Duration // how long the talkers talk; default 5 s
	Burst      time.Duration // one transmission before the floor changes hands; default 1 s

	// Vartad is the vartad binary to run as the relay, a child process on
	// 127.0.0.1 whose own CPU time and resident memory are measured. ""
	// runs the relay in this process (CPU and memory then include the load
	// generator's).
	Vartad string
	// RelayCPUProfile, with Vartad, is passed to `vartad serve --cpuprofile`.
	RelayCPUProfile string
	// RelayMemProfile, with Vartad, is passed to `vartad serve
	// --memprofile`: the relay is then stopped before the units disconnect,
	// so that the heap profile holds every unit's session.
	RelayMemProfile string

	// RelayData, when set, is the data directory of a relay already running
	// on this machine: the load runs against it instead of a relay the bench
	// starts (Vartad and the profiles must then be empty). Its CA key
	// (ca.key) must be there, to issue the bench's identities.
	RelayData string
	// RelayAddr, with RelayData, is the relay's UDP address; it must be on
	// loopback. Default: the agency's advertised address.
	RelayAddr string
}

func (c *Config) setDefaults() error {
	if c.Units == 0 {
		c.Units = 50
	}
	if c.Talkgroups == 0 {
		c.Talkgroups = 5
	}
	if c.Talkers == 0 {
		c.Talkers = 5
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.Burst == 0 {
		c.Burst = time.Second
	}
	switch {
	case c.Units < 2 || c.Units > MaxUnits:
		return fmt.Errorf("bench: units must be between 2 and %d", MaxUnits)
	case c.Talkgroups < 1 || c.Talkgroups > c.Units/2:
		return fmt.Errorf("bench: talkgroups must be between 1 and units/2 (%d), so each has a talker and a listener", c.Units/2)
	case c.Duration < time.Second || c.Duration > MaxDuration:
		return fmt.Errorf("bench: duration must be between 1s and %s", MaxDuration)
	case c.Burst < 5*frameInterval:
		return errors.New("bench: burst must be at least 100ms")
	case c.Talkers < 1:
		return errors.New("bench: talkers must be at least 1")
	case c.Listeners < 0:
		return errors.New("bench: listeners must not be negative")
	}
	if c.Listeners == 0 || c.Listeners > c.Units/c.Talkgroups {
		c.Listeners = c.Units / c.Talkgroups
	}
	if c.Listeners < 2 {
		return errors.New("bench: each talkgroup needs at least 2 members")
	}
	if c.Talkers > c.Talkgroups {
		c.Talkers = c.Talkgroups // one floor per talkgroup
	}
	if c.RelayData != "" {
		switch {
		case c.Vartad != "" || c.RelayCPUProfile != "" || c.RelayMemProfile != "":
			return errors.New("bench: a run against a running relay starts no vartad and takes no relay profiles")
		case c.Units > agency.BenchUnitLast-agency.BenchUnitFirst+1:
			return fmt.Errorf("bench: a running relay takes at most %d bench units (IDs %d-%d)", agency.BenchUnitLast-agency.BenchUnitFirst+1, agency.BenchUnitFirst, agency.BenchUnitLast)
		case c.Talkgroups > agency.BenchTalkgroupLast-agency.BenchTalkgroupFirst+1:
			return fmt.Errorf("bench: a running relay takes at most %d bench talkgroups (IDs %d-%d)", agency.BenchTalkgroupLast-agency.BenchTalkgroupFirst+1, agency.BenchTalkgroupFirst, agency.BenchTalkgroupLast)
		}
	} else if c.RelayAddr != "" {
		return errors.New("bench: a relay address is given only with the data directory of a running relay")
	}
	return nil
}

// Report is what a run measured. Times are in milliseconds unless named otherwise.
type Report struct {
	Units                 int     `json:"units"`
	Talkgroups            int     `json:"talkgroups"`
	ListenersPerTalkgroup int     `json:"listeners_per_talkgroup"`
	Talkers               int     `json:"talkers"`
	DurationSeconds       float64 `json:"duration_seconds"`
	FrameBytes            int     `json:"frame_bytes"`

	ConnectSeconds  float64 `json:"connect_seconds"`
	ConnectsPerSec  float64 `json:"connects_per_second"`
	Sent            int64   `json:"sent"`
	Expected        int64   `json:"expected_deliveries"`
	Delivered       int64   `json:"delivered"` // to on-time listeners and late joiners
	DeliveredPerSec float64 `json:"delivered_per_second"`
	Lost            int64   `json:"lost"`
	LossRatio       float64 `json:"loss_ratio"`
	LatencyP50Ms    float64 `json:"latency_p50_ms"`
	LatencyP99Ms    float64 `json:"latency_p99_ms"`
	LatencyP999Ms   float64 `json:"latency_p999_ms"`
	Grants          int     `json:"floor_grants"`
	QueuedGrants    int     `json:"floor_grants_after_queue"`
	Denied          int     `json:"floor_denied"`
	PTTAccessP50Ms  float64 `json:"ptt_access_p50_ms"`
	PTTAccessP99Ms  float64 `json:"ptt_access_p99_ms"`
	LateJoiners     int     `json:"late_joiners"`
	LateEntryP50Ms  float64 `json:"late_entry_p50_ms"`
	LateEntryMaxMs  float64 `json:"late_entry_max_ms"`

	// Relay describes the relay under load; RelaySeparate is true when it
	// is a process of its own, so that its CPU and memory are its alone.
	// RelayMode is "vartad child", "in-process" or "running".
	Relay                          string   `json:"relay"`
	RelayMode                      string   `json:"relay_mode"`
	RelaySeparate                  bool     `json:"relay_separate_process"`
	EnrolSeconds                   float64  `json:"enrol_seconds"`
	RelayCPUSeconds                float64  `json:"relay_cpu_seconds"`
	RelayCPUMicrosPerDelivered     float64  `json:"relay_cpu_us_per_delivered"` // = CPU seconds per million delivered
	GeneratorCPUSeconds            float64  `json:"generator_cpu_seconds"`
	GeneratorCPUMicrosPerDelivered float64  `json:"generator_cpu_us_per_delivered"`
	RelayRSSIdleKiB                float64  `json:"relay_rss_kib_no_units"`
	RelayRSSKiB                    float64  `json:"relay_rss_kib_units_connected"`
	RelayRSSPerUnitKiB             float64  `json:"relay_rss_kib_per_unit"`
	RelayHeapKiBPerUnit            float64  `json:"relay_heap_inuse_kib_per_unit"`
	RelayStackKiBPerUnit           float64  `json:"relay_stack_inuse_kib_per_unit"`
	RelayGoroutinesPerUnit         float64  `json:"relay_goroutines_per_unit"`
	Notes                          []string `json:"notes"`
}

type unit struct {
	id    uint32
	tg    uint16 // 0: no talkgroup
	ident *pki.Identity
	c     *client.Client
	grant chan struct{} // GRANTED floor events

	mu        sync.Mutex
	lat       []int64 // nanoseconds
	received  atomic.Int64
	joinAt    atomic.Int64 // late joiner: when Affiliate was called
	firstLate atomic.Int64 // late joiner: first datagram after joinAt
}

type group struct {
	id     uint16
	steady []*unit // affiliated from the start; they take turns talking
	late   *unit   // affiliates during the first burst, or nil
}

// Run starts a relay, or attaches to the one running on cfg.RelayData, runs
// the load and returns the report. ctx bounds the whole run. The bench's
// units and talkgroups on a running relay are removed again afterwards,
// also when the run fails or ctx ends first (within cleanupLimit); when only
// that removal fails, Run returns the report and the error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	var addr string
	if cfg.RelayData != "" {
		a, err := runningRelayAddr(cfg.RelayData, cfg.RelayAddr)
		if err != nil {
			return nil, err
		}
		addr = a
	}
	if err := raiseFileLimit(cfg.Units + fileMargin); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration+setupLimit(cfg.Units))
	defer cancel()

	unitBase, tgBase := firstUnit, firstTG
	if cfg.RelayData != "" {
		unitBase, tgBase = agency.BenchUnitFirst, agency.BenchTalkgroupFirst
	}
	units, groups := plan(cfg, uint32(unitBase), uint16(tgBase))

	var rl *relay
	enrolStart := time.Now()
	var enrolTime time.Duration
	if cfg.RelayData != "" {
		var err error
		if rl, err = attachRunning(ctx, cfg.RelayData, addr, groups, units); err != nil {
			return nil, err
		}
		enrolTime = time.Since(enrolStart)
	} else {
		dir, err := os.MkdirTemp("", "varta-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := prepareAgency(ctx, filepath.Join(dir, "agency"), cfg.Talkgroups, units); err != nil {
			return nil, fmt.Errorf("bench: prepare the agency: %w", err)
		}
		enrolTime = time.Since(enrolStart)
		if cfg.Vartad != "" {
			rl, err = spawnVartad(ctx, cfg.Vartad, filepath.Join(dir, "agency"), cfg.RelayCPUProfile, cfg.RelayMemProfile)
		} else {
			rl, err = startInProcess(filepath.Join(dir, "agency"))
		}
		if err != nil {
			return nil, err
		}
	}
	rl.stop = sync.OnceFunc(rl.stop)
	defer rl.stop()
	rep, err := load(ctx, cfg, rl, units, groups)
	if rl.cleanup != nil {
		// The units are disconnected by now.
		if cerr := rl.cleanup(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	if rep != nil {
		rep.EnrolSeconds = enrolTime.Seconds()
	}
	return rep, err
}

// plan lays out the roster: unit i (ID unitBase+i) is a member of
// talkgroup i%G (ID tgBase+i%G) while that group has fewer than L members;
// the rest connect without a talkgroup.
func plan(cfg Config, unitBase uint32, tgBase uint16) ([]*unit, []*group) {
	units := make([]*unit, cfg.Units)
	groups := make([]*group, cfg.Talkgroups)
	for g := range groups {
		groups[g] = &group{id: tgBase + uint16(g)}
	}
	members := make([]int, cfg.Talkgroups)
	for i := range units {
		u := &unit{id: unitBase + uint32(i), grant: make(chan struct{}, 4)}
		if g := i % cfg.Talkgroups; members[g] < cfg.Listeners {
			members[g]++
			u.tg = groups[g].id
			// The last member of a talking group with three or more joins late.
			if g < cfg.Talkers && members[g] == cfg.Listeners && cfg.Listeners >= 3 {
				groups[g].late = u
			} else {
				groups[g].steady = append(groups[g].steady, u)
			}
		}
		units[i] = u
	}
	return units, groups
}

// load connects the units to rl, has them talk, measures, and disconnects
// them again before it returns.
func load(ctx context.Context, cfg Config, rl *relay, units []*unit, groups []*group) (*Report, error) {
	addr := rl.addr
	rep := &Report{
		Units: cfg.Units, Talkgroups: cfg.Talkgroups, ListenersPerTalkgroup: cfg.Listeners,
		Talkers: cfg.Talkers, DurationSeconds: cfg.Duration.Seconds(), FrameBytes: protocol.VoiceHeaderLen + payloadLen,
		Relay: rl.desc, RelayMode: rl.mode, RelaySeparate: rl.pid != 0,
	}

	// Connect every unit, 32 at a time, and affiliate the on-time members.
	time.Sleep(200 * time.Millisecond) // let the relay's start-up garbage settle
	rssBefore := rl.rss()
	memBefore, memOK := rl.mem()
	defer func() {
		if cfg.RelayMemProfile != "" {
			rl.stop() // the heap profile is written while the units are still connected
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, u := range units {
			if u.c != nil {
				sem <- struct{}{}
				wg.Go(func() { u.c.Close(); <-sem })
			}
		}
		wg.Wait()
	}()
	late := map[*unit]bool{}
	for _, g := range groups {
		if g.late != nil {
			late[g.late] = true
		}
	}
	connStart := time.Now()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var dialErr atomic.Pointer[error]
	for _, u := range units {
		if dialErr.Load() != nil || ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			dctx, dcancel := context.WithTimeout(ctx, opTimeout)
			defer dcancel()
			c, err := client.Dial(dctx, client.Config{Identity: u.ident, Addr: addr, DialTimeout: opTimeout, VoiceBuffer: 1024})
			if err != nil {
				err = fmt.Errorf("bench: dial unit %d: %w", u.id, err)
				dialErr.CompareAndSwap(nil, &err)
				return
			}
			u.c = c
		})
	}
	wg.Wait()
	if e := dialErr.Load(); e != nil {
		return nil, *e
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.ConnectSeconds = time.Since(connStart).Seconds()
	rep.ConnectsPerSec = float64(cfg.Units) / rep.ConnectSeconds
	for _, u := range units {
		go u.readEvents()
		go u.readVoice()
	}
	var affErr atomic.Pointer[error]
	for _, u := range units {
		if u.tg != 0 && !late[u] {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := u.affiliate(ctx); err != nil {
					affErr.CompareAndSwap(nil, &err)
				}
			})
		}
	}
	wg.Wait()
	if e := affErr.Load(); e != nil {
		return nil, *e
	}
	// Idle: every unit connected and affiliated, nobody talking.
	time.Sleep(idleSettle)
	if before, after := rssBefore, rl.rss(); before > 0 && after > 0 {
		rep.RelayRSSIdleKiB = float64(before) / 1024
		rep.RelayRSSKiB = float64(after) / 1024
		rep.RelayRSSPerUnitKiB = float64(after-before) / 1024 / float64(cfg.Units)
	}
	if m, ok := rl.mem(); ok && memOK {
		n := float64(cfg.Units)
		rep.RelayGoroutinesPerUnit = (m.goroutines - memBefore.goroutines) / n
		rep.RelayHeapKiBPerUnit = (m.heapInuse - memBefore.heapInuse) / 1024 / n
		rep.RelayStackKiBPerUnit = (m.stackInuse - memBefore.stackInuse) / 1024 / n
	}

	// Talk.
	var (
		sent, expected         atomic.Int64
		mu                     sync.Mutex
		access                 []int64
		grants, queued, denied int
	)
	relayCPUStart, genCPUStart := rl.cpu(), selfCPU()
	start := time.Now()
	end := start.Add(cfg.Duration)
	for _, g := range groups[:cfg.Talkers] {
		wg.Go(func() {
			for k := 0; time.Until(end) > frameInterval && ctx.Err() == nil; k++ {
				u := g.steady[k%len(g.steady)]
				t0 := time.Now()
				rctx, rcancel := context.WithTimeout(ctx, opTimeout)
				res, err := u.c.RequestFloor(rctx, uint32(g.id), 50, pb.Emergency_EMERGENCY_NONE)
				granted, wasQueued := false, false
				if err == nil {
					switch res.Status {
					case pb.FloorStatus_FLOOR_GRANTED:
						granted = true
					case pb.FloorStatus_FLOOR_QUEUED:
						wasQueued = true
						select {
						case <-u.grant:
							granted = true
						case <-rctx.Done():
						}
					}
				}
				rcancel()
				took := time.Since(t0)
				mu.Lock()
				if granted {
					grants++
					access = append(access, int64(took))
					if wasQueued {
						queued++
					}
				} else {
					denied++
				}
				mu.Unlock()
				if !granted {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				listeners := int64(len(g.steady) - 1)
				n := int(min(cfg.Burst, time.Until(end)) / frameInterval)
				n = max(n, 1)
				burstStart := time.Now()
				for i := range n {
					if g.late != nil && k == 0 && i == n/2 {
						go g.late.joinLate(ctx)
					}
					var flags uint8
					if i == n-1 {
						flags = protocol.FlagEndOfBurst
					}
					b := protocol.AppendVoiceHeader(make([]byte, 0, protocol.VoiceHeaderLen+payloadLen),
						protocol.VoiceHeader{Kind: protocol.KindGroupVoice, Flags: flags, Talkgroup: g.id, Sender: u.id})
					b = binary.BigEndian.AppendUint64(b, uint64(time.Now().UnixNano()))
					b = append(b, make([]byte, payloadLen-8)...)
					if err := u.c.SendVoice(b); err != nil {
						break
					}
					sent.Add(1)
					expected.Add(listeners)
					time.Sleep(time.Until(burstStart.Add(time.Duration(i+1) * frameInterval)))
				}
			}
		})
	}
	wg.Wait()
	talkTime := time.Since(start)

	// Let the last frames arrive.
	steadyReceived := func() int64 {
		var n int64
		for _, u := range units {
			if !late[u] {
				n += u.received.Load()
			}
		}
		return n
	}
	for drain := time.Now().Add(drainLimit); steadyReceived() < expected.Load() && time.Now().Before(drain); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // catch duplicates or late joiners' last frames
	relayCPU, genCPU := rl.cpu()-relayCPUStart, selfCPU()-genCPUStart

	rep.Sent, rep.Expected = sent.Load(), expected.Load()
	var lat, lateEntry []int64
	for _, u := range units {
		rep.Delivered += u.received.Load()
		u.mu.Lock()
		lat = append(lat, u.lat...)
		u.mu.Unlock()
		if late[u] {
			rep.LateJoiners++
			if f, j := u.firstLate.Load(), u.joinAt.Load(); f != 0 && j != 0 {
				lateEntry = append(lateEntry, f-j)
			}
		}
	}
	rep.Lost = rep.Expected - steadyReceived()
	if rep.Expected > 0 {
		rep.LossRatio = float64(rep.Lost) / float64(rep.Expected)
	}
	rep.DeliveredPerSec = float64(rep.Delivered) / talkTime.Seconds()
	rep.LatencyP50Ms, rep.LatencyP99Ms, rep.LatencyP999Ms = pct(lat, 0.5), pct(lat, 0.99), pct(lat, 0.999)
	rep.Grants, rep.QueuedGrants, rep.Denied = grants, queued, denied
	rep.PTTAccessP50Ms, rep.PTTAccessP99Ms = pct(access, 0.5), pct(access, 0.99)
	rep.LateEntryP50Ms, rep.LateEntryMaxMs = pct(lateEntry, 0.5), pct(lateEntry, 1)
	rep.RelayCPUSeconds = relayCPU.Seconds()
	rep.GeneratorCPUSeconds = genCPU.Seconds()
	if rep.Delivered > 0 {
		rep.RelayCPUMicrosPerDelivered = relayCPU.Seconds() / float64(rep.Delivered) * 1e6
		rep.GeneratorCPUMicrosPerDelivered = genCPU.Seconds() / float64(rep.Delivered) * 1e6
	}
	loopNote := "127.0.0.1 only: relay and load generator talk over loopback"
	if rl.mode == modeRunning {
		loopNote = "loopback only: the load generator talks to the running relay at " + addr
	}
	rep.Notes = []string{
		loopNote,
		fmt.Sprintf("voice frames are %d bytes: the 6-byte clear header and %d opaque bytes carrying the send time; the relay never opens the sealed payload, so opaque bytes load it as sealed Opus frames of the same size would", rep.FrameBytes, payloadLen),
		"latency is receive time minus send time on one clock: relay forwarding plus client library and loopback kernel overhead",
		"PTT access is RequestFloor to Granted, including any wait in the floor queue while the previous talker's burst drains",
		"late entry is a listener's Affiliate call during a burst to its first voice datagram; late joiners are counted in delivered, not in expected or lost",
		"loss is expected deliveries (frames sent by floor holders x on-time listeners) minus what those listeners received",
	}
	switch rl.mode {
	case modeChild:
		rep.Notes = append(rep.Notes,
			"relay CPU is the vartad process's utime+stime (/proc/PID/stat, 10 ms ticks) during talking and drain, divided by datagrams delivered; load generator CPU is this process's over the same window",
			fmt.Sprintf("relay RSS per unit is the vartad process's VmRSS with all %d units connected and affiliated, idle for %s, minus its VmRSS before the first connection, divided by units", cfg.Units, idleSettle),
			"relay memory per unit: the growth of the Go runtime's heap in use, stack in use and goroutine count over the same interval, from the relay's metrics endpoint (go_memstats_heap_inuse_bytes, go_memstats_stack_inuse_bytes, go_goroutines)",
			"the relay runs without the embedded KMF (--kmf=false), as the in-process relay does, so key distribution does not load it")
	case modeRunning:
		rep.Notes = append(rep.Notes,
			fmt.Sprintf("relay CPU is the running relay's (pid %d, found from its admin socket's peer credentials) utime+stime (/proc/PID/stat, 10 ms ticks) during talking and drain, divided by datagrams delivered: it includes whatever else that relay serves meanwhile, and its embedded KMF if it runs one", rl.pid),
			fmt.Sprintf("relay RSS per unit is the running relay's VmRSS with all %d bench units connected and affiliated, idle for %s, minus its VmRSS before the first of them connected, divided by units", cfg.Units, idleSettle),
			fmt.Sprintf("the bench's units (IDs %d-%d) and talkgroups (IDs %d-%d) were enrolled through the relay's admin socket, so they appear in its audit log, and removed again at the end", units[0].id, units[len(units)-1].id, groups[0].id, groups[len(groups)-1].id))
	default:
		rep.Notes = append(rep.Notes,
			"CPU is process CPU (relay and load generator together) during talking and drain",
			"RSS per unit is the process's resident memory growth while connecting and affiliating, divided by units (relay and client sessions together)")
	}
	if rep.Denied > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d floor requests were not granted", rep.Denied))
	}
	return rep, nil
}

func (u *unit) affiliate(ctx context.Context) error {
	actx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	res, err := u.c.Affiliate(actx, uint32(u.tg))
	if err != nil {
		return fmt.Errorf("bench: unit %d affiliate: %w", u.id, err)
	}
	for _, a := range res.Results {
		if !a.Ok {
			return fmt.Errorf("bench: unit %d affiliate %d: %s", u.id, a.Talkgroup, a.Reason)
		}
	}
	return nil
}

func (u *unit) joinLate(ctx context.Context) {
	u.joinAt.Store(time.Now().UnixNano())
	u.affiliate(ctx) // a failure shows as a late joiner with no entry time
}

func (u *unit) readEvents() {
	for {
		select {
		case env := <-u.c.Events():
			if fe := env.GetFloorEvent(); fe != nil && fe.Kind == pb.FloorEventKind_FLOOR_EVENT_GRANTED {
				select {
				case u.grant <- struct{}{}:
				default:
				}
			}
		case <-u.c.Done():
			return
		}
	}
}

func (u *unit) readVoice() {
	for {
		select {
		case b := <-u.c.Voice():
			now := time.Now().UnixNano()
			if len(b) < protocol.VoiceHeaderLen+8 {
				continue
			}
			sentAt := int64(binary.BigEndian.Uint64(b[protocol.VoiceHeaderLen:]))
			u.received.Add(1)
			if u.joinAt.Load() != 0 {
				u.firstLate.CompareAndSwap(0, now)
			}
			u.mu.Lock()
			u.lat = append(u.lat, now-sentAt)
			u.mu.Unlock()
		case <-u.c.Done():
			return
		}
	}
}

// pct returns the q-quantile of ns (nanoseconds) in milliseconds.
func pct(ns []int64, q float64) float64 {
	if len(ns) == 0 {
		return 0
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	i := min(int(q*float64(len(s))), len(s)-1)
	return float64(s[i]) / 1e6
}

// WriteTable prints r for a person.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("load", fmt.Sprintf("%d units, %d talkgroups of %d, %d talkers, %.0fs, %d-byte frames at 50/s", r.Units, r.Talkgroups, r.ListenersPerTalkgroup, r.Talkers, r.DurationSeconds, r.FrameBytes))
	if r.RelayMode == modeRunning {
		row("enrolment", fmt.Sprintf("%.2fs (identities issued, units and talkgroups added through the running relay's admin socket)", r.EnrolSeconds))
	} else {
		row("enrolment", fmt.Sprintf("%.2fs (identities issued and written to the store before the relay starts)", r.EnrolSeconds))
	}
	row("connection set-up", fmt.Sprintf("%.1f units/s (%d in %.2fs)", r.ConnectsPerSec, r.Units, r.ConnectSeconds))
	row("voice sent", strconv.FormatInt(r.Sent, 10))
	row("delivered", fmt.Sprintf("%d (%.0f datagrams/s)", r.Delivered, r.DeliveredPerSec))
	row("loss", fmt.Sprintf("%d of %d expected (%.4f%%)", r.Lost, r.Expected, 100*r.LossRatio))
	row("latency p50/p99/p99.9", fmt.Sprintf("%.2f / %.2f / %.2f ms", r.LatencyP50Ms, r.LatencyP99Ms, r.LatencyP999Ms))
	row("PTT access p50/p99", fmt.Sprintf("%.2f / %.2f ms (%d grants, %d after queueing, %d not granted)", r.PTTAccessP50Ms, r.PTTAccessP99Ms, r.Grants, r.QueuedGrants, r.Denied))
	row("late entry p50/max", fmt.Sprintf("%.2f / %.2f ms (%d late joiners)", r.LateEntryP50Ms, r.LateEntryMaxMs, r.LateJoiners))
	if r.RelaySeparate {
		row("relay CPU", fmt.Sprintf("%.2fs, %.2f µs per delivered datagram (s per million)", r.RelayCPUSeconds, r.RelayCPUMicrosPerDelivered))
		row("load generator CPU", fmt.Sprintf("%.2fs, %.2f µs per delivered datagram", r.GeneratorCPUSeconds, r.GeneratorCPUMicrosPerDelivered))
		before := "with no units"
		if r.RelayMode == modeRunning {
			before = "before the bench's units"
		}
		row("relay RSS", fmt.Sprintf("%.1f KiB per connected unit (%.0f KiB %s, %.0f KiB with %d idle units)", r.RelayRSSPerUnitKiB, r.RelayRSSIdleKiB, before, r.RelayRSSKiB, r.Units))
		if r.RelayGoroutinesPerUnit != 0 { // known from a metrics endpoint
			row("relay memory per unit", fmt.Sprintf("Go heap in use %.1f KiB, goroutine stacks %.1f KiB, %.1f goroutines", r.RelayHeapKiBPerUnit, r.RelayStackKiBPerUnit, r.RelayGoroutinesPerUnit))
		}
	} else {
		row("process CPU (relay+generator)", fmt.Sprintf("%.2fs, %.2f µs per delivered datagram", r.RelayCPUSeconds, r.RelayCPUMicrosPerDelivered))
		row("process RSS (relay+generator)", fmt.Sprintf("%.1f KiB per unit", r.RelayRSSPerUnitKiB))
	}
	row("relay", r.Relay)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintf(w, "  note: %s\n", n); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON prints r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
