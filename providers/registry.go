package providers

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/settlement-worker/settlement-worker/internal/redact"
)

// Registration is the one value a provider package exports so that the
// generic packages can configure, build and run it without knowing its
// name: package config reads its Section from the environment under
// EnvPrefix and validates it; the composition root builds its client; the
// worker consumes its request queue and, when the client is a
// StatusSourcer, its status queue. Adding a provider means adding a folder
// that exports a Registration and listing it in package all.
type Registration struct {
	// Name is the provider's name in PROVIDERS, queue names and metrics.
	Name string
	// EnvPrefix prefixes the environment variables of its Section
	// (RADIAL_ for RADIAL_BASE_URL).
	EnvPrefix string
	// Summary is one line for --help and the README (what the provider is).
	Summary string
	// NewSection returns a new, empty configuration section. It is a
	// pointer to a struct whose fields carry caarlos0/env tags (env,
	// envDefault) and a help tag documenting the variable.
	NewSection func() Section
}

// Section is a provider's configuration section.
type Section interface {
	// Resolve fills the fields that default to the worker's own settings
	// (e.g. a status broker defaulting to the worker's broker).
	Resolve(h Host)
	// Check returns every problem, each naming the section's fields by
	// their Go names (BaseURL, Timeout); package config rewrites them to
	// the variables that set them.
	Check(h Host) []error
	// Facts are the provider's safety facts under this configuration.
	Facts() Facts
	// NewProvider builds the provider's client.
	NewProvider(hc *http.Client) (Provider, error)
}

// Host is what a provider's Section may know of the worker around it.
type Host struct {
	// AMQPURL is the worker's own broker.
	AMQPURL string
	// OwnQueues are the queues the worker declares or consumes on AMQPURL
	// (its status queues, the webhook deliverer's queue): a provider's
	// status source on that broker must never be one of them, or the
	// worker would consume its own events.
	OwnQueues []string
}

// StatusSource is a queue on which a provider publishes asynchronous
// verdicts (PaymentSettlementStatus documents), consumed passively.
type StatusSource struct {
	// AMQPURL is the broker holding the queue (may be the provider's own).
	AMQPURL string
	// Queue is the queue's name; the worker never declares it.
	Queue string
	// Concurrency is how many statuses are handled at once.
	Concurrency int
	// URLSetting names the variable that sets AMQPURL, for errors
	// (RADIAL_AMQP_URL).
	URLSetting string
	// Redact, when set, removes the provider's secrets (its API key) from
	// a status's free text, its DeclineReason, before it is recorded,
	// published and logged: the status handler is generic and cannot know
	// them (nil: nothing to remove).
	Redact func(string) string
	// RetryRuns and RetryFor are the retry budget of a status whose runs
	// keep failing while the store answers: it is parked once it failed
	// RetryRuns runs, or at least twice over RetryFor since its first
	// failure (the time it was held through a store outage not counted).
	// Zero: the status handler's defaults (40 runs, 10 minutes).
	RetryRuns int
	RetryFor  time.Duration
}

// StatusSourcer is implemented by a client whose verdicts arrive on a
// queue (Radial).
type StatusSourcer interface {
	StatusSource() StatusSource
}

// Registry lists the providers a binary knows, in a stable order.
type Registry []Registration

// Names returns the registered names in order.
func (r Registry) Names() []string {
	out := make([]string, len(r))
	for i, p := range r {
		out[i] = p.Name
	}
	return out
}

// Lookup returns the registration named name.
func (r Registry) Lookup(name string) (Registration, bool) {
	i := slices.IndexFunc(r, func(p Registration) bool { return p.Name == name })
	if i < 0 {
		return Registration{}, false
	}
	return r[i], true
}

// Problems splits a provider Config's Validate error (a prefix wrapping
// errors.Join) into its single problems, for Section.Check.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	inner := err
	if u := errors.Unwrap(err); u != nil {
		inner = u
	}
	if j, ok := inner.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{inner}
}

// CheckSection is a Section's usual Check: the problems of its Config's
// Validate error plus the settle-window check.
func CheckSection(validate error, timeout, window time.Duration) []error {
	errs := Problems(validate)
	if err := CheckWindow(timeout, window); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// CheckWindow is the check every Section makes of its settle window: an
// attempt is uncertain for at least the call timeout, so a shorter window
// would reconcile while the call may still be in flight.
func CheckWindow(timeout, window time.Duration) error {
	if window < timeout {
		return errors.New("SettleWindow must be at least Timeout (" + timeout.String() + "): a call may still be in flight until then (got " + window.String() + ")")
	}
	return nil
}

// RedactURL shows a URL for messages about a configuration or a call: a
// gateway may put a secret in a base URL's path or query, so only its
// scheme, host and a fingerprint (the first 8 hex digits of its SHA-256)
// are shown, every other part masked (redact.URL).
func RedactURL(raw string) string { return redact.URL(raw) }
