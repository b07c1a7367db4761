package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("real QUIC load run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Units: 20, Talkgroups: 4, Talkers: 2, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if r.Delivered <= 0 {
		t.Errorf("delivered = %d", r.Delivered)
	}
	if r.Lost != 0 {
		t.Errorf("lost %d of %d", r.Lost, r.Expected)
	}
	// Every field is filled, except those that are zero on a clean run.
	zeroOK := map[string]bool{"Lost": true, "LossRatio": true, "Denied": true, "QueuedGrants": true}
	v := reflect.ValueOf(*r)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if !zeroOK[name] && v.Field(i).IsZero() {
			t.Errorf("report field %s is empty", name)
		}
	}
	buf.Reset()
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if _, ok := back["latency_p999_ms"]; !ok || !strings.Contains(buf.String(), "delivered_per_second") {
		t.Errorf("JSON lacks fields: %s", buf.String())
	}
}

// TestRunDefault runs the default load when VARTA_BENCH_DEFAULT is set.
func TestRunDefault(t *testing.T) {
	if os.Getenv("VARTA_BENCH_DEFAULT") == "" {
		t.Skip("set VARTA_BENCH_DEFAULT=1 to run the default load")
	}
	r, err := Run(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r.WriteTable(&buf)
	r.WriteJSON(&buf)
	t.Log("\n" + buf.String())
}

func TestConfigBounds(t *testing.T) {
	for _, c := range []Config{{Units: 1}, {Units: MaxUnits + 1}, {Duration: time.Hour}, {Units: 10, Talkgroups: 6}} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v) accepted", c)
		}
	}
}
