-- Metrics and the admin API count and list dead rows; keep that off the whole table.
CREATE INDEX outbox_dead_idx ON outbox (created_at) WHERE dead_at IS NOT NULL;
