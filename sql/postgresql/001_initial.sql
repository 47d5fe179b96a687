-- donatio schema v1 (PostgreSQL). Money: integer minor units + ISO-4217 code. Times: unix seconds UTC.
CREATE TABLE campaigns (
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug           TEXT    NOT NULL UNIQUE,
  title          TEXT    NOT NULL,
  description    TEXT    NOT NULL DEFAULT '',
  category       TEXT    NOT NULL,
  currency       TEXT    NOT NULL,
  goal_amount    BIGINT NOT NULL CHECK (goal_amount > 0),
  raised_amount  BIGINT NOT NULL DEFAULT 0,
  donation_count BIGINT NOT NULL DEFAULT 0,
  starts_at      BIGINT NOT NULL,
  ends_at        BIGINT,
  status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL
);

CREATE TABLE donations (
  id                     TEXT    PRIMARY KEY,
  campaign_id            BIGINT REFERENCES campaigns(id),
  status                 TEXT    NOT NULL,
  amount                 BIGINT NOT NULL,
  gift_amount            BIGINT NOT NULL,
  currency               TEXT    NOT NULL,
  cover_fees             BIGINT NOT NULL DEFAULT 0,
  donor_email            TEXT    NOT NULL DEFAULT '',
  donor_name             TEXT    NOT NULL DEFAULT '',
  source                 TEXT    NOT NULL DEFAULT 'api',
  payment_intent_id      TEXT    UNIQUE,
  charge_id              TEXT,
  amount_refunded        BIGINT NOT NULL DEFAULT 0,
  disputed_amount        BIGINT NOT NULL DEFAULT 0,
  fee                    BIGINT,
  net                    BIGINT,
  settlement_currency    TEXT,
  exchange_rate          TEXT,
  balance_transaction_id TEXT,
  receipt_number         TEXT,
  created_at             BIGINT NOT NULL,
  updated_at             BIGINT NOT NULL,
  succeeded_at           BIGINT
);
CREATE INDEX donations_created ON donations (created_at, id);
CREATE INDEX donations_campaign_created ON donations (campaign_id, created_at, id);
CREATE INDEX donations_status_created ON donations (status, created_at, id);
CREATE INDEX donations_charge ON donations (charge_id);
CREATE INDEX donations_donor_email ON donations (donor_email);

CREATE TABLE donation_history (
  id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  donation_id TEXT    NOT NULL REFERENCES donations(id),
  from_status TEXT,
  to_status   TEXT    NOT NULL,
  event_id    TEXT,
  reason      TEXT    NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL
);
CREATE INDEX donation_history_donation ON donation_history (donation_id, id);

CREATE TABLE events (
  id          TEXT    PRIMARY KEY,
  type        TEXT    NOT NULL,
  created     BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  source      TEXT    NOT NULL DEFAULT 'webhook',
  status      TEXT    NOT NULL,
  error       TEXT,
  object_id   TEXT,
  payload     TEXT    NOT NULL
);
CREATE INDEX events_status ON events (status, received_at);
CREATE INDEX events_created ON events (created);

CREATE TABLE receipt_counters (
  prefix      TEXT    NOT NULL,
  year        BIGINT NOT NULL,
  last_number BIGINT NOT NULL,
  PRIMARY KEY (prefix, year)
);

CREATE TABLE receipts (
  number            TEXT    PRIMARY KEY,
  donation_id       TEXT    NOT NULL REFERENCES donations(id),
  kind              TEXT    NOT NULL CHECK (kind IN ('receipt', 'amended', 'void')),
  references_number TEXT    REFERENCES receipts(number),
  year              BIGINT NOT NULL,
  sequence          BIGINT NOT NULL,
  amount            BIGINT NOT NULL,
  currency          TEXT    NOT NULL,
  issued_at         BIGINT NOT NULL,
  UNIQUE (year, sequence, number)
);
CREATE INDEX receipts_donation ON receipts (donation_id);

CREATE TABLE outbox (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            TEXT    NOT NULL,
  payload         TEXT    NOT NULL,
  status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
  attempts        BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  locked_until    BIGINT NOT NULL DEFAULT 0,
  last_error      TEXT,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE tokens (
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  role         TEXT    NOT NULL CHECK (role IN ('admin', 'finance')),
  token_hash   TEXT    NOT NULL UNIQUE,
  created_at   BIGINT NOT NULL,
  revoked_at   BIGINT,
  last_used_at BIGINT
);

CREATE TABLE audit_log (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor      TEXT    NOT NULL,
  action     TEXT    NOT NULL,
  target     TEXT    NOT NULL DEFAULT '',
  details    TEXT    NOT NULL DEFAULT '{}',
  request_id TEXT    NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE idempotency_keys (
  key             TEXT    PRIMARY KEY,
  request_hash    TEXT    NOT NULL,
  donation_id     TEXT,
  response_status BIGINT,
  response_body   TEXT,
  created_at      BIGINT NOT NULL,
  expires_at      BIGINT NOT NULL
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

CREATE TABLE refunds (
  id               TEXT    PRIMARY KEY,
  donation_id      TEXT    NOT NULL REFERENCES donations(id),
  amount           BIGINT NOT NULL CHECK (amount > 0),
  currency         TEXT    NOT NULL,
  reason           TEXT    NOT NULL DEFAULT '',
  status           TEXT    NOT NULL,
  stripe_refund_id TEXT    UNIQUE,
  requested_by     TEXT    NOT NULL DEFAULT '',
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL
);
CREATE INDEX refunds_donation ON refunds (donation_id);

CREATE TABLE sync_state (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
