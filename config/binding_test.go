package config_test

import "testing"

// Status events are routed as settlement.status.<store id> with the store
// id's dots, '#' and '*' made '_' (broker.StatusRoutingKey): a binding key
// written for store ABC.XYZ as the docs' settlement.status.<store_id>
// (settlement.status.ABC.XYZ) never matches its events, so the queue meant
// for that store stays empty and, bound alone, leaves its events unroutable
// (kept unpublished, relayed in vain every sweep): the order system never
// hears a verdict. A binding key that cannot match a status event is refused.
func TestStatusBindingKeysReachEvents(t *testing.T) {
	cases := []struct {
		name    string
		env     []string
		wantErr string // "" when the configuration is valid
	}{
		{"default", nil, ""},
		{"all stores", []string{"STATUS_QUEUES", "q.s=settlement.status.#"}, ""},
		{"one store", []string{"STATUS_QUEUES", "q.s=settlement.status.ABC_XYZ"}, ""},
		{"any store by *", []string{"STATUS_QUEUES", "q.s=settlement.status.*"}, ""},
		{"everything", []string{"STATUS_QUEUES", "q.s=#"}, ""},
		{"*.status.#", []string{"STATUS_QUEUES", "q.s=*.status.#"}, ""},
		{"store id with a dot", []string{"STATUS_QUEUES", "q.s=settlement.status.ABC.XYZ"}, "STATUS_QUEUES"},
		{"a typo", []string{"STATUS_QUEUES", "q.s=settlement.statuses.#"}, "STATUS_QUEUES"},
		{"no store word", []string{"STATUS_QUEUES", "q.s=settlement.status"}, "STATUS_QUEUES"},
		{"one good, one dead", []string{"STATUS_QUEUES", "q.s=settlement.status.#,q.t=settlement.status.A.B"}, "STATUS_QUEUES"},
		{"webhook binding with a dot", []string{"WEBHOOK_URL", "https://orders.example/s", "WEBHOOK_BINDING_KEYS", "settlement.status.ABC.XYZ"}, "WEBHOOK_BINDING_KEYS"},
		{"webhook binding for one store", []string{"WEBHOOK_URL", "https://orders.example/s", "WEBHOOK_BINDING_KEYS", "settlement.status.ABC_XYZ"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { expectLoad(t, minimal, tc.env, tc.wantErr) })
	}
}
