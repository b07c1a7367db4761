package integration

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/varta-ptt/varta/protocol/pb"
	"github.com/varta-ptt/varta/server"
)

// The relay's Prometheus metrics count what happened: sessions, floor
// grants and PTT access time, datagrams in, forwarded and out, drops by
// reason.
func TestMetrics(t *testing.T) {
	r := startRelay(t, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.srv.Collectors()...)
	ts := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer ts.Close()

	a := r.unit(101, "P-101", 100)
	b := r.unit(102, "P-102", 100)
	request(t, a, 100, 50, 0)
	sent := talk(t, a, 100, 20, true)
	receive(t, b, len(sent))
	a.SendVoice(frame(100, 102, 0, 0)) // spoofed: dropped
	waitFloor(t, b, 100, pb.FloorEventKind_FLOOR_EVENT_IDLE)
	waitDrop(t, r, server.DropSpoofed, 1)

	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	value := func(series string) float64 {
		t.Helper()
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in:\n%s", series, body)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	checks := []struct {
		series string
		want   float64
	}{
		{"varta_sessions", 2},
		{"varta_floor_grants_total", 1},
		{"varta_datagrams_forwarded_total", float64(len(sent))},
		{"varta_datagrams_out_total", float64(len(sent))},
		{`varta_datagrams_dropped_total{reason="spoofed-sender"}`, 1},
		{"varta_ptt_access_seconds_count", 1},
	}
	for _, c := range checks {
		if got := value(c.series); got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	if in := value("varta_datagrams_in_total"); in != float64(len(sent)+1) {
		t.Errorf("datagrams in = %v, want %d", in, len(sent)+1)
	}
}
