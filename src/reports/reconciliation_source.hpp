// Reconciliation inputs from the world: Stripe's balance transactions and payouts for a period
// (paginated with starting_after while has_more) and the ledger rows they refer to, then the
// pure reconcile(). The ledger side reads: donations that succeeded in [from, to)
// (donations_succeeded, migration 002), donations by charge id (donations_charge) and, for
// charges the ledger does not know by id, by payment intent (UNIQUE payment_intent_id) after
// asking Stripe which payment intent the charge belongs to (at most kMaxChargeLookups calls);
// refund rows by stripe_refund_id (UNIQUE). Ids are looked up in batches of 500.
// Thread-safety: safe to call concurrently; each database read leases its own session.
#pragma once

#include <cstdint>
#include <string>

#include "donatio/payment_gateway.hpp"
#include "src/reports/period.hpp"
#include "src/reports/reconciliation.hpp"
#include "src/store/database.hpp"

namespace donatio::reports {

struct ReconciliationOptions {
  // Stripe transactions are also fetched this long before `from` and after `to`, only to find
  // the charges of donations that succeeded near a boundary (their webhook time differs from
  // the charge's `created`). Findings are reported for [from, to) only.
  std::int64_t boundary_margin_s = 86400;
  int page_limit = 100;             // Stripe's maximum page size
  int max_charge_lookups = 1000;    // retrieve_charge calls for charges unknown by id
};

// Everything reconcile() needs. Provider errors come back as their Status (502/503/504).
Result<ReconciliationInput> gather_reconciliation_input(store::Database& db, PaymentGateway& gateway,
                                                        const ReportPeriod& period,
                                                        const ReconciliationOptions& options = {});

// gather + reconcile.
Result<ReconciliationReport> run_reconciliation(store::Database& db, PaymentGateway& gateway,
                                                const ReportPeriod& period, const ReconciliationOptions& options = {});

// The ledger's two queries by range and by id (public for the test of their query plans): the
// donations that succeeded in [:from, :to); and the start of "… IN ('ch_1', …)" by charge id.
std::string succeeded_in_period_query(store::Dialect dialect);
std::string by_charge_query_prefix();

// Every page of GET /v1/balance_transactions for the window (and payout, when not empty).
Result<std::vector<BalanceTransaction>> list_all_balance_transactions(PaymentGateway& gateway, ListWindow window,
                                                                      const std::string& payout);

}  // namespace donatio::reports
