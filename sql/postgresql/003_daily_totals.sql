-- Finance summary, pre-aggregated (issue 6): per UTC day of created_at, campaign and currency,
-- the sums GET /v1/admin/reports/summary reports, over the donations whose money moved. A summary
-- reads whole days here and only the partial days at its edges from donations. Kept exact in the
-- transaction of every write that changes what the summary reads (src/store/daily_totals.hpp).
--   day            unix seconds of 00:00 UTC of the donation's created_at
--   campaign_key   campaigns.id, or 0 for unattributed donations (campaign_id NULL)
--   fees, net      only of donations settled in the row's currency (fee and net known)
--   fees_excluded  donations whose fee/net are unknown or settled in another currency
-- Rows are never deleted; a row whose donation_count is 0 counts nothing.
CREATE TABLE donation_daily_totals (
  day            BIGINT  NOT NULL,
  campaign_key   BIGINT  NOT NULL,
  currency       TEXT    NOT NULL,
  donation_count BIGINT  NOT NULL DEFAULT 0,
  gross          BIGINT  NOT NULL DEFAULT 0,
  fees           BIGINT  NOT NULL DEFAULT 0,
  net            BIGINT  NOT NULL DEFAULT 0,
  refunded       BIGINT  NOT NULL DEFAULT 0,
  disputed       BIGINT  NOT NULL DEFAULT 0,
  fees_excluded  BIGINT  NOT NULL DEFAULT 0,
  PRIMARY KEY (day, campaign_key, currency)
);

-- Backfill from the donations already stored (the same statement as `donatio report rebuild-totals`).
-- The day rounds down for every sign (% keeps the dividend's sign).
INSERT INTO donation_daily_totals (day, campaign_key, currency, donation_count, gross, fees, net, refunded,
  disputed, fees_excluded)
SELECT d.created_at - ((d.created_at % 86400) + 86400) % 86400, COALESCE(d.campaign_id, 0), d.currency,
  COUNT(*), SUM(d.amount),
  SUM(CASE WHEN d.fee IS NOT NULL AND (d.settlement_currency IS NULL OR d.settlement_currency = d.currency)
      THEN d.fee ELSE 0 END),
  SUM(CASE WHEN d.net IS NOT NULL AND (d.settlement_currency IS NULL OR d.settlement_currency = d.currency)
      THEN d.net ELSE 0 END),
  SUM(d.amount_refunded), SUM(d.disputed_amount),
  SUM(CASE WHEN d.fee IS NULL OR d.net IS NULL OR (d.settlement_currency IS NOT NULL AND
      d.settlement_currency <> d.currency) THEN 1 ELSE 0 END)
FROM donations d
WHERE d.status IN ('succeeded', 'partially_refunded', 'refunded', 'disputed', 'lost')
GROUP BY 1, 2, 3;
