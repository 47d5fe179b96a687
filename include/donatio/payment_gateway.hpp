// PaymentGateway: the port to the payment provider (Stripe). The domain never sees HTTP;
// the adapter in src/stripe/ speaks Stripe's REST API over libcurl and tests run it against a
// fake Stripe on loopback. Implementations must be safe to call from many threads at once.
//
// Errors: provider_rejected (Stripe answered 4xx: message is safe to show), provider_unavailable
// (network error / 5xx / 429 after bounded retries), provider_timeout (no answer within the
// configured time: the outcome is UNKNOWN, never treat it as failed).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "donatio/status.hpp"

namespace donatio {

struct CreatePaymentIntent {
  std::int64_t amount_minor = 0;
  std::string currency;                          // upper-case ISO code; adapter sends lower case
  std::string receipt_email;                     // may be empty
  std::string description;                       // may be empty
  std::map<std::string, std::string> metadata;   // e.g. donation_id, campaign
  std::string idempotency_key;                   // REQUIRES: non-empty, derived from our record
};

struct PaymentIntent {
  std::string id;             // pi_…
  std::string client_secret;  // never log
  std::string status;         // Stripe's status string
  std::int64_t amount_minor = 0;
  std::int64_t amount_received_minor = 0;
  std::string currency;       // upper case
  std::string latest_charge;  // ch_… or empty
  std::int64_t created = 0;
  std::map<std::string, std::string> metadata;
};

struct CreateRefund {
  std::string payment_intent;
  std::optional<std::int64_t> amount_minor;    // nullopt: the whole remaining amount
  std::string reason;                           // "", duplicate, fraudulent, requested_by_customer
  std::map<std::string, std::string> metadata;  // e.g. refund_id
  std::string idempotency_key;                  // REQUIRES: non-empty, derived from our refund row
};

struct Refund {
  std::string id;  // re_…
  std::string status;
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string payment_intent;
  std::string charge;
};

struct BalanceTransaction {
  std::string id;        // txn_…
  std::string type;      // charge, refund, adjustment, payout, …
  std::string source;    // ch_…, re_…, po_…
  std::int64_t amount_minor = 0;
  std::int64_t fee_minor = 0;
  std::int64_t net_minor = 0;
  std::string currency;  // settlement currency, upper case
  std::string exchange_rate;  // decimal string as Stripe sent it, "" when none (never a double)
  std::string payout;    // po_… when known (from list filtered by payout), else ""
  std::int64_t created = 0;
  std::string status;    // available / pending
};

struct Payout {
  std::string id;  // po_…
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string status;
  std::int64_t arrival_date = 0;
  std::int64_t created = 0;
};

struct Charge {
  std::string id;
  std::string payment_intent;
  std::string balance_transaction;  // txn_… or empty while pending
  std::int64_t amount_minor = 0;
  std::int64_t amount_refunded_minor = 0;
  std::string currency;
};

template <typename T>
struct Page {
  std::vector<T> data;
  bool has_more = false;
};

struct ListWindow {
  std::optional<std::int64_t> created_gte;
  std::optional<std::int64_t> created_lt;
  std::string starting_after;  // cursor: id of the last object of the previous page
  int limit = 100;
};

class PaymentGateway {
 public:
  virtual ~PaymentGateway() = default;

  virtual Result<PaymentIntent> create_payment_intent(const CreatePaymentIntent& request) = 0;
  virtual Result<PaymentIntent> retrieve_payment_intent(const std::string& id) = 0;
  virtual Result<Charge> retrieve_charge(const std::string& id) = 0;
  virtual Result<Refund> create_refund(const CreateRefund& request) = 0;
  virtual Result<BalanceTransaction> retrieve_balance_transaction(const std::string& id) = 0;

  // GET /v1/events: raw event JSON texts, oldest filters applied by the provider.
  virtual Result<Page<std::string>> list_events(const ListWindow& window,
                                                const std::vector<std::string>& types) = 0;
  virtual Result<Page<BalanceTransaction>> list_balance_transactions(const ListWindow& window,
                                                                     const std::string& payout) = 0;
  virtual Result<Page<Payout>> list_payouts(const ListWindow& window) = 0;
};

}  // namespace donatio
