package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/sandbox/frisbii"
	"github.com/settlement-worker/settlement-worker/sandbox/miva"
	"github.com/settlement-worker/settlement-worker/sandbox/paysafe"
	"github.com/settlement-worker/settlement-worker/sandbox/radial"
)

const (
	storeID        = "CHAOS"
	tender         = "VC"
	currency       = "USD"
	radialKey      = "chaos-key"
	radialQueue    = radial.DefaultStatusQueue
	paysafeUser    = "chaos-user"
	paysafePass    = "chaos-pass"
	paysafeAccount = "1001"
	frisbiiKey     = "priv_chaos"
	mivaToken      = "chaos-token"
	mivaStore      = "chaos"
)

// sandboxes are the four provider sandboxes on one loopback HTTP server.
type sandboxes struct {
	radial  *radial.Sandbox
	paysafe *paysafe.Sandbox
	frisbii *frisbii.Sandbox
	miva    *miva.Sandbox
	url     string
	closers []func()
	// radialSeeds counts the seed debits whose statuses go to Radial's
	// queue before the worker starts (purged then).
	radialSeeds int
}

func (s *sandboxes) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func startSandboxes(ctx context.Context, radialAMQP string) (*sandboxes, error) {
	s := &sandboxes{}
	var err error
	if s.radial, err = radial.NewSandbox(radial.Config{Prefix: "/radial", APIKey: radialKey, StatusAMQPURL: radialAMQP,
		StatusQueue: radialQueue, StatusDelay: 5 * time.Millisecond, AutoAuthorize: radial.Bool(false), Logger: zerolog.Nop()}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { _ = s.radial.Close() })
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.closers = append(s.closers, cancel)
	if err := s.radial.Start(sctx); err != nil {
		s.close()
		return nil, err
	}
	// Paysafe checks merchantRefNum when a call arrives, not when it
	// commits (DupCheckAtArrival, the stricter reading of seed 001 for
	// the worker): a repeat sent while a late-committing call is still on
	// its way would be a second settlement or refund, which the ledger's
	// "double" column counts.
	if s.paysafe, err = paysafe.NewSandbox(paysafe.Config{Prefix: "/paysafe", Username: paysafeUser, Password: paysafePass,
		BatchInterval: 50 * time.Millisecond, DupCheckAtArrival: true, Logger: zerolog.Nop()}); err != nil {
		s.close()
		return nil, err
	}
	s.closers = append(s.closers, func() { _ = s.paysafe.Close() })
	if s.frisbii, err = frisbii.NewSandbox(frisbii.Config{Prefix: "/frisbii", APIKey: frisbiiKey, Logger: zerolog.Nop()}); err != nil {
		s.close()
		return nil, err
	}
	s.closers = append(s.closers, func() { _ = s.frisbii.Close() })
	if s.miva, err = miva.NewSandbox(miva.Config{Prefix: "/miva", APIToken: mivaToken, StoreCode: mivaStore, Logger: zerolog.Nop()}); err != nil {
		s.close()
		return nil, err
	}
	s.closers = append(s.closers, func() { _ = s.miva.Close() })
	mux := http.NewServeMux()
	mux.Handle("/radial/", s.radial.Handler())
	mux.Handle("/paysafe/", s.paysafe.Handler())
	mux.Handle("/frisbii/", s.frisbii.Handler())
	mux.Handle("/miva/", s.miva.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, func() { _ = srv.Close() })
	s.url = "http://" + ln.Addr().String()
	return s, nil
}

// seedOrder gives an order what its settlements need: an authorization of
// the debits' total (debit orders), or an already settled payment to refund
// (credit orders). It returns extra headers (Paysafe's settlement_id).
func (s *sandboxes) seedOrder(pv string, o *order) error {
	total := int64(0)
	for _, st := range o.settlements {
		total += st.minor
	}
	var err error
	switch pv {
	case "radial":
		_, err = s.radial.Authorize(radial.Authorization{StoreID: storeID, OrderID: o.id, Amount: fmtMinor(total + 10000), Currency: currency})
		if err == nil && o.credit { // a settled 100.00 debit to refund from
			err = s.radialSettle(o.id, 10000)
			s.radialSeeds++
		}
	case "paysafe":
		if !o.credit {
			_, err = s.paysafe.Authorize(paysafe.Authorization{AccountID: paysafeAccount, ID: "auth-" + o.id, Amount: total, Currency: currency})
			break
		}
		if _, err = s.paysafe.Authorize(paysafe.Authorization{AccountID: paysafeAccount, ID: "auth-" + o.id, Amount: 10000, Currency: currency}); err != nil {
			break
		}
		var id string
		if id, err = s.paysafeSettle("auth-"+o.id, "seed-"+o.id, 10000); err == nil {
			o.settlementID = id
		}
	case "frisbii":
		if o.credit {
			_, err = s.frisbii.SeedCharge(frisbii.ChargeSeed{Handle: o.id, Amount: 10000, Currency: currency, State: "settled", SettledAmount: 10000})
		} else {
			_, err = s.frisbii.SeedCharge(frisbii.ChargeSeed{Handle: o.id, Amount: total, Currency: currency})
		}
	case "miva":
		n, _ := strconv.ParseInt(o.id, 10, 64)
		recs := []miva.RecordSeed{{Type: miva.TypeAuth, Amount: fmtMinor(total)}}
		if o.credit { // an authorization of 100.00, captured whole
			recs = []miva.RecordSeed{{ID: n*10 + 1, Type: miva.TypeAuth, Amount: "100.00", Available: "0.00"},
				{ID: n*10 + 2, Type: miva.TypeCapture, Amount: "100.00", ParentID: n*10 + 1}}
		}
		_, err = s.miva.SeedOrder(miva.OrderSeed{OrderID: n, Currency: currency, Records: recs})
	}
	if err != nil {
		return fmt.Errorf("seed %s order %s: %w", pv, o.id, err)
	}
	return nil
}

// radialSettle settles a debit of order through the sandbox's own API (seed
// of a credit order); its requestId starts with "seed-".
func (s *sandboxes) radialSettle(orderID string, minor int64) error {
	r := messages.PaymentSettlementRequest{RequestID: "seed-" + orderID, PaymentContextBase: &messages.PaymentContextBase{OrderID: orderID},
		InvoiceID: "s" + orderID, Amount: messages.Amount{CurrencyCode: currency, Value: fmtMinor(minor)},
		TaxAmount: &messages.Amount{CurrencyCode: currency, Value: "0.00"}, SettlementType: messages.SettlementDebit, OmsOrderID: orderID}
	body, err := messages.Encode(r)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/radial/v1.0/stores/"+storeID+"/payments/settlement/create/"+tender+".xml", bytes.NewReader(body))
	req.Header.Set("apikey", radialKey)
	req.Header.Set("Content-Type", "application/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("radial settle: %s %s", resp.Status, b)
	}
	return nil
}

// paysafeSettle settles an authorization through the sandbox's own API
// (seed of a credit order), returning the settlement id.
func (s *sandboxes) paysafeSettle(authID, ref string, amount int64) (string, error) {
	body, _ := json.Marshal(map[string]any{"merchantRefNum": ref, "amount": amount})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/paysafe"+paysafe.APIPath+"/accounts/"+paysafeAccount+"/auths/"+authID+"/settlements", bytes.NewReader(body))
	req.SetBasicAuth(paysafeUser, paysafePass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		ID string `json:"id"`
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal(b, &out) != nil || out.ID == "" {
		return "", fmt.Errorf("paysafe settle: %s %s", resp.Status, b)
	}
	return out.ID, nil
}

// faults are the chaos knobs, per mille, set on every endpoint of every
// sandbox through its admin API (PUT {prefix}/_sandbox/faults).
type faults struct{ fail, late, hang, drop, lateMS int }

// setFaults sets f on pv's sandbox. Knobs the sandbox does not know yet
// (it refuses unknown fields) are dropped one at a time and returned, so
// that the report says which faults did not run.
func (s *sandboxes) setFaults(pv string, f faults) (missing []string, err error) {
	body := map[string]any{"endpoint": "all", "fail_per_mille": f.fail, "late_per_mille": f.late, "late_ms": f.lateMS,
		"hang_per_mille": f.hang, "drop_per_mille": f.drop}
	for _, k := range []string{"", "drop_per_mille", "hang_per_mille", "late_ms", "late_per_mille"} {
		if k != "" {
			delete(body, k)
			missing = append(missing, k)
		}
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPut, s.url+"/"+pv+"/_sandbox/faults", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return missing, nil
		}
		if !strings.Contains(string(msg), "unknown field") {
			return nil, fmt.Errorf("%s faults: %s %s", pv, resp.Status, msg)
		}
	}
	return nil, fmt.Errorf("%s faults: no knob accepted", pv)
}

// money is one movement of money in a provider's ledger.
type money struct {
	requestID string // the idempotency key, "" when the provider has none (Miva)
	order     string
	typ       string // Debit or Credit
	minor     int64
}

// ledger reads pv's ledger: every live capture/settle and refund (declined,
// failed and cancelled ones moved no money; seeds are left out).
func (s *sandboxes) ledger(pv string) []money {
	var out []money
	switch pv {
	case "radial":
		for _, e := range s.radial.Ledger() {
			if e.State != "R" && !strings.HasPrefix(e.RequestID, "seed-") {
				out = append(out, money{e.RequestID, e.OrderID, e.Type, parseMinor(e.Amount)})
			}
		}
	case "paysafe":
		for _, e := range s.paysafe.Ledger() {
			if e.Status == paysafe.StatusFailed || e.Status == paysafe.StatusCancelled || strings.HasPrefix(e.MerchantRefNum, "seed-") {
				continue
			}
			t := messages.SettlementDebit
			if e.Kind == paysafe.KindRefund {
				t = messages.SettlementCredit
			}
			out = append(out, money{e.MerchantRefNum, strings.TrimPrefix(e.AuthorizationID, "auth-"), t, e.Amount})
		}
	case "frisbii":
		for _, e := range s.frisbii.Ledger() {
			if e.State == frisbii.EntryFailed {
				continue
			}
			t := messages.SettlementDebit
			if e.Kind == frisbii.EntryRefund {
				t = messages.SettlementCredit
			}
			out = append(out, money{e.Key, e.Handle, t, e.Amount})
		}
	case "miva":
		for _, e := range s.miva.Ledger() {
			t := ""
			switch e.Function {
			case miva.FunctionCapture:
				t = messages.SettlementDebit
			case miva.FunctionRefund:
				t = messages.SettlementCredit
			default:
				continue
			}
			out = append(out, money{"", strconv.FormatInt(e.OrderID, 10), t, parseMinor(e.Amount)})
		}
	}
	return out
}

// fmtMinor writes cents as a decimal string.
func fmtMinor(m int64) string { return fmt.Sprintf("%d.%02d", m/100, m%100) }

// parseMinor reads a decimal amount of a 2-digit currency into cents.
func parseMinor(s string) int64 {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "00")[:2]
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f
}
