#!/usr/bin/env python3
"""Fill a donatio SQLite database with synthetic donations for the report benchmarks.

Runs `donatio migrate --config CONFIG` first (so the schema is the real one), then writes
campaigns and donations straight into the SQLite file with the sqlite3 module, in large
transactions, and finally has donatio recompute the summary's daily totals from them
(`donatio report rebuild-totals`, when the schema has donation_daily_totals, migration 003).
Deterministic for a given --seed. Never point it at a database you care about.

  python3 bench/generate_donations.py --donatio build/donatio --db /tmp/bench.db --count 1000000
"""
import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time

# code -> (exponent, typical amount range in minor units)
CURRENCIES = {
    "CHF": (2, 500, 50000), "EUR": (2, 500, 50000), "USD": (2, 500, 50000), "GBP": (2, 500, 40000),
    "JPY": (0, 500, 50000), "KRW": (0, 5000, 500000), "BHD": (3, 1000, 50000), "KWD": (3, 1000, 50000),
}
# (status, weight): mostly succeeded, some refunds, disputes, and rows whose money did not move.
STATUSES = [("succeeded", 80), ("partially_refunded", 3), ("refunded", 3), ("disputed", 1), ("lost", 1),
            ("pending", 5), ("failed", 5), ("canceled", 2)]
MONEY_MOVED = {"succeeded", "partially_refunded", "refunded", "disputed", "lost"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--donatio", required=True, help="path to the donatio binary")
    ap.add_argument("--db", required=True, help="SQLite file to create (must not exist)")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--campaigns", type=int, default=200)
    ap.add_argument("--start", default="2026-01-01", help="first day (UTC) donations are spread over")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    if os.path.exists(args.db):
        sys.exit(f"{args.db} exists; refusing to overwrite it")

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as cfg:
        cfg.write('[server]\nlisten = "127.0.0.1:0"\ntls = false\n'
                  f'[database]\nurl = "sqlite:{os.path.abspath(args.db)}"\n'
                  '[organization]\nname = "Bench"\naddress = "Bench street 1"\ntax_id = "X"\n'
                  'receipt_prefix = "B-"\nreceipt_footer = "-"\n')
    try:
        subprocess.run([args.donatio, "migrate", "--config", cfg.name], check=True, stdout=subprocess.DEVNULL)
        generate(args)
        # The rows were written behind donatio's back: let it recompute the daily totals (the
        # same statement as migration 003's backfill) so the summary reads them.
        db = sqlite3.connect(args.db)
        has_totals = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'donation_daily_totals'").fetchone()[0]
        db.close()
        if has_totals:
            t0 = time.time()
            subprocess.run([args.donatio, "report", "rebuild-totals", "--config", cfg.name], check=True)
            print(f"daily totals rebuilt in {time.time() - t0:.1f} s")
            db = sqlite3.connect(args.db)
            db.execute("ANALYZE donation_daily_totals")
            db.close()
    finally:
        os.unlink(cfg.name)


def generate(args):
    rng = random.Random(args.seed)
    start = int(time.mktime(time.strptime(args.start, "%Y-%m-%d"))) - time.timezone
    span = args.days * 86400
    db = sqlite3.connect(args.db)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    codes = list(CURRENCIES)
    campaign_currency = {}
    with db:
        for i in range(1, args.campaigns + 1):
            cur = codes[i % len(codes)]
            db.execute("INSERT INTO campaigns (slug, title, category, currency, goal_amount, starts_at, created_at,"
                       " updated_at) VALUES (?, ?, 'humanitarian', ?, 100000000, ?, ?, ?)",
                       (f"campaign-{i:04d}", f"Campaign {i}", cur, start, start, start))
        for cid, cur in db.execute("SELECT id, currency FROM campaigns"):
            campaign_currency[cid] = cur
    campaign_ids = list(campaign_currency)
    statuses = [s for s, _ in STATUSES]
    weights = [w for _, w in STATUSES]
    receipt = 0
    t0 = time.time()
    batch = []
    sql = ("INSERT INTO donations (id, campaign_id, status, amount, gift_amount, currency, donor_email, donor_name,"
           " payment_intent_id, charge_id, amount_refunded, disputed_amount, fee, net, settlement_currency,"
           " balance_transaction_id, receipt_number, created_at, updated_at, succeeded_at)"
           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
    for n in range(args.count):
        if rng.random() < 0.03:
            campaign = None  # unattributed (Payment Link, dashboard)
            cur = rng.choice(codes)
        else:
            campaign = rng.choice(campaign_ids)
            cur = campaign_currency[campaign] if rng.random() < 0.9 else rng.choice(codes)
        _, lo, hi = CURRENCIES[cur]
        amount = rng.randint(lo, hi)
        status = rng.choices(statuses, weights)[0]
        created = start + rng.randrange(span)
        moved = status in MONEY_MOVED
        fee = amount * 29 // 1000 + 30 if moved else None
        net = amount - fee if moved else None
        refunded = amount if status == "refunded" else (amount // 3 if status == "partially_refunded" else 0)
        disputed = amount if status in ("disputed", "lost") else 0
        rid = None
        if moved:
            receipt += 1
            rid = f"B-{time.gmtime(created).tm_year}-{receipt:06d}"
        # A few donors type things a spreadsheet would run: the export must neutralise them.
        email = f"=cmd{n}@example.org" if n % 10007 == 0 else f"donor{n % 250000}@example.org"
        key = f"{n:024x}"
        batch.append((f"don_{key}", campaign, status, amount, amount, cur, email, "Donor",
                      f"pi_{key}", f"ch_{key}" if moved else None, refunded, disputed, fee, net,
                      None, f"txn_{key}" if moved else None, rid, created, created,
                      created + 5 if moved else None))
        if len(batch) == 50_000:
            with db:
                db.executemany(sql, batch)
            batch.clear()
    if batch:
        with db:
            db.executemany(sql, batch)
    db.execute("ANALYZE")
    db.close()
    print(f"wrote {args.count} donations over {args.campaigns} campaigns and {len(codes)} currencies "
          f"in {time.time() - t0:.1f} s -> {args.db} ({os.path.getsize(args.db) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
