-- Reports: reconciliation reads the donations that succeeded in a period [from, to).
CREATE INDEX donations_succeeded ON donations (succeeded_at);
