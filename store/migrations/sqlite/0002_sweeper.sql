-- The sweeper's look-ups: settlements left in a state past its deadline, and
-- status events never confirmed as published (the outbox).
CREATE INDEX settlements_state_updated ON settlements (state, updated_at);
CREATE INDEX status_events_unpublished ON status_events (created_at) WHERE published_at IS NULL;
