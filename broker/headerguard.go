package broker

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// HeaderUnreadable is set, by the connection guard (Guard), on a message
// whose headers the AMQP client cannot read: it names each header left out
// and why. The headers it names hold a note in place of their value.
const HeaderUnreadable = "settlement_unreadable_headers"

// The limits of the AMQP client (amqp091-go's readTableDepth and
// readArrayDepth): a header table or array nested deeper, or holding more
// entries, is a syntax error for it.
const (
	clientMaxDepth    = 32
	clientMaxElements = 8192
)

// Guard returns the URL and configuration to dial amqpURL with
// (amqp.DialConfig) so that every frame the broker sends passes the
// header guard before the AMQP client reads it.
//
// The client (amqp091-go) refuses a message whose header table nests
// deeper than 32 levels or holds more than 8192 entries in one table or
// array, and it does so by closing the whole connection with a frame
// error ("invalid field or value inside of a frame"). Such a message,
// which any publisher can send and the broker accepts, is then redelivered
// to the next consumer, which dies the same way: its queue's consumers
// reconnect in a loop (with every message they had in flight handed back,
// each return counted towards the delivery limit), forever on a classic
// queue; once dead-lettered to a parked queue it stops `parked ls`,
// `parked replay` and `parked purge` the same way. The guard rewrites such
// a header, in the message frame, into a note, and names it in the
// HeaderUnreadable header, so the message is delivered and can be parked
// with a reason.
//
// For amqps, the TLS handshake moves into the dial (with the TLS
// configuration the client would use: cfg's, else the URL's) and the URL
// returned is amqp:// with the port made explicit, so that the guard reads
// the broker's frames after decryption.
func Guard(amqpURL string, cfg amqp.Config) (string, amqp.Config, error) {
	uri, err := amqp.ParseURI(amqpURL)
	if err != nil {
		return "", cfg, err
	}
	dial := cfg.Dial
	if dial == nil {
		timeout := 30 * time.Second
		if uri.ConnectionTimeout > 0 {
			timeout = time.Duration(uri.ConnectionTimeout) * time.Millisecond
		}
		dial = amqp.DefaultDial(timeout)
	}
	if uri.Scheme != "amqps" {
		cfg.Dial = func(network, addr string) (net.Conn, error) {
			c, err := dial(network, addr)
			if err != nil {
				return nil, err
			}
			return newGuardConn(c), nil
		}
		return amqpURL, cfg, nil
	}
	tc := cfg.TLSClientConfig
	if tc == nil {
		if tc, err = tlsFromURI(uri); err != nil {
			return "", cfg, fmt.Errorf("create TLS config from URI: %w", err)
		}
	} else {
		tc = tc.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = uri.Host
	}
	cfg.TLSClientConfig = nil
	cfg.Dial = func(network, addr string) (net.Conn, error) {
		c, err := dial(network, addr)
		if err != nil {
			return nil, err
		}
		t := tls.Client(c, tc)
		if err := t.Handshake(); err != nil {
			_ = c.Close()
			return nil, err
		}
		return newGuardConn(t), nil
	}
	u, err := url.Parse(amqpURL)
	if err != nil {
		return "", cfg, err
	}
	u.Scheme = "amqp"
	u.Host = net.JoinHostPort(uri.Host, fmt.Sprint(uri.Port))
	return u.String(), cfg, nil
}

// dialGuarded is amqp.DialConfig through the header guard (Guard).
func dialGuarded(amqpURL string, cfg amqp.Config) (*amqp.Connection, error) {
	u, gcfg, err := Guard(amqpURL, cfg)
	if err != nil {
		return nil, err
	}
	return amqp.DialConfig(u, gcfg)
}

// DialGuarded is amqp.DialConfig through the header guard (Guard), for
// the operator commands.
func DialGuarded(amqpURL string, cfg amqp.Config) (*amqp.Connection, error) {
	return dialGuarded(amqpURL, cfg)
}

// tlsFromURI is the TLS configuration amqp091-go builds from an amqps URL's
// query (cacertfile, certfile, keyfile, server_name_indication).
func tlsFromURI(uri amqp.URI) (*tls.Config, error) {
	c := &tls.Config{ServerName: uri.ServerName, MinVersion: tls.VersionTLS12}
	if uri.CACertFile != "" {
		pem, err := os.ReadFile(uri.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		c.RootCAs.AppendCertsFromPEM(pem)
	}
	if uri.CertFile != "" && uri.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(uri.CertFile, uri.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// guardConn reads the broker's frames whole and hands them on, each
// content header frame with its header table made readable
// (guardHeaderFrame). Anything that is not a frame (a broker refusing the
// protocol answers with its own protocol header) is handed on as it is.
type guardConn struct {
	net.Conn
	r    *bufio.Reader
	buf  []byte // what Read hands on next
	pass bool
	// head and frame are next's buffers, reused once buf is handed on.
	head  [7]byte
	frame []byte
}

func newGuardConn(c net.Conn) *guardConn {
	return &guardConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// maxGuardedFrame is the largest frame the guard reads whole; a larger one
// is handed on as it is (the client refuses it: its frame_max is 128 KiB).
const maxGuardedFrame = 16 << 20

func (g *guardConn) Read(p []byte) (int, error) {
	for len(g.buf) == 0 {
		if g.pass {
			return g.r.Read(p)
		}
		if err := g.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, g.buf)
	g.buf = g.buf[n:]
	return n, nil
}

// next reads one frame into buf (into the buffers of the frame before,
// which Read has handed on whole).
func (g *guardConn) next() error {
	head := g.head[:]
	if _, err := io.ReadFull(g.r, head[:1]); err != nil {
		return err
	}
	switch head[0] {
	case 1, 2, 3, 8: // method, header, body, heartbeat
	default:
		g.pass, g.buf = true, head[:1]
		return nil
	}
	if _, err := io.ReadFull(g.r, head[1:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(head[3:7])
	if size > maxGuardedFrame {
		g.pass, g.buf = true, head
		return nil
	}
	n := 7 + int(size) + 1 // and the frame-end octet
	if cap(g.frame) < n || cap(g.frame) > 256<<10 && n <= 256<<10 {
		g.frame = make([]byte, n, max(n, 4<<10))
	}
	frame := g.frame[:n]
	copy(frame, head)
	if _, err := io.ReadFull(g.r, frame[7:]); err != nil {
		return err
	}
	if head[0] == 2 {
		if fixed, ok := guardHeaderFrame(frame[7 : 7+size]); ok {
			end := frame[len(frame)-1]
			frame = append(append(frame[:7:7], fixed...), end)
			binary.BigEndian.PutUint32(frame[3:7], uint32(len(fixed)))
		}
	}
	g.buf = frame
	return nil
}

// Property flags of a content header frame (AMQP 0-9-1 basic class).
const (
	flagContentType     = 0x8000
	flagContentEncoding = 0x4000
	flagHeaders         = 0x2000
)

// guardHeaderFrame returns the payload of a content header frame with its
// header table made readable, and true, when the client could not read
// it; otherwise (a readable table, no table) false.
func guardHeaderFrame(p []byte) ([]byte, bool) {
	// class-id, weight, body size, property flags
	if len(p) < 14 {
		return nil, false
	}
	flags := binary.BigEndian.Uint16(p[12:14])
	if flags&flagHeaders == 0 {
		return nil, false
	}
	off := 14
	for _, f := range []uint16{flagContentType, flagContentEncoding} {
		if flags&f != 0 {
			if off >= len(p) {
				return nil, false
			}
			off += 1 + int(p[off])
		}
	}
	if off+4 > len(p) {
		return nil, false
	}
	n := int(binary.BigEndian.Uint32(p[off : off+4]))
	if n < 0 || off+4+n > len(p) {
		return nil, false
	}
	table := p[off+4 : off+4+n]
	if tableReadable(table, 0) {
		return nil, false
	}
	fixed, ok := guardTable(table)
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, len(p)-n+len(fixed))
	out = append(out, p[:off]...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(fixed)))
	out = append(out, fixed...)
	return append(out, p[off+4+n:]...), true
}

// guardTable returns a header table the client can read in place of t,
// and true, when it cannot read t: each entry it cannot read holds a note
// instead, and HeaderUnreadable names them (a table it cannot even walk is
// replaced whole).
func guardTable(t []byte) ([]byte, bool) {
	type entry struct {
		raw []byte // the entry as it is
		key string
		why string // why the client cannot read its value
	}
	var entries []entry
	keys := map[string]bool{}
	r := bytes.NewReader(t)
	var whole string
	for r.Len() > 0 {
		start := len(t) - r.Len()
		key, err := skipShortstr(r)
		if err != nil {
			whole = "the header table is malformed"
			break
		}
		why := checkField(r, 0)
		if why == errTruncated.Error() {
			whole = "the header table is malformed"
			break
		}
		// The client refuses any entry past its 8192nd distinct name.
		if len(keys) >= clientMaxElements {
			whole = fmt.Sprintf("the header table holds more than %d headers", clientMaxElements)
			break
		}
		keys[key] = true
		entries = append(entries, entry{raw: t[start : len(t)-r.Len()], key: key, why: why})
	}
	var bad []string
	var out []byte
	if whole != "" {
		bad = append(bad, "all ("+whole+")")
	} else {
		for _, e := range entries {
			if e.why == "" {
				if e.key != HeaderUnreadable {
					out = append(out, e.raw...)
				}
				continue
			}
			bad = append(bad, fmt.Sprintf("%q (%s)", truncateKey(e.key), e.why))
			out = appendLongstrField(out, e.key, "(unreadable: "+e.why+")")
		}
		if len(bad) == 0 {
			return nil, false
		}
	}
	sort.Strings(bad)
	return appendLongstrField(out, HeaderUnreadable, strings.Join(bad, "; ")), true
}

func truncateKey(k string) string {
	if len(k) > 60 {
		return k[:60] + "…"
	}
	return k
}

// appendLongstrField appends the table entry key = value (a long string).
func appendLongstrField(b []byte, key, value string) []byte {
	b = append(b, byte(len(key)))
	b = append(b, key...)
	b = append(b, 'S')
	b = binary.BigEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

var errTruncated = errors.New("truncated")

func skipShortstr(r *bytes.Reader) (string, error) {
	n, err := r.ReadByte()
	if err != nil {
		return "", errTruncated
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", errTruncated
	}
	return string(b), nil
}

func skip(r *bytes.Reader, n int64) bool {
	if n < 0 || n > int64(r.Len()) {
		_, _ = r.Seek(0, io.SeekEnd)
		return false
	}
	_, _ = r.Seek(n, io.SeekCurrent)
	return true
}

func readU32(r *bytes.Reader) (uint32, bool) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[:]), true
}

// fixedFields are the sizes of the field types of a fixed size.
var fixedFields = map[byte]int64{'t': 1, 'B': 1, 'b': 1, 's': 2, 'u': 2, 'I': 4, 'i': 4, 'l': 8, 'f': 4, 'd': 8, 'D': 5, 'T': 8, 'V': 0}

// checkField skips one field value of r (its type octet first), as the
// client reads it at depth, and says why the client cannot read it ("" when
// it can; errTruncated's text when the bytes end within it, which makes
// the enclosing table or array unwalkable).
func checkField(r *bytes.Reader, depth int) string {
	typ, err := r.ReadByte()
	if err != nil {
		return errTruncated.Error()
	}
	if n, ok := fixedFields[typ]; ok {
		if !skip(r, n) {
			return errTruncated.Error()
		}
		return ""
	}
	switch typ {
	case 'S', 'x':
		n, ok := readU32(r)
		if !ok || !skip(r, int64(n)) {
			return errTruncated.Error()
		}
		if n > 1<<31-1 {
			return "longer than the client reads"
		}
		return ""
	case 'F', 'A':
		n, ok := readU32(r)
		if !ok || int64(n) > int64(r.Len()) {
			return errTruncated.Error()
		}
		body := make([]byte, n)
		_, _ = io.ReadFull(r, body)
		if depth+1 > clientMaxDepth {
			return fmt.Sprintf("nested deeper than %d levels", clientMaxDepth)
		}
		if typ == 'F' {
			return checkTable(body, depth+1)
		}
		return checkArray(body, depth+1)
	}
	return fmt.Sprintf("field type %q unknown to the client", typ)
}

// checkTable says why the client cannot read the nested table t ("" when
// it can).
func checkTable(t []byte, depth int) string {
	r := bytes.NewReader(t)
	keys := map[string]bool{}
	for r.Len() > 0 {
		key, err := skipShortstr(r)
		if err != nil {
			return "malformed"
		}
		if why := checkField(r, depth); why == errTruncated.Error() {
			return "malformed"
		} else if why != "" {
			return why
		}
		if len(keys) >= clientMaxElements {
			return fmt.Sprintf("a table of more than %d entries", clientMaxElements)
		}
		keys[key] = true
	}
	return ""
}

// checkArray says why the client cannot read the array a ("" when it can).
func checkArray(a []byte, depth int) string {
	r := bytes.NewReader(a)
	for n := 0; r.Len() > 0; n++ {
		if n >= clientMaxElements {
			return fmt.Sprintf("an array of more than %d elements", clientMaxElements)
		}
		if why := checkField(r, depth); why == errTruncated.Error() {
			return "malformed"
		} else if why != "" {
			return why
		}
	}
	return ""
}

// tableReadable reports, without allocating, that the client reads the
// table t (at nesting depth): every field well formed and of a type it
// knows, nothing nested deeper than clientMaxDepth, no table or array of
// more than clientMaxElements entries (counted with their names repeated:
// a longer table whose names repeat is left to guardTable, which counts
// the distinct ones). False sends the table to guardTable, which says what
// the client cannot read, if anything.
func tableReadable(t []byte, depth int) bool {
	for n := 0; len(t) > 0; n++ {
		if n >= clientMaxElements {
			return false
		}
		k := int(t[0])
		if 1+k > len(t) {
			return false
		}
		var ok bool
		if t, ok = fieldReadable(t[1+k:], depth); !ok {
			return false
		}
	}
	return true
}

// arrayReadable is tableReadable for an array's elements.
func arrayReadable(a []byte, depth int) bool {
	for n := 0; len(a) > 0; n++ {
		if n >= clientMaxElements {
			return false
		}
		var ok bool
		if a, ok = fieldReadable(a, depth); !ok {
			return false
		}
	}
	return true
}

// fieldReadable reads one field value (its type octet first) off f and
// returns the rest, and whether the client reads the value (checkField's
// "").
func fieldReadable(f []byte, depth int) ([]byte, bool) {
	if len(f) == 0 {
		return nil, false
	}
	typ, f := f[0], f[1:]
	if n, ok := fixedFields[typ]; ok {
		if int64(len(f)) < n {
			return nil, false
		}
		return f[n:], true
	}
	switch typ {
	case 'S', 'x', 'F', 'A':
	default:
		return nil, false
	}
	if len(f) < 4 {
		return nil, false
	}
	n := int64(binary.BigEndian.Uint32(f))
	if n > int64(len(f)-4) || n > 1<<31-1 {
		return nil, false
	}
	body, rest := f[4:4+n], f[4+n:]
	switch typ {
	case 'F':
		return rest, depth+1 <= clientMaxDepth && tableReadable(body, depth+1)
	case 'A':
		return rest, depth+1 <= clientMaxDepth && arrayReadable(body, depth+1)
	}
	return rest, true
}
