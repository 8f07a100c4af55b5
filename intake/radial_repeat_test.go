package intake

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRadialParameterSentTwiceIsRefused: Header.Get and Query().Get return
// the first of repeated values, so X-Original-Authorization-Amount sent as
// two header lines (120.00 and 12000.00), or
// ?original_authorization_amount=120.00&original_authorization_amount=12000.00,
// was taken as 120.00 without a word, while a proxy joins the header lines
// into "120.00, 12000.00" and another reader may keep the last. Store id,
// tender type and authorization amount decide where and how much money
// moves: a repeated one is refused with 400 InvalidRequest naming it, and
// nothing is published.
func TestRadialParameterSentTwiceIsRefused(t *testing.T) {
	e := newEnv(t, envOptions{topology: true})
	tests := []struct {
		name    string
		query   string
		headers [][2]string // added, after radialAuth is set
		mention string
	}{
		{"authorization amount header twice", "", [][2]string{{HeaderOriginalAuthAmount, "120.00"}, {HeaderOriginalAuthAmount, "12000.00"}}, HeaderOriginalAuthAmount},
		{"authorization amount query twice", "?original_authorization_amount=120.00&original_authorization_amount=12000.00", nil, QueryOriginalAuthAmount},
		{"store id header twice", "", [][2]string{{HeaderStoreID, "OTHER"}}, HeaderStoreID},
		{"tender type query twice", "?tender_type=VC&tender_type=MC", nil, QueryTenderType},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.url+radialPath+tt.query, bytes.NewReader(encode(t, validRequest(fmt.Sprintf("rep-%d", i)))))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/xml")
			for k, v := range radialAuth {
				req.Header.Set(k, v)
			}
			for _, h := range tt.headers {
				req.Header.Add(h[0], h[1])
			}
			resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			f := checkFault(t, resp, body, http.StatusBadRequest, FaultInvalidRequest)
			if !strings.Contains(f.Description, tt.mention) || !strings.Contains(f.Description, "more than once") {
				t.Errorf("fault %q does not say %s was sent more than once", f.Description, tt.mention)
			}
			if ds := e.requests("radial", 300*time.Millisecond); len(ds) != 0 {
				t.Fatalf("refused request published %d", len(ds))
			}
		})
	}
}
