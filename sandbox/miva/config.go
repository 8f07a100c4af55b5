package miva

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/settlement-worker/settlement-worker/money"
	"github.com/settlement-worker/settlement-worker/sandbox/internal/kit"
)

// Defaults applied by Config.WithDefaults to zero fields.
const (
	DefaultAPIToken        = "sandbox-token"
	DefaultStoreCode       = "beta" // the seed's example store
	DefaultCurrency        = "USD"
	DefaultEndpointPath    = "/mm5/json.mvc"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultTimestampWindow = 60 * time.Second
)

// Config configures a Sandbox. Zero fields take the defaults listed on each
// field; call WithDefaults to see the effective values.
type Config struct {
	// Prefix is the URL path prefix every route is served under, for
	// example "/miva" so that one process can host several providers.
	// Empty serves at the root. A trailing slash is ignored.
	Prefix string
	// EndpointPath is the store's JSON API path below Prefix. Default
	// "/mm5/json.mvc" (Miva: some stores use another folder than /mm5).
	EndpointPath string
	// APIToken is the API access token the X-Miva-API-Authorization header
	// must carry. Default "sandbox-token". Never logged.
	APIToken string
	// SigningKey is the token's base64 HMAC signing key. When set, every
	// call must be signed (MIVA-HMAC-SHA256 or MIVA-HMAC-SHA1); when empty,
	// only the unsigned "MIVA <token>" form is accepted. Never logged.
	SigningKey string
	// RequireTimestamp makes Miva_Request_Timestamp (Unix seconds) required
	// and checked against TimestampWindow, like the token's timestamp option.
	RequireTimestamp bool
	// TimestampWindow is how far Miva_Request_Timestamp may be from the
	// sandbox clock. Default 60s.
	TimestampWindow time.Duration
	// StoreCode is the only Store_code the sandbox serves. Default "beta".
	StoreCode string
	// Currency is the store's currency (ISO 4217) used for orders seeded
	// without one: it decides the amounts' exponent and formatted_ strings.
	// Default "USD".
	Currency string
	// MaxBodyBytes limits request bodies; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64
	// RandSeed seeds the generator behind FailPerMille; 0 picks a seed from
	// the clock. Set it for reproducible fault patterns.
	RandSeed uint64
	// AllowRemoteAdmin serves the admin API to non-loopback callers too.
	// Default false: only 127.0.0.0/8 and ::1 may use {prefix}/_sandbox/.
	AllowRemoteAdmin bool
	// Now is the sandbox clock (dtstamp, expiry, timestamps). nil: time.Now.
	Now func() time.Time
	// Logger receives the sandbox's logs (never the token or signing key).
	// The zero Logger discards everything.
	Logger zerolog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Prefix = kit.CleanPrefix(c.Prefix)
	if c.EndpointPath == "" {
		c.EndpointPath = DefaultEndpointPath
	}
	if !strings.HasPrefix(c.EndpointPath, "/") {
		c.EndpointPath = "/" + c.EndpointPath
	}
	if c.APIToken == "" {
		c.APIToken = DefaultAPIToken
	}
	if c.TimestampWindow == 0 {
		c.TimestampWindow = DefaultTimestampWindow
	}
	if c.StoreCode == "" {
		c.StoreCode = DefaultStoreCode
	}
	if c.Currency == "" {
		c.Currency = DefaultCurrency
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports configuration errors of c after defaults are applied.
// Its messages never contain the token or the signing key.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	for _, p := range []string{c.Prefix, c.EndpointPath} {
		if strings.ContainsAny(p, "{}? ") || strings.Contains(p, "//") {
			errs = append(errs, fmt.Errorf("path %q is not a plain path", p))
		}
	}
	if strings.HasPrefix(c.EndpointPath, "/_sandbox") {
		errs = append(errs, errors.New("endpoint path must not be under /_sandbox"))
	}
	if strings.ContainsAny(c.APIToken, " :\t\r\n") {
		errs = append(errs, errors.New("API token must not contain white space or ':'"))
	}
	if c.SigningKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.SigningKey); err != nil || len(k) == 0 {
			errs = append(errs, errors.New("signing key must be non-empty standard base64"))
		}
	}
	if c.TimestampWindow < 0 {
		errs = append(errs, errors.New("timestamp window must not be negative"))
	}
	if !money.ValidCurrency(c.Currency) {
		errs = append(errs, fmt.Errorf("currency %q is not an ISO 4217 code", c.Currency))
	}
	if c.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("max body bytes must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("miva sandbox config: %w", err)
	}
	return nil
}
