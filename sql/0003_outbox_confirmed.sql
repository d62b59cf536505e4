-- Publishing is not the end of a row's story: Redis can lose a job after the relay marked its row
-- published. The reconciler sets confirmed_at once every consumer recorded the event in the inbox
-- (or its job reached a final state), and re-publishes rows whose jobs Redis no longer has.
ALTER TABLE outbox ADD COLUMN confirmed_at timestamptz;
ALTER TABLE outbox ADD COLUMN republished int NOT NULL DEFAULT 0;
CREATE INDEX outbox_unconfirmed_idx ON outbox (published_at, id) WHERE published_at IS NOT NULL AND confirmed_at IS NULL;
