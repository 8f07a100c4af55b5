package kit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestKnobsPlanPrecedence(t *testing.T) {
	hang, fail, own, drop := 1, 1, 1, 1
	k := Knobs{LatencyMS: 5, FailStatus: 500, HangNext: &hang, FailNext: &fail, OwnNext: &own, DropNext: &drop}
	want := []Plan{
		{Hang: true}, {FailStatus: 500}, {Own: true}, {Drop: true}, {},
	}
	for i, w := range want {
		w.Latency = 5 * time.Millisecond
		if p := k.Plan(999); p != w {
			t.Fatalf("call %d: plan %+v, want %+v", i, p, w)
		}
	}
	if hang != 0 || fail != 0 || own != 0 || drop != 0 {
		t.Fatalf("counters left: %d %d %d %d", hang, fail, own, drop)
	}
	drop = 1
	if p := (Knobs{FailPerMille: 10, DropNext: &drop}).Plan(9); p.FailStatus != http.StatusServiceUnavailable || drop != 1 {
		t.Fatalf("per mille: %+v, drop %d", p, drop)
	}
	if p := (Knobs{FailPerMille: 10}).Plan(10); p != (Plan{}) {
		t.Fatalf("roll above per mille: %+v", p)
	}
}

func TestKnobsValidate(t *testing.T) {
	neg, zero := -1, 0
	for _, tc := range []struct {
		k        Knobs
		allow4xx bool
		more     error
		want     string
	}{
		{k: Knobs{FailStatus: 599, FailPerMille: 1000, HangNext: &zero, OwnNext: &zero}},
		{k: Knobs{FailStatus: 404}, allow4xx: true},
		{k: Knobs{OwnNext: &neg}, want: "faults: latency and counters must not be negative"},
		{k: Knobs{LatencyMS: -1, FailStatus: 404, FailPerMille: 1001}, more: errors.New("own"),
			want: "faults: latency and counters must not be negative\nfail_status 404 is not 5xx\nown\nfail_per_mille 1001 is not within 0–1000"},
		{k: Knobs{FailStatus: 302}, allow4xx: true, want: "faults: fail_status 302 is not 4xx or 5xx"},
	} {
		err := tc.k.Validate(tc.allow4xx, tc.more)
		if (err == nil && tc.want != "") || (err != nil && err.Error() != tc.want) {
			t.Errorf("%+v: %v, want %q", tc.k, err, tc.want)
		}
	}
}

func TestPlanCount(t *testing.T) {
	var hung, failed, own int
	for _, p := range []Plan{{Hang: true}, {FailStatus: 503}, {Own: true}, {Drop: true}, {}} {
		p.Count(&hung, &failed, &own)
	}
	(Plan{Own: true}).Count(&hung, &failed, nil)
	if hung != 1 || failed != 1 || own != 1 {
		t.Fatalf("hung %d failed %d own %d", hung, failed, own)
	}
}

func TestPlanApply(t *testing.T) {
	closed := make(chan struct{})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	answered := 0
	answer := func() { answered++ }
	if !(Plan{Drop: true}).Apply(r, closed, zeroLog, "x", answer) || answered != 0 {
		t.Fatal("a drop plan must go on to act")
	}
	if (Plan{FailStatus: 503}).Apply(r, closed, zeroLog, "x", answer) || (Plan{Own: true}).Apply(r, closed, zeroLog, "x", answer) || answered != 2 {
		t.Fatalf("fail and own plans must be answered (%d)", answered)
	}
	close(closed)
	if (Plan{Latency: time.Hour}).Apply(r, closed, zeroLog, "x", answer) {
		t.Fatal("latency did not end when closed")
	}
	defer func() {
		if v := recover(); !errors.Is(v.(error), http.ErrAbortHandler) {
			t.Fatalf("hang: recovered %v", v)
		}
	}()
	(Plan{Hang: true}).Apply(r, closed, zeroLog, "x", answer)
	t.Fatal("hang returned")
}

type endpoint string

type knobs struct{ N int }

var zeroLog = zerolog.Nop()

func TestFaultSet(t *testing.T) {
	s := NewFaultSet[endpoint, knobs]("all", "a", "b")
	ok := func(knobs) error { return nil }
	if err := s.Set("c", knobs{}, ok); err == nil || err.Error() != `faults: unknown endpoint "c" (a, b or all)` {
		t.Fatalf("unknown endpoint: %v", err)
	}
	bad := errors.New("bad")
	if err := s.Set("a", knobs{1}, func(knobs) error { return bad }); err != bad || s.Get("a").N != 0 {
		t.Fatalf("invalid knobs: %v, %+v", err, s.Get("a"))
	}
	if err := s.Set("all", knobs{2}, ok); err != nil {
		t.Fatal(err)
	}
	s.Of("b").N--
	if s.Get("a").N != 2 || s.Get("b").N != 1 || len(s.All()) != 2 || s.Of("c") != nil {
		t.Fatalf("knobs: %+v", s.All())
	}
}

func TestAdminRoundTrip(t *testing.T) {
	mux := http.NewServeMux()
	a := NewAdminMux(mux, "/p/_sandbox", false)
	type in struct {
		N int `json:"n"`
	}
	a.Handle("PUT", "/n", JSONBody(func(v in) (in, error) {
		if v.N < 0 {
			return in{}, errors.New("negative")
		}
		return in{v.N + 1}, nil
	}))
	a.Handle("GET", "/n", JSONValue(func() []int { return []int{1} }))
	reset := false
	a.Handle("POST", "/reset", NoContent(func() { reset = true }))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if NewAdminClient("x", "ftp://h", nil) != nil || NewAdminClient("x", "not a url", nil) != nil {
		t.Fatal("a non-http URL was accepted")
	}
	c := NewAdminClient("x", srv.URL+"/p/", srv.Client())
	ctx := context.Background()
	if got, err := Call[in](ctx, c, http.MethodPut, "/n", in{1}); err != nil || got.N != 2 {
		t.Fatalf("PUT = %+v, %v", got, err)
	}
	if _, err := Call[in](ctx, c, http.MethodPut, "/n", in{-1}); err == nil || err.Error() != "x sandbox admin PUT /n: HTTP 400: negative" {
		t.Fatalf("PUT -1: %v", err)
	}
	if _, err := Call[in](ctx, c, http.MethodPut, "/n", map[string]int{"n": 1, "m": 2}); err == nil || !strings.Contains(err.Error(), `unknown field "m"`) {
		t.Fatalf("unknown field: %v", err)
	}
	if got, err := Call[[]int](ctx, c, http.MethodGet, "/n", nil); err != nil || len(got) != 1 {
		t.Fatalf("GET = %v, %v", got, err)
	}
	if err := c.Do(ctx, http.MethodPost, "/reset", nil, nil); err != nil || !reset {
		t.Fatalf("reset: %v", err)
	}
	if err := c.Do(ctx, http.MethodGet, "/none", nil, nil); err == nil || err.Error() != "x sandbox admin GET /none: HTTP 404" {
		t.Fatalf("404: %v", err)
	}

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/p/_sandbox/n", nil)
	req.RemoteAddr = "192.0.2.1:1"
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("remote caller: HTTP %d", rec.Code)
	}
}

func TestWaitLedger(t *testing.T) {
	c := NewAdminClient("x", "http://h", nil)
	n := 0
	es, err := WaitLedger(context.Background(), c, func(context.Context) ([]int, error) { n++; return make([]int, n), nil },
		func(es []int) bool { return len(es) == 3 })
	if err != nil || len(es) != 3 {
		t.Fatalf("WaitLedger = %v, %v", es, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = WaitLedger(ctx, c, func(context.Context) ([]int, error) { return nil, nil }, func([]int) bool { return false })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "x sandbox admin: waiting for the ledger: ") {
		t.Fatalf("timeout: %v", err)
	}
}

func TestSmallHelpers(t *testing.T) {
	if got := WithQuery("/l", "b", "2", "a", "", "c", "x y"); got != "/l?b=2&c=x+y" {
		t.Fatalf("WithQuery = %q", got)
	}
	if got := WithQuery("/l", "a", ""); got != "/l" {
		t.Fatalf("WithQuery = %q", got)
	}
	for in, want := range map[string]string{"": "", "/": "", "x/": "/x", "/x//": "/x", "/a/b": "/a/b"} {
		if got := CleanPrefix(in); got != want {
			t.Fatalf("CleanPrefix(%q) = %q, want %q", in, got, want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:1": true, "[::1]:2": true, "::1": true, "10.0.0.1:3": false, "bogus": false} {
		if isLoopback(addr) != want {
			t.Fatalf("isLoopback(%q) != %v", addr, want)
		}
	}
	a, b := NewRand(7), NewRand(7)
	if a.Uint64() != b.Uint64() {
		t.Fatal("same seed, different numbers")
	}
}

func TestPlanLateCommit(t *testing.T) {
	late := 1
	k := Knobs{LateNext: &late, LateMS: 50}
	p := k.Plan(999)
	if !p.Late || p.LateDelay != 50*time.Millisecond || late != 0 {
		t.Fatalf("plan %+v, late_next left %d: want a 50ms late commit", p, late)
	}
	if p := k.Plan(999); p.Late {
		t.Fatalf("second plan %+v: late_next was 1", p)
	}
	k = Knobs{FailPerMille: 100, LatePerMille: 50, HangPerMille: 10, DropPerMille: 10}
	for roll, want := range map[int]string{0: "fail", 99: "fail", 100: "late", 149: "late", 150: "hang", 159: "hang", 160: "drop", 169: "drop", 170: "none"} {
		p := k.Plan(roll)
		got := "none"
		switch {
		case p.FailStatus != 0:
			got = "fail"
		case p.Late:
			got = "late"
		case p.Hang:
			got = "hang"
		case p.Drop:
			got = "drop"
		}
		if got != want {
			t.Errorf("roll %d: %s, want %s", roll, got, want)
		}
	}
	if err := (Knobs{FailPerMille: 600, LatePerMille: 500}).Validate(false); err == nil {
		t.Error("per-mille sum 1100 accepted")
	}
}

func TestApplyLateCommitActsAfterTheClientLeft(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodPost, "/", nil).WithContext(ctx)
	cancel() // the client has already given up
	start := time.Now()
	p := Plan{Late: true, LateDelay: 30 * time.Millisecond}
	if !p.Apply(r, make(chan struct{}), zerolog.Nop(), "capture", func() { t.Error("answered a fault") }) {
		t.Fatal("a late commit did not act")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("acted after %s, want the late delay", d)
	}
}
