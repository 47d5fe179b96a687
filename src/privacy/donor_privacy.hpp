// Donor privacy (GDPR): what we hold about a donor, erasure on request, and the retention purge.
//
// A donor is found by e-mail address, compared case-insensitively. What is personal data here:
// the name and e-mail on donations, and the Stripe events about their payments (Stripe puts
// receipt_email and billing details in them). What the law makes us keep: amounts, dates,
// currencies, receipt numbers and the ledger (tax receipts must stay verifiable), so erasure
// replaces the name and e-mail with a pseudonym everywhere and keeps the figures; totals,
// reports and reconciliation are unchanged. Only the retention purge
// (`privacy.receipt_retention_years`) deletes the ledger rows themselves, whole calendar
// years at a time. Stripe's own copy of the payment is not ours to erase (see docs/operations.md).
//
// Every function runs in one transaction and appends to the audit log; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "donatio/status.hpp"
#include "src/store/database.hpp"

namespace donatio::privacy {

// Who asked, for the audit log.
struct Actor {
  std::string name;        // token name, or "cli:<user>"
  std::string request_id;  // "" from the CLI
};

// Everything stored about the donor: {"email", "exported_at", "donations": [each with its
// "history", "receipts" and "refunds"], "stripe_events": [{id, type, created, payload}]}.
// A donor we hold nothing about gets empty lists (that is the answer to the request).
Result<nlohmann::json> export_donor(store::Database& db, const std::string& email, std::int64_t now);

struct Erasure {
  std::string pseudonym;  // the e-mail address the donations now carry
  int donations = 0;
  int events = 0;           // Stripe event payloads rewritten
  int mails_cancelled = 0;  // queued receipt e-mails that will no longer be sent
};

// Replaces the donor's name and e-mail with a pseudonym on every donation and in every stored
// Stripe event about them, cancels receipt e-mails still queued for them, forgets their
// idempotency keys. not_found (donor_not_found) when no donation carries this address.
Result<Erasure> erase_donor(store::Database& db, const std::string& email, const Actor& actor, std::int64_t now);

struct Purge {
  std::int64_t cutoff = 0;  // donations created before this (a 1 January, 00:00 UTC) go
  std::int64_t donations = 0;
  std::int64_t receipts = 0;
  std::int64_t refunds = 0;
  std::int64_t history = 0;
  std::int64_t events = 0;  // Stripe events created before the cutoff
  std::int64_t outbox = 0;  // outbox rows created before the cutoff
};

// The first instant that is kept: 1 January of (the year of `now` − `retention_years`), UTC.
std::int64_t retention_cutoff(int retention_years, std::int64_t now);

// Deletes donations created before the cutoff with their receipts, refunds, history and
// idempotency keys (and the summary's daily totals of those days), and Stripe events and
// outbox rows older than it. With `dry_run` only
// counts. Receipt counters are kept: a number is never issued twice.
Result<Purge> purge_expired(store::Database& db, int retention_years, const Actor& actor, std::int64_t now,
                            bool dry_run);

}  // namespace donatio::privacy
