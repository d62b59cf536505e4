-- The key the relays of this database sign events with when OUTBOX_SIGNING_KEY is not set: made
-- at random by the first process that needs it, so no default secret ships.
CREATE TABLE outbox_signing_key (
  id         int PRIMARY KEY CHECK (id = 1),
  key        text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
