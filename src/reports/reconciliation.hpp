// Reconciliation: the pure matching of our ledger against Stripe's balance transactions and
// payouts for a period [from, to). No I/O here: reconciliation_source.hpp reads the ledger and
// the provider and hands both to reconcile(); tests feed plain vectors.
//
// Matching keys: a charge transaction (source ch_…/py_…) matches the donation whose charge_id is
// the source, else whose balance_transaction_id is the transaction id, else (when the caller
// resolved it) whose payment_intent_id is the charge's payment intent. A refund transaction
// (source re_…) matches the refund row whose stripe_refund_id is the source.
// Findings, each transaction/donation in the period lands in:
//   matched; missing_in_ledger (Stripe has it, we don't); missing_at_provider (a donation that
//   succeeded in the period whose charge Stripe does not list); amount_mismatch; fee_mismatch
//   (ledger fee or net known and different); status_mismatch (Stripe moved money the ledger
//   state does not show: a charge for a donation not in a succeeded-family state, a refund for a
//   donation not refunded/partially_refunded, or a refund the ledger marks failed/canceled).
//   A paired transaction with several problems appears in each category that applies.
//   Other transactions (adjustments such as dispute withdrawals du_…, fees) are listed under
//   `other` for a human: the port gives no key that ties them to a donation. Payout
//   transactions are covered by the payout checks: a payout is balanced when the nets of its
//   transactions (its own payout transaction excluded) add up to its amount, in its currency.
// Thread-safety: pure function over its arguments.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "donatio/payment_gateway.hpp"

namespace donatio::reports {

struct LedgerDonation {
  std::string id;
  std::string status;
  std::int64_t amount_minor = 0;  // charged
  std::string currency;
  std::optional<std::int64_t> fee_minor;  // in settlement_currency (or currency when empty)
  std::optional<std::int64_t> net_minor;
  std::string settlement_currency;
  std::string charge_id;
  std::string payment_intent_id;
  std::string balance_transaction_id;
  std::int64_t amount_refunded_minor = 0;
  std::optional<std::int64_t> succeeded_at;
  bool in_period = false;  // succeeded in [from, to): Stripe must list its charge
};

struct LedgerRefund {
  std::string id;                // our refund id
  std::string stripe_refund_id;  // re_…
  std::string donation_id;
  std::string donation_status;
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string status;            // our refund row's status
};

struct PayoutWithTransactions {
  Payout payout;
  std::vector<BalanceTransaction> transactions;  // listed with payout=po_…
};

struct ReconciliationInput {
  std::int64_t from = 0;
  std::int64_t to = 0;
  // Stripe's transactions; may include some created outside [from, to) (a margin, to find the
  // charges of donations that succeeded near a boundary). Only those inside are reported.
  std::vector<BalanceTransaction> transactions;
  std::vector<PayoutWithTransactions> payouts;
  std::vector<LedgerDonation> donations;  // in-period ones plus any referenced by a transaction
  std::vector<LedgerRefund> refunds;
  std::map<std::string, std::string> payment_intent_of_charge;  // ch_… -> pi_… (resolved by caller)
};

struct ReconciliationItem {
  std::string transaction_id;  // txn_… ("" for missing_at_provider)
  std::string type;            // charge, refund, adjustment, …
  std::string source;          // ch_…, re_…, du_…
  std::string donation_id;
  std::string refund_id;
  std::string currency;
  std::optional<std::int64_t> ledger_amount;
  std::optional<std::int64_t> provider_amount;
  std::optional<std::int64_t> ledger_fee;
  std::optional<std::int64_t> provider_fee;
  std::string ledger_status;
  std::string detail;
  std::int64_t created = 0;
};

struct PayoutCheck {
  Payout payout;
  std::int64_t transactions_net = 0;  // sum of the nets of its non-payout transactions
  std::size_t transaction_count = 0;
  bool balanced = false;
  std::vector<std::string> donation_ids;               // donations whose money it carries
  std::vector<std::string> unmatched_transaction_ids;  // its transactions the ledger lacks
};

struct ReconciliationReport {
  std::int64_t from = 0;
  std::int64_t to = 0;
  std::vector<ReconciliationItem> matched;
  std::vector<ReconciliationItem> missing_in_ledger;
  std::vector<ReconciliationItem> missing_at_provider;
  std::vector<ReconciliationItem> amount_mismatch;
  std::vector<ReconciliationItem> fee_mismatch;
  std::vector<ReconciliationItem> status_mismatch;
  std::vector<ReconciliationItem> other;
  std::vector<PayoutCheck> payouts;

  // True when nothing needs a human: every category but matched/other empty, payouts balanced.
  bool clean() const;
};

ReconciliationReport reconcile(const ReconciliationInput& input);

// JSON (amounts in integer minor units) and CSV (one line per finding, major units).
std::string reconciliation_json(const ReconciliationReport& report);
std::string reconciliation_csv(const ReconciliationReport& report);

}  // namespace donatio::reports
