package radio

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/varta-ptt/varta/client"
	"github.com/varta-ptt/varta/internal/position"
	"github.com/varta-ptt/varta/protocol/pb"
)

// Reporter keeps the relay told of a radio's status and position: both on
// every connect (the newest fix, which may have come while the radio was
// disconnected), and each new fix as it comes. Reports run in their own
// goroutines, each bounded in time, so a slow relay never holds up the
// caller.
type Reporter struct {
	ctx     context.Context
	session func() *client.Client
	status  string
	warn    func(error)
	last    atomic.Pointer[position.Fix]
}

// reportTimeout bounds one report.
const reportTimeout = 10 * time.Second

// NewReporter reports status (empty: none) and the fixes given to Fix on
// the current session (session returns nil while disconnected) until ctx
// is done; warn, if set, is told of reports that failed.
func NewReporter(ctx context.Context, session func() *client.Client, status string, warn func(error)) *Reporter {
	if warn == nil {
		warn = func(error) {}
	}
	return &Reporter{ctx: ctx, session: session, status: status, warn: warn}
}

// Connected reports the status and the newest fix on a new session. It
// does not block.
func (r *Reporter) Connected() {
	c := r.session()
	if c == nil {
		return
	}
	fix := r.last.Load()
	if r.status == "" && fix == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, reportTimeout)
		defer cancel()
		if r.status != "" {
			if err := c.SetStatus(ctx, r.status); err != nil {
				r.warn(err)
			}
		}
		if fix != nil {
			r.report(ctx, c, *fix)
		}
	}()
}

// Fix takes a new fix and reports it at once if the radio is connected.
// It does not block.
func (r *Reporter) Fix(fix position.Fix) {
	r.last.Store(&fix)
	c := r.session()
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(r.ctx, reportTimeout)
		defer cancel()
		r.report(ctx, c, fix)
	}()
}

// Position is the newest fix for an emergency alarm, or nil.
func (r *Reporter) Position() *pb.Position {
	fix := r.last.Load()
	if fix == nil {
		return nil
	}
	return &pb.Position{Lat: fix.Lat, Lon: fix.Lon, AccuracyM: fix.AccuracyM, TimeMs: time.Now().UnixMilli()}
}

func (r *Reporter) report(ctx context.Context, c *client.Client, fix position.Fix) {
	if err := c.ReportPosition(ctx, fix.Lat, fix.Lon, fix.AccuracyM, time.Now()); err != nil {
		r.warn(err)
	}
}
