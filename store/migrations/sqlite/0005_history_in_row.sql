-- A settlement's history moves into its row (store/history.go): the
-- history column holds one JSON object per line, each ending in a newline,
-- and a transition appends its lines in the UPDATE that moves the state.
-- Until now every transition inserted its lines into settlement_transitions
-- with a statement of their own, and the table's index, keyed by request
-- id, cost a page write per transition at a random place.
--
-- Every line moves, in its order (id), with its note and time as stored.
-- The table stays, empty: a replica of an earlier version still writes
-- there during a rolling upgrade, and History reads those lines too. A
-- later migration drops it.
ALTER TABLE settlements ADD COLUMN history TEXT NOT NULL DEFAULT '';

UPDATE settlements SET history = (
    SELECT group_concat(json_object('from', t.from_state, 'to', t.to_state, 'note', t.note, 'at', t.at) || char(10), '' ORDER BY t.id)
    FROM settlement_transitions t
    WHERE t.provider = settlements.provider AND t.request_id = settlements.request_id
)
WHERE EXISTS (
    SELECT 1 FROM settlement_transitions t
    WHERE t.provider = settlements.provider AND t.request_id = settlements.request_id
);

DELETE FROM settlement_transitions;
