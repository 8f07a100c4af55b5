-- The key check: a constant sealed with the STORE_ENCRYPTION_KEY of the
-- first replica that started with one (CheckKeys). A replica whose keys do
-- not open it would seal rows the others cannot open, and is not started.
-- One row at most. Versions before this one ignore the table. Keep in step
-- with ../sqlite/0006_key_check.sql.
CREATE TABLE store_key_check (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BYTEA   NOT NULL
);
