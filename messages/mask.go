package messages

import (
	"fmt"
	"strconv"
)

// Format masks the account number for every fmt verb, so that neither %v,
// %+v, %s, %q, %x nor %d can print it; %#v prints GoString.
func (a AccountID) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, a.GoString())
		return
	}
	_, _ = fmt.Fprint(f, a.String())
}

// String prints the order id and the masked account number; it keeps the
// account number out of logs when a *PaymentContext is printed through a
// parent struct.
func (c PaymentContext) String() string {
	return "{" + c.OrderID + " " + c.PaymentAccountUniqueID.String() + "}"
}

// GoString is the %#v form of PaymentContext, with the account masked.
func (c PaymentContext) GoString() string {
	return "messages.PaymentContext{OrderID:" + strconv.Quote(c.OrderID) + ", PaymentAccountUniqueID:" + c.PaymentAccountUniqueID.GoString() + "}"
}

// Format prints PaymentContext for every fmt verb with the account number
// masked: %+v names the fields, %#v prints GoString, anything else String.
func (c PaymentContext) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, c.GoString())
	case verb == 'v' && f.Flag('+'):
		_, _ = fmt.Fprint(f, "{OrderID:"+c.OrderID+" PaymentAccountUniqueID:"+c.PaymentAccountUniqueID.String()+"}")
	default:
		_, _ = fmt.Fprint(f, c.String())
	}
}
