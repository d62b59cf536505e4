-- The order service's own tables (the outbox and inbox are the engine's: sql/engine/).
-- Table and column names are a contract: other tools (audit, dashboards) read them.

CREATE TABLE orders (
  id            uuid PRIMARY KEY,
  customer_name text NOT NULL,
  address       text NOT NULL,
  items         jsonb NOT NULL,
  total_cents   bigint NOT NULL CHECK (total_cents > 0),
  status        text NOT NULL DEFAULT 'pending_payment'
                CHECK (status IN ('pending_payment', 'paid', 'delivered', 'payment_failed', 'delivery_failed')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- GET /orders pages newest first, optionally by status.
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);

-- The simulated payment provider's own ledger. It stands for an external system:
-- a second row for one order is a double charge.
CREATE TABLE gateway_charges (
  id              uuid PRIMARY KEY,
  idempotency_key uuid NOT NULL UNIQUE,
  order_id        uuid NOT NULL,
  amount_cents    bigint NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gateway_charges_order_idx ON gateway_charges (order_id);

CREATE TABLE payments (
  id           uuid PRIMARY KEY,
  order_id     uuid NOT NULL UNIQUE REFERENCES orders (id),
  charge_id    uuid NOT NULL,
  amount_cents bigint NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deliveries (
  id            uuid PRIMARY KEY,
  order_id      uuid NOT NULL UNIQUE REFERENCES orders (id),
  courier       text NOT NULL,
  dispatched_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
  key             text PRIMARY KEY,
  request_hash    text NOT NULL,
  response_status int,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now()
);
-- Retention deletes old keys by age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
ALTER TABLE idempotency_keys SET (autovacuum_vacuum_scale_factor = 0.02);
