package frisbii

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Message headers the client reads.
const (
	// HeaderChargeHandle names the Frisbii charge to settle or refund when
	// it is not the order id.
	HeaderChargeHandle = "charge_handle"
	// HeaderAcquirerReference is sent as acquirer_reference.
	HeaderAcquirerReference = "acquirer_reference"
)

// Limits from Frisbii's documentation.
const (
	// MaxAmount: amounts are "int32 ≥ 0" minor units (seed 002).
	MaxAmount = math.MaxInt32
	// MaxAcquirerReference: "Maximum length is 128 ... Characters must
	// match regex [\x20-\x7F]" (seed 002).
	MaxAcquirerReference = 128
	// maxOrderText bounds the ordertext the client builds (sandbox-safe
	// choice; Frisbii publishes no limit).
	maxOrderText = 255
)

// handleRE is Frisbii's charge handle rule: "Max length 255 with allowable
// characters [a-zA-Z0-9_.-@]".
var handleRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-@]{1,255}$`)

// header returns a message header, matching its name exactly first, then
// case-insensitively. Without the exact name, several names in other cases
// with different values are refused (permanent): which one a map
// iteration meets first would steer the money, attempt by attempt.
func header(req *providers.Request, name string) (string, bool, error) {
	if v, ok := req.Headers[name]; ok {
		return v, true, nil
	}
	var found, value string
	for k, v := range req.Headers {
		if !strings.EqualFold(k, name) {
			continue
		}
		if found != "" && strings.TrimSpace(v) != strings.TrimSpace(value) {
			return "", false, providers.Permanentf("header %s is given twice, as %s and %s, with different values; send it once", name, min(found, k), max(found, k))
		}
		found, value = k, v
	}
	return value, found != "", nil
}

// chargeHandle is the header charge_handle, else the order id
// (PaymentContext/OrderId or PaymentContextBase/OrderId).
func chargeHandle(req *providers.Request) (string, error) {
	h, ok, err := header(req, HeaderChargeHandle)
	if err != nil {
		return "", err
	}
	if ok && strings.TrimSpace(h) != "" {
		h = strings.TrimSpace(h)
		if !handleRE.MatchString(h) {
			return "", providers.Permanentf("header %s %q is not a Frisbii charge handle (1–255 characters of a-z A-Z 0-9 _ . - @)", HeaderChargeHandle, h)
		}
		return h, nil
	}
	h = req.OrderID
	if h == "" && req.Message != nil {
		h = req.Message.OrderID()
	}
	switch {
	case h == "":
		return "", providers.Permanentf("no Frisbii charge handle: the request has no OrderId and no %s header", HeaderChargeHandle)
	case !handleRE.MatchString(h):
		return "", providers.Permanentf("OrderId %q is not a Frisbii charge handle (1–255 characters of a-z A-Z 0-9 _ . - @); send the handle in the %s header", h, HeaderChargeHandle)
	}
	return h, nil
}

// minorUnits converts an amount to Frisbii's int32 minor units. A fraction
// of a minor unit, a non-positive amount or one beyond int32 is refused
// (permanent), never rounded.
func minorUnits(m money.Money) (int64, error) {
	if m.Currency == "" {
		return 0, providers.Permanentf("the request has no valid amount")
	}
	n, err := m.MinorUnits()
	if err != nil {
		return 0, providers.PermanentError("", "amount cannot be sent to Frisbii: "+err.Error(), err)
	}
	switch {
	case n <= 0:
		return 0, providers.Permanentf("amount %s %s must be positive", m.String(), m.Currency)
	case n > MaxAmount:
		return 0, providers.Permanentf("amount %s %s is %d minor units, beyond Frisbii's maximum of %d (int32)", m.String(), m.Currency, n, MaxAmount)
	}
	return n, nil
}

// acquirerReference validates the acquirer_reference header (seed 002:
// at most 128 characters, each in [\x20-\x7F]). It is sent trimmed, as
// the pipeline compares it (a money header: a delivery is the recorded
// request when the trimmed values agree), so that every delivery of one
// request sends the same settle body under its idempotency key.
func acquirerReference(req *providers.Request) (*string, error) {
	v, ok, err := header(req, HeaderAcquirerReference)
	if err != nil {
		return nil, err
	}
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return nil, nil
	}
	if !utf8.ValidString(v) {
		return nil, providers.Permanentf("header %s is not valid UTF-8; Frisbii requires characters in [\\x20-\\x7F]", HeaderAcquirerReference)
	}
	if n := utf8.RuneCountInString(v); n > MaxAcquirerReference {
		return nil, providers.Permanentf("header %s is %d characters; Frisbii allows at most %d", HeaderAcquirerReference, n, MaxAcquirerReference)
	}
	for i, r := range v {
		if r < 0x20 || r > 0x7F {
			return nil, providers.Permanentf("header %s has character %U at byte %d; Frisbii requires every character in [\\x20-\\x7F]", HeaderAcquirerReference, r, i)
		}
	}
	return &v, nil
}

// orderLine is Frisbii's order line in a settle request.
type orderLine struct {
	OrderText     string `json:"ordertext"`
	Amount        int64  `json:"amount"`
	Quantity      int64  `json:"quantity"`
	AmountInclVat bool   `json:"amount_incl_vat"`
}

// errNoLines explains why the line items were not sent as order lines.
var errNoLines = errors.New("no line items")

// orderLines maps InvoiceData/LineItems to Frisbii order lines. The rule:
// every line item needs a VATInclusiveUnitPrice in the settlement currency
// that converts exactly to minor units, a whole Quantity ≥ 1 and an
// ItemShortDescription; and Σ unit price × quantity must equal the settle
// amount exactly. Frisbii derives the settled amount from the order lines,
// so lines that do not add up would settle a different amount: in every
// other case the client sends amount + ordertext instead (the error says
// why, for the Refs).
func orderLines(m *messages.PaymentSettlementRequest, amount money.Money, total int64) ([]orderLine, error) {
	if m == nil || m.InvoiceData == nil || m.InvoiceData.LineItems == nil || len(m.InvoiceData.LineItems.LineItem) == 0 {
		return nil, errNoLines
	}
	var lines []orderLine
	var sum int64
	for i, li := range m.InvoiceData.LineItems.LineItem {
		if li.VATInclusiveUnitPrice == nil {
			return nil, fmt.Errorf("line item %d has no VATInclusiveUnitPrice", i+1)
		}
		if li.VATInclusiveUnitPrice.CurrencyCode != amount.Currency {
			return nil, fmt.Errorf("line item %d is priced in %s, not %s", i+1, li.VATInclusiveUnitPrice.CurrencyCode, amount.Currency)
		}
		price, err := li.VATInclusiveUnitPrice.Money()
		if err != nil {
			return nil, fmt.Errorf("line item %d: %w", i+1, err)
		}
		unit, err := price.MinorUnits()
		if err != nil || unit <= 0 || unit > MaxAmount {
			return nil, fmt.Errorf("line item %d unit price is not a positive int32 of minor units", i+1)
		}
		qty, err := decimal.NewFromString(strings.TrimSpace(li.Quantity))
		if err != nil || !qty.IsInteger() || qty.LessThan(decimal.NewFromInt(1)) || qty.GreaterThan(decimal.NewFromInt(MaxAmount)) {
			return nil, fmt.Errorf("line item %d quantity %q is not a whole number ≥ 1", i+1, li.Quantity)
		}
		text := strings.TrimSpace(li.ItemShortDescription)
		if text == "" {
			return nil, fmt.Errorf("line item %d has no ItemShortDescription", i+1)
		}
		q := qty.IntPart()
		if unit*q > MaxAmount {
			return nil, fmt.Errorf("line item %d totals beyond int32", i+1)
		}
		sum += unit * q
		if sum > MaxAmount {
			return nil, errors.New("line items total beyond int32")
		}
		lines = append(lines, orderLine{OrderText: text, Amount: unit, Quantity: q, AmountInclVat: true})
	}
	if sum != total {
		return nil, fmt.Errorf("line items total %d minor units, the settle amount is %d", sum, total)
	}
	return lines, nil
}

// orderText is the text sent with amount: the line items' descriptions,
// else the invoice or order.
func orderText(m *messages.PaymentSettlementRequest, handle string) string {
	var parts []string
	if m != nil && m.InvoiceData != nil && m.InvoiceData.LineItems != nil {
		for _, li := range m.InvoiceData.LineItems.LineItem {
			if d := strings.TrimSpace(li.ItemShortDescription); d != "" {
				parts = append(parts, d)
			}
		}
	}
	text := strings.Join(parts, ", ")
	if text == "" && m != nil && m.InvoiceID != "" {
		text = "Invoice " + m.InvoiceID
	}
	if text == "" {
		text = "Order " + handle
	}
	return truncate(text, maxOrderText)
}

// truncate shortens s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
