-- The outbox is a queue table: every row is inserted, updated twice (published, confirmed) and
-- deleted by retention, so dead tuples pile up fast, above all in the partial index the relay's
-- claim query walks. Vacuum and analyze it after 1% of changes instead of the default 20%, and
-- without the cost-based pauses, so the index stays small under a sustained load.
ALTER TABLE outbox SET (
  autovacuum_vacuum_scale_factor = 0.01,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.01,
  autovacuum_analyze_scale_factor = 0.01,
  autovacuum_vacuum_cost_delay = 0
);
ALTER TABLE processed_messages SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
ALTER TABLE idempotency_keys SET (autovacuum_vacuum_scale_factor = 0.02);
