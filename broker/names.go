package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// The AMQP contract. See the README's table.
const (
	// IntakeExchange receives settlement requests (topic, durable).
	IntakeExchange = "payments.settlements"
	// StatusExchange receives PaymentSettlementStatus events (topic, durable).
	StatusExchange = "payments.settlements.status"
	// StatusMessageType is the AMQP type property of status events; Radial's
	// own client library dispatches on it.
	StatusMessageType = "PaymentSettlementStatus"
)

// RequestRoutingKey is the routing key a request for provider p is published with.
func RequestRoutingKey(p string) string { return "settlement.request." + p }

// RequestQueue is the queue holding provider p's requests.
func RequestQueue(p string) string { return "q.Payments.Settlements.Request." + p }

// RetryQueue is the queue where provider p's requests wait delay before they
// are dead-lettered back to RequestQueue(p).
func RetryQueue(p string, delay time.Duration) string {
	return RequestQueue(p) + ".retry." + delay.String()
}

// ParkedQueue holds provider p's requests that cannot succeed, with the reason
// in headers, ready to be replayed.
func ParkedQueue(p string) string { return RequestQueue(p) + ".parked" }

// ProviderStatusParkedQueue holds asynchronous provider statuses (Radial's)
// that could not be parsed or matched to a settlement.
func ProviderStatusParkedQueue(p string) string {
	return "q.Payments.Settlements.ProviderStatus." + p + ".parked"
}

// MaxPrefetch is the largest prefetch count a consumer can ask for: AMQP
// carries it in 16 bits, and amqp091-go's Qos truncates a larger value
// without an error (65536 becomes 0, which the broker takes for no limit).
const MaxPrefetch = 65535

// MaxShortString is the most bytes an AMQP short string holds: a routing
// key, and the message_id and correlation_id properties. A longer one
// fails the publish and takes its connection down (a frame error).
const MaxShortString = 255

// StatusRoutingKey is the routing key of a status event for a store. A
// store id too long for a routing key (a store_id may be 100 characters,
// up to 400 bytes) is cut at a character boundary to fit MaxShortString:
// no binding key could name it whole either, so its events are routed
// by a wildcard or by that cut form. The store id is taken trimmed, as the
// worker reads store_id: ' S1' and 'S1' are one store.
func StatusRoutingKey(storeID string) string {
	key := "settlement.status." + strings.NewReplacer(".", "_", "#", "_", "*", "_").Replace(strings.TrimSpace(storeID))
	if len(key) <= MaxShortString {
		return key
	}
	n := MaxShortString
	for n > 0 && !utf8.RuneStart(key[n]) { // never a character cut in two
		n--
	}
	return key[:n]
}

// StatusQueueName is the default status queue for a broker user, in Radial's
// queue style.
func StatusQueueName(suffix string) string { return "q.Payments.Settlements.Status." + suffix }

// SameBroker reports whether two AMQP URLs address the same broker and
// virtual host (credentials aside; default ports and the "/" vhost made
// explicit). Unparseable URLs are compared as text.
func SameBroker(a, b string) bool {
	ua, ea := url.Parse(a)
	ub, eb := url.Parse(b)
	if ea != nil || eb != nil {
		return a == b
	}
	norm := func(u *url.URL) string {
		port := u.Port()
		if port == "" {
			port = "5672"
			if u.Scheme == "amqps" {
				port = "5671"
			}
		}
		host := strings.ToLower(u.Hostname())
		if host == "localhost" || host == "::1" {
			host = "127.0.0.1"
		}
		vhost := strings.TrimPrefix(u.Path, "/")
		if vhost == "" {
			vhost = "/"
		}
		return host + ":" + port + "/" + vhost
	}
	return norm(ua) == norm(ub)
}

// HeaderReadyAt is set by the worker on every copy of a request it puts (back)
// on the request path — a retry (when its delay ends), a request the sweeper
// resumes, a replayed parked message — as RFC 3339 (UTC, nanoseconds): when
// that copy is ready in the request queue. With the AMQP timestamp property
// that order systems set on their publishes, it tells how long a request
// waited in the queue before a worker took it (ReadySince).
const HeaderReadyAt = "settlement_ready_at"

// HeaderReplayed marks a copy a replay moved back from a parked queue
// (ReplayOn: the time of the replay). A parked settlement is resumed only
// by such a copy, the act of a person: a duplicate of its request (the
// order system sending it again) leaves it parked, and so does one that
// carries this header but came through an exchange (the intake exchange):
// a replay publishes to the request queue directly.
const HeaderReplayed = "settlement_replayed"

// HeaderReplayMAC signs a replayed copy (ReplayOptions.MAC): the MAC of
// ReplayMACInput under a key the worker and its operator commands share.
// With such a key, the worker resumes a parked settlement only for a copy
// whose signature it verifies: any publisher can set HeaderReplayed, and
// one allowed to publish to the default exchange can send a copy to the
// request queue directly, as a replay does.
const HeaderReplayMAC = "settlement_replay_mac"

// HeaderParking names the parking a parked copy was parked under: the
// settlement's parking identity the worker recorded when it parked it
// ("" for a copy that parked no settlement, or one parked by an earlier
// version). A replay keeps it, and signs it (ReplayMACInput): the worker
// resumes a parked settlement only for a replay of its current parking,
// so that a replay's copy kept for later (deferred through a retry queue
// while its order was busy, read off a queue and sent again) cannot
// resume a later parking of the same settlement without a person.
const HeaderParking = "settlement_parking"

// ReplayMACInput is what HeaderReplayMAC signs: the copy's message_id,
// its HeaderReplayed value, the parking it resumes (its HeaderParking)
// and a hash of its body. v2: v1 (before the parking was signed) no
// longer verifies.
func ReplayMACInput(messageID, replayed, parking string, body []byte) []byte {
	sum := sha256.Sum256(body)
	return []byte("settlement-worker replay v2\x00" + messageID + "\x00" + replayed + "\x00" + parking + "\x00" + hex.EncodeToString(sum[:]))
}

// ReadySince returns when the message of metadata md became ready in its
// request queue: its HeaderReadyAt, else its AMQP timestamp (MetaTimestamp,
// second precision). ok is false when the message carries neither (a
// publisher that sets no timestamp).
func ReadySince(md map[string]string) (at time.Time, ok bool) {
	for _, k := range []string{HeaderReadyAt, MetaTimestamp} {
		if v := md[k]; v != "" {
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// ReadyAt formats t for HeaderReadyAt.
func ReadyAt(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// StatusRouting says how status events are routed, for an error about a
// binding key that fails StatusBindingReaches.
const StatusRouting = "they are routed as settlement.status.<store id> with the store id's dots, '#' and '*' made '_' (store ABC.XYZ: settlement.status.ABC_XYZ)"

// StatusBindingReaches reports whether a binding key on StatusExchange can
// match a status routing key (StatusRoutingKey: "settlement.status." and one
// word, the store id with its dots, '#' and '*' made '_'). A key that cannot
// (settlement.status.ABC.XYZ for store ABC.XYZ, whose events are routed as
// settlement.status.ABC_XYZ; settlement.statuses.#) binds a queue that never
// receives an event, and leaves its stores' events unroutable.
func StatusBindingReaches(bindingKey string) bool {
	const anyStore = "" // the store word: any non-empty word
	return topicMatch(strings.Split(bindingKey, "."), []string{"settlement", "status", anyStore})
}

// topicMatch matches AMQP topic pattern words against routing key words
// ('*' one word, '#' zero or more); a key word "" stands for any store id.
func topicMatch(p, k []string) bool {
	if len(p) == 0 {
		return len(k) == 0
	}
	switch p[0] {
	case "#":
		for i := 0; i <= len(k); i++ {
			if topicMatch(p[1:], k[i:]) {
				return true
			}
		}
		return false
	case "*":
		return len(k) > 0 && topicMatch(p[1:], k[1:])
	}
	if len(k) == 0 {
		return false
	}
	if k[0] == "" {
		// A store word: any word StatusRoutingKey can make (never with '#' or '*').
		return p[0] != "" && !strings.ContainsAny(p[0], "#*") && topicMatch(p[1:], k[1:])
	}
	return p[0] == k[0] && topicMatch(p[1:], k[1:])
}
