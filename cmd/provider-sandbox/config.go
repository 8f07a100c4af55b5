package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
)

// envVar documents one environment variable.
type envVar struct {
	name, def, doc string
}

// envVars is the configuration table printed by --help.
var envVars = []envVar{
	{"SANDBOX_ADDR", "127.0.0.1:8081", "listen address (host:port); Radial is served under /radial"},
	{"SANDBOX_RADIAL_API_KEY", "sandbox-key", "value the apikey header of Radial calls must carry"},
	{"SANDBOX_RADIAL_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/radial", "Radial's RabbitMQ (its own vhost) for PaymentSettlementStatus messages"},
	{"SANDBOX_RADIAL_STATUS_QUEUE", "q.Payments.Settlements.Status.guest", "Radial's status queue, declared durable by the sandbox"},
	{"SANDBOX_RADIAL_STATUS_DELAY", "200ms", "delay between an accepted settlement and its status (Go duration)"},
	{"SANDBOX_PAYSAFE_USERNAME", "sandbox-user", "Paysafe API key user name (basic auth) the sandbox accepts; served under /paysafe"},
	{"SANDBOX_PAYSAFE_PASSWORD", "sandbox-password", "Paysafe API key password (basic auth)"},
	{"SANDBOX_PAYSAFE_BATCH_INTERVAL", "2s", "how often pending Paysafe settlements are batched to COMPLETED (negative: only on POST /paysafe/_sandbox/batch)"},
	{"SANDBOX_FRISBII_API_KEY", "priv_sandbox", "Frisbii private API key (basic auth user); served under /frisbii"},
	{"SANDBOX_MIVA_API_TOKEN", "sandbox-token", "Miva API token (X-Miva-API-Authorization: MIVA <token>); served under /miva/mm5/json.mvc"},
	{"SANDBOX_MIVA_SIGNING_KEY", "", "optional base64 HMAC-SHA256 key; when set, Miva requests must be signed"},
	{"SANDBOX_MIVA_STORE_CODE", "beta", "the Miva Store_code served"},
	{"SANDBOX_MIVA_CURRENCY", "USD", "currency of the Miva store"},
	{"SANDBOX_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
}

// config is the parsed environment.
type config struct {
	addr              string
	radialAPIKey      string
	radialAMQPURL     string
	radialStatusQueue string
	radialStatusDelay time.Duration
	paysafeUsername   string
	paysafePassword   string
	paysafeBatch      time.Duration
	frisbiiAPIKey     string
	mivaAPIToken      string
	mivaSigningKey    string
	mivaStoreCode     string
	mivaCurrency      string
	logLevel          zerolog.Level
}

// loadConfig reads the environment, applying the table's defaults.
func loadConfig(getenv func(string) string) (config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, e := range envVars {
			if e.name == name {
				return e.def
			}
		}
		return ""
	}
	var errs []error
	c := config{
		addr:              get("SANDBOX_ADDR"),
		radialAPIKey:      get("SANDBOX_RADIAL_API_KEY"),
		radialAMQPURL:     get("SANDBOX_RADIAL_AMQP_URL"),
		radialStatusQueue: get("SANDBOX_RADIAL_STATUS_QUEUE"),
		paysafeUsername:   get("SANDBOX_PAYSAFE_USERNAME"),
		paysafePassword:   get("SANDBOX_PAYSAFE_PASSWORD"),
		frisbiiAPIKey:     get("SANDBOX_FRISBII_API_KEY"),
		mivaAPIToken:      get("SANDBOX_MIVA_API_TOKEN"),
		mivaSigningKey:    get("SANDBOX_MIVA_SIGNING_KEY"),
		mivaStoreCode:     get("SANDBOX_MIVA_STORE_CODE"),
		mivaCurrency:      get("SANDBOX_MIVA_CURRENCY"),
	}
	if b, err := time.ParseDuration(get("SANDBOX_PAYSAFE_BATCH_INTERVAL")); err != nil || b == 0 {
		errs = append(errs, fmt.Errorf("SANDBOX_PAYSAFE_BATCH_INTERVAL %q is not a non-zero duration", get("SANDBOX_PAYSAFE_BATCH_INTERVAL")))
	} else {
		c.paysafeBatch = b
	}
	d, err := time.ParseDuration(get("SANDBOX_RADIAL_STATUS_DELAY"))
	if err != nil || d <= 0 {
		errs = append(errs, fmt.Errorf("SANDBOX_RADIAL_STATUS_DELAY %q is not a positive duration", get("SANDBOX_RADIAL_STATUS_DELAY")))
	}
	c.radialStatusDelay = d
	lvl, err := zerolog.ParseLevel(get("SANDBOX_LOG_LEVEL"))
	if err != nil {
		errs = append(errs, fmt.Errorf("SANDBOX_LOG_LEVEL: %w", err))
	}
	c.logLevel = lvl
	if err := errors.Join(errs...); err != nil {
		return config{}, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// usage prints the environment table.
func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: provider-sandbox [--help]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Serves provider sandboxes on one HTTP address: Radial under /radial, Paysafe")
	fmt.Fprintln(w, "under /paysafe, Frisbii under /frisbii, Miva under /miva (each with an admin")
	fmt.Fprintln(w, "API under <prefix>/_sandbox/, loopback only) and GET /healthz.")
	fmt.Fprintln(w, "Stops on SIGTERM or SIGINT. Configured by environment variables:")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, e := range envVars {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.name, e.def, e.doc)
	}
	_ = tw.Flush()
}
