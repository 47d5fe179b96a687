#!/usr/bin/env bash
# Starts the Debian PostgreSQL 15 cluster (no systemd needed) and makes role + database
# "donations" (password "donations", TCP on 127.0.0.1:5432). Idempotent. Needs root.
# Prints the database URL on its last line. Fails loudly when PostgreSQL cannot start.
set -euo pipefail
pg_lsclusters -h | grep -q '^15 main' || pg_createcluster 15 main >/dev/null
pg_ctlcluster 15 main status >/dev/null 2>&1 || pg_ctlcluster 15 main start
for i in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not become ready" >&2; exit 1; }
cd /tmp
runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA >/dev/null <<'SQL'
SELECT 'CREATE ROLE donations LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname='donations')\gexec
ALTER ROLE donations WITH LOGIN PASSWORD 'donations';
SELECT 'CREATE DATABASE donations OWNER donations' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname='donations')\gexec
SQL
echo "postgresql://donations:donations@127.0.0.1:5432/donations"
