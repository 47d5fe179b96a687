-- The finance summary reads whole days from donation_daily_totals (003) and only the partial
-- days at its edges from donations (through donations_created); --verify and rebuild-totals read
-- the donations table once. The wide covering index donations_summary served the summary before
-- 003; it cost every donation write (each webhook moves a donation's status) and is dropped.
DROP INDEX IF EXISTS donations_summary;
