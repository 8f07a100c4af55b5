package miva

import (
	"context"
	"fmt"

	"github.com/settlement-worker/settlement-worker/providers"
)

// PaymentList loads an order's payment records (OrderPaymentList_Load).
func (c *Client) PaymentList(ctx context.Context, orderID int64) ([]Payment, error) {
	data, err := c.call(ctx, FunctionPaymentList, listRequest{
		StoreCode: c.cfg.StoreCode, Function: FunctionPaymentList, OrderID: orderID, Timestamp: c.now().Unix(),
	})
	if err != nil {
		return nil, err
	}
	ps, err := DecodePayments(data)
	if err != nil {
		// Not evidence that the order has no payment: retried, then
		// parked, never read as an empty list.
		return nil, providers.TransientError("", fmt.Sprintf("miva %s: malformed answer (%s)", FunctionPaymentList, providers.Quoted(err.Error())), nil)
	}
	return ps, nil
}

// captureCall runs OrderPayment_Capture of amount on record id.
func (c *Client) captureCall(ctx context.Context, id int64, amount string) error {
	return c.paymentCall(ctx, FunctionCapture, id, amount)
}

// refundCall runs OrderPayment_Refund of amount on record id.
func (c *Client) refundCall(ctx context.Context, id int64, amount string) error {
	return c.paymentCall(ctx, FunctionRefund, id, amount)
}

// paymentCall runs a function acting on one payment record. The answer's
// data (an OrderPaymentTotal) names no record, so it is not used.
func (c *Client) paymentCall(ctx context.Context, function string, id int64, amount string) error {
	_, err := c.call(ctx, function, paymentRequest{
		StoreCode: c.cfg.StoreCode, Function: function, OrderPaymentID: id, Amount: jsonNumber(amount), Timestamp: c.now().Unix(),
	})
	return err
}
