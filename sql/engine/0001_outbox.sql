-- The outbox engine's own tables: the outbox a service writes its events to, and the inbox its
-- consumers record what they processed in. Every database a service using the engine has gets
-- them. Column names are a contract: other tools (audit, dashboards) read them.

CREATE TABLE outbox (
  id             uuid PRIMARY KEY,
  aggregate_type text NOT NULL,
  aggregate_id   uuid NOT NULL,
  event_type     text NOT NULL,
  payload        jsonb NOT NULL,
  headers        jsonb NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL DEFAULT now(),
  published_at   timestamptz,
  attempts       int NOT NULL DEFAULT 0,
  last_error     text,
  dead_at        timestamptz,
  -- A row that failed to publish waits until then before the relay tries it again.
  available_at   timestamptz NOT NULL DEFAULT now(),
  -- Publishing is not the end of a row's story: Redis can lose a job after the relay marked its row
  -- published. The reconciler sets confirmed_at once every consumer recorded the event (or its job
  -- reached a final state), and re-publishes rows whose jobs Redis no longer has.
  confirmed_at   timestamptz,
  republished    int NOT NULL DEFAULT 0
);
-- The relay's claim query walks only the rows still to publish; published rows leave the index.
CREATE INDEX outbox_unpublished_idx ON outbox (created_at) WHERE published_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_id);
CREATE INDEX outbox_unconfirmed_idx ON outbox (published_at, id) WHERE published_at IS NOT NULL AND confirmed_at IS NULL;
-- Metrics and the admin API count and list dead rows; keep that off the whole table.
CREATE INDEX outbox_dead_idx ON outbox (created_at) WHERE dead_at IS NOT NULL;
-- Retention deletes old rows by age in small batches; rows are written in time order, so a BRIN
-- index finds the old end cheaply without a b-tree to maintain on every insert.
CREATE INDEX outbox_created_brin ON outbox USING brin (created_at);

-- The inbox: one row per (consumer, message) whose effect has committed.
CREATE TABLE processed_messages (
  consumer     text NOT NULL,
  message_id   uuid NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
CREATE INDEX processed_messages_processed_brin ON processed_messages USING brin (processed_at);

-- The outbox is a queue table: every row is inserted, updated (published, confirmed) and deleted
-- by retention, so dead tuples pile up fast, above all in the partial index the claim walks.
-- Vacuum and analyze it after 1% of changes instead of 20%, without cost-based pauses.
ALTER TABLE outbox SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.01,
  autovacuum_analyze_scale_factor = 0.01,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE processed_messages SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
