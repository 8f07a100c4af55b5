package paysafe

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Defaults applied by NewSandbox to zero Config fields.
const (
	DefaultUsername      = "sandbox-user"
	DefaultPassword      = "sandbox-password"
	DefaultInitialStatus = StatusPending
	DefaultBatchInterval = 2 * time.Second
	DefaultMaxSettlement = 10
	DefaultMaxBodyBytes  = 1 << 20
)

// Config configures a Sandbox. Zero fields take the defaults listed on each
// field; call WithDefaults to see the effective values.
type Config struct {
	// Prefix is the URL path prefix every route is served under, for
	// example "/paysafe" so that one process can host several providers.
	// Empty serves at the root. A trailing slash is ignored.
	Prefix string
	// Username and Password are the API key's user name and password that
	// HTTP basic authentication must carry. Defaults "sandbox-user" and
	// "sandbox-password".
	Username string
	Password string
	// InitialStatus is the status a new settlement or refund is created
	// with: RECEIVED, PENDING (default, Paysafe's usual answer), PROCESSING
	// or COMPLETED (an account configured to settle immediately).
	InitialStatus string
	// BatchInterval is how often the batch runs, moving RECEIVED, PENDING
	// and PROCESSING settlements and refunds to COMPLETED (or to a scripted
	// FAILED). Default 2s; a negative value disables the clock so that only
	// RunBatch (or POST {prefix}/_sandbox/batch) batches.
	BatchInterval time.Duration
	// MaxSettlements is how many settlements one authorization accepts
	// before error 3202. Default 10.
	MaxSettlements int
	// StateBeforeDupCheck checks the authorization's (settlement's, for a
	// refund) state before the merchantRefNum: a repeat of a settlement or
	// refund whose first attempt was created is then refused with the state
	// that attempt left (3203 fully settled, 3204 or 3406 the rest too
	// small, 3202 the last settlement) instead of 5031. Paysafe does not
	// document the order of its checks; default false (merchantRefNum first).
	StateBeforeDupCheck bool
	// DupCheckAtArrival checks a settlement's or refund's merchantRefNum
	// when the call arrives, against the transactions committed by then,
	// and not again when it commits: a call committing late (the late
	// faults) is not yet seen by a repeat that arrives meanwhile, and both
	// commit, two transactions with one merchantRefNum. Seed 001 says only
	// that "a unique merchant reference number must be provided for each
	// transaction", not when Paysafe checks it; Paysafe's API reference
	// speaks of a merchantRefNum "already used in a previous request".
	// Default false: checked when the call commits, so that of two calls
	// with one merchantRefNum only one ever commits.
	DupCheckAtArrival bool
	// LookupPageSize is how many transactions one answer to a lookup
	// (GET .../settlements or .../refunds) lists at most when the call
	// names no limit; when more match, the answer carries a link with rel
	// "next" to the following page (limit and offset query parameters), as
	// Paysafe's list answers do (its SDKs' pagerators follow it). A call's
	// own limit and offset query parameters (Paysafe's SDK filter) override
	// it. Default 0: every match in one answer.
	LookupPageSize int
	// MaxBodyBytes limits request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// RandSeed seeds the generator behind FailPerMille; 0 picks a seed from
	// the clock. Set it for reproducible fault patterns.
	RandSeed uint64
	// AllowRemoteAdmin serves the admin API to non-loopback callers too.
	// Default false: only 127.0.0.0/8 and ::1 may use {prefix}/_sandbox/.
	AllowRemoteAdmin bool
	// Logger receives the sandbox's logs (never the credentials). The zero
	// Logger discards everything.
	Logger zerolog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Prefix = kit.CleanPrefix(c.Prefix)
	if c.Username == "" {
		c.Username = DefaultUsername
	}
	if c.Password == "" {
		c.Password = DefaultPassword
	}
	if c.InitialStatus == "" {
		c.InitialStatus = DefaultInitialStatus
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = DefaultBatchInterval
	}
	if c.MaxSettlements == 0 {
		c.MaxSettlements = DefaultMaxSettlement
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return c
}

// Validate reports configuration errors of c after defaults are applied.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if strings.ContainsAny(c.Prefix, "{}") || strings.Contains(c.Prefix, "//") {
		errs = append(errs, fmt.Errorf("prefix %q is not a plain path", c.Prefix))
	}
	if strings.Contains(c.Username, ":") {
		errs = append(errs, errors.New("username must not contain ':' (HTTP basic authentication)"))
	}
	switch c.InitialStatus {
	case StatusReceived, StatusPending, StatusProcessing, StatusCompleted:
	default:
		errs = append(errs, fmt.Errorf("initial status %q is not RECEIVED, PENDING, PROCESSING or COMPLETED", c.InitialStatus))
	}
	if c.MaxSettlements < 0 {
		errs = append(errs, errors.New("max settlements must not be negative"))
	}
	if c.LookupPageSize < 0 {
		errs = append(errs, errors.New("lookup page size must not be negative"))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("max body bytes must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("paysafe sandbox config: %w", err)
	}
	return nil
}
