-- Stripe's refusal of a refund (its safe error code and message), kept on the refund row so a
-- retry with the same Idempotency-Key answers exactly what the first request answered.
ALTER TABLE refunds ADD COLUMN error_code TEXT;
ALTER TABLE refunds ADD COLUMN error_message TEXT;
