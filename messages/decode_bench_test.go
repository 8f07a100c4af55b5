package messages

import "testing"

// hotBodies are the documents the worker decodes for each Radial
// settlement, as the sandbox and the order systems write them (Encode: no
// comment, the canonical shape): the request, the funds-confirmation
// reply, Radial's status and the ack.
func hotBody(b *testing.B, v any) []byte {
	b.Helper()
	body, err := Encode(v)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

func benchDecode[T any](b *testing.B, body []byte, decode func([]byte) (*T, error)) {
	b.Helper()
	if _, err := decode(body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeConfirmFundsReply(b *testing.B) {
	body := hotBody(b, &ConfirmFundsReply{
		PaymentContext: &PaymentContext{OrderID: "ORD-10001", PaymentAccountUniqueID: AccountID{IsToken: "true", Value: "4111110PASeK1111"}},
		FundsAvailable: FundsSuccess,
	})
	benchDecode(b, body, DecodeConfirmFundsReply)
}

func BenchmarkDecodeSettlementStatus(b *testing.B) {
	st, err := DecodeSettlementStatus(readGolden(b, "status_debit_with_account.xml"))
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, hotBody(b, st), DecodeSettlementStatus)
}

func BenchmarkDecodeAckReply(b *testing.B) {
	benchDecode(b, hotBody(b, &AckReply{Received: &struct{}{}}), DecodeAckReply)
}
