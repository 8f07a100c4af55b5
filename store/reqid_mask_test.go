package store

import (
	"errors"
	"strings"
)

// cardRequestID is a requestId holding a Luhn-valid card number (a sender's
// mistake): the store keeps it as sent (it is the key) but masks it in the
// texts of its errors, which reach logs, parked reasons and notes.
const cardRequestID = "REQ-4111111111111111"

// testErrorTextsMaskACardNumberInTheRequestID: the errors of a conflict, a
// key not found, a key that is not text and an unknown state quoted the
// requestId whole; a card number in it is masked there (the error still
// wraps ErrStateConflict, ErrNotFound or ErrInvalidText), and a requestId
// without one reads as it is.
func testErrorTextsMaskACardNumberInTheRequestID(e *env) {
	key := e.register(sample(cardRequestID)).Key
	e.transition(key, nil, StateAcknowledged, Change{ParkedReason: ptr("parked")}, nil)
	missing := Key{Provider: "acme", RequestID: "REQ-4012888888881881"}
	for _, c := range []struct {
		name string
		want error
		run  func() error
	}{
		{"state conflict", ErrStateConflict, func() error {
			_, _, err := e.st.Transition(e.ctx, key, []State{StateReceived}, StateSubmitting, Change{}, nil)
			return err
		}},
		{"refs conflict", ErrStateConflict, func() error {
			_, _, err := e.st.Transition(e.ctx, key, []State{StateAcknowledged}, StateAcknowledged, Change{IfRefs: map[string]string{"sent": "t0"}}, nil)
			return err
		}},
		{"attempts conflict", ErrStateConflict, func() error {
			_, _, err := e.st.Transition(e.ctx, key, []State{StateAcknowledged}, StateAcknowledged, Change{IfAttempts: 5}, nil)
			return err
		}},
		{"parked conflict", ErrStateConflict, func() error {
			_, _, err := e.st.Transition(e.ctx, key, []State{StateAcknowledged}, StateSettled, Change{IfNotParked: true}, nil)
			return err
		}},
		{"unknown state", nil, func() error {
			_, _, err := e.st.Transition(e.ctx, key, nil, State("bogus"), Change{}, nil)
			return err
		}},
		{"get, not found", ErrNotFound, func() error { _, err := e.st.Get(e.ctx, missing); return err }},
		{"transition, not found", ErrNotFound, func() error {
			_, _, err := e.st.Transition(e.ctx, missing, nil, StateSettled, Change{}, nil)
			return err
		}},
		{"get, not text", ErrNotFound, func() error {
			_, err := e.st.Get(e.ctx, Key{Provider: "acme", RequestID: missing.RequestID + "\x00"})
			return err
		}},
		{"transition, not text", ErrNotFound, func() error {
			_, _, err := e.st.Transition(e.ctx, Key{Provider: "acme", RequestID: missing.RequestID + "\x00"}, nil, StateSettled, Change{}, nil)
			return err
		}},
		{"register, not text", ErrInvalidText, func() error {
			in := sample(missing.RequestID + "\x00")
			_, _, err := e.st.Register(e.ctx, in)
			return err
		}},
		{"register, order id not text", ErrInvalidText, func() error {
			in := sample("plain-1")
			in.OrderID = "4012888888881881\x00"
			_, _, err := e.st.Register(e.ctx, in)
			return err
		}},
	} {
		err := c.run()
		switch {
		case err == nil:
			e.Errorf("%s: no error", c.name)
		case c.want != nil && !errors.Is(err, c.want):
			e.Errorf("%s: %v, want %v", c.name, err, c.want)
		case strings.Contains(err.Error(), "4111111111") || strings.Contains(err.Error(), "4012888888"):
			e.Errorf("%s: the error shows the card number: %v", c.name, err)
		case !strings.Contains(err.Error(), "1111") && !strings.Contains(err.Error(), "1881"):
			e.Errorf("%s: the error lacks the masked requestId: %v", c.name, err)
		}
	}
	// A requestId without a card number reads as it is.
	plain := e.register(sample("REQ-12345678")).Key
	if _, _, err := e.st.Transition(e.ctx, plain, []State{StateSettled}, StateRefused, Change{}, nil); err == nil || !strings.Contains(err.Error(), "acme/REQ-12345678") {
		e.Errorf("conflict on a plain requestId: %v, want it named as it is", err)
	}
	if got := e.get(key); got.RequestID != cardRequestID {
		e.Errorf("stored requestId %q, want it as sent", got.RequestID)
	}
}
