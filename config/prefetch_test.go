package config_test

import (
	"testing"
)

// TestPrefetchFitsAMQP: AMQP carries a consumer's prefetch count in 16
// bits, and amqp091-go's Qos truncates a larger int without an error, so
// PREFETCH=65536 asked the broker for 0, which is no limit at all: the
// first consumer to subscribe took every request of its queue, held
// unacked, and on a quorum queue each one handed back at a restart or a
// lost connection counts towards x-delivery-limit (parking requests that
// were never attempted). RADIAL_STATUS_CONCURRENCY is the prefetch of
// Radial's status consumer. Both are refused above 65535.
func TestPrefetchFitsAMQP(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"PREFETCH", "65535"}, ""},
		{[]string{"PREFETCH", "65536"}, "PREFETCH"},
		{[]string{"PREFETCH", "131073"}, "PREFETCH"},
		{[]string{"RADIAL_STATUS_CONCURRENCY", "65535"}, ""},
		{[]string{"RADIAL_STATUS_CONCURRENCY", "65536"}, "RADIAL_STATUS_CONCURRENCY"},
	} {
		t.Run(tc.env[0]+"="+tc.env[1], func(t *testing.T) {
			expectLoad(t, minimal, tc.env, tc.want)
		})
	}
}
