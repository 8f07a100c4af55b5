package config_test

import "testing"

// The worker publishes its status events on AMQP_URL only. A webhook
// deliverer consuming another broker or vhost (WEBHOOK_AMQP_URL) receives
// none of them unless something (a shovel, federation) moves them there:
// without a word, the webhook then never hears a verdict. Such a
// WEBHOOK_AMQP_URL is refused unless WEBHOOK_EVENTS_RELAYED says the events
// are moved there.
func TestWebhookOnAnotherBrokerNeedsRelayedEvents(t *testing.T) {
	base := append([]string{"WEBHOOK_URL", "https://orders.example/status"}, minimal...)
	cases := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"default: AMQP_URL", nil, ""},
		{"same broker written out", []string{"WEBHOOK_AMQP_URL", "amqp://guest:guest@localhost:5672/"}, ""},
		{"another host", []string{"WEBHOOK_AMQP_URL", "amqp://guest:guest@hooks.example/"}, "WEBHOOK_AMQP_URL"},
		{"another vhost", []string{"WEBHOOK_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/hooks"}, "WEBHOOK_AMQP_URL"},
		{"another port", []string{"WEBHOOK_AMQP_URL", "amqp://guest:guest@127.0.0.1:5673/"}, "WEBHOOK_AMQP_URL"},
		{"another host, events shovelled there",
			[]string{"WEBHOOK_AMQP_URL", "amqp://guest:guest@hooks.example/", "WEBHOOK_EVENTS_RELAYED", "true"}, ""},
		{"webhook off: not checked", []string{"WEBHOOK_URL", "", "WEBHOOK_AMQP_URL", "amqp://guest:guest@hooks.example/"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectLoad(t, base, tc.env, tc.wantErr) })
	}
}
