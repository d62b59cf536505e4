-- Retention deletes old rows by age in small batches. Both tables are written in time order, so a
-- BRIN index finds the old end cheaply without a full b-tree to maintain on every insert.
CREATE INDEX outbox_created_brin ON outbox USING brin (created_at);
CREATE INDEX processed_messages_processed_brin ON processed_messages USING brin (processed_at);
