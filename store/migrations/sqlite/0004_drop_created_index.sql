-- settlements_created (created_at, request_id) served no query: every Find
-- selects by order or by correlation id (settlements_order,
-- settlements_correlation) and sorts the few rows found. It cost an index
-- entry per registration and, on PostgreSQL, per transition (an update of
-- state and updated_at is never HOT, so it writes every index again), at
-- the busy right edge of the index where concurrent writers wait for the
-- same page.
DROP INDEX settlements_created;
