package radial

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/settlement-worker/settlement-worker/broker"
	"github.com/settlement-worker/settlement-worker/providers"
)

// Provider registers Radial with the worker: its configuration section
// (RADIAL_*), its client, its facts and its status queue.
var Provider = providers.Registration{
	Name:       "radial",
	EnvPrefix:  "RADIAL_",
	Summary:    "Radial Payments (the reference wire format): ConfirmFunds, then a settlement whose verdict arrives on Radial's status queue.",
	NewSection: func() providers.Section { return new(Config) },
}

var (
	_ providers.Declarer      = (*Client)(nil)
	_ providers.StatusSourcer = (*Client)(nil)
	_ providers.Section       = (*Config)(nil)
)

// Facts declares what the pipeline needs to keep money safe with radial.
// Radial deduplicates on requestId, so an uncertain attempt is simply
// submitted again; its verdict arrives on its status queue, awaited at most
// StatusDeadline.
func (c Config) Facts() providers.Facts {
	return providers.Facts{
		MoneyHeaders:      nil,
		RequireTenderType: true,
		CallTimeout:       c.Timeout,
		SettleWindow:      c.SettleWindow,
		Idempotent:        true,
		StatusDeadline:    c.StatusDeadline,
	}
}

// Facts are the client's configuration's facts.
func (c *Client) Facts() providers.Facts { return c.cfg.Facts() }

// StatusSource is Radial's status queue.
func (c *Client) StatusSource() providers.StatusSource {
	return providers.StatusSource{AMQPURL: c.cfg.AMQPURL, Queue: c.cfg.StatusQueue, Concurrency: c.cfg.StatusConcurrency,
		URLSetting: Provider.EnvPrefix + "AMQP_URL",
		RetryRuns:  c.cfg.StatusRetryRuns, RetryFor: c.cfg.StatusRetryFor,
		// A status's DeclineReason is Radial's text, as a fault's is.
		Redact: func(s string) string { return redact(s, c.cfg.APIKey) }}
}

// Resolve defaults Radial's status broker to the worker's, and its status
// queue to q.Payments.Settlements.Status.<user> — but only on Radial's own
// broker or vhost: on ours, that is the name of our own status queue, and
// consuming it would feed the worker its own events. There it must be
// named (Check says so).
func (c *Config) Resolve(h providers.Host) {
	*c = c.WithDefaults()
	if c.AMQPURL == "" {
		c.AMQPURL = h.AMQPURL
	}
	if c.StatusQueue == "" && !broker.SameBroker(c.AMQPURL, h.AMQPURL) {
		c.StatusQueue = broker.StatusQueueName(broker.Username(c.AMQPURL))
	}
}

// Check reports every problem of the section, including a status queue
// that is one of the worker's own.
func (c *Config) Check(h providers.Host) []error {
	errs := providers.CheckSection(c.Validate(), c.Timeout, c.SettleWindow)
	if c.StatusDeadline < 0 {
		errs = append(errs, fmt.Errorf("StatusDeadline must be 0 (never) or positive (got %s)", c.StatusDeadline))
	}
	if c.StatusRetryRuns < 1 {
		errs = append(errs, fmt.Errorf("StatusRetryRuns must be at least 1 (got %d)", c.StatusRetryRuns))
	}
	if c.StatusRetryFor <= 0 {
		errs = append(errs, fmt.Errorf("StatusRetryFor must be positive (got %s)", c.StatusRetryFor))
	}
	if c.StatusConcurrency < 1 || c.StatusConcurrency > broker.MaxPrefetch {
		errs = append(errs, fmt.Errorf("StatusConcurrency must be between 1 and %d: it is the status consumer's prefetch, which AMQP carries in 16 bits (got %d)", broker.MaxPrefetch, c.StatusConcurrency))
	}
	if err := broker.CheckURL(c.AMQPURL); err != nil {
		errs = append(errs, fmt.Errorf("AMQPURL %w", err))
	}
	q, same := c.StatusQueue, broker.SameBroker(c.AMQPURL, h.AMQPURL)
	switch {
	case q == "" && same:
		errs = append(errs, fmt.Errorf("StatusQueue is required when Radial's status queue is on the worker's own broker and vhost (RADIAL_AMQP_URL unset or equal to AMQP_URL's): "+
			"its default name, %s, is the worker's own status queue; set StatusQueue to the queue Radial publishes to, or AMQPURL to Radial's broker",
			broker.StatusQueueName(broker.Username(h.AMQPURL))))
	case q == "":
		errs = append(errs, errors.New("StatusQueue is required"))
	case same && slices.Contains(h.OwnQueues, q):
		errs = append(errs, fmt.Errorf("StatusQueue %s is our own status queue on the same broker (one of STATUS_QUEUES, or the WEBHOOK_QUEUE bound to our status exchange) or another of our queues (a request, retry or parked queue): the worker would consume its own events; name the queue Radial publishes to", q))
	}
	return errs
}

// NewProvider builds the Radial client.
func (c *Config) NewProvider(hc *http.Client) (providers.Provider, error) { return New(*c, hc) }
