package frisbii

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// MaxAcquirerReference is the longest acquirer_reference Frisbii accepts
// (seed 002: "Maximum length is 128 ... Characters must match regex
// [\x20-\x7F]").
const MaxAcquirerReference = 128

// settleInput is a validated settle request.
type settleInput struct {
	Key               string       `json:"key"`
	Amount            int64        `json:"amount"` // 0: settle the remainder
	OrderText         string       `json:"ordertext"`
	Lines             []parsedLine `json:"lines"`
	AcquirerReference *string      `json:"acquirer_reference"`
}

// parsedLine is a validated order line with its totals incl. VAT.
type parsedLine struct {
	Text     string `json:"text"`
	Unit     int64  `json:"unit"` // per quantity, incl. VAT
	Quantity int64  `json:"quantity"`
	Vat      string `json:"vat"`
	InclVat  bool   `json:"incl_vat"`
	Total    int64  `json:"total"`
}

// total is the amount a settle moves: the sum of its lines or its amount.
func (in settleInput) total() int64 {
	if len(in.Lines) == 0 {
		return in.Amount
	}
	var t int64
	for _, l := range in.Lines {
		t += l.Total
	}
	return t
}

// parseSettle validates a settle body against Frisbii's rules (seed 002).
func parseSettle(req SettleRequest) (settleInput, *apiError) {
	in := settleInput{Key: req.Key, OrderText: req.OrderText}
	if len(req.ManualSettle) > 0 && string(req.ManualSettle) != "null" {
		return in, newAPIError(CodeInvalidRequest, "manual_settle is not supported by the sandbox")
	}
	if req.Amount != nil && len(req.OrderLines) > 0 {
		return in, newAPIError(CodeInvalidRequest, "either amount or order_lines can be provided, not both")
	}
	if req.Amount != nil {
		n, err := parseInt(*req.Amount, "amount")
		if err != nil {
			return in, err
		}
		if n == 0 {
			return in, newAPIError(CodeNonPositiveAmount, "amount must be greater than zero")
		}
		in.Amount = n
	}
	var sum int64
	for i, ol := range req.OrderLines {
		l, err := parseLine(i, ol)
		if err != nil {
			return in, err
		}
		sum += l.Total
		if sum > MaxAmount {
			return in, newAPIError(CodeInvalidRequest, "the order lines total more than the maximum amount")
		}
		in.Lines = append(in.Lines, l)
	}
	if len(in.Lines) > 0 && sum == 0 {
		return in, newAPIError(CodeNonPositiveAmount, "the order lines total zero")
	}
	if req.AcquirerReference != nil {
		if err := checkAcquirerReference(*req.AcquirerReference); err != nil {
			return in, err
		}
		in.AcquirerReference = req.AcquirerReference
	}
	return in, nil
}

// parseLine validates one order line. The per-quantity amount includes VAT
// unless amount_incl_vat is false; then VAT is added and the unit amount
// rounded half away from zero to a whole minor unit (sandbox choice: Frisbii
// does not document its rounding).
func parseLine(i int, ol CreateOrderLine) (parsedLine, *apiError) {
	field := func(f string) string { return fmt.Sprintf("order_lines[%d].%s", i, f) }
	l := parsedLine{Text: ol.OrderText, Quantity: 1, Vat: "0", InclVat: true}
	if ol.OrderText == "" {
		return l, newAPIError(CodeInvalidRequest, field("ordertext")+" is required")
	}
	if ol.Amount == nil {
		return l, newAPIError(CodeInvalidRequest, field("amount")+" is required")
	}
	unit, err := parseInt(*ol.Amount, field("amount"))
	if err != nil {
		return l, err
	}
	if ol.Quantity != nil {
		q, err := parseInt(*ol.Quantity, field("quantity"))
		if err != nil {
			return l, err
		}
		if q == 0 {
			return l, newAPIError(CodeInvalidRequest, field("quantity")+" must be at least 1")
		}
		l.Quantity = q
	}
	vat := decimal.Zero
	if ol.Vat != nil {
		v, err := decimal.NewFromString(ol.Vat.String())
		if err != nil || v.IsNegative() || v.GreaterThan(decimal.NewFromInt(1)) {
			return l, newAPIError(CodeInvalidRequest, field("vat")+" must be a rate between 0 and 1")
		}
		vat = v
		l.Vat = v.String()
	}
	if ol.AmountInclVat != nil {
		l.InclVat = *ol.AmountInclVat
	}
	l.Unit = unit
	if !l.InclVat {
		l.Unit = decimal.NewFromInt(unit).Mul(decimal.NewFromInt(1).Add(vat)).Round(0).IntPart()
	}
	if l.Unit > MaxAmount {
		return l, newAPIError(CodeInvalidRequest, field("amount")+" exceeds the maximum amount")
	}
	l.Total = l.Unit * l.Quantity
	if l.Total > MaxAmount {
		return l, newAPIError(CodeInvalidRequest, fmt.Sprintf("order line %d totals more than the maximum amount", i))
	}
	return l, nil
}

// parseInt reads an int32 ≥ 0 (Frisbii's amounts and quantities); a
// fraction, an exponent or a value out of range is refused, never rounded.
func parseInt(n json.Number, field string) (int64, *apiError) {
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || v < 0 || v > MaxAmount {
		return 0, newAPIError(CodeInvalidRequest, fmt.Sprintf("%s must be an integer between 0 and %d (got %s)", field, MaxAmount, n.String()))
	}
	return v, nil
}

// checkAcquirerReference applies seed 002's rule for acquirer_reference.
func checkAcquirerReference(ref string) *apiError {
	if !utf8.ValidString(ref) || utf8.RuneCountInString(ref) > MaxAcquirerReference {
		return newAPIError(CodeInvalidRequest, fmt.Sprintf("acquirer_reference must be at most %d characters", MaxAcquirerReference))
	}
	for _, r := range ref {
		if r < 0x20 || r > 0x7F {
			return newAPIError(CodeInvalidRequest, `acquirer_reference characters must match [\x20-\x7F]`)
		}
	}
	return nil
}

// fingerprint identifies a request's content for idempotency checks.
func fingerprint(parts ...any) string {
	b, err := json.Marshal(parts)
	if err != nil {
		// Only plain data is fingerprinted; this cannot happen.
		panic("frisbii sandbox: fingerprint: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
