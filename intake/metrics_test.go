package intake

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type acceptAll struct{}

func (acceptAll) Publish(context.Context, string, string, *message.Message) error { return nil }

// Every endpoint's codes start at zero; each answer is counted by endpoint
// and code; a Server without Metrics counts nothing and still answers.
func TestMetricsCountAnswers(t *testing.T) {
	cfg := testConfig()
	srv, err := New(cfg, acceptAll{}, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	post := func(path string, body []byte, headers map[string]string) int {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/xml")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post(radialPath, encode(t, validRequest("m-0")), radialAuth); code != http.StatusOK {
		t.Fatalf("without metrics: %d", code)
	}

	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Init(cfg.Endpoints()...)
	srv.Metrics = m
	if n := testutil.CollectAndCount(reg, "settlement_intake_requests_total"); n != 2*len(Codes) {
		t.Fatalf("%d series at start, want %d (every code of both endpoints)", n, 2*len(Codes))
	}
	if code := post(radialPath, encode(t, validRequest("m-1")), radialAuth); code != http.StatusOK {
		t.Fatalf("valid request: %d", code)
	}
	if code := post(radialPath, encode(t, validRequest("m-2")), nil); code != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", code)
	}
	req := httptest.NewRequest(http.MethodGet, cfg.RetailOPS.Path, nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	want := `
# HELP settlement_intake_requests_total HTTP requests to the intake's settlement endpoints, by endpoint (retailops, radial) and HTTP status code answered.
# TYPE settlement_intake_requests_total counter
`
	for _, e := range []string{"radial", "retailops"} {
		for _, c := range []string{"200", "400", "401", "405", "413", "415", "500", "503"} {
			v := "0"
			switch e + c {
			case "radial200", "radial401", "retailops405":
				v = "1"
			}
			want += `settlement_intake_requests_total{code="` + c + `",endpoint="` + e + `"} ` + v + "\n"
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "settlement_intake_requests_total"); err != nil {
		t.Fatal(err)
	}
	var none *Metrics
	none.Init(EndpointRadial) // nil-safe
}
