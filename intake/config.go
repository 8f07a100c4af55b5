package intake

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/settlement-worker/settlement-worker/messages"
)

// Off is the value of a path or address that disables it.
const Off = "off"

// Defaults of Config.
const (
	DefaultAddr               = "127.0.0.1:8080"
	DefaultRetailOPSPath      = "/orders"
	DefaultRadialPath         = "/radial/settlements"
	DefaultRadialProvider     = "radial"
	DefaultMaxBodyBytes       = 1 << 20 // 1 MiB
	DefaultMaxRequestBytes    = 1 << 20 // 1 MiB, the worker's MAX_REQUEST_BYTES default
	DefaultMaxBatch           = 500
	DefaultMaxAccounts        = 50
	DefaultReadHeaderTimeout  = 5 * time.Second
	DefaultReadTimeout        = 15 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultPublishTimeout     = 15 * time.Second
	DefaultPublishConcurrency = 8
	DefaultMaxInFlight        = 64
	DefaultShutdownTimeout    = 10 * time.Second
)

// Config is the HTTP intake's configuration. Zero fields take the defaults
// above (ApplyDefaults); Validate reports every problem at once. The env
// tags are the names the lead maps under the INTAKE_ prefix. Secrets
// (RetailOPS.AuthKeys, Radial.APIKeys, Radial.BasicPassword) are never
// logged, and String masks them.
type Config struct {
	// Addr is the listen address of the intake HTTP server ("off": no intake).
	Addr string `env:"ADDR" help:"Listen address of the HTTP intake (off: disabled)."`
	// MaxBodyBytes limits every request body; a larger one is refused with 413.
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES" help:"Largest accepted request body in bytes (413 above)."`
	// MaxRequestBytes is the worker's MAX_REQUEST_BYTES: a settlement
	// request larger than this once encoded would be parked by the worker,
	// so it is refused here (a Fault, or an error event) and not published.
	// The worker sets it; it is not an INTAKE_ variable.
	MaxRequestBytes int64 `env:"-" help:"The worker's MAX_REQUEST_BYTES."`
	// ReadHeaderTimeout bounds reading a request's headers (slowloris guard).
	ReadHeaderTimeout time.Duration `env:"READ_HEADER_TIMEOUT" help:"Time allowed to read a request's headers."`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `env:"READ_TIMEOUT" help:"Time allowed to read a whole request."`
	// WriteTimeout bounds handling a request and writing its answer; it must
	// exceed PublishTimeout so that a client is always told the outcome.
	WriteTimeout time.Duration `env:"WRITE_TIMEOUT" help:"Time allowed to handle a request and write the answer (> PUBLISH_TIMEOUT)."`
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout time.Duration `env:"IDLE_TIMEOUT" help:"Idle keep-alive connection timeout."`
	// PublishTimeout bounds publishing (with broker confirms) all requests of
	// one HTTP request; past it the client gets a 503 and retries.
	PublishTimeout time.Duration `env:"PUBLISH_TIMEOUT" help:"Time allowed to publish and confirm the requests of one HTTP request."`
	// PublishConcurrency is how many requests of one HTTP request are
	// published (and awaiting their confirm) at once.
	PublishConcurrency int `env:"PUBLISH_CONCURRENCY" help:"Requests of one HTTP request published at once."`
	// MaxInFlight is how many webhook requests (both endpoints) are
	// handled at once: each may hold MaxBodyBytes and its decoding while
	// it waits for its body, its publishes and their confirms. One more
	// is answered 503 at once (SERVICE_BUSY, or a ServiceUnavailable
	// Fault, with Retry-After), before its body is read.
	MaxInFlight int `env:"MAX_IN_FLIGHT" help:"Webhook requests handled at once; more are answered 503 at once (each may hold MAX_BODY_BYTES)."`
	// ShutdownTimeout bounds the graceful shutdown of Run: in-flight
	// requests finish their publishes and answers within it.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" help:"Time in-flight HTTP requests get to finish on shutdown."`
	// RetailOPS configures the RetailOPS order_settle_payment webhook.
	RetailOPS RetailOPSConfig `envPrefix:"RETAILOPS_"`
	// Radial configures the Radial-format endpoint for webhook clients.
	Radial RadialConfig `envPrefix:"RADIAL_"`
}

// RetailOPSConfig configures POST /orders (order_settle_payment v1).
type RetailOPSConfig struct {
	// Path of the endpoint ("off": disabled). RetailOPS posts every order
	// action to /orders; only order_settle_payment v1 is implemented.
	Path string `env:"PATH" help:"Path of the RetailOPS order_settle_payment webhook (off: disabled)."`
	// AuthKeys are the accepted RetailOPS integration auth keys (several
	// during a rotation). Required when the endpoint is enabled. Secret.
	AuthKeys []string `env:"AUTH_KEYS" help:"Accepted RetailOPS integration auth keys, comma-separated (never logged)."`
	// Channels maps a RetailOPS channel id (data.channel.id) to the
	// provider, store, tender type and currency its settlements use. A
	// channel that is not listed is answered with an error event.
	Channels map[string]Channel `env:"-" help:"Channel map, see ParseChannels."`
	// MaxAccounts is the most payment accounts one webhook may list: each
	// is settled by a request that carries the ShipmentData of every
	// package, so the work and the bytes published grow with accounts ×
	// packages. An order with more is answered with a TOO_MANY_ACCOUNTS
	// event and nothing is published.
	MaxAccounts int `env:"MAX_ACCOUNTS" help:"Most payment accounts in one RetailOPS webhook (more: a TOO_MANY_ACCOUNTS event, nothing settled)."`
}

// Channel is where the settlements of one RetailOPS channel go.
type Channel struct {
	// Provider settles the channel's payments; requests are published with
	// routing key settlement.request.<provider>.
	Provider string
	// StoreID is sent as the store_id header (at most 100 characters).
	StoreID string
	// TenderType is sent as the tender_type header (2 to 4 characters,
	// required for every provider: status events carry it), e.g. PY.
	TenderType string
	// Currency is the ISO 4217 code of the channel's amounts (one that
	// Radial's schema lists, messages.SchemaCurrency): RetailOPS's payment
	// numbers carry no currency.
	Currency string
}

// RadialConfig configures POST /radial/settlements.
type RadialConfig struct {
	// Path of the endpoint ("off": disabled).
	Path string `env:"PATH" help:"Path of the Radial-format settlement endpoint (off: disabled)."`
	// Provider is the provider the requests are published for.
	Provider string `env:"PROVIDER" help:"Provider the Radial-format requests are published for."`
	// APIKeys are accepted in the apikey header (Radial's own scheme) or as
	// Authorization: Bearer <key>. Secret.
	APIKeys []string `env:"API_KEYS" help:"Accepted API keys (apikey header or Bearer), comma-separated (never logged)."`
	// BasicUser and BasicPassword, when both set, accept HTTP basic auth.
	BasicUser string `env:"BASIC_USER" help:"HTTP basic auth user accepted by the Radial-format endpoint."`
	// BasicPassword is the basic auth password. Secret.
	BasicPassword string `env:"BASIC_PASSWORD" help:"HTTP basic auth password (never logged)."`
	// MaxBatch is the largest PaymentSettlementRequestList accepted.
	MaxBatch int `env:"MAX_BATCH" help:"Most requests in one PaymentSettlementRequestList."`
}

// DefaultConfig returns a Config with every default set and both endpoints
// enabled (they still need their secrets and, for RetailOPS, channels).
func DefaultConfig() Config {
	var c Config
	c.ApplyDefaults()
	return c
}

// ApplyDefaults sets every zero field to its default.
func (c *Config) ApplyDefaults() {
	setDefault(&c.Addr, DefaultAddr)
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.MaxRequestBytes, DefaultMaxRequestBytes)
	setDefault(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&c.ReadTimeout, DefaultReadTimeout)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.PublishTimeout, DefaultPublishTimeout)
	setDefault(&c.PublishConcurrency, DefaultPublishConcurrency)
	setDefault(&c.MaxInFlight, DefaultMaxInFlight)
	setDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&c.RetailOPS.Path, DefaultRetailOPSPath)
	setDefault(&c.Radial.Path, DefaultRadialPath)
	setDefault(&c.Radial.Provider, DefaultRadialProvider)
	setDefault(&c.Radial.MaxBatch, DefaultMaxBatch)
	setDefault(&c.RetailOPS.MaxAccounts, DefaultMaxAccounts)
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Enabled reports whether a path (or address) is switched on.
func Enabled(pathOrAddr string) bool { return pathOrAddr != "" && pathOrAddr != Off }

// providerRE is what may follow settlement.request. in a routing key.
var providerRE = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Validate reports every problem at once, naming the field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	if !Enabled(c.Addr) {
		return nil
	}
	positive := map[string]time.Duration{
		"ReadHeaderTimeout": c.ReadHeaderTimeout, "ReadTimeout": c.ReadTimeout,
		"WriteTimeout": c.WriteTimeout, "IdleTimeout": c.IdleTimeout,
		"PublishTimeout": c.PublishTimeout, "ShutdownTimeout": c.ShutdownTimeout,
	}
	for _, name := range sortedKeys(positive) {
		if positive[name] <= 0 {
			bad(name, "must be positive (got %s)", positive[name])
		}
	}
	if c.WriteTimeout <= c.PublishTimeout {
		bad("WriteTimeout", "must exceed PublishTimeout (%s), or a client could miss the outcome of its publishes (got %s)", c.PublishTimeout, c.WriteTimeout)
	}
	if c.MaxRequestBytes <= 0 {
		bad("MaxRequestBytes", "must be positive (got %d)", c.MaxRequestBytes)
	}
	if c.MaxBodyBytes < 1024 {
		bad("MaxBodyBytes", "must be at least 1024 (got %d)", c.MaxBodyBytes)
	}
	if c.PublishConcurrency < 1 {
		bad("PublishConcurrency", "must be at least 1 (got %d)", c.PublishConcurrency)
	}
	if c.MaxInFlight < 1 {
		bad("MaxInFlight", "must be at least 1 (got %d)", c.MaxInFlight)
	}
	paths := map[string]string{"/healthz": "health", "/readyz": "readiness"}
	checkPath := func(field, p string) {
		if !Enabled(p) {
			return
		}
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ?#{}") {
			bad(field, "must be an absolute URL path such as /orders (got %q)", p)
			return
		}
		if other, dup := paths[p]; dup {
			bad(field, "%s is already the %s endpoint", p, other)
		}
		paths[p] = field
	}
	checkPath("RetailOPS.Path", c.RetailOPS.Path)
	checkPath("Radial.Path", c.Radial.Path)
	if Enabled(c.RetailOPS.Path) {
		errs = append(errs, c.RetailOPS.validate()...)
	}
	if Enabled(c.Radial.Path) {
		errs = append(errs, c.Radial.validate()...)
	}
	return errors.Join(errs...)
}

func (r RetailOPSConfig) validate() []error {
	var errs []error
	if len(nonEmpty(r.AuthKeys)) == 0 {
		errs = append(errs, errors.New("RetailOPS.AuthKeys: at least one integration auth key is required (RetailOPS must be refused without it)"))
	}
	if len(r.Channels) == 0 {
		errs = append(errs, errors.New("RetailOPS.Channels: at least one channel id must map to a provider"))
	}
	if r.MaxAccounts < 1 {
		errs = append(errs, fmt.Errorf("RetailOPS.MaxAccounts: must be at least 1 (got %d)", r.MaxAccounts))
	}
	for _, id := range sortedKeys(r.Channels) {
		if err := r.Channels[id].validate(); err != nil {
			errs = append(errs, fmt.Errorf("RetailOPS.Channels[%s]: %w", id, err))
		}
	}
	return errs
}

func (ch Channel) validate() error {
	var errs []error
	if !providerRE.MatchString(ch.Provider) {
		errs = append(errs, fmt.Errorf("provider must be 1-64 characters of a-z, 0-9, _ or - (got %q)", ch.Provider))
	}
	if n := utf8.RuneCountInString(ch.StoreID); n == 0 || n > 100 || strings.TrimSpace(ch.StoreID) != ch.StoreID {
		errs = append(errs, fmt.Errorf("store id must be 1 to 100 characters without surrounding spaces (got %q)", ch.StoreID))
	}
	// Every provider: each PaymentSettlementStatus carries a TenderType.
	if n := utf8.RuneCountInString(ch.TenderType); n < 2 || n > 4 {
		errs = append(errs, fmt.Errorf("tender type must be 2 to 4 characters (got %q): every status event carries it", ch.TenderType))
	}
	for _, p := range unechoable(ch.StoreID, ch.TenderType) {
		errs = append(errs, errors.New(p))
	}
	if !messages.SchemaCurrency(ch.Currency) {
		errs = append(errs, fmt.Errorf("currency must be an active upper-case ISO 4217 code that Radial's schema lists (got %q)", ch.Currency))
	}
	return errors.Join(errs...)
}

func (r RadialConfig) validate() []error {
	var errs []error
	if !providerRE.MatchString(r.Provider) {
		errs = append(errs, fmt.Errorf("Radial.Provider: must be 1-64 characters of a-z, 0-9, _ or - (got %q)", r.Provider))
	}
	basic := r.BasicUser != "" || r.BasicPassword != ""
	if basic && (r.BasicUser == "" || r.BasicPassword == "") {
		errs = append(errs, errors.New("Radial.BasicUser/BasicPassword: set both or neither"))
	}
	if strings.Contains(r.BasicUser, ":") {
		errs = append(errs, errors.New("Radial.BasicUser: must not contain ':'"))
	}
	if len(nonEmpty(r.APIKeys)) == 0 && !basic {
		errs = append(errs, errors.New("Radial.APIKeys or Radial.BasicUser/BasicPassword: the endpoint needs credentials"))
	}
	if r.MaxBatch < 1 {
		errs = append(errs, fmt.Errorf("Radial.MaxBatch: must be at least 1 (got %d)", r.MaxBatch))
	}
	return errs
}

// String describes the configuration with every secret masked.
func (c Config) String() string {
	return fmt.Sprintf("intake{addr=%s retailops=%s (%d keys, %d channels) radial=%s provider=%s (%d keys, basic=%t)}",
		c.Addr, c.RetailOPS.Path, len(nonEmpty(c.RetailOPS.AuthKeys)), len(c.RetailOPS.Channels),
		c.Radial.Path, c.Radial.Provider, len(nonEmpty(c.Radial.APIKeys)), c.Radial.BasicUser != "")
}

// ParseChannels reads the RetailOPS channel map from its text form,
// entries separated by commas or semicolons:
//
//	<channel id>=<provider>:<store id>:<tender type>:<currency>
//	21=radial:ABCXYZ:PY:USD,22=radial:STORE-EU:VC:EUR
//
// Every field is required, the tender type too, whatever the provider:
// each PaymentSettlementStatus carries it.
func ParseChannels(s string) (map[string]Channel, error) {
	out := map[string]Channel{}
	var errs []error
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, rest, ok := strings.Cut(entry, "=")
		parts := strings.Split(rest, ":")
		id = strings.TrimSpace(id)
		if !ok || id == "" || len(parts) != 4 {
			errs = append(errs, fmt.Errorf("channel entry %q: want <channel id>=<provider>:<store id>:<tender type>:<currency>", entry))
			continue
		}
		if _, dup := out[id]; dup {
			errs = append(errs, fmt.Errorf("channel %s is listed twice", id))
			continue
		}
		ch := Channel{Provider: strings.TrimSpace(parts[0]), StoreID: strings.TrimSpace(parts[1]),
			TenderType: strings.TrimSpace(parts[2]), Currency: strings.TrimSpace(parts[3])}
		if err := ch.validate(); err != nil {
			errs = append(errs, fmt.Errorf("channel %s: %w", id, err))
			continue
		}
		out[id] = ch
	}
	return out, errors.Join(errs...)
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// unechoable describes the store id and tender type that hold a character
// no PaymentSettlementStatus can carry (a NUL, a control character,
// invalid UTF-8): every status echoes both, so the worker would park each
// such request with no status ever.
func unechoable(storeID, tenderType string) []string {
	var problems []string
	for _, v := range []struct{ what, value string }{{"store id", storeID}, {"tender type", tenderType}} {
		if !messages.IsXMLText(v.value) {
			problems = append(problems, fmt.Sprintf("%s %q holds a character no PaymentSettlementStatus can carry (a control character or invalid UTF-8)", v.what, v.value))
		}
	}
	return problems
}
