-- Reports.
-- Reconciliation reads the donations that succeeded in a period [from, to).
CREATE INDEX donations_succeeded ON donations (succeeded_at);
-- The finance summary aggregates every donation created in a period: a covering index lets it
-- read only this index (created_at range first), never the wide rows with e-mails and names.
CREATE INDEX donations_summary ON donations (created_at, status, campaign_id, currency, amount, fee, net,
  settlement_currency, amount_refunded, disputed_amount);
