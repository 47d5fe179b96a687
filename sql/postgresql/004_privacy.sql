-- Donor privacy and refund idempotency.
-- A donor erased on request keeps their amounts, dates and receipt numbers (the ledger and
-- issued receipts must stay); name and e-mail become a pseudonym and erased_at says when.
ALTER TABLE donations ADD COLUMN erased_at BIGINT;
-- The Idempotency-Key a client sent with POST /v1/admin/donations/{id}/refund (or
-- `donatio refund --idempotency-key`), with a hash of the request: the same key returns the
-- same refund and never refunds twice.
ALTER TABLE refunds ADD COLUMN client_key TEXT;
ALTER TABLE refunds ADD COLUMN request_hash TEXT;
CREATE UNIQUE INDEX refunds_client_key ON refunds (client_key) WHERE client_key IS NOT NULL;
