package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/store"
)

// Ops is the configuration of the operator commands (parked, show, stuck,
// stats, publish, tail): the broker and the store, with the worker's names
// and defaults, and never a provider's credentials. Its fields read the
// same variables as Config's fields of the same name (a test keeps their
// tags equal).
type Ops struct {
	AMQPURL     string          `env:"AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/"`
	StoreDSN    string          `env:"STORE_DSN" envDefault:"sqlite:settlement-worker.db"`
	RetryDelays []time.Duration `env:"RETRY_DELAYS" envDefault:"1s,5s,30s,2m,10m"`
	StuckAfter  time.Duration   `env:"STUCK_AFTER" envDefault:"1h"`

	StoreEncryptionKey     string   `env:"STORE_ENCRYPTION_KEY"`
	StoreEncryptionOldKeys []string `env:"STORE_ENCRYPTION_OLD_KEYS"`

	AMQPTLSCAFile   string `env:"AMQP_TLS_CA_FILE"`
	AMQPTLSCertFile string `env:"AMQP_TLS_CERT_FILE"`
	AMQPTLSKeyFile  string `env:"AMQP_TLS_KEY_FILE"`
}

// StoreKeys is the keyring opening bodies sealed at rest (nil without a key).
func (o Ops) StoreKeys() (*store.Keyring, error) {
	return store.ParseKeyring(o.StoreEncryptionKey, o.StoreEncryptionOldKeys)
}

// AMQPTLS names the TLS files of amqps:// connections.
func (o Ops) AMQPTLS() broker.TLSFiles {
	return broker.TLSFiles{CAFile: o.AMQPTLSCAFile, CertFile: o.AMQPTLSCertFile, KeyFile: o.AMQPTLSKeyFile}
}

// LoadOps reads the operator commands' configuration from the environment
// (V_FILE variants included), and sets the TLS of amqps:// connections.
func LoadOps() (Ops, error) {
	var o Ops
	environ, err := environment(Vars(nil))
	if err != nil {
		return o, fmt.Errorf("read configuration: %w", err)
	}
	if err := env.ParseWithOptions(&o, env.Options{Environment: environ}); err != nil {
		return o, fmt.Errorf("read configuration: %w", nameVariables(err, nil, environ))
	}
	tlsConfig, err := o.AMQPTLS().Load()
	if err != nil {
		return o, fmt.Errorf("AMQP_TLS_*: %w", err)
	}
	broker.UseTLS(tlsConfig)
	var errs []error
	if err := broker.CheckURL(o.AMQPURL); err != nil {
		errs = append(errs, fmt.Errorf("AMQP_URL %w", err))
	}
	if _, err := o.StoreKeys(); err != nil {
		errs = append(errs, fmt.Errorf("STORE_ENCRYPTION_KEY: %w", err))
	}
	if o.StuckAfter <= 0 {
		errs = append(errs, fmt.Errorf("STUCK_AFTER must be positive, got %s", o.StuckAfter))
	}
	return o, errors.Join(errs...)
}
