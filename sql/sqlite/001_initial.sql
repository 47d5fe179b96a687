-- donatio schema v1 (SQLite). Money: integer minor units + ISO-4217 code. Times: unix seconds UTC.
CREATE TABLE campaigns (
  id             INTEGER PRIMARY KEY,
  slug           TEXT    NOT NULL UNIQUE,
  title          TEXT    NOT NULL,
  description    TEXT    NOT NULL DEFAULT '',
  category       TEXT    NOT NULL,
  currency       TEXT    NOT NULL,
  goal_amount    INTEGER NOT NULL CHECK (goal_amount > 0),
  raised_amount  INTEGER NOT NULL DEFAULT 0,
  donation_count INTEGER NOT NULL DEFAULT 0,
  starts_at      INTEGER NOT NULL,
  ends_at        INTEGER,
  status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);

CREATE TABLE donations (
  id                     TEXT    PRIMARY KEY,
  campaign_id            INTEGER REFERENCES campaigns(id),
  status                 TEXT    NOT NULL,
  amount                 INTEGER NOT NULL,
  gift_amount            INTEGER NOT NULL,
  currency               TEXT    NOT NULL,
  cover_fees             INTEGER NOT NULL DEFAULT 0,
  donor_email            TEXT    NOT NULL DEFAULT '',
  donor_name             TEXT    NOT NULL DEFAULT '',
  source                 TEXT    NOT NULL DEFAULT 'api',
  payment_intent_id      TEXT    UNIQUE,
  charge_id              TEXT,
  amount_refunded        INTEGER NOT NULL DEFAULT 0,
  disputed_amount        INTEGER NOT NULL DEFAULT 0,
  fee                    INTEGER,
  net                    INTEGER,
  settlement_currency    TEXT,
  exchange_rate          TEXT,
  balance_transaction_id TEXT,
  receipt_number         TEXT,
  created_at             INTEGER NOT NULL,
  updated_at             INTEGER NOT NULL,
  succeeded_at           INTEGER
);
CREATE INDEX donations_created ON donations (created_at, id);
CREATE INDEX donations_campaign_created ON donations (campaign_id, created_at, id);
CREATE INDEX donations_status_created ON donations (status, created_at, id);
CREATE INDEX donations_charge ON donations (charge_id);
CREATE INDEX donations_donor_email ON donations (donor_email);

CREATE TABLE donation_history (
  id          INTEGER PRIMARY KEY,
  donation_id TEXT    NOT NULL REFERENCES donations(id),
  from_status TEXT,
  to_status   TEXT    NOT NULL,
  event_id    TEXT,
  reason      TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL
);
CREATE INDEX donation_history_donation ON donation_history (donation_id, id);

CREATE TABLE events (
  id          TEXT    PRIMARY KEY,
  type        TEXT    NOT NULL,
  created     INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
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
  year        INTEGER NOT NULL,
  last_number INTEGER NOT NULL,
  PRIMARY KEY (prefix, year)
);

CREATE TABLE receipts (
  number            TEXT    PRIMARY KEY,
  donation_id       TEXT    NOT NULL REFERENCES donations(id),
  kind              TEXT    NOT NULL CHECK (kind IN ('receipt', 'amended', 'void')),
  references_number TEXT    REFERENCES receipts(number),
  year              INTEGER NOT NULL,
  sequence          INTEGER NOT NULL,
  amount            INTEGER NOT NULL,
  currency          TEXT    NOT NULL,
  issued_at         INTEGER NOT NULL,
  UNIQUE (year, sequence, number)
);
CREATE INDEX receipts_donation ON receipts (donation_id);

CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  kind            TEXT    NOT NULL,
  payload         TEXT    NOT NULL,
  status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  locked_until    INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

CREATE TABLE tokens (
  id           INTEGER PRIMARY KEY,
  name         TEXT    NOT NULL UNIQUE,
  role         TEXT    NOT NULL CHECK (role IN ('admin', 'finance')),
  token_hash   TEXT    NOT NULL UNIQUE,
  created_at   INTEGER NOT NULL,
  revoked_at   INTEGER,
  last_used_at INTEGER
);

CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY,
  actor      TEXT    NOT NULL,
  action     TEXT    NOT NULL,
  target     TEXT    NOT NULL DEFAULT '',
  details    TEXT    NOT NULL DEFAULT '{}',
  request_id TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE idempotency_keys (
  key             TEXT    PRIMARY KEY,
  request_hash    TEXT    NOT NULL,
  donation_id     TEXT,
  response_status INTEGER,
  response_body   TEXT,
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

CREATE TABLE refunds (
  id               TEXT    PRIMARY KEY,
  donation_id      TEXT    NOT NULL REFERENCES donations(id),
  amount           INTEGER NOT NULL CHECK (amount > 0),
  currency         TEXT    NOT NULL,
  reason           TEXT    NOT NULL DEFAULT '',
  status           TEXT    NOT NULL,
  stripe_refund_id TEXT    UNIQUE,
  requested_by     TEXT    NOT NULL DEFAULT '',
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX refunds_donation ON refunds (donation_id);

CREATE TABLE sync_state (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
