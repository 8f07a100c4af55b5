-- Settlement store, version 1 (SQLite). Keep in step with ../postgres/0001_init.sql:
-- same tables, columns and constraints; only the column types differ.
-- Timestamps are UTC text, fixed width (2006-01-02T15:04:05.000000Z), so that
-- text order is time order.

CREATE TABLE settlements (
    provider        TEXT    NOT NULL,
    request_id      TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL DEFAULT '',
    store_id        TEXT    NOT NULL DEFAULT '',
    order_id        TEXT    NOT NULL DEFAULT '',
    tender_type     TEXT    NOT NULL DEFAULT '',
    settlement_type TEXT    NOT NULL DEFAULT '',
    amount          TEXT    NOT NULL DEFAULT '',
    currency        TEXT    NOT NULL DEFAULT '',
    client_context  TEXT    NOT NULL DEFAULT '',
    correlation_id  TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    refs            TEXT    NOT NULL DEFAULT '{}',
    decline_reason  TEXT    NOT NULL DEFAULT '',
    parked_reason   TEXT    NOT NULL DEFAULT '',
    request         BLOB,
    content_type    TEXT    NOT NULL DEFAULT '',
    headers         TEXT    NOT NULL DEFAULT '{}',
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    PRIMARY KEY (provider, request_id)
);

CREATE INDEX settlements_order ON settlements (provider, store_id, order_id);
CREATE INDEX settlements_correlation ON settlements (provider, correlation_id);
CREATE INDEX settlements_created ON settlements (created_at, request_id);

CREATE TABLE settlement_transitions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    provider   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    at         TEXT NOT NULL,
    FOREIGN KEY (provider, request_id) REFERENCES settlements (provider, request_id) ON DELETE CASCADE
);

CREATE INDEX settlement_transitions_key ON settlement_transitions (provider, request_id, id);

CREATE TABLE status_events (
    provider          TEXT    NOT NULL,
    request_id        TEXT    NOT NULL,
    seq               INTEGER NOT NULL,
    dedup_key         TEXT    NOT NULL,
    message_id        TEXT    NOT NULL,
    settlement_status TEXT    NOT NULL DEFAULT '',
    body              BLOB,
    created_at        TEXT    NOT NULL,
    published_at      TEXT,
    PRIMARY KEY (provider, request_id, seq),
    UNIQUE (provider, request_id, dedup_key),
    UNIQUE (message_id),
    FOREIGN KEY (provider, request_id) REFERENCES settlements (provider, request_id) ON DELETE CASCADE
);
