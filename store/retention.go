package store

import (
	"context"
	"fmt"
	"time"
)

// PurgeBodies empties the request body and the status event bodies of
// finished settlements (settled, refused, withheld; not parked) last
// updated before before, at most limit settlements (all when limit <= 0),
// and returns how many it emptied. Those bodies may hold a raw card number
// and nothing needs them once the settlement is finished and its events
// were published; an event not confirmed as published keeps its body (the
// outbox still needs it). What remains is the settlement's record: ids,
// amounts, states, history, provider references, message ids.
//
// A duplicate delivery of a purged settlement can no longer republish its
// event: it is parked saying so.
func (s *sqlStore) PurgeBodies(ctx context.Context, before time.Time, limit int) (int, error) {
	// A settlement whose request body is already empty is taken again
	// while one of its published events keeps a body: one the last purge
	// kept (not confirmed as published then), or a further event recorded
	// since (a chargeback R after an S).
	query := `SELECT provider, request_id FROM settlements s
		WHERE updated_at < $1 AND parked_reason = '' AND state IN ('settled', 'refused', 'withheld')
		AND (length(request) > 0 OR EXISTS (SELECT 1 FROM status_events e
			WHERE e.provider = s.provider AND e.request_id = s.request_id
			AND e.published_at IS NOT NULL AND length(e.body) > 0))
		ORDER BY updated_at, request_id`
	if limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", limit)
	}
	keys, err := queryAll(ctx, s, func(r rowScanner) (Key, error) {
		var k Key
		return k, r.Scan(&k.Provider, &k.RequestID)
	}, query, s.d.timeArg(normTime(before)))
	if err != nil {
		return 0, fmt.Errorf("store: finished settlements to purge: %w", err)
	}
	n := 0
	for _, k := range keys {
		err := s.writeTx(ctx, func(ctx context.Context, tx querier) error {
			if _, err := tx.ExecContext(ctx, `UPDATE settlements SET request = $1
				WHERE provider = $2 AND request_id = $3 AND state IN ('settled', 'refused', 'withheld') AND parked_reason = ''`,
				[]byte{}, k.Provider, k.RequestID); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE status_events SET body = $1
				WHERE provider = $2 AND request_id = $3 AND published_at IS NOT NULL`, []byte{}, k.Provider, k.RequestID)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("store: purge the bodies of %s: %w", keyText(k), err)
		}
		n++
	}
	return n, nil
}
