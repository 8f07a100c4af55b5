-- A settlement's history moves into its row (store/history.go): the
-- history column holds one JSON object per line, each ending in a newline,
-- and a transition appends its lines in the UPDATE that moves the state.
-- Until now every transition inserted its lines into settlement_transitions
-- (a CTE of the transition's statement), a row and an index entry of their
-- own per line.
--
-- Every line moves, in its order (id), with its note and time (UTC,
-- microseconds, as SQLite writes them). The table stays, empty: a replica
-- of an earlier version still writes there during a rolling upgrade, and
-- History reads those lines too. A later migration drops it.
ALTER TABLE settlements ADD COLUMN history TEXT NOT NULL DEFAULT '';

UPDATE settlements s SET history = h.lines
FROM (
    SELECT provider, request_id,
        string_agg(json_build_object('from', from_state, 'to', to_state, 'note', note,
            'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text || E'\n', '' ORDER BY id) AS lines
    FROM settlement_transitions
    GROUP BY provider, request_id
) h
WHERE s.provider = h.provider AND s.request_id = h.request_id;

DELETE FROM settlement_transitions;
