// StripeEmulator: a small in-process Stripe on loopback that speaks Stripe's wire format
// (form-encoded requests, JSON objects, list objects, error objects, signed webhook events).
// `donatio demo` runs it so a newcomer can try the service without a Stripe account, and the
// integration tests use it as the scriptable fake Stripe (fail, hang, drop the connection).
//
// What it covers: payment intents (create, retrieve, confirm, cancel, decline), charges, refunds,
// balance transactions, payouts, disputes (test helpers), the Events API and webhook delivery.
// Everything is kept in memory; ids are random (pi_…, ch_…, re_…, txn_…, po_…, du_…, evt_…).
//
// Behaviour worth knowing (documented deviations from Stripe):
// - Balance transactions are "available" at once (available_on == created); a payout made with
//   create_payout() / POST /v1/test_helpers/payouts groups every not-yet-paid-out transaction of
//   a currency. Listing with `payout=po_…` returns the grouped transactions and the payout's own.
// - Only responses the emulator actually produced (2xx, and 402 declines) are saved for
//   idempotent replay; scripted faults and validation errors are not, so a retry with the same
//   Idempotency-Key after a scripted 500 or dropped connection is processed for real.
// - hang_next() delays the answer and then processes the request normally (the write happened,
//   the client may have given up: an "unknown" outcome). close_next() shuts the TCP connection
//   down without any answer, before or after processing (Linux: the socket is found by its peer
//   port under /proc/self/fd).
// - Webhooks go out from one delivery thread in creation order; a failing event is retried a
//   few times with short backoff and then counted as failed; later events wait behind it. Events
//   recorded while delivery is off are never sent later (that is what catch-up sweeps are for),
//   unless resend_event() is called.
//
// Thread-safety: every public method is safe to call from any thread; one mutex guards the
// state. Ownership: the emulator owns its server and delivery threads; stop() (or the
// destructor) joins them. REQUIRES: start() is called at most once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "donatio/clock.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace donatio::stripe {

struct EmulatorOptions {
  std::string host = "127.0.0.1";
  int port = 0;                                  // 0: an ephemeral port, returned by start()
  std::string secret_key = "sk_test_emulator";   // the only accepted Bearer key
  std::string webhook_url;                       // empty: events are only recorded
  std::string webhook_secret = "whsec_emulator"; // signs Stripe-Signature
  std::string webhook_ca_file;                   // https: CA to verify the receiver with;
                                                 // empty + host 127.0.0.1: not verified
  bool deliver_webhooks = true;                  // false: events are only recorded
  int webhook_attempts = 4;                      // per event, first try included
  std::chrono::milliseconds webhook_backoff{50}; // doubled after each failed attempt
  std::chrono::milliseconds webhook_timeout{5000};
  // Fee model for balance transactions: fee = round(amount * fee_bps / 10000) + fee_fixed_minor.
  int fee_bps = 290;
  std::int64_t fee_fixed_minor = 30;
  std::int64_t dispute_fee_minor = 1500;  // withdrawn with a dispute, returned if it is won
  std::string api_version = "2024-06-20";
  int worker_threads = 32;
  int keep_alive_max_count = 100;                // requests per connection before the server closes it
  int keep_alive_timeout_s = 5;                  // an idle connection is closed after this long
  // false: answers carry "application/json; charset=utf-8", which cpp-httplib never compresses.
  // true: "application/json", which cpp-httplib brotli-compresses (quality 11, ~milliseconds of
  // CPU per answer) whenever the client accepts br, as libcurl does. Benchmarks turn it off.
  bool compress = true;
  // Time source for `created` and webhook signatures; nullptr: the system clock.
  std::shared_ptr<const Clock> clock;
};

// One request as the emulator saw it (recorded before any scripted fault applies).
struct RecordedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;     // names in lower case
  std::multimap<std::string, std::string> params; // query string and form body, decoded
  int remote_port = 0;
  std::optional<std::string> idempotency_key;     // nullopt: the request carried none
};

class StripeEmulator {
 public:
  explicit StripeEmulator(EmulatorOptions options = {});
  ~StripeEmulator();
  StripeEmulator(const StripeEmulator&) = delete;
  StripeEmulator& operator=(const StripeEmulator&) = delete;

  // Binds, starts the listener and the webhook delivery thread; returns the bound port.
  // Throws std::runtime_error when it cannot bind (a start-up failure).
  int start();
  // Stops listening, wakes hanging requests, abandons undelivered webhooks, joins threads.
  void stop();
  int port() const;
  std::string base_url() const;  // "http://127.0.0.1:<port>"

  // --- scripting (each applies to the next `count` requests whose path starts with
  //     path_prefix; an empty prefix matches every path) ---
  // Answers http_status with error_json as the body, or with a Stripe error object fitting the
  // status (500 api_error, 429 rate_limit_error, 402 card_error, …) when error_json is empty.
  // should_retry, when set, adds `Stripe-Should-Retry: true|false`.
  void fail_next(int count, int http_status, std::string error_json = "",
                 std::string path_prefix = "", std::optional<bool> should_retry = std::nullopt);
  // Sleeps `milliseconds` before processing the request normally.
  void hang_next(int count, int milliseconds, std::string path_prefix = "");
  // Drops the connection without an answer; after_processing: the request takes effect first.
  void close_next(int count, std::string path_prefix = "", bool after_processing = false);
  void clear_faults();

  // --- introspection ---
  std::vector<RecordedRequest> requests() const;
  int count(const std::string& method, const std::string& path_prefix) const;
  int distinct_connections() const;  // distinct remote ports seen
  std::vector<nlohmann::json> events() const;                 // oldest first
  std::vector<nlohmann::json> events_of_type(const std::string& type) const;
  std::optional<nlohmann::json> payment_intent(const std::string& id) const;
  std::optional<nlohmann::json> charge(const std::string& id) const;
  std::optional<nlohmann::json> balance_transaction(const std::string& id) const;
  std::int64_t webhooks_delivered() const;  // events answered 2xx
  std::int64_t webhooks_failed() const;     // events given up after every attempt
  std::int64_t webhook_attempts() const;    // every POST tried, retries included
  // Waits until the delivery queue is empty and nothing is in flight.
  bool wait_for_deliveries(std::chrono::milliseconds timeout) const;

  // --- state changes from C++ (same effects and events as the HTTP endpoints) ---
  void set_deliver_webhooks(bool deliver);
  // Queues an already recorded event for delivery again; false when unknown.
  bool resend_event(const std::string& event_id);
  // Creates a payment intent (requires_payment_method) as POST /v1/payment_intents would.
  nlohmann::json create_payment_intent(std::int64_t amount, const std::string& currency,
                                       const std::map<std::string, std::string>& metadata = {});
  // Confirms with a test card; decline: the card is declined. Returns the payment intent, or
  // nullopt when it is unknown or not confirmable.
  std::optional<nlohmann::json> confirm(const std::string& payment_intent_id, bool decline = false);
  std::optional<nlohmann::json> cancel(const std::string& payment_intent_id);
  // Refunds `amount` (nullopt: what remains) of a payment intent's or a charge's charge.
  // Returns the refund, or nullopt when it is not refundable / too large.
  std::optional<nlohmann::json> refund(const std::string& payment_intent_or_charge_id,
                                       std::optional<std::int64_t> amount = std::nullopt);
  // A succeeded payment we did not create through the API (a Payment Link, the dashboard).
  nlohmann::json create_external_payment(std::int64_t amount, const std::string& currency,
                                         const std::map<std::string, std::string>& metadata = {});
  std::optional<nlohmann::json> open_dispute(const std::string& charge_id);
  std::optional<nlohmann::json> close_dispute(const std::string& dispute_id, bool won);
  // One payout per currency with a positive available net; returns the payouts made.
  std::vector<nlohmann::json> create_payout();

 private:
  struct Fault {
    enum class Kind { fail, hang, close_before, close_after } kind = Kind::fail;
    int remaining = 0;
    std::string path_prefix;
    int http_status = 500;
    std::string body;
    std::optional<bool> should_retry;
    int hang_ms = 0;
  };
  struct SavedResponse {
    std::string request_fingerprint;  // method, path and sorted params
    int status = 200;
    std::string body;
  };
  struct ApiResult {
    int status = 200;
    nlohmann::json body;
  };
  using Params = std::multimap<std::string, std::string>;

  void register_routes();
  void serve(const httplib::Request& req, httplib::Response& res,
             ApiResult (StripeEmulator::*handler)(const httplib::Request&));
  ApiResult api_not_found(const httplib::Request& req);
  std::optional<Fault> take_fault(const std::string& path);
  bool sleep_unless_stopping(int milliseconds);
  void drop_connection(const httplib::Request& req);

  // Endpoint handlers (called with mu_ held).
  ApiResult api_create_payment_intent(const httplib::Request& req);
  ApiResult api_get_payment_intent(const httplib::Request& req);
  ApiResult api_confirm_payment_intent(const httplib::Request& req);
  ApiResult api_cancel_payment_intent(const httplib::Request& req);
  ApiResult api_get_charge(const httplib::Request& req);
  ApiResult api_create_refund(const httplib::Request& req);
  ApiResult api_get_refund(const httplib::Request& req);
  ApiResult api_get_balance_transaction(const httplib::Request& req);
  ApiResult api_list_balance_transactions(const httplib::Request& req);
  ApiResult api_get_payout(const httplib::Request& req);
  ApiResult api_list_payouts(const httplib::Request& req);
  ApiResult api_get_event(const httplib::Request& req);
  ApiResult api_list_events(const httplib::Request& req);
  ApiResult api_get_dispute(const httplib::Request& req);
  ApiResult api_create_dispute(const httplib::Request& req);
  ApiResult api_close_dispute(const httplib::Request& req);
  ApiResult api_create_payouts(const httplib::Request& req);

  // State transitions (mu_ held). request_id / idempotency_key end up in events' `request`.
  struct RequestContext {
    std::optional<std::string> request_id;
    std::optional<std::string> idempotency_key;
  };
  nlohmann::json new_payment_intent(std::int64_t amount, const std::string& currency,
                                    const Params& params, const RequestContext& ctx);
  ApiResult confirm_locked(const std::string& pi_id, const std::string& payment_method,
                           const RequestContext& ctx);
  ApiResult cancel_locked(const std::string& pi_id, const std::string& reason,
                          const RequestContext& ctx);
  ApiResult refund_locked(const std::string& pi_or_charge, std::optional<std::int64_t> amount,
                          const std::string& reason, const Params& metadata,
                          const RequestContext& ctx);
  ApiResult open_dispute_locked(const std::string& charge_id, const RequestContext& ctx);
  ApiResult close_dispute_locked(const std::string& dispute_id, const std::string& status,
                                 const RequestContext& ctx);
  std::vector<nlohmann::json> create_payouts_locked(const RequestContext& ctx);
  std::string new_balance_transaction(std::int64_t amount, std::int64_t fee,
                                      const std::string& currency, const std::string& type,
                                      const std::string& reporting_category,
                                      const std::string& source, const std::string& description);
  void emit_event(const std::string& type, const nlohmann::json& object,
                  const RequestContext& ctx,
                  const nlohmann::json& previous_attributes = nullptr);
  ApiResult list_page(std::vector<const nlohmann::json*> items, const Params& params,
                      const std::string& url) const;
  nlohmann::json expand(nlohmann::json object, const Params& params) const;
  const nlohmann::json* find_object(const std::string& id) const;

  std::string new_id(const std::string& prefix, std::size_t length = 24);
  std::int64_t now() const;

  void delivery_loop();

  EmulatorOptions options_;
  std::shared_ptr<const Clock> clock_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::thread delivery_;
  int port_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // delivery queue, hangs, wait_for_deliveries
  bool stopping_ = false;
  bool started_ = false;
  std::mt19937_64 rng_;

  std::deque<Fault> faults_;
  std::vector<RecordedRequest> requests_;
  std::set<int> remote_ports_;
  std::map<std::string, SavedResponse> idempotent_responses_;

  RequestContext current_;  // the API request being handled (mu_ held)
  std::map<std::string, nlohmann::json> payment_intents_;
  std::map<std::string, nlohmann::json> charges_;
  std::map<std::string, nlohmann::json> refunds_;
  std::map<std::string, nlohmann::json> disputes_;
  std::map<std::string, nlohmann::json> balance_transactions_;
  std::map<std::string, std::string> payout_of_transaction_;  // txn_… -> po_…
  std::vector<std::string> balance_transaction_order_;
  std::map<std::string, nlohmann::json> payouts_;
  std::vector<std::string> payout_order_;
  std::vector<nlohmann::json> events_;  // oldest first
  std::map<std::string, std::size_t> event_index_;

  std::deque<std::size_t> delivery_queue_;  // indices into events_
  bool delivery_in_flight_ = false;
  bool deliver_webhooks_ = true;
  std::int64_t delivered_ = 0;
  std::int64_t failed_ = 0;
  std::int64_t attempts_ = 0;
};

}  // namespace donatio::stripe
