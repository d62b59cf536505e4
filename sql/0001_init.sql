-- The order service, its outbox, the consumers' inbox and their effects.
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
  available_at   timestamptz NOT NULL DEFAULT now()
);
-- The relay's claim query walks only the rows still to publish; published rows leave the index.
CREATE INDEX outbox_unpublished_idx ON outbox (created_at) WHERE published_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_aggregate_idx ON outbox (aggregate_id);

-- The inbox: one row per (consumer, message) whose effect has committed.
CREATE TABLE processed_messages (
  consumer     text NOT NULL,
  message_id   uuid NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);

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

CREATE SEQUENCE invoice_number_seq;

CREATE TABLE invoices (
  id           uuid PRIMARY KEY,
  order_id     uuid NOT NULL UNIQUE REFERENCES orders (id),
  number       text NOT NULL UNIQUE,
  amount_cents bigint NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
  key             text PRIMARY KEY,
  request_hash    text NOT NULL,
  response_status int,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now()
);
