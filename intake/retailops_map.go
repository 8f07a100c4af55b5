package intake

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/settlement-worker/settlement-worker/messages"
	"github.com/settlement-worker/settlement-worker/money"
)

// Where the mapping gets its numbers. RetailOPS documents no meaning for the
// payment_status / channel_payment numbers (the SDK's schema leaves their
// descriptions empty), so the rule below is this project's reading, chosen
// so that an account is never captured by us when RetailOPS captures it
// itself, and never for more than what is left of it:
//
//   - order_settle_payment asks the channel "to collect/capture payment,
//     or otherwise verify payment has been collected" (RetailOps SDK
//     README, channel interactions).
//   - captures_are_external = 1 marks an account whose capture happens
//     outside RetailOPS, i.e. by the channel — us. Any other account is
//     captured by RetailOPS itself: settling it here could take the money
//     twice, so it is skipped.
//   - The amount to capture is available − captured: what the account
//     makes available, less what was already captured on it. The seed's
//     own example (charged 35, available 35, captured 0, settled 35,
//     unsettled 0, captures_are_external 1) shows that RetailOPS books an
//     external capture as settled on its side before asking the channel
//     to collect, so settled/unsettled say nothing about our capture.
//   - The amount must not exceed charged − credited − voided when charged
//     is sent (an inconsistent account is refused, never guessed), and an
//     account with success ≠ 1 or nothing left is skipped.

// Paths of the fields, for diagnostics.
const (
	pathByAccount      = "data.order.payment_status.by_account"
	pathChannelPayment = "data.order.channel_payment"
)

// settlePlan is what one webhook maps to: the requests to publish, or the
// error events that refuse it (then nothing is published), and the
// accounts skipped with why.
type settlePlan struct {
	order   orderRef
	channel string
	out     []outgoing
	events  []Event
	skipped []string
}

func (p *settlePlan) fail(code, msg string, diag ...string) {
	p.events = append(p.events, newEvent(code, msg, p.order, diag...))
}

// planSettlement maps an authenticated order_settle_payment v1 webhook to
// one PaymentSettlementRequest per payment account with something to
// capture. Every problem becomes its own error event; a webhook with any
// problem publishes nothing (all or nothing: RetailOPS resends the whole
// order once it is fixed, and the derived requestIds keep that safe).
//
// An order with more than cfg.MaxAccounts payment accounts is refused
// before any request is built: each request carries the ShipmentData of
// every package, so the work grows with accounts × packages.
func planSettlement(env *settleEnvelope, cfg RetailOPSConfig) *settlePlan {
	channels := cfg.Channels
	o := env.Data.Order
	p := &settlePlan{order: orderOf(o)}
	channel, ok := env.Data.Channel.ID.id()
	if !ok {
		channel = clip(channel) // refused below, quoted clipped
	}
	p.channel = channel
	// The ids derive the requestId: each must name one thing whatever its
	// JSON form (a number that is not whole names nothing).
	for _, f := range []struct {
		path string
		v    flexScalar
	}{{"data.channel.id", env.Data.Channel.ID}, {"data.order.id", o.ID}, {"data.order.payment_series_id", o.PaymentSeriesID}} {
		if _, ok := f.v.id(); !ok {
			p.fail(ErrInvalidField, fmt.Sprintf("%s is %s, not a whole number or a string; nothing was settled", f.path, f.v.literal()), f.path)
		}
	}

	ch, known := channels[p.channel]
	switch {
	case p.channel == "":
		p.fail(ErrMissingField, "data.channel.id is required: it selects the provider and store", "data.channel.id")
	case !known:
		p.fail(ErrUnknownChannel, fmt.Sprintf("RetailOPS channel %s has no settlement provider configured; nothing was settled", p.channel),
			"data.channel.id="+p.channel)
	}
	if p.order.id == "" {
		p.fail(ErrMissingField, "data.order.id is required", "data.order.id")
	}
	series, _ := o.PaymentSeriesID.id()
	if series == "" {
		p.fail(ErrMissingField, "data.order.payment_series_id is required: it identifies the settlement", "data.order.payment_series_id")
	}
	// The texts the request carries must survive XML unchanged: Encode
	// writes a character XML cannot carry as U+FFFD, so the worker would
	// settle, and report a verdict on, an order id RetailOPS never sent.
	for _, f := range carriedTexts(o) {
		if !messages.IsXMLText(f.v.Text) {
			p.fail(ErrInvalidField, fmt.Sprintf("%s holds a character no settlement document can carry (a control character or a noncharacter); nothing was settled", f.path), f.path)
		}
	}
	accounts, base := o.accounts()
	if len(accounts) == 0 {
		p.fail(ErrMissingField, "the order has no payment account: send data.order.payment_status.by_account or data.order.channel_payment",
			pathByAccount, pathChannelPayment)
	}
	if len(accounts) > cfg.MaxAccounts {
		p.fail(ErrTooManyAccounts, fmt.Sprintf("the order lists %d payment accounts; at most %d are settled from one webhook (INTAKE_RETAILOPS_MAX_ACCOUNTS); nothing was settled",
			len(accounts), cfg.MaxAccounts), base)
	}
	if len(p.events) > 0 {
		return p
	}
	ships := shipmentData(o.Shipments, &p.skipped)
	seen := map[string]bool{}
	for i := range accounts {
		path := base
		if base == pathByAccount {
			path = fmt.Sprintf("%s[%d]", base, i)
		}
		p.account(path, &accounts[i], ch, series, ships, seen)
	}
	if len(p.events) > 0 {
		p.out = nil
	}
	return p
}

// textField is a field of the webhook and where it is.
type textField struct {
	path string
	v    flexScalar
}

// carriedTexts are the webhook's texts a settlement request carries: the
// order id and channel refnum, and the fields of every package that
// ShipmentData may take.
func carriedTexts(o settleOrder) []textField {
	out := []textField{{"data.order.id", o.ID}, {"data.order.channel_refnum", o.ChannelRefnum}}
	for i, s := range o.Shipments {
		for j, k := range s.Packages {
			at := fmt.Sprintf("data.order.shipments[%d].packages[%d].", i, j)
			for _, f := range []textField{{"carrier_name", k.CarrierName}, {"carrier_code", k.CarrierCode},
				{"carrier_class_name", k.CarrierClassName}, {"class_name", k.ClassName},
				{"tracking_number", k.TrackingNumber}, {"date_shipped", k.DateShipped}} {
				out = append(out, textField{at + f.path, f.v})
			}
		}
	}
	return out
}

// orderOf is the order's reference: its id and channel_refnum, a JSON
// number read as the whole number it denotes.
func orderOf(o settleOrder) orderRef {
	// An id refused as it is written is quoted clipped (never published).
	id, ok := o.ID.id()
	if !ok {
		id = clip(id)
	}
	refnum, ok := o.ChannelRefnum.id()
	if !ok {
		refnum = clip(refnum)
	}
	return orderRef{id: id, refnum: refnum}
}

// accounts returns the payment accounts to consider: by_account when
// present (channel_payment is the channel's account, which by_account
// lists too), else channel_payment alone.
func (o settleOrder) accounts() ([]account, string) {
	if o.PaymentStatus != nil && len(o.PaymentStatus.ByAccount) > 0 {
		return o.PaymentStatus.ByAccount, pathByAccount
	}
	if o.ChannelPayment != nil {
		return []account{*o.ChannelPayment}, pathChannelPayment
	}
	return nil, ""
}

// account plans the settlement of one payment account.
func (p *settlePlan) account(path string, a *account, ch Channel, series string, ships []messages.ShipmentData, seen map[string]bool) {
	id, whole := a.ID.id()
	switch {
	case !whole:
		p.fail(ErrInvalidField, fmt.Sprintf("a payment account id is %s, not a whole number or a string; nothing was settled", a.ID.literal()), path+".id")
		return
	case id == "":
		p.fail(ErrMissingField, "a payment account has no id", path+".id")
		return
	case seen[id]:
		p.fail(ErrDuplicateAccount, fmt.Sprintf("payment account %s is listed twice", id), path+".id="+id)
		return
	}
	seen[id] = true
	// Both flags decide whether money is to be moved, so a value that is
	// not a clear yes or no is an error answer, never a silent skip (which
	// RetailOPS would read as settled).
	if ok, known := a.Success.boolean(); a.Success.Set && !known {
		p.fail(ErrInvalidField, fmt.Sprintf("payment account %s: success is %q, not 1/0 or true/false; nothing was settled", id, a.Success.Text), path+".success")
		return
	} else if known && !ok {
		p.skipped = append(p.skipped, fmt.Sprintf("account %s: payment not successful (success=%s)", id, a.Success.Text))
		return
	}
	external, known := a.CapturesAreExternal.boolean()
	switch {
	case !a.CapturesAreExternal.Set:
		p.fail(ErrMissingField, fmt.Sprintf("payment account %s has no captures_are_external: whether it is ours to capture is not known; nothing was settled", id), path+".captures_are_external")
		return
	case !known:
		p.fail(ErrInvalidField, fmt.Sprintf("payment account %s: captures_are_external is %q, not 1/0 or true/false; nothing was settled", id, a.CapturesAreExternal.Text), path+".captures_are_external")
		return
	case !external:
		p.skipped = append(p.skipped, fmt.Sprintf("account %s: captured by RetailOPS itself (captures_are_external=%q)", id, a.CapturesAreExternal.Text))
		return
	}
	nums, bad := a.numbers(path)
	for _, b := range bad {
		p.fail(ErrInvalidAmount, fmt.Sprintf("payment account %s: %s", id, b.msg), b.diag)
	}
	if len(bad) > 0 {
		return
	}
	amount := nums["available"].Sub(nums["captured"])
	switch {
	case amount.IsNegative():
		p.fail(ErrInconsistentAmount, fmt.Sprintf("payment account %s: captured (%s) exceeds available (%s); nothing was settled", id, nums["captured"], nums["available"]),
			path+".available="+nums["available"].String(), path+".captured="+nums["captured"].String())
		return
	case amount.IsZero():
		p.skipped = append(p.skipped, fmt.Sprintf("account %s: nothing left to capture", id))
		return
	}
	if a.Charged.Set {
		limit := nums["charged"].Sub(nums["credited"]).Sub(nums["voided"])
		if amount.GreaterThan(limit) {
			p.fail(ErrInconsistentAmount, fmt.Sprintf("payment account %s: amount to capture %s exceeds charged − credited − voided = %s; nothing was settled", id, amount, limit),
				path+".available="+nums["available"].String(), path+".charged="+nums["charged"].String())
			return
		}
	}
	amt, err := exact(amount, ch.Currency)
	if err != nil {
		p.fail(ErrInvalidAmount, fmt.Sprintf("payment account %s: amount %s cannot be settled in %s: %v", id, amount, ch.Currency, err), path+".available")
		return
	}
	authAmount := ""
	if auth := nums["authed"]; auth.IsPositive() {
		m, err := exact(auth, ch.Currency)
		if err != nil {
			p.fail(ErrInvalidAmount, fmt.Sprintf("payment account %s: authed %s is not an amount in %s: %v", id, auth, ch.Currency, err), path+".authed")
			return
		}
		// It travels as the original authorization amount, which the
		// worker sends as a Radial Amount: what a request's Amount may be.
		authAmount = m.String()
		if err := (messages.Amount{CurrencyCode: ch.Currency, Value: authAmount}).Check(path + ".authed"); err != nil {
			p.fail(ErrInvalidAmount, fmt.Sprintf("payment account %s: authed %s %s cannot be sent as the original authorization amount; nothing was settled", id, auth, ch.Currency),
				validationDiag(err)...)
			return
		}
	}
	req := p.request(id, series, amt, ships)
	if err := req.Validate(); err != nil {
		p.fail(ErrInvalidRequest, fmt.Sprintf("payment account %s: the settlement request built from the order is not valid", id), validationDiag(err)...)
		return
	}
	p.out = append(p.out, outgoing{req: req, provider: ch.Provider, storeID: ch.StoreID, tenderType: ch.TenderType,
		authAmount: authAmount, source: "retailops"})
}

// request builds the PaymentSettlementRequest of one account.
func (p *settlePlan) request(accountID, series string, amt money.Money, ships []messages.ShipmentData) *messages.PaymentSettlementRequest {
	rid := retailOPSRequestID(p.channel, p.order.id, series, accountID)
	req := &messages.PaymentSettlementRequest{
		RequestID:          rid,
		PaymentContextBase: &messages.PaymentContextBase{OrderID: p.order.id},
		InvoiceID:          retailOPSInvoiceID(p.order.id, accountID),
		Amount:             messages.Amount{CurrencyCode: amt.Currency, Value: amt.String()},
		TaxAmount:          &messages.Amount{CurrencyCode: amt.Currency, Value: money.Money{Amount: decimal.Zero, Currency: amt.Currency}.String()},
		SettlementType:     messages.SettlementDebit,
		// Radial echoes ClientContext in its statuses; the requestId is
		// what correlates them back (README, "Correlating").
		ClientContext:     rid,
		OmsOrderID:        p.order.id,
		ShipmentData:      ships,
		SourceOrderSystem: "EXTERNAL",
	}
	if len(p.order.refnum) <= 40 {
		req.OriginatingSystemOrderID = p.order.refnum
	}
	return req
}

// badNumber is an amount field that is not a plain decimal.
type badNumber struct{ msg, diag string }

// numbers parses the account's amount fields (absent ones are zero;
// available is required).
func (a *account) numbers(path string) (map[string]decimal.Decimal, []badNumber) {
	fields := []struct {
		name string
		f    flexScalar
	}{
		{"available", a.Available}, {"captured", a.Captured}, {"charged", a.Charged},
		{"credited", a.Credited}, {"voided", a.Voided}, {"authed", a.Authed},
	}
	out := map[string]decimal.Decimal{}
	var bad []badNumber
	for _, fl := range fields {
		if !fl.f.Set {
			if fl.name == "available" {
				bad = append(bad, badNumber{"available is required", path + ".available"})
			}
			out[fl.name] = decimal.Zero
			continue
		}
		if len(fl.f.Text) > maxNumberLiteral {
			// Refused unread: the parse of a million digits takes seconds.
			bad = append(bad, badNumber{fmt.Sprintf("%s is %d characters long, not an amount (%s)", fl.name, len(fl.f.Text), clip(fl.f.Text)), path + "." + fl.name})
			continue
		}
		d, err := money.ParseDecimal(fl.f.Text)
		switch {
		case fl.f.Bool:
			// Read as "1" or "0" for the flags; never an amount.
			bad = append(bad, badNumber{fmt.Sprintf("%s is %s, a boolean, not an amount", fl.name, fl.f.literal()), path + "." + fl.name})
		case err != nil:
			bad = append(bad, badNumber{fmt.Sprintf("%s %q is not a plain decimal number", fl.name, fl.f.Text), path + "." + fl.name})
		case d.IsNegative():
			bad = append(bad, badNumber{fmt.Sprintf("%s %s is negative", fl.name, d), path + "." + fl.name})
		default:
			out[fl.name] = d
		}
	}
	return out, bad
}

// exact converts an amount to money in currency, refusing a fraction of a
// minor unit (35.005 USD): it is never rounded.
func exact(d decimal.Decimal, currency string) (money.Money, error) {
	m := money.Money{Amount: d, Currency: currency}
	if _, err := m.MinorUnits(); err != nil {
		return money.Money{}, err
	}
	return m, nil
}

// shipmentData maps every shipped package (shipments[].packages[] with a
// date_shipped) to one ShipmentData, numbered CurrentCount/TotalCount over
// those packages. Packages without an RFC 3339 date_shipped are left out
// (ShippedDate is required in ShipmentData) and noted in skipped.
//
// The ShipmentData is the same however RetailOPS serializes the same
// packages: a redelivery (a retry after a timeout or a 5xx) must publish
// the very request the first delivery did, or the worker parks it as a
// different request under the same requestId. So ShippedDate is the
// instant in UTC (2016-04-08T21:13:11Z, whatever offset or fraction of
// zeros it was written with), and the packages are ordered by what they
// carry (date, tracking id, carrier, service), not as listed.
func shipmentData(ships []shipment, skipped *[]string) []messages.ShipmentData {
	type shipped struct {
		at time.Time
		sd messages.ShipmentData
	}
	var pkgs []shipped
	for _, s := range ships {
		for _, p := range s.Packages {
			at, err := time.Parse(time.RFC3339, strings.TrimSpace(p.DateShipped.Text))
			if err != nil {
				*skipped = append(*skipped, fmt.Sprintf("shipment %s package %s: no usable date_shipped (%q); left out of ShipmentData", s.ID.Text, p.ID.Text, p.DateShipped.Text))
				continue
			}
			sd := messages.ShipmentData{
				ShippedDate: at.UTC().Format(time.RFC3339Nano),
				TrackingID:  strings.TrimSpace(p.TrackingNumber.Text),
			}
			if name := firstNonEmpty(p.CarrierName.Text, p.CarrierCode.Text); name != "" {
				sd.Carrier = &messages.Carrier{Name: name, Service: firstNonEmpty(p.CarrierClassName.Text, p.ClassName.Text)}
			}
			pkgs = append(pkgs, shipped{at: at, sd: sd})
		}
	}
	carrier := func(sd messages.ShipmentData) (name, service string) {
		if sd.Carrier != nil {
			return sd.Carrier.Name, sd.Carrier.Service
		}
		return "", ""
	}
	// The instants first (RFC3339Nano text in UTC does not order by time
	// across fractions: "...:11Z" > "...:11.5Z"), then what else a package
	// carries.
	slices.SortStableFunc(pkgs, func(a, b shipped) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		an, as := carrier(a.sd)
		bn, bs := carrier(b.sd)
		return cmp.Or(strings.Compare(a.sd.TrackingID, b.sd.TrackingID), strings.Compare(an, bn), strings.Compare(as, bs))
	})
	var out []messages.ShipmentData // nil without packages, as before
	if len(pkgs) > 0 {
		out = make([]messages.ShipmentData, len(pkgs))
	}
	for i, p := range pkgs {
		out[i] = p.sd
		out[i].ShipmentCount = &messages.ShipmentCount{CurrentCount: strconv.Itoa(i + 1), TotalCount: strconv.Itoa(len(pkgs))}
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// validationDiag lists a Validate error's problems, one per entry.
func validationDiag(err error) []string {
	var verrs messages.ValidationErrors
	if errors.As(err, &verrs) {
		out := make([]string, len(verrs))
		for i, v := range verrs {
			out[i] = v.Error()
		}
		return out
	}
	return []string{err.Error()}
}
