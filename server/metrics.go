package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the relay's Prometheus metrics. Counters that the forwarding
// path updates are read from the relay's atomic counters when scraped, so
// the hot path pays nothing for them.
type metrics struct {
	accessTime prometheus.Histogram // floor request to grant
	keyEvents  *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		accessTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "varta", Name: "ptt_access_seconds",
			Help:    "PTT access time: from a floor request reaching the relay to its grant (immediate or from the queue).",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 1, 5, 30},
		}),
		keyEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "varta", Name: "key_distribution_events_total",
			Help: "Key distribution: epochs stored from the KMF, member keys pushed to radios, KMF rekey notices.",
		}, []string{"event"}),
	}
}

// observeAccess records a grant for a request that arrived at since.
func (m *metrics) observeAccess(since time.Time, now time.Time) {
	m.accessTime.Observe(now.Sub(since).Seconds())
}

// Collectors returns the relay's metrics for a Prometheus registry:
// sessions, floor events, PTT access time, voice datagrams in, out and
// dropped by reason, listener queue depth, and key distribution events.
func (s *Server) Collectors() []prometheus.Collector {
	c := &s.counters
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "varta", Name: name, Help: help}, f)
	}
	out := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "varta", Name: "sessions", Help: "Connected units."},
			func() float64 { return float64(c.sessions.Load()) }),
		counter("sessions_refused_total", "Connections refused (certificate, roster, role, stun).", func() float64 { return float64(c.refused.Load()) }),
		counter("datagrams_in_total", "Voice datagrams received.", func() float64 { return float64(c.datagramsIn.Load()) }),
		counter("datagrams_forwarded_total", "Voice datagrams accepted from a floor holder.", func() float64 { return float64(c.forwarded.Load()) }),
		counter("datagrams_out_total", "Voice datagram copies handed to listeners' connections.", func() float64 { return float64(c.sent.Load()) }),
		counter("floor_grants_total", "Floor grants.", func() float64 { return float64(c.floorGrants.Load()) }),
		counter("floor_denials_total", "Floor denials.", func() float64 { return float64(c.floorDenies.Load()) }),
		counter("floor_queued_total", "Floor requests queued.", func() float64 { return float64(c.floorQueued.Load()) }),
		counter("floor_revocations_total", "Floors revoked (pre-emption, talk time, no media, leaving).", func() float64 { return float64(c.floorRevokes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "varta", Name: "voice_queue_depth",
			Help: "Voice datagrams waiting in listeners' queues, summed over sessions."}, s.queueDepth),
		s.metrics.accessTime,
		s.metrics.keyEvents,
	}
	for r := DropReason(0); r < numDropReasons; r++ {
		out = append(out, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "varta", Name: "datagrams_dropped_total", Help: "Voice datagrams dropped, by reason.",
			ConstLabels: prometheus.Labels{"reason": r.String()},
		}, func() float64 { return float64(c.drops[r].Load()) }))
	}
	return out
}

// queueDepth sums the listeners' voice queues.
func (s *Server) queueDepth() float64 {
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	n := 0
	for _, sess := range sessions {
		n += sess.voice.len()
	}
	return float64(n)
}
