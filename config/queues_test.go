package config_test

import "testing"

// Two consumers of one queue each get part of its messages: a status queue
// (the order system's) shared with the webhook deliverer, or with a request,
// retry or parked queue of the worker, splits or swallows the verdicts.
// Every queue the worker declares on its broker must be a queue of its own.
func TestQueuesNeverShared(t *testing.T) {
	base := append([]string{"WEBHOOK_URL", "https://orders.example/status"}, minimal...)
	cases := []struct {
		name    string
		env     []string
		wantErr string // "" when the configuration is valid
	}{
		{"defaults", nil, ""},
		{"AMQP user webhook: the default status queue is the webhook's",
			[]string{"AMQP_URL", "amqp://webhook:pw@127.0.0.1:5672/"}, "WEBHOOK_QUEUE"},
		{"WEBHOOK_QUEUE names our status queue",
			[]string{"WEBHOOK_QUEUE", "q.Payments.Settlements.Status.guest"}, "WEBHOOK_QUEUE"},
		{"WEBHOOK_PARKED_QUEUE names our status queue",
			[]string{"WEBHOOK_PARKED_QUEUE", "q.Payments.Settlements.Status.guest"}, "WEBHOOK_PARKED_QUEUE"},
		{"STATUS_QUEUES names the webhook's queue",
			[]string{"STATUS_QUEUES", "q.Payments.Settlements.Status.guest,q.Payments.Settlements.Status.webhook"}, "STATUS_QUEUES"},
		{"STATUS_QUEUES names a request queue",
			[]string{"STATUS_QUEUES", "q.Payments.Settlements.Request.paysafe=settlement.status.#"}, "STATUS_QUEUES"},
		{"STATUS_QUEUES names a parked queue",
			[]string{"STATUS_QUEUES", "q.Payments.Settlements.Request.radial.parked=settlement.status.#"}, "STATUS_QUEUES"},
		{"STATUS_QUEUES names a retry queue",
			[]string{"STATUS_QUEUES", "q.Payments.Settlements.Request.radial.retry.5s=settlement.status.#"}, "STATUS_QUEUES"},
		{"STATUS_QUEUES names Radial's parked status queue",
			[]string{"STATUS_QUEUES", "q.Payments.Settlements.ProviderStatus.radial.parked=settlement.status.#"}, "STATUS_QUEUES"},
		{"WEBHOOK_QUEUE names a request queue",
			[]string{"WEBHOOK_QUEUE", "q.Payments.Settlements.Request.radial"}, "WEBHOOK_QUEUE"},
		{"RADIAL_STATUS_QUEUE names our request queue",
			[]string{"RADIAL_STATUS_QUEUE", "q.Payments.Settlements.Request.radial"}, "RADIAL_STATUS_QUEUE"},
		{"RADIAL_STATUS_QUEUE names its own parked queue",
			[]string{"RADIAL_STATUS_QUEUE", "q.Payments.Settlements.ProviderStatus.radial.parked"}, "RADIAL_STATUS_QUEUE"},
		{"webhook on another broker: its queue names are its own",
			[]string{"WEBHOOK_AMQP_URL", "amqp://guest:guest@hooks.example/", "WEBHOOK_EVENTS_RELAYED", "true", "WEBHOOK_QUEUE", "q.Payments.Settlements.Status.guest"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectLoad(t, base, tc.env, tc.wantErr) })
	}
}
