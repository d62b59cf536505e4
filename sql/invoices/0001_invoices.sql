-- The invoice service's own table, in its own database (INVOICES_DATABASE_URL) or beside the
-- order service's. It never references the order service's tables: it works from the signed
-- order.paid event alone.
CREATE SEQUENCE IF NOT EXISTS invoice_number_seq;

CREATE TABLE invoices (
  id           uuid PRIMARY KEY,
  order_id     uuid NOT NULL UNIQUE,
  number       text NOT NULL UNIQUE,
  amount_cents bigint NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
