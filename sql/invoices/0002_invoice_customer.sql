-- Invoices name the customer from the event; a database from before the services were split had
-- the invoices table with a foreign key to orders, which a separate service cannot keep.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS customer_name text;
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_order_id_fkey;
