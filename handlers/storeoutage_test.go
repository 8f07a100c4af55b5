package handlers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// TestStoreOutageRide: a run that fails while the store answers is handed
// back at once (the router's retries, the queue); one that fails while the
// store does not answer is held and run again once it does, or parked with
// a reason naming STORE_OUTAGE_HOLD past the hold, or handed back when the
// worker stops; the held gauge is back at 0 each time.
func TestStoreOutageRide(t *testing.T) {
	errRun := errors.New("register r1: connection refused")
	errDown := errors.New("store: ping: connection refused")
	for _, tc := range []struct {
		name string
		// storeUpAfter: pings fail until then (0: the store answers;
		// -1: never).
		storeUpAfter time.Duration
		// runFailsAlways: runs fail also once the store answers.
		runFailsAlways bool
		hold           time.Duration
		stop           time.Duration // close Stopping after (0: never)
		wantErr        error
		wantParked     bool
		wantRunsMin    int
		wantRunsMax    int
	}{
		{name: "store answers: not an outage", storeUpAfter: 0, hold: time.Minute, wantErr: errRun, wantRunsMin: 1, wantRunsMax: 1},
		{name: "store back: run again", storeUpAfter: 600 * time.Millisecond, hold: time.Minute, wantRunsMin: 2, wantRunsMax: 2},
		{name: "store back, run still fails: handed back", storeUpAfter: 600 * time.Millisecond, runFailsAlways: true, hold: time.Minute, wantErr: errRun, wantRunsMin: 2, wantRunsMax: 2},
		{name: "held past the hold: parked", storeUpAfter: -1, hold: 700 * time.Millisecond, wantParked: true, wantRunsMin: 1, wantRunsMax: 1},
		{name: "worker stops: handed back", storeUpAfter: -1, hold: time.Minute, stop: 500 * time.Millisecond, wantErr: errRun, wantRunsMin: 1, wantRunsMax: 1},
		{name: "no hold: handed back", storeUpAfter: -1, hold: 0, wantErr: errRun, wantRunsMin: 1, wantRunsMax: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			up := func() bool {
				return tc.storeUpAfter == 0 || (tc.storeUpAfter > 0 && time.Since(start) >= tc.storeUpAfter)
			}
			stopping := make(chan struct{})
			if tc.stop > 0 {
				tm := time.AfterFunc(tc.stop, func() { close(stopping) })
				defer tm.Stop()
			}
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			o := &StoreOutage{Hold: tc.hold, MaxBackoff: 100 * time.Millisecond, Stopping: stopping, Metrics: m,
				Ping: func(context.Context) error {
					if up() {
						return nil
					}
					return errDown
				}}
			var runs atomic.Int32
			var mu sync.Mutex
			var reason string
			run := func() error {
				runs.Add(1)
				if tc.runFailsAlways || !up() || runs.Load() == 1 {
					return errRun
				}
				return nil
			}
			park := func(_ context.Context, r string) error {
				mu.Lock()
				defer mu.Unlock()
				reason = r
				return nil
			}
			err := o.ride(message.NewMessage("m1", nil), "p", "settle", zerolog.Nop, run, park)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("ride returned %v, want %v", err, tc.wantErr)
			}
			if n := int(runs.Load()); n < tc.wantRunsMin || n > tc.wantRunsMax {
				t.Errorf("%d runs, want %d to %d", n, tc.wantRunsMin, tc.wantRunsMax)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.wantParked != (reason != "") {
				t.Errorf("parked reason %q, want parked %v", reason, tc.wantParked)
			}
			if tc.wantParked && (!strings.Contains(reason, "STORE_OUTAGE_HOLD") || !strings.Contains(reason, "replay it once /readyz says the store is ok")) {
				t.Errorf("parked reason %q does not say why or what to do", reason)
			}
			if g := testutil.ToFloat64(m.heldStoreDown.WithLabelValues("p", "settle")); g != 0 {
				t.Errorf("settlement_deliveries_held_store_down = %v after the ride, want 0", g)
			}
		})
	}
}

// TestStoreOutageHoldIsCountedOnceAcrossRetries: when parking after the
// hold fails (the broker is down too), the router's retry of the delivery
// does not hold it for another STORE_OUTAGE_HOLD: it parks at once.
func TestStoreOutageHoldIsCountedOnceAcrossRetries(t *testing.T) {
	o := &StoreOutage{Hold: 300 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Ping: func(context.Context) error { return errors.New("store down") }}
	msg := message.NewMessage("m1", nil)
	errRun, errPark := errors.New("run failed"), errors.New("broker down")
	parks := 0
	run := func() error { return errRun }
	park := func(context.Context, string) error {
		parks++
		if parks == 1 {
			return errPark
		}
		return nil
	}
	if err := o.ride(msg, "p", "settle", zerolog.Nop, run, park); !errors.Is(err, errPark) {
		t.Fatalf("first ride = %v, want the park's error", err)
	}
	start := time.Now()
	if err := o.ride(msg, "p", "settle", zerolog.Nop, run, park); err != nil {
		t.Fatalf("second ride = %v, want parked", err)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("the retry held the delivery %s more before parking it, want at once", d)
	}
}
