-- The look-up indexes lead with the column that selects, not with provider.
-- Version 1 led both with provider, which every key look-up also names: on
-- a young PostgreSQL table (never analyzed) a prepared statement's generic
-- plan read them for "provider = $1 AND request_id = $2" instead of the
-- primary key, scanning every settlement of the provider (each transition
-- and foreign key check cost more as the table grew, until the first
-- ANALYZE). Rebuilding them takes a lock that holds writes for as long as
-- the build: on a large table, apply it when the queues are quiet.
DROP INDEX settlements_order;
DROP INDEX settlements_correlation;
CREATE INDEX settlements_order ON settlements (order_id, store_id, provider);
CREATE INDEX settlements_correlation ON settlements (correlation_id, provider);
