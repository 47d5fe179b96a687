// StripeClient: the PaymentGateway adapter that speaks Stripe's REST API (v1, form-encoded
// requests, JSON answers) over libcurl.
//
// Thread-safety: safe to call from many threads at once. Calls share a bounded pool of curl easy
// handles; a handle keeps its connection (and TLS session) alive between calls, so a steady
// stream of requests does not pay a TLS handshake each time. When every handle is busy a call
// waits for one, at most `timeout_ms`, then fails with provider_unavailable.
//
// REQUIRES: curl_global_init(CURL_GLOBAL_DEFAULT) was called once by main before any
//           StripeClient is constructed, and curl_global_cleanup is called only after every
//           StripeClient is destroyed.
// REQUIRES: no call is in flight when the client is destroyed.
//
// Retries: at most `max_retries` after the first attempt, exponential backoff with full jitter,
// on connection errors, 429 and 5xx; `Stripe-Should-Retry: true|false` overrides that; other
// 4xx are never retried (409 only when Stripe says it should be). Every attempt of a POST carries
// the same Idempotency-Key. A POST that timed out is not retried: its outcome is unknown and the
// call returns provider_timeout. A POST whose connection broke after the request may have been
// sent is retried with the same key, and when the budget runs out it too is provider_timeout
// (outcome unknown), never provider_unavailable. GETs may be retried after a timeout.
//
// Errors (see payment_gateway.hpp): 4xx with Stripe's error object -> provider_rejected,
// error_code "provider_<stripe code>" (e.g. "provider_amount_too_small") or "provider_rejected",
// message = Stripe's message; 401/403 -> provider_unavailable ("payment provider rejected our
// credentials"): a misconfiguration of ours, not the donor's fault; network errors, 5xx, 429
// after retries -> provider_unavailable; timeout -> provider_timeout. The secret key is never
// in a Status message nor in a log line (any echo of it is redacted); bodies are never logged.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "donatio/config.hpp"
#include "donatio/payment_gateway.hpp"

namespace donatio::stripe {

struct StripeClientOptions {
  std::string api_base = "https://api.stripe.com";  // http:// only for loopback tests/demo
  std::string api_version = "2024-06-20";           // sent as Stripe-Version
  std::string secret_key;                           // sk_…; never logged, never in a Status
  int timeout_ms = 10000;                           // whole attempt, connect included
  int connect_timeout_ms = 3000;
  int max_retries = 2;                              // after the first attempt
  std::string ca_file;                              // extra CA bundle; "" = system store
  int pool_size = 8;                                // max curl handles = max open connections
  std::int64_t max_response_bytes = 16 * 1024 * 1024;
  int backoff_base_ms = 100;                        // first retry waits up to this long
  int backoff_cap_ms = 2000;                        // no single wait is longer
  // How to wait between attempts. Empty: std::this_thread::sleep_for. Tests inject a recorder.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// Options from the validated config section plus the secret read from the environment.
StripeClientOptions stripe_client_options(const StripeConfig& config, std::string secret_key);

class StripeClient final : public PaymentGateway {
 public:
  // Throws std::invalid_argument (start-up error, message never contains the key) when the key
  // is empty or has control characters, api_base is not http(s)://, or a size/timeout is < 1.
  explicit StripeClient(StripeClientOptions options);
  ~StripeClient() override;
  StripeClient(const StripeClient&) = delete;
  StripeClient& operator=(const StripeClient&) = delete;

  // POST /v1/payment_intents. REQUIRES: request.idempotency_key non-empty (else internal error,
  // nothing is sent).
  Result<PaymentIntent> create_payment_intent(const CreatePaymentIntent& request) override;
  // GET /v1/payment_intents/{id}
  Result<PaymentIntent> retrieve_payment_intent(const std::string& id) override;
  // GET /v1/charges/{id}
  Result<Charge> retrieve_charge(const std::string& id) override;
  // POST /v1/refunds. REQUIRES: request.idempotency_key non-empty.
  Result<Refund> create_refund(const CreateRefund& request) override;
  // GET /v1/balance_transactions/{id}; exchange_rate keeps Stripe's decimal text.
  Result<BalanceTransaction> retrieve_balance_transaction(const std::string& id) override;
  // GET /v1/events?created[gte]&created[lt]&types[]…&starting_after&limit; each event's JSON.
  Result<Page<std::string>> list_events(const ListWindow& window,
                                        const std::vector<std::string>& types) override;
  // GET /v1/balance_transactions?created[…]&payout&starting_after&limit
  Result<Page<BalanceTransaction>> list_balance_transactions(const ListWindow& window,
                                                             const std::string& payout) override;
  // GET /v1/payouts?created[…]&starting_after&limit
  Result<Page<Payout>> list_payouts(const ListWindow& window) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace donatio::stripe
