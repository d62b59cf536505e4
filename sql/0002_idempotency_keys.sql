-- Retention deletes old keys by age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
