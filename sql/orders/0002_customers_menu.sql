-- Customers and their bearer tokens, order ownership, the menu that prices every order, and
-- Idempotency-Keys scoped to their caller (issue 11). Existing tables only gain columns and
-- indexes: their names are a contract.

CREATE TABLE customers (
  id            uuid PRIMARY KEY,
  email         text NOT NULL,
  -- scrypt$N$r$p$salt$hash (src/db/customers.ts): the parameters travel with each hash, so they
  -- can be raised later without breaking the passwords stored before.
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
-- One customer per address, whatever its case: the unique index is what answers 409.
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));

-- Only the SHA-256 of each bearer token: a copy of this table lets nobody in.
CREATE TABLE customer_tokens (
  token_hash  bytea PRIMARY KEY,
  customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX customer_tokens_customer_idx ON customer_tokens (customer_id);
CREATE INDEX customer_tokens_expires_idx ON customer_tokens (expires_at);

-- An order belongs to its customer, or (placed anonymously) to whoever holds its access token,
-- of which only the SHA-256 is kept. Both null on orders placed before this migration.
ALTER TABLE orders ADD COLUMN customer_id uuid REFERENCES customers (id);
ALTER TABLE orders ADD COLUMN access_token_hash bytea;
-- GET /orders for a customer: their own orders, newest first.
CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC) WHERE customer_id IS NOT NULL;

-- The shop's prices, in cents: an order's prices and total come from here, never from the client.
CREATE TABLE menu (
  flavor      text NOT NULL,
  size        text NOT NULL CHECK (size IN ('small', 'medium', 'large')),
  price_cents bigint NOT NULL CHECK (price_cents > 0),
  PRIMARY KEY (flavor, size)
);
-- Clients name a flavor in any case ("pepperoni", "Pepperoni"): one entry per name and size.
CREATE UNIQUE INDEX menu_flavor_lower_size_key ON menu (lower(flavor), size);

INSERT INTO menu (flavor, size, price_cents) VALUES
  ('Margherita',       'small',  900), ('Margherita',       'medium', 1250), ('Margherita',       'large', 1500),
  ('Marinara',         'small',  800), ('Marinara',         'medium', 1200), ('Marinara',         'large', 1400),
  ('Pepperoni',        'small', 1100), ('Pepperoni',        'medium', 1500), ('Pepperoni',        'large', 1999),
  ('Funghi',           'small',  900), ('Funghi',           'medium', 1200), ('Funghi',           'large', 1450),
  ('Diavola',          'small',  850), ('Diavola',          'medium', 1000), ('Diavola',          'large', 1100),
  ('Capricciosa',      'small',  950), ('Capricciosa',      'medium', 1150), ('Capricciosa',      'large', 1300),
  ('Quattro Formaggi', 'small', 1050), ('Quattro Formaggi', 'medium', 1400), ('Quattro Formaggi', 'large', 1750),
  ('Hawaii',           'small', 1000), ('Hawaii',           'medium', 1300), ('Hawaii',           'large', 1600);

-- Keys are the caller's own: `customer:<id>` for a customer, `staff` for staff, `anonymous` for
-- everyone else (whose keys must be unguessable). Rows from before are anonymous ones.
ALTER TABLE idempotency_keys ADD COLUMN scope text NOT NULL DEFAULT 'anonymous';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey, ADD PRIMARY KEY (scope, key);
