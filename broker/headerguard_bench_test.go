package broker

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
)

// readerConn is a net.Conn reading from r (benchmarks).
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// amqpFrame is one AMQP frame: type, channel 1, payload, frame end.
func amqpFrame(typ byte, payload []byte) []byte {
	f := []byte{typ, 0, 1}
	f = binary.BigEndian.AppendUint32(f, uint32(len(payload)))
	f = append(f, payload...)
	return append(f, 0xCE)
}

// deliveryFrames are the three frames of a delivery as the broker sends
// them to a consumer: basic.deliver, a content header with a content type
// and eight headers, a 500-byte body.
func deliveryFrames() []byte {
	method := append([]byte{0, 60, 0, 60}, bytes.Repeat([]byte{'m'}, 60)...)
	var table []byte
	for _, k := range []string{"store_id", "tender_type", "message_id", "settlement_attempt", "traceparent", "content_type", "x-a", "x-b"} {
		table = appendLongstrField(table, k, "value-of-"+k)
	}
	header := []byte{0, 60, 0, 0}
	header = binary.BigEndian.AppendUint64(header, 500)
	header = binary.BigEndian.AppendUint16(header, flagContentType|flagHeaders)
	header = append(header, byte(len("application/xml")))
	header = append(header, "application/xml"...)
	header = binary.BigEndian.AppendUint32(header, uint32(len(table)))
	header = append(header, table...)
	var out []byte
	out = append(out, amqpFrame(1, method)...)
	out = append(out, amqpFrame(2, header)...)
	return append(out, amqpFrame(3, bytes.Repeat([]byte{'b'}, 500))...)
}

// BenchmarkGuardDelivery: what the header guard costs per delivery (three
// frames read whole, the header table walked) on the way to the client.
func BenchmarkGuardDelivery(b *testing.B) {
	one := deliveryFrames()
	const perRound = 256
	stream := bytes.Repeat(one, perRound)
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(one)))
	b.ReportAllocs()
	var g *guardConn
	for i := 0; b.Loop(); i++ {
		// one delivery per iteration: a new stream every perRound
		if i%perRound == 0 {
			b.StopTimer()
			g = newGuardConn(readerConn{r: bytes.NewReader(stream)})
			b.StartTimer()
		}
		if _, err := io.ReadFull(g, buf[:len(one)]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTableReadableAgreesWithGuardTable: the guard's allocation-free
// check (tableReadable) passes a table only when guardTable finds nothing
// to rewrite in it, and sends every table guardTable rewrites to it.
func TestTableReadableAgreesWithGuardTable(t *testing.T) {
	nest := func(levels int, typ byte) []byte {
		inner := appendLongstrField(nil, "leaf", "x")
		for range levels {
			var f []byte
			if typ == 'A' {
				f = append([]byte{'A'}, binary.BigEndian.AppendUint32(nil, uint32(len(inner)+1))...)
				f = append(append(f, 'F'), inner...) // an array of one table
				f = append([]byte{1, 'n'}, f...)
			} else {
				f = append([]byte{1, 'n', 'F'}, binary.BigEndian.AppendUint32(nil, uint32(len(inner)))...)
				f = append(f, inner...)
			}
			inner = f
		}
		return inner
	}
	many := func(n int, distinct bool) []byte {
		var tb []byte
		for i := range n {
			k := "k"
			if distinct {
				k = "k" + string(rune('a'+i%26)) + string(binary.BigEndian.AppendUint32(nil, uint32(i)))
			}
			tb = append(tb, byte(len(k)))
			tb = append(tb, k...)
			tb = append(tb, 'V')
		}
		return tb
	}
	array := func(n int) []byte {
		body := bytes.Repeat([]byte{'V'}, n)
		f := append([]byte{1, 'a', 'A'}, binary.BigEndian.AppendUint32(nil, uint32(len(body)))...)
		return append(f, body...)
	}
	for name, tb := range map[string][]byte{
		"empty":                  nil,
		"strings":                append(appendLongstrField(nil, "a", "1"), appendLongstrField(nil, "b", "2")...),
		"nested 31":              nest(31, 'F'),
		"nested 32":              nest(32, 'F'),
		"nested 33":              nest(33, 'F'),
		"nested 40 in arrays":    nest(40, 'A'),
		"8192 distinct":          many(8192, true),
		"8193 distinct":          many(8193, true),
		"8193 one name repeated": many(8193, false),
		"array of 8192":          array(8192),
		"array of 8193":          array(8193),
		"unknown type":           {1, 'a', '?'},
		"truncated string":       {1, 'a', 'S', 0, 0, 0, 9, 'x'},
		"truncated key":          {5, 'a'},
	} {
		_, rewritten := guardTable(tb)
		unreadable := strings.Contains(name, "33") || strings.Contains(name, "40") || strings.Contains(name, "8193 distinct") ||
			strings.Contains(name, "array of 8193") || strings.Contains(name, "unknown") || strings.Contains(name, "truncated")
		if rewritten != unreadable {
			t.Errorf("%s: guardTable rewrites it: %v, want %v", name, rewritten, unreadable)
		}
		if fast := tableReadable(tb, 0); fast && rewritten {
			t.Errorf("%s: tableReadable passed a table guardTable rewrites", name)
		} else if !fast && !rewritten && name != "8193 one name repeated" {
			t.Errorf("%s: tableReadable sent a table guardTable keeps to it", name)
		}
	}
}
