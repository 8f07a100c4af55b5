package main

import (
	"fmt"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/settlement-worker/settlement-worker/handlers"
	"github.com/settlement-worker/settlement-worker/messages"
	pvfrisbii "github.com/settlement-worker/settlement-worker/providers/frisbii"
	pvmiva "github.com/settlement-worker/settlement-worker/providers/miva"
	pvpaysafe "github.com/settlement-worker/settlement-worker/providers/paysafe"
)

// copyHeader tags each publication: orig, dup (same headers, a second
// message_id) or changed:<header> (same requestId, a money header changed).
const copyHeader = "chaos_copy"

type order struct {
	id           string
	credit       bool
	settlementID string // Paysafe credit orders: the seeded settlement
	settlements  []*settlement
}

type settlement struct {
	id    string
	pv    string
	order *order
	typ   string
	minor int64
}

// workload builds n settlements for pv in groups of four: a debit order
// with three debits (two of EQUAL amounts) and a credit order with one
// refund of an already settled payment. Orders are numeric (Miva).
func workload(pv string, base, n int) []*order {
	var out []*order
	for g := 0; len(out) == 0 || countSettlements(out) < n; g++ {
		d := &order{id: strconv.Itoa(base + 2*g)}
		for i, m := range []int64{1000, 1000, 750} {
			d.settlements = append(d.settlements, &settlement{id: fmt.Sprintf("c-%s-%d-%d", pv, base+2*g, i), pv: pv, order: d, typ: messages.SettlementDebit, minor: m})
		}
		c := &order{id: strconv.Itoa(base + 2*g + 1), credit: true}
		c.settlements = []*settlement{{id: fmt.Sprintf("c-%s-%d-0", pv, base+2*g+1), pv: pv, order: c, typ: messages.SettlementCredit, minor: 300}}
		out = append(out, d, c)
	}
	return out
}

func countSettlements(os []*order) int {
	n := 0
	for _, o := range os {
		n += len(o.settlements)
	}
	return n
}

// body is the encoded PaymentSettlementRequest of s.
func (s *settlement) body() ([]byte, error) {
	r := messages.PaymentSettlementRequest{
		RequestID:          s.id,
		PaymentContextBase: &messages.PaymentContextBase{OrderID: s.order.id},
		InvoiceID:          "i" + strings.TrimPrefix(s.id[strings.LastIndexByte(s.id[:strings.LastIndexByte(s.id, '-')], '-')+1:], "-"),
		Amount:             messages.Amount{CurrencyCode: currency, Value: fmtMinor(s.minor)},
		TaxAmount:          &messages.Amount{CurrencyCode: currency, Value: "0.00"},
		SettlementType:     s.typ,
		OmsOrderID:         s.order.id,
	}
	if s.typ == messages.SettlementDebit {
		r.FinalDebit = "false"
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("request %s: %w", s.id, err)
	}
	return messages.Encode(r)
}

// headers are what an order system sends with s.
func (s *settlement) headers() amqp.Table {
	// Every provider gets the tender type: each status event carries it.
	h := amqp.Table{handlers.HeaderStoreID: storeID, handlers.HeaderTenderType: tender, copyHeader: "orig"}
	switch s.pv {
	case "paysafe":
		if s.typ == messages.SettlementCredit {
			h[pvpaysafe.HeaderSettlementID] = s.order.settlementID
		} else {
			h[pvpaysafe.HeaderAuthorizationID] = "auth-" + s.order.id
		}
	case "frisbii":
		h[pvfrisbii.HeaderChargeHandle] = s.order.id
	}
	return h
}

// changedHeaders are s's headers with one money header changed (k picks
// which): store_id, or the provider's own money header.
func (s *settlement) changedHeaders(k int) (amqp.Table, string) {
	h := s.headers()
	name := handlers.HeaderStoreID
	if k%2 == 1 {
		switch s.pv {
		case "radial":
			name = handlers.HeaderTenderType
		case "paysafe":
			name = pvpaysafe.HeaderAuthorizationID
			if s.typ == messages.SettlementCredit {
				name = pvpaysafe.HeaderSettlementID
			}
		case "frisbii":
			name = pvfrisbii.HeaderChargeHandle
		case "miva":
			name = pvmiva.HeaderPaymentID
		}
	}
	if name == handlers.HeaderTenderType {
		h[name] = "MC"
	} else {
		h[name] = "other-" + s.order.id
	}
	h[copyHeader] = "changed:" + name
	return h, name
}
