#include "src/stripe/emulator.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include <httplib.h>

#include "webhooks/signature.hpp"

namespace donatio::stripe {

using nlohmann::json;

namespace {

constexpr const char* kAlphanumerics =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

// A Stripe error object: {"error":{"type","code","message","param","doc_url",…}}.
json stripe_error(const std::string& type, const std::string& code, const std::string& message,
                  const std::string& param = "") {
  json error = {{"type", type}, {"message", message}};
  if (!code.empty()) {
    error["code"] = code;
    error["doc_url"] = "https://stripe.com/docs/error-codes/" + code;
  }
  if (!param.empty()) error["param"] = param;
  return json{{"error", error}};
}

json default_error_for_status(int status) {
  switch (status) {
    case 400: return stripe_error("invalid_request_error", "", "Scripted invalid request.");
    case 401: return stripe_error("invalid_request_error", "", "Invalid API Key provided.");
    case 402: return stripe_error("card_error", "card_declined", "Your card was declined.");
    case 404: return stripe_error("invalid_request_error", "resource_missing", "No such object.");
    case 409: return stripe_error("idempotency_error", "", "Scripted conflict.");
    case 429:
      return stripe_error("rate_limit_error", "rate_limit",
                          "Too many requests hit the API too quickly.");
    default:
      return stripe_error("api_error", "",
                          "Something went wrong on Stripe's end. (Scripted failure.)");
  }
}

std::optional<std::int64_t> parse_integer(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size()) return std::nullopt;
  for (std::size_t j = i; j < text.size(); ++j) {
    if (text[j] < '0' || text[j] > '9') return std::nullopt;
  }
  return std::strtoll(text.c_str(), nullptr, 10);
}

std::string param(const std::multimap<std::string, std::string>& params, const std::string& key) {
  auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

bool has_param(const std::multimap<std::string, std::string>& params, const std::string& key) {
  return params.find(key) != params.end();
}

// metadata[key]=value pairs; an empty value unsets the key, as in Stripe.
json metadata_from(const std::multimap<std::string, std::string>& params) {
  json metadata = json::object();
  for (const auto& [key, value] : params) {
    if (starts_with(key, "metadata[") && key.size() > 10 && key.back() == ']') {
      std::string name = key.substr(9, key.size() - 10);
      if (value.empty()) {
        metadata.erase(name);
      } else {
        metadata[name] = value;
      }
    }
  }
  return metadata;
}

std::multimap<std::string, std::string> metadata_params(
    const std::map<std::string, std::string>& metadata) {
  std::multimap<std::string, std::string> params;
  for (const auto& [key, value] : metadata) params.emplace("metadata[" + key + "]", value);
  return params;
}

json nullable(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

json card_details(const std::string& last4) {
  return json{{"brand", "visa"},
              {"checks", {{"address_line1_check", nullptr},
                          {"address_postal_code_check", nullptr},
                          {"cvc_check", "pass"}}},
              {"country", "US"},
              {"exp_month", 12},
              {"exp_year", 2034},
              {"fingerprint", "emulatorFp" + last4},
              {"funding", "credit"},
              {"last4", last4},
              {"network", "visa"},
              {"wallet", nullptr}};
}

// Decline codes of Stripe's test payment methods that fail at confirmation.
std::optional<std::string> decline_code_of(const std::string& payment_method) {
  if (payment_method == "pm_card_chargeDeclined" ||
      payment_method == "pm_card_visa_chargeDeclined") {
    return "generic_decline";
  }
  if (payment_method == "pm_card_chargeDeclinedInsufficientFunds" ||
      payment_method == "pm_card_visa_chargeDeclinedInsufficientFunds") {
    return "insufficient_funds";
  }
  if (payment_method == "pm_card_chargeDeclinedExpiredCard") return "expired_card";
  return std::nullopt;
}

// Where a list's `created` filter lets an object through.
bool created_matches(const json& object, const std::multimap<std::string, std::string>& params) {
  const std::int64_t created = object.value("created", std::int64_t{0});
  for (const auto& [key, value] : params) {
    auto bound = parse_integer(value);
    if (!bound) continue;
    if (key == "created" && created != *bound) return false;
    if (key == "created[gte]" && created < *bound) return false;
    if (key == "created[gt]" && created <= *bound) return false;
    if (key == "created[lt]" && created >= *bound) return false;
    if (key == "created[lte]" && created > *bound) return false;
  }
  return true;
}

bool event_type_matches(const std::string& type, const std::string& pattern) {
  if (!pattern.empty() && pattern.back() == '*') {
    return starts_with(type, pattern.substr(0, pattern.size() - 1));
  }
  return type == pattern;
}

// The server-side socket of a connection, found by its local and peer ports; -1 if none.
int find_connection_socket(int local_port, int peer_port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* entry = ::readdir(dir)) {
    auto fd_number = parse_integer(entry->d_name);
    if (!fd_number) continue;
    const int fd = static_cast<int>(*fd_number);
    sockaddr_storage local{};
    sockaddr_storage peer{};
    socklen_t local_len = sizeof local;
    socklen_t peer_len = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) continue;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
    auto port_of = [](const sockaddr_storage& address) -> int {
      if (address.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
      }
      if (address.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
      }
      return -1;
    };
    if (port_of(local) == local_port && port_of(peer) == peer_port) {
      found = fd;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

struct WebhookTarget {
  std::string scheme_host_port;  // "https://127.0.0.1:8443"
  std::string host;
  std::string path;              // "/webhooks/stripe"
  bool https = false;
};

WebhookTarget parse_webhook_url(const std::string& url) {
  WebhookTarget target;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) throw std::runtime_error("webhook_url: missing scheme");
  target.https = url.compare(0, scheme_end, "https") == 0;
  const auto path_start = url.find('/', scheme_end + 3);
  target.scheme_host_port = url.substr(0, path_start);
  target.path = path_start == std::string::npos ? "/" : url.substr(path_start);
  std::string authority = url.substr(scheme_end + 3, path_start == std::string::npos
                                                         ? std::string::npos
                                                         : path_start - scheme_end - 3);
  const auto colon = authority.rfind(':');
  target.host = colon == std::string::npos ? authority : authority.substr(0, colon);
  return target;
}

}  // namespace

StripeEmulator::StripeEmulator(EmulatorOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : std::make_shared<SystemClock>()),
      rng_(std::random_device{}()),
      deliver_webhooks_(options_.deliver_webhooks) {}

StripeEmulator::~StripeEmulator() { stop(); }

std::int64_t StripeEmulator::now() const { return clock_->now_unix(); }

std::string StripeEmulator::new_id(const std::string& prefix, std::size_t length) {
  std::uniform_int_distribution<int> pick(0, 61);
  std::string id = prefix;
  for (std::size_t i = 0; i < length; ++i) id += kAlphanumerics[pick(rng_)];
  return id;
}

int StripeEmulator::start() {
  {
    std::lock_guard lock(mu_);
    if (started_) throw std::logic_error("StripeEmulator::start called twice");
    started_ = true;
  }
  if (!options_.webhook_url.empty()) parse_webhook_url(options_.webhook_url);  // validates
  server_ = std::make_unique<httplib::Server>();
  const int workers = options_.worker_threads;
  server_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server_->set_tcp_nodelay(true);
  server_->set_keep_alive_max_count(options_.keep_alive_max_count);
  server_->set_keep_alive_timeout(options_.keep_alive_timeout_s);
  server_->set_payload_max_length(1 << 20);
  // A bug in a handler answers like Stripe's own 500, never with a stack trace.
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(stripe_error("api_error", "", "The emulator failed on this request.")
                            .dump(2),
                        "application/json");
      });
  // The library listens with a backlog of 5; keep the socket to listen again with a real one.
  auto listen_socket = std::make_shared<int>(-1);
  server_->set_socket_options([listen_socket](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
    *listen_socket = sock;
  });
  register_routes();
  int bound = -1;
  if (options_.port == 0) {
    bound = server_->bind_to_any_port(options_.host);
  } else if (server_->bind_to_port(options_.host, options_.port)) {
    bound = options_.port;
  }
  if (bound <= 0) {
    throw std::runtime_error("stripe emulator: cannot bind " + options_.host + ":" +
                             std::to_string(options_.port));
  }
  if (*listen_socket >= 0) ::listen(*listen_socket, 1024);
  {
    std::lock_guard lock(mu_);
    port_ = bound;
  }
  listener_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib ignores a stop() that comes before its accept loop runs: wait until it does.
  for (int i = 0; i < 500 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  delivery_ = std::thread([this] { delivery_loop(); });
  return bound;
}

void StripeEmulator::stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (server_) server_->stop();
  if (listener_.joinable()) listener_.join();
  if (delivery_.joinable()) delivery_.join();
}

int StripeEmulator::port() const {
  std::lock_guard lock(mu_);
  return port_;
}

std::string StripeEmulator::base_url() const {
  return "http://" + options_.host + ":" + std::to_string(port());
}

// ---------------------------------------------------------------------------------------------
// Scripting and introspection

void StripeEmulator::fail_next(int count, int http_status, std::string error_json,
                               std::string path_prefix, std::optional<bool> should_retry) {
  Fault fault;
  fault.kind = Fault::Kind::fail;
  fault.remaining = count;
  fault.http_status = http_status;
  fault.body = error_json.empty() ? default_error_for_status(http_status).dump(2)
                                  : std::move(error_json);
  fault.path_prefix = std::move(path_prefix);
  fault.should_retry = should_retry;
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
}

void StripeEmulator::hang_next(int count, int milliseconds, std::string path_prefix) {
  Fault fault;
  fault.kind = Fault::Kind::hang;
  fault.remaining = count;
  fault.hang_ms = milliseconds;
  fault.path_prefix = std::move(path_prefix);
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
}

void StripeEmulator::close_next(int count, std::string path_prefix, bool after_processing) {
  Fault fault;
  fault.kind = after_processing ? Fault::Kind::close_after : Fault::Kind::close_before;
  fault.remaining = count;
  fault.path_prefix = std::move(path_prefix);
  std::lock_guard lock(mu_);
  faults_.push_back(std::move(fault));
}

void StripeEmulator::clear_faults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

std::optional<StripeEmulator::Fault> StripeEmulator::take_fault(const std::string& path) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->remaining > 0 && starts_with(path, it->path_prefix)) {
      Fault fault = *it;
      if (--it->remaining <= 0) faults_.erase(it);
      return fault;
    }
  }
  return std::nullopt;
}

bool StripeEmulator::sleep_unless_stopping(int milliseconds) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(milliseconds), [this] { return stopping_; });
  return !stopping_;
}

void StripeEmulator::drop_connection(const httplib::Request& req) {
  const int fd = find_connection_socket(port(), req.remote_port);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

std::vector<RecordedRequest> StripeEmulator::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

int StripeEmulator::count(const std::string& method, const std::string& path_prefix) const {
  std::lock_guard lock(mu_);
  return static_cast<int>(std::count_if(requests_.begin(), requests_.end(), [&](const auto& r) {
    return r.method == method && starts_with(r.path, path_prefix);
  }));
}

int StripeEmulator::distinct_connections() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(remote_ports_.size());
}

std::vector<json> StripeEmulator::events() const {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<json> StripeEmulator::events_of_type(const std::string& type) const {
  std::lock_guard lock(mu_);
  std::vector<json> matching;
  for (const auto& event : events_) {
    if (event["type"] == type) matching.push_back(event);
  }
  return matching;
}

std::optional<json> StripeEmulator::payment_intent(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = payment_intents_.find(id);
  if (it == payment_intents_.end()) return std::nullopt;
  return it->second;
}

std::optional<json> StripeEmulator::charge(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = charges_.find(id);
  if (it == charges_.end()) return std::nullopt;
  return it->second;
}

std::optional<json> StripeEmulator::balance_transaction(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = balance_transactions_.find(id);
  if (it == balance_transactions_.end()) return std::nullopt;
  return it->second;
}

std::int64_t StripeEmulator::webhooks_delivered() const {
  std::lock_guard lock(mu_);
  return delivered_;
}

std::int64_t StripeEmulator::webhooks_failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

std::int64_t StripeEmulator::webhook_attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

bool StripeEmulator::wait_for_deliveries(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] {
    return stopping_ || (delivery_queue_.empty() && !delivery_in_flight_);
  });
}

// ---------------------------------------------------------------------------------------------
// C++ state changes

void StripeEmulator::set_deliver_webhooks(bool deliver) {
  std::lock_guard lock(mu_);
  deliver_webhooks_ = deliver;
}

bool StripeEmulator::resend_event(const std::string& event_id) {
  {
    std::lock_guard lock(mu_);
    auto it = event_index_.find(event_id);
    if (it == event_index_.end() || options_.webhook_url.empty()) return false;
    events_[it->second]["pending_webhooks"] = 1;
    delivery_queue_.push_back(it->second);
  }
  cv_.notify_all();
  return true;
}

json StripeEmulator::create_payment_intent(std::int64_t amount, const std::string& currency,
                                           const std::map<std::string, std::string>& metadata) {
  std::lock_guard lock(mu_);
  return new_payment_intent(amount, to_lower(currency), metadata_params(metadata), {});
}

std::optional<json> StripeEmulator::confirm(const std::string& payment_intent_id, bool decline) {
  std::lock_guard lock(mu_);
  ApiResult result =
      confirm_locked(payment_intent_id, decline ? "pm_card_chargeDeclined" : "pm_card_visa", {});
  if (result.status != 200 && result.status != 402) return std::nullopt;
  return payment_intents_.at(payment_intent_id);
}

std::optional<json> StripeEmulator::cancel(const std::string& payment_intent_id) {
  std::lock_guard lock(mu_);
  ApiResult result = cancel_locked(payment_intent_id, "", {});
  if (result.status != 200) return std::nullopt;
  return result.body;
}

std::optional<json> StripeEmulator::refund(const std::string& payment_intent_or_charge_id,
                                           std::optional<std::int64_t> amount) {
  std::lock_guard lock(mu_);
  ApiResult result = refund_locked(payment_intent_or_charge_id, amount, "", {}, {});
  if (result.status != 200) return std::nullopt;
  return result.body;
}

json StripeEmulator::create_external_payment(std::int64_t amount, const std::string& currency,
                                             const std::map<std::string, std::string>& metadata) {
  std::lock_guard lock(mu_);
  json pi = new_payment_intent(amount, to_lower(currency), metadata_params(metadata), {});
  const std::string id = pi["id"];
  confirm_locked(id, "pm_card_visa", {});
  return payment_intents_.at(id);
}

std::optional<json> StripeEmulator::open_dispute(const std::string& charge_id) {
  std::lock_guard lock(mu_);
  ApiResult result = open_dispute_locked(charge_id, {});
  if (result.status != 200) return std::nullopt;
  return result.body;
}

std::optional<json> StripeEmulator::close_dispute(const std::string& dispute_id, bool won) {
  std::lock_guard lock(mu_);
  ApiResult result = close_dispute_locked(dispute_id, won ? "won" : "lost", {});
  if (result.status != 200) return std::nullopt;
  return result.body;
}

std::vector<json> StripeEmulator::create_payout() {
  std::lock_guard lock(mu_);
  return create_payouts_locked({});
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

void StripeEmulator::register_routes() {
  using Handler = ApiResult (StripeEmulator::*)(const httplib::Request&);
  auto route = [this](Handler handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      serve(req, res, handler);
    };
  };
  auto& svr = *server_;
  svr.Post("/v1/payment_intents", route(&StripeEmulator::api_create_payment_intent));
  svr.Get(R"(/v1/payment_intents/([A-Za-z0-9_]+))",
          route(&StripeEmulator::api_get_payment_intent));
  svr.Post(R"(/v1/payment_intents/([A-Za-z0-9_]+)/confirm)",
           route(&StripeEmulator::api_confirm_payment_intent));
  svr.Post(R"(/v1/payment_intents/([A-Za-z0-9_]+)/cancel)",
           route(&StripeEmulator::api_cancel_payment_intent));
  svr.Get(R"(/v1/charges/([A-Za-z0-9_]+))", route(&StripeEmulator::api_get_charge));
  svr.Post("/v1/refunds", route(&StripeEmulator::api_create_refund));
  svr.Get(R"(/v1/refunds/([A-Za-z0-9_]+))", route(&StripeEmulator::api_get_refund));
  svr.Get("/v1/balance_transactions", route(&StripeEmulator::api_list_balance_transactions));
  svr.Get(R"(/v1/balance_transactions/([A-Za-z0-9_]+))",
          route(&StripeEmulator::api_get_balance_transaction));
  svr.Get("/v1/payouts", route(&StripeEmulator::api_list_payouts));
  svr.Get(R"(/v1/payouts/([A-Za-z0-9_]+))", route(&StripeEmulator::api_get_payout));
  svr.Get("/v1/events", route(&StripeEmulator::api_list_events));
  svr.Get(R"(/v1/events/([A-Za-z0-9_]+))", route(&StripeEmulator::api_get_event));
  svr.Get(R"(/v1/disputes/([A-Za-z0-9_]+))", route(&StripeEmulator::api_get_dispute));
  svr.Post("/v1/test_helpers/disputes", route(&StripeEmulator::api_create_dispute));
  svr.Post(R"(/v1/test_helpers/disputes/([A-Za-z0-9_]+)/close)",
           route(&StripeEmulator::api_close_dispute));
  svr.Post("/v1/test_helpers/payouts", route(&StripeEmulator::api_create_payouts));
  svr.Get(".*", route(&StripeEmulator::api_not_found));
  svr.Post(".*", route(&StripeEmulator::api_not_found));
  svr.Delete(".*", route(&StripeEmulator::api_not_found));
}

void StripeEmulator::serve(const httplib::Request& req, httplib::Response& res,
                           ApiResult (StripeEmulator::*handler)(const httplib::Request&)) {
  std::optional<Fault> fault;
  std::string request_id;
  std::optional<std::string> idempotency_key;
  if (req.has_header("Idempotency-Key")) idempotency_key = req.get_header_value("Idempotency-Key");
  {
    std::lock_guard lock(mu_);
    RecordedRequest recorded;
    recorded.method = req.method;
    recorded.path = req.path;
    for (const auto& [name, value] : req.headers) recorded.headers[to_lower(name)] = value;
    recorded.params.insert(req.params.begin(), req.params.end());
    recorded.remote_port = req.remote_port;
    recorded.idempotency_key = idempotency_key;
    requests_.push_back(std::move(recorded));
    remote_ports_.insert(req.remote_port);
    fault = take_fault(req.path);
    request_id = new_id("req_", 14);
  }
  res.set_header("Request-Id", request_id);
  res.set_header("Stripe-Version", options_.api_version);
  const char* content_type = options_.compress ? "application/json" : "application/json; charset=utf-8";
  auto answer = [&res, content_type](int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(2), content_type);
  };

  if (fault) {
    switch (fault->kind) {
      case Fault::Kind::hang:
        if (!sleep_unless_stopping(fault->hang_ms)) {
          answer(503, stripe_error("api_error", "", "The emulator is shutting down."));
          return;
        }
        break;
      case Fault::Kind::close_before:
        drop_connection(req);
        return;
      case Fault::Kind::fail:
        res.status = fault->http_status;
        if (fault->should_retry) {
          res.set_header("Stripe-Should-Retry", *fault->should_retry ? "true" : "false");
        }
        res.set_content(fault->body, content_type);
        return;
      case Fault::Kind::close_after:
        break;
    }
  }

  const std::string authorization = req.get_header_value("Authorization");
  if (authorization.empty()) {
    answer(401, stripe_error("invalid_request_error", "",
                             "You did not provide an API key. You need to provide your API key "
                             "in the Authorization header, using Bearer auth."));
    return;
  }
  if (authorization != "Bearer " + options_.secret_key) {
    std::string shown = authorization.size() > 7 ? authorization.substr(7) : std::string();
    if (shown.size() > 12) shown = shown.substr(0, 8) + "*****" + shown.substr(shown.size() - 4);
    answer(401, stripe_error("invalid_request_error", "",
                             "Invalid API Key provided: " + shown));
    return;
  }

  ApiResult result;
  bool replayed = false;
  {
    std::lock_guard lock(mu_);
    const bool idempotent_post = req.method == "POST" && idempotency_key.has_value();
    std::string fingerprint;
    if (idempotent_post) {
      fingerprint = req.method + " " + req.path;
      for (const auto& [key, value] : req.params) fingerprint += "\n" + key + "=" + value;
      auto saved = idempotent_responses_.find(*idempotency_key);
      if (saved != idempotent_responses_.end()) {
        if (saved->second.request_fingerprint != fingerprint) {
          result = {400, stripe_error("idempotency_error", "",
                                      "Keys for idempotent requests can only be used with the "
                                      "same parameters they were first used with. Try using a "
                                      "key other than '" + *idempotency_key +
                                          "' if you meant to execute a different request.")};
        } else {
          result.status = saved->second.status;
          result.body = json::parse(saved->second.body);
          replayed = true;
        }
      }
    }
    if (result.body.is_null()) {
      current_ = {request_id, idempotency_key};
      result = (this->*handler)(req);
      current_ = {};
      if (idempotent_post && ((result.status >= 200 && result.status < 300) ||
                              result.status == 402)) {
        idempotent_responses_[*idempotency_key] = {fingerprint, result.status,
                                                   result.body.dump()};
      }
    }
  }
  if (replayed) res.set_header("Idempotent-Replayed", "true");
  if (idempotency_key) res.set_header("Idempotency-Key", *idempotency_key);
  answer(result.status, result.body);
  if (fault && fault->kind == Fault::Kind::close_after) drop_connection(req);
}

StripeEmulator::ApiResult StripeEmulator::api_not_found(const httplib::Request& req) {
  return {404, stripe_error("invalid_request_error", "",
                            "Unrecognized request URL (" + req.method + ": " + req.path + ").")};
}

// ---------------------------------------------------------------------------------------------
// Objects and events

std::string StripeEmulator::new_balance_transaction(std::int64_t amount, std::int64_t fee,
                                                    const std::string& currency,
                                                    const std::string& type,
                                                    const std::string& reporting_category,
                                                    const std::string& source,
                                                    const std::string& description) {
  const std::string id = new_id("txn_");
  const std::int64_t created = now();
  json fee_details = json::array();
  if (fee != 0) {
    fee_details.push_back({{"amount", fee},
                           {"application", nullptr},
                           {"currency", currency},
                           {"description", "Stripe processing fees"},
                           {"type", "stripe_fee"}});
  }
  balance_transactions_[id] = {
      {"id", id},
      {"object", "balance_transaction"},
      {"amount", amount},
      {"available_on", created},
      {"balance_type", "payments"},
      {"created", created},
      {"currency", currency},
      {"description", description.empty() ? json(nullptr) : json(description)},
      {"exchange_rate", nullptr},
      {"fee", fee},
      {"fee_details", fee_details},
      {"net", amount - fee},
      {"reporting_category", reporting_category},
      {"source", source},
      {"status", "available"},
      {"type", type},
  };
  balance_transaction_order_.push_back(id);
  return id;
}

void StripeEmulator::emit_event(const std::string& type, const json& object,
                                const RequestContext& ctx, const json& previous_attributes) {
  const bool deliver = deliver_webhooks_ && !options_.webhook_url.empty();
  json data = {{"object", object}};
  if (!previous_attributes.is_null()) data["previous_attributes"] = previous_attributes;
  json event = {
      {"id", new_id("evt_")},
      {"object", "event"},
      {"api_version", options_.api_version},
      {"created", now()},
      {"data", data},
      {"livemode", false},
      {"pending_webhooks", deliver ? 1 : 0},
      {"request", {{"id", nullable(ctx.request_id)},
                   {"idempotency_key", nullable(ctx.idempotency_key)}}},
      {"type", type},
  };
  event_index_[event["id"].get<std::string>()] = events_.size();
  events_.push_back(std::move(event));
  if (deliver) {
    delivery_queue_.push_back(events_.size() - 1);
    cv_.notify_all();
  }
}

json StripeEmulator::new_payment_intent(std::int64_t amount, const std::string& currency,
                                        const Params& params, const RequestContext& ctx) {
  const std::string id = new_id("pi_");
  const std::string description = param(params, "description");
  const std::string receipt_email = param(params, "receipt_email");
  json automatic = nullptr;
  if (param(params, "automatic_payment_methods[enabled]") == "true") {
    automatic = {{"allow_redirects", "always"}, {"enabled", true}};
  }
  json pi = {
      {"id", id},
      {"object", "payment_intent"},
      {"amount", amount},
      {"amount_capturable", 0},
      {"amount_details", {{"tip", json::object()}}},
      {"amount_received", 0},
      {"application", nullptr},
      {"application_fee_amount", nullptr},
      {"automatic_payment_methods", automatic},
      {"canceled_at", nullptr},
      {"cancellation_reason", nullptr},
      {"capture_method", "automatic_async"},
      {"client_secret", id + "_secret_" + new_id("", 25)},
      {"confirmation_method", "automatic"},
      {"created", now()},
      {"currency", currency},
      {"customer", nullptr},
      {"description", description.empty() ? json(nullptr) : json(description)},
      {"invoice", nullptr},
      {"last_payment_error", nullptr},
      {"latest_charge", nullptr},
      {"livemode", false},
      {"metadata", metadata_from(params)},
      {"next_action", nullptr},
      {"on_behalf_of", nullptr},
      {"payment_method", nullptr},
      {"payment_method_configuration_details", nullptr},
      {"payment_method_options",
       {{"card", {{"installments", nullptr},
                  {"mandate_options", nullptr},
                  {"network", nullptr},
                  {"request_three_d_secure", "automatic"}}}}},
      {"payment_method_types", json::array({"card"})},
      {"processing", nullptr},
      {"receipt_email", receipt_email.empty() ? json(nullptr) : json(receipt_email)},
      {"review", nullptr},
      {"setup_future_usage", nullptr},
      {"shipping", nullptr},
      {"source", nullptr},
      {"statement_descriptor", nullptr},
      {"statement_descriptor_suffix", nullptr},
      {"status", "requires_payment_method"},
      {"transfer_data", nullptr},
      {"transfer_group", nullptr},
  };
  payment_intents_[id] = pi;
  emit_event("payment_intent.created", pi, ctx);
  return pi;
}

StripeEmulator::ApiResult StripeEmulator::confirm_locked(const std::string& pi_id,
                                                         const std::string& payment_method,
                                                         const RequestContext& ctx) {
  auto it = payment_intents_.find(pi_id);
  if (it == payment_intents_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such payment_intent: '" + pi_id + "'", "intent")};
  }
  json& pi = it->second;
  const std::string status = pi["status"];
  if (status != "requires_payment_method" && status != "requires_confirmation" &&
      status != "requires_action") {
    return {400, stripe_error("invalid_request_error", "payment_intent_unexpected_state",
                              "You cannot confirm this PaymentIntent because it has a status of " +
                                  status + ".")};
  }
  const auto decline = decline_code_of(payment_method);
  const std::string charge_id = new_id("ch_");
  const std::string pm_id = new_id("pm_");
  const std::int64_t amount = pi["amount"];
  const std::string currency = pi["currency"];
  const std::int64_t created = now();
  const std::string last4 = decline ? "0002" : "4242";
  json charge = {
      {"id", charge_id},
      {"object", "charge"},
      {"amount", amount},
      {"amount_captured", decline ? 0 : amount},
      {"amount_refunded", 0},
      {"application", nullptr},
      {"application_fee", nullptr},
      {"application_fee_amount", nullptr},
      {"balance_transaction", nullptr},
      {"billing_details", {{"address", {{"city", nullptr}, {"country", nullptr},
                                        {"line1", nullptr}, {"line2", nullptr},
                                        {"postal_code", nullptr}, {"state", nullptr}}},
                           {"email", nullptr}, {"name", nullptr}, {"phone", nullptr}}},
      {"calculated_statement_descriptor", "DONATIO"},
      {"captured", !decline},
      {"created", created},
      {"currency", currency},
      {"customer", nullptr},
      {"description", pi["description"]},
      {"disputed", false},
      {"failure_balance_transaction", nullptr},
      {"failure_code", decline ? json("card_declined") : json(nullptr)},
      {"failure_message", decline ? json("Your card was declined.") : json(nullptr)},
      {"fraud_details", json::object()},
      {"livemode", false},
      {"metadata", pi["metadata"]},
      {"on_behalf_of", nullptr},
      {"outcome", {{"network_status", decline ? "declined_by_network" : "approved_by_network"},
                   {"reason", decline ? json(*decline) : json(nullptr)},
                   {"risk_level", "normal"},
                   {"risk_score", 20},
                   {"seller_message", decline ? "The bank did not return any further details "
                                                "with this decline."
                                              : "Payment complete."},
                   {"type", decline ? "issuer_declined" : "authorized"}}},
      {"paid", !decline},
      {"payment_intent", pi_id},
      {"payment_method", pm_id},
      {"payment_method_details", {{"card", card_details(last4)}, {"type", "card"}}},
      {"receipt_email", pi["receipt_email"]},
      {"receipt_number", nullptr},
      {"receipt_url", "https://pay.stripe.com/receipts/emulator/" + charge_id},
      {"refunded", false},
      {"review", nullptr},
      {"shipping", nullptr},
      {"source", nullptr},
      {"statement_descriptor", nullptr},
      {"statement_descriptor_suffix", nullptr},
      {"status", decline ? "failed" : "succeeded"},
      {"transfer_data", nullptr},
      {"transfer_group", nullptr},
  };
  pi["latest_charge"] = charge_id;
  if (decline) {
    json payment_method_object = {{"id", pm_id},
                                  {"object", "payment_method"},
                                  {"card", card_details(last4)},
                                  {"created", created},
                                  {"livemode", false},
                                  {"type", "card"}};
    json error = {{"charge", charge_id},
                  {"code", "card_declined"},
                  {"decline_code", *decline},
                  {"doc_url", "https://stripe.com/docs/error-codes/card-declined"},
                  {"message", "Your card was declined."},
                  {"payment_method", payment_method_object},
                  {"type", "card_error"}};
    pi["last_payment_error"] = error;
    pi["status"] = "requires_payment_method";
    pi["payment_method"] = nullptr;
    charges_[charge_id] = charge;
    emit_event("charge.failed", charge, ctx);
    emit_event("payment_intent.payment_failed", pi, ctx);
    error["payment_intent"] = pi;
    return {402, json{{"error", error}}};
  }
  const std::int64_t fee =
      (amount * options_.fee_bps + 5000) / 10000 + options_.fee_fixed_minor;
  charge["balance_transaction"] =
      new_balance_transaction(amount, fee, currency, "charge", "charge", charge_id,
                              pi["description"].is_string() ? pi["description"].get<std::string>()
                                                            : std::string());
  charges_[charge_id] = charge;
  pi["status"] = "succeeded";
  pi["amount_received"] = amount;
  pi["payment_method"] = pm_id;
  pi["last_payment_error"] = nullptr;
  emit_event("charge.succeeded", charge, ctx);
  emit_event("payment_intent.succeeded", pi, ctx);
  return {200, pi};
}

StripeEmulator::ApiResult StripeEmulator::cancel_locked(const std::string& pi_id,
                                                        const std::string& reason,
                                                        const RequestContext& ctx) {
  auto it = payment_intents_.find(pi_id);
  if (it == payment_intents_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such payment_intent: '" + pi_id + "'", "intent")};
  }
  json& pi = it->second;
  const std::string status = pi["status"];
  if (status == "succeeded" || status == "canceled") {
    return {400, stripe_error("invalid_request_error", "payment_intent_unexpected_state",
                              "You cannot cancel this PaymentIntent because it has a status of " +
                                  status + ".")};
  }
  pi["status"] = "canceled";
  pi["canceled_at"] = now();
  pi["cancellation_reason"] = reason.empty() ? json(nullptr) : json(reason);
  emit_event("payment_intent.canceled", pi, ctx);
  return {200, pi};
}

StripeEmulator::ApiResult StripeEmulator::refund_locked(const std::string& pi_or_charge,
                                                        std::optional<std::int64_t> amount,
                                                        const std::string& reason,
                                                        const Params& metadata_source,
                                                        const RequestContext& ctx) {
  std::string charge_id;
  if (starts_with(pi_or_charge, "pi_")) {
    auto pi = payment_intents_.find(pi_or_charge);
    if (pi == payment_intents_.end()) {
      return {404, stripe_error("invalid_request_error", "resource_missing",
                                "No such payment_intent: '" + pi_or_charge + "'",
                                "payment_intent")};
    }
    if (pi->second["status"] != "succeeded") {
      return {400, stripe_error("invalid_request_error", "charge_not_refundable",
                                "This PaymentIntent does not have a successful charge to refund.",
                                "payment_intent")};
    }
    charge_id = pi->second["latest_charge"];
  } else if (starts_with(pi_or_charge, "ch_")) {
    charge_id = pi_or_charge;
  } else {
    return {400, stripe_error("invalid_request_error", "parameter_missing",
                              "One of the following params should be provided for this request: "
                              "payment_intent or charge.")};
  }
  auto it = charges_.find(charge_id);
  if (it == charges_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such charge: '" + charge_id + "'", "charge")};
  }
  json& charge = it->second;
  if (charge["status"] != "succeeded") {
    return {400, stripe_error("invalid_request_error", "charge_not_refundable",
                              "Charge " + charge_id + " has not succeeded and cannot be refunded.",
                              "charge")};
  }
  const std::int64_t refunded_so_far = charge["amount_refunded"];
  const std::int64_t remaining = charge["amount_captured"].get<std::int64_t>() - refunded_so_far;
  if (remaining <= 0) {
    return {400, stripe_error("invalid_request_error", "charge_already_refunded",
                              "Charge " + charge_id + " has already been refunded.")};
  }
  const std::int64_t refund_amount = amount.value_or(remaining);
  if (refund_amount <= 0) {
    return {400, stripe_error("invalid_request_error", "parameter_invalid_integer",
                              "Invalid positive integer", "amount")};
  }
  if (refund_amount > remaining) {
    return {400, stripe_error("invalid_request_error", "amount_too_large",
                              "Refund amount (" + std::to_string(refund_amount) +
                                  ") is greater than unrefunded amount on charge (" +
                                  std::to_string(remaining) + ")",
                              "amount")};
  }
  const std::string currency = charge["currency"];
  const std::string refund_id = new_id("re_");
  const std::string txn = new_balance_transaction(-refund_amount, 0, currency, "refund", "refund",
                                                  refund_id, "REFUND FOR CHARGE");
  json refund = {
      {"id", refund_id},
      {"object", "refund"},
      {"amount", refund_amount},
      {"balance_transaction", txn},
      {"charge", charge_id},
      {"created", now()},
      {"currency", currency},
      {"destination_details", {{"card", {{"reference_status", "pending"},
                                         {"reference_type", "acquirer_reference_number"},
                                         {"type", "refund"}}},
                               {"type", "card"}}},
      {"metadata", metadata_from(metadata_source)},
      {"payment_intent", charge["payment_intent"]},
      {"reason", reason.empty() ? json(nullptr) : json(reason)},
      {"receipt_number", nullptr},
      {"source_transfer_reversal", nullptr},
      {"status", "succeeded"},
      {"transfer_reversal", nullptr},
  };
  refunds_[refund_id] = refund;
  json previous = {{"amount_refunded", refunded_so_far}, {"refunded", charge["refunded"]}};
  charge["amount_refunded"] = refunded_so_far + refund_amount;
  charge["refunded"] = refunded_so_far + refund_amount == charge["amount_captured"];
  emit_event("charge.refunded", charge, ctx, previous);
  emit_event("refund.created", refund, ctx);
  return {200, refund};
}

StripeEmulator::ApiResult StripeEmulator::open_dispute_locked(const std::string& charge_id,
                                                              const RequestContext& ctx) {
  auto it = charges_.find(charge_id);
  if (it == charges_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such charge: '" + charge_id + "'", "charge")};
  }
  json& charge = it->second;
  if (charge["status"] != "succeeded" || charge["disputed"] == true) {
    return {400, stripe_error("invalid_request_error", "charge_disputed",
                              "Charge " + charge_id + " cannot be disputed (again).", "charge")};
  }
  const std::string dispute_id = new_id("du_");
  const std::int64_t amount = charge["amount"];
  const std::string currency = charge["currency"];
  const std::string txn =
      new_balance_transaction(-amount, options_.dispute_fee_minor, currency, "adjustment",
                              "dispute", dispute_id, "Chargeback withdrawal for " + charge_id);
  const std::int64_t created = now();
  json dispute = {
      {"id", dispute_id},
      {"object", "dispute"},
      {"amount", amount},
      {"balance_transactions", json::array({balance_transactions_.at(txn)})},
      {"charge", charge_id},
      {"created", created},
      {"currency", currency},
      {"evidence", {{"customer_email_address", nullptr},
                    {"customer_name", nullptr},
                    {"product_description", nullptr},
                    {"receipt", nullptr},
                    {"uncategorized_text", nullptr}}},
      {"evidence_details", {{"due_by", created + 7 * 86400},
                            {"has_evidence", false},
                            {"past_due", false},
                            {"submission_count", 0}}},
      {"is_charge_refundable", false},
      {"livemode", false},
      {"metadata", json::object()},
      {"payment_intent", charge["payment_intent"]},
      {"reason", "fraudulent"},
      {"status", "needs_response"},
  };
  disputes_[dispute_id] = dispute;
  charge["disputed"] = true;
  emit_event("charge.dispute.created", dispute, ctx);
  emit_event("charge.dispute.funds_withdrawn", dispute, ctx);
  return {200, dispute};
}

StripeEmulator::ApiResult StripeEmulator::close_dispute_locked(const std::string& dispute_id,
                                                               const std::string& status,
                                                               const RequestContext& ctx) {
  auto it = disputes_.find(dispute_id);
  if (it == disputes_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such dispute: '" + dispute_id + "'", "dispute")};
  }
  if (status != "won" && status != "lost") {
    return {400, stripe_error("invalid_request_error", "parameter_invalid",
                              "status must be won or lost", "status")};
  }
  json& dispute = it->second;
  const std::string current = dispute["status"];
  if (current == "won" || current == "lost") {
    return {400, stripe_error("invalid_request_error", "dispute_already_closed",
                              "This dispute is already closed.")};
  }
  dispute["status"] = status;
  if (status == "won") {
    const std::int64_t amount = dispute["amount"];
    const std::string txn = new_balance_transaction(
        amount, -options_.dispute_fee_minor, dispute["currency"], "adjustment",
        "dispute_reversal", dispute_id,
        "Chargeback reversal for " + dispute["charge"].get<std::string>());
    dispute["balance_transactions"].push_back(balance_transactions_.at(txn));
    emit_event("charge.dispute.funds_reinstated", dispute, ctx);
  }
  emit_event("charge.dispute.closed", dispute, ctx);
  return {200, dispute};
}

std::vector<json> StripeEmulator::create_payouts_locked(const RequestContext& ctx) {
  std::map<std::string, std::int64_t> net_by_currency;
  std::map<std::string, std::vector<std::string>> grouped;
  for (const auto& id : balance_transaction_order_) {
    const json& txn = balance_transactions_.at(id);
    if (payout_of_transaction_.count(id) != 0 || txn["type"] == "payout") continue;
    const std::string currency = txn["currency"];
    net_by_currency[currency] += txn["net"].get<std::int64_t>();
    grouped[currency].push_back(id);
  }
  std::vector<json> made;
  for (const auto& [currency, net] : net_by_currency) {
    if (net <= 0) continue;
    const std::string payout_id = new_id("po_");
    const std::string txn = new_balance_transaction(-net, 0, currency, "payout", "payout",
                                                    payout_id, "STRIPE PAYOUT");
    const std::int64_t created = now();
    json payout = {
        {"id", payout_id},
        {"object", "payout"},
        {"amount", net},
        {"arrival_date", created},
        {"automatic", true},
        {"balance_transaction", txn},
        {"created", created},
        {"currency", currency},
        {"description", "STRIPE PAYOUT"},
        {"destination", "ba_emulatorbankaccount"},
        {"failure_balance_transaction", nullptr},
        {"failure_code", nullptr},
        {"failure_message", nullptr},
        {"livemode", false},
        {"metadata", json::object()},
        {"method", "standard"},
        {"original_payout", nullptr},
        {"reconciliation_status", "completed"},
        {"reversed_by", nullptr},
        {"source_type", "card"},
        {"statement_descriptor", nullptr},
        {"status", "paid"},
        {"type", "bank_account"},
    };
    for (const auto& id : grouped[currency]) payout_of_transaction_[id] = payout_id;
    payout_of_transaction_[txn] = payout_id;
    payouts_[payout_id] = payout;
    payout_order_.push_back(payout_id);
    emit_event("payout.created", payout, ctx);
    emit_event("payout.paid", payout, ctx);
    made.push_back(payout);
  }
  return made;
}

const json* StripeEmulator::find_object(const std::string& id) const {
  const std::map<std::string, json>* store = nullptr;
  if (starts_with(id, "pi_")) store = &payment_intents_;
  else if (starts_with(id, "ch_")) store = &charges_;
  else if (starts_with(id, "re_")) store = &refunds_;
  else if (starts_with(id, "du_")) store = &disputes_;
  else if (starts_with(id, "txn_")) store = &balance_transactions_;
  else if (starts_with(id, "po_")) store = &payouts_;
  if (store != nullptr) {
    auto it = store->find(id);
    return it == store->end() ? nullptr : &it->second;
  }
  if (starts_with(id, "evt_")) {
    auto it = event_index_.find(id);
    return it == event_index_.end() ? nullptr : &events_[it->second];
  }
  return nullptr;
}

// expand[]=latest_charge, expand[]=latest_charge.balance_transaction, …
json StripeEmulator::expand(json object, const Params& params) const {
  auto range = params.equal_range("expand[]");
  for (auto it = range.first; it != range.second; ++it) {
    json* node = &object;
    std::string path = it->second;
    while (!path.empty() && node->is_object()) {
      const auto dot = path.find('.');
      const std::string field = path.substr(0, dot);
      path = dot == std::string::npos ? std::string() : path.substr(dot + 1);
      if (!node->contains(field)) break;
      json& value = (*node)[field];
      if (value.is_string()) {
        if (const json* found = find_object(value.get<std::string>())) value = *found;
      }
      node = &value;
    }
  }
  return object;
}

StripeEmulator::ApiResult StripeEmulator::list_page(std::vector<const json*> items,
                                                    const Params& params,
                                                    const std::string& url) const {
  // Newest first; among equal `created`, the later-made object first (items come oldest first).
  std::reverse(items.begin(), items.end());
  std::stable_sort(items.begin(), items.end(), [](const json* a, const json* b) {
    return a->value("created", std::int64_t{0}) > b->value("created", std::int64_t{0});
  });
  std::int64_t limit = 10;
  if (has_param(params, "limit")) {
    auto parsed = parse_integer(param(params, "limit"));
    if (!parsed || *parsed < 1 || *parsed > 100) {
      return {400, stripe_error("invalid_request_error", "parameter_invalid_integer",
                                "Invalid integer: limit must be between 1 and 100", "limit")};
    }
    limit = *parsed;
  }
  auto position_of = [&items](const std::string& id) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if ((*items[i])["id"] == id) return i;
    }
    return std::nullopt;
  };
  std::size_t begin = 0;
  std::size_t end = items.size();
  bool has_more = false;
  if (has_param(params, "starting_after")) {
    auto at = position_of(param(params, "starting_after"));
    if (!at) {
      return {400, stripe_error("invalid_request_error", "resource_missing",
                                "No such object: '" + param(params, "starting_after") + "'",
                                "starting_after")};
    }
    begin = *at + 1;
    end = std::min(items.size(), begin + static_cast<std::size_t>(limit));
    has_more = end < items.size();
  } else if (has_param(params, "ending_before")) {
    auto at = position_of(param(params, "ending_before"));
    if (!at) {
      return {400, stripe_error("invalid_request_error", "resource_missing",
                                "No such object: '" + param(params, "ending_before") + "'",
                                "ending_before")};
    }
    end = *at;
    begin = end > static_cast<std::size_t>(limit) ? end - static_cast<std::size_t>(limit) : 0;
    has_more = begin > 0;
  } else {
    end = std::min(items.size(), static_cast<std::size_t>(limit));
    has_more = end < items.size();
  }
  json data = json::array();
  for (std::size_t i = begin; i < end; ++i) data.push_back(*items[i]);
  return {200, json{{"object", "list"}, {"data", data}, {"has_more", has_more}, {"url", url}}};
}

// ---------------------------------------------------------------------------------------------
// Endpoints

StripeEmulator::ApiResult StripeEmulator::api_create_payment_intent(const httplib::Request& req) {
  const auto& params = req.params;
  if (!has_param(params, "amount")) {
    return {400, stripe_error("invalid_request_error", "parameter_missing",
                              "Missing required param: amount.", "amount")};
  }
  auto amount = parse_integer(param(params, "amount"));
  if (!amount || *amount < 1) {
    return {400, stripe_error("invalid_request_error", "parameter_invalid_integer",
                              "Invalid positive integer", "amount")};
  }
  const std::string currency = to_lower(param(params, "currency"));
  if (currency.size() != 3 ||
      !std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return {400, stripe_error("invalid_request_error",
                              currency.empty() ? "parameter_missing" : "parameter_invalid_string",
                              "Invalid currency: " + currency, "currency")};
  }
  return {200, new_payment_intent(*amount, currency, params, current_)};
}

StripeEmulator::ApiResult StripeEmulator::api_get_payment_intent(const httplib::Request& req) {
  const std::string id = req.matches[1];
  auto it = payment_intents_.find(id);
  if (it == payment_intents_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such payment_intent: '" + id + "'", "intent")};
  }
  return {200, expand(it->second, req.params)};
}

StripeEmulator::ApiResult StripeEmulator::api_confirm_payment_intent(
    const httplib::Request& req) {
  std::string payment_method = param(req.params, "payment_method");
  if (payment_method.empty()) payment_method = "pm_card_visa";
  return confirm_locked(req.matches[1], payment_method, current_);
}

StripeEmulator::ApiResult StripeEmulator::api_cancel_payment_intent(const httplib::Request& req) {
  return cancel_locked(req.matches[1], param(req.params, "cancellation_reason"), current_);
}

StripeEmulator::ApiResult StripeEmulator::api_get_charge(const httplib::Request& req) {
  const std::string id = req.matches[1];
  auto it = charges_.find(id);
  if (it == charges_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such charge: '" + id + "'", "id")};
  }
  return {200, expand(it->second, req.params)};
}

StripeEmulator::ApiResult StripeEmulator::api_create_refund(const httplib::Request& req) {
  const auto& params = req.params;
  std::string target = param(params, "payment_intent");
  if (target.empty()) target = param(params, "charge");
  std::optional<std::int64_t> amount;
  if (has_param(params, "amount")) {
    amount = parse_integer(param(params, "amount"));
    if (!amount) {
      return {400, stripe_error("invalid_request_error", "parameter_invalid_integer",
                                "Invalid integer: " + param(params, "amount"), "amount")};
    }
  }
  return refund_locked(target, amount, param(params, "reason"), params, current_);
}

StripeEmulator::ApiResult StripeEmulator::api_get_refund(const httplib::Request& req) {
  const std::string id = req.matches[1];
  auto it = refunds_.find(id);
  if (it == refunds_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such refund: '" + id + "'", "id")};
  }
  return {200, expand(it->second, req.params)};
}

StripeEmulator::ApiResult StripeEmulator::api_get_balance_transaction(
    const httplib::Request& req) {
  const std::string id = req.matches[1];
  auto it = balance_transactions_.find(id);
  if (it == balance_transactions_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such balance transaction: '" + id + "'", "id")};
  }
  return {200, expand(it->second, req.params)};
}

StripeEmulator::ApiResult StripeEmulator::api_list_balance_transactions(
    const httplib::Request& req) {
  const auto& params = req.params;
  const std::string payout = param(params, "payout");
  const std::string type = param(params, "type");
  const std::string currency = param(params, "currency");
  const std::string source = param(params, "source");
  std::vector<const json*> items;
  for (const auto& id : balance_transaction_order_) {
    const json& txn = balance_transactions_.at(id);
    if (!created_matches(txn, params)) continue;
    if (!type.empty() && txn["type"] != type) continue;
    if (!currency.empty() && txn["currency"] != currency) continue;
    if (!source.empty() && txn["source"] != source) continue;
    if (!payout.empty()) {
      auto grouped = payout_of_transaction_.find(id);
      if (grouped == payout_of_transaction_.end() || grouped->second != payout) continue;
    }
    items.push_back(&txn);
  }
  return list_page(std::move(items), params, "/v1/balance_transactions");
}

StripeEmulator::ApiResult StripeEmulator::api_get_payout(const httplib::Request& req) {
  const std::string id = req.matches[1];
  auto it = payouts_.find(id);
  if (it == payouts_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such payout: '" + id + "'", "id")};
  }
  return {200, expand(it->second, req.params)};
}

StripeEmulator::ApiResult StripeEmulator::api_list_payouts(const httplib::Request& req) {
  const std::string status = param(req.params, "status");
  std::vector<const json*> items;
  for (const auto& id : payout_order_) {
    const json& payout = payouts_.at(id);
    if (!created_matches(payout, req.params)) continue;
    if (!status.empty() && payout["status"] != status) continue;
    items.push_back(&payout);
  }
  return list_page(std::move(items), req.params, "/v1/payouts");
}

StripeEmulator::ApiResult StripeEmulator::api_get_event(const httplib::Request& req) {
  const std::string id = req.matches[1];
  auto it = event_index_.find(id);
  if (it == event_index_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such event: '" + id + "'", "id")};
  }
  return {200, events_[it->second]};
}

StripeEmulator::ApiResult StripeEmulator::api_list_events(const httplib::Request& req) {
  const auto& params = req.params;
  std::vector<std::string> types;
  if (has_param(params, "type")) types.push_back(param(params, "type"));
  auto range = params.equal_range("types[]");
  for (auto it = range.first; it != range.second; ++it) types.push_back(it->second);
  std::vector<const json*> items;
  for (const auto& event : events_) {
    if (!created_matches(event, params)) continue;
    if (!types.empty()) {
      const std::string type = event["type"];
      if (std::none_of(types.begin(), types.end(),
                       [&type](const std::string& p) { return event_type_matches(type, p); })) {
        continue;
      }
    }
    items.push_back(&event);
  }
  return list_page(std::move(items), params, "/v1/events");
}

StripeEmulator::ApiResult StripeEmulator::api_get_dispute(const httplib::Request& req) {
  const std::string id = req.matches[1];
  auto it = disputes_.find(id);
  if (it == disputes_.end()) {
    return {404, stripe_error("invalid_request_error", "resource_missing",
                              "No such dispute: '" + id + "'", "dispute")};
  }
  return {200, expand(it->second, req.params)};
}

StripeEmulator::ApiResult StripeEmulator::api_create_dispute(const httplib::Request& req) {
  const std::string charge_id = param(req.params, "charge");
  if (charge_id.empty()) {
    return {400, stripe_error("invalid_request_error", "parameter_missing",
                              "Missing required param: charge.", "charge")};
  }
  return open_dispute_locked(charge_id, current_);
}

StripeEmulator::ApiResult StripeEmulator::api_close_dispute(const httplib::Request& req) {
  return close_dispute_locked(req.matches[1], param(req.params, "status"), current_);
}

StripeEmulator::ApiResult StripeEmulator::api_create_payouts(const httplib::Request&) {
  json data = json::array();
  for (auto& payout : create_payouts_locked(current_)) data.push_back(std::move(payout));
  return {200, json{{"object", "list"},
                    {"data", data},
                    {"has_more", false},
                    {"url", "/v1/test_helpers/payouts"}}};
}

// ---------------------------------------------------------------------------------------------
// Webhook delivery

void StripeEmulator::delivery_loop() {
  if (options_.webhook_url.empty()) return;
  const WebhookTarget target = parse_webhook_url(options_.webhook_url);
  httplib::Client client(target.scheme_host_port);
  client.set_keep_alive(true);
  client.set_connection_timeout(std::chrono::milliseconds(2000));
  client.set_read_timeout(options_.webhook_timeout);
  client.set_write_timeout(options_.webhook_timeout);
  if (target.https) {
    if (!options_.webhook_ca_file.empty()) {
      client.set_ca_cert_path(options_.webhook_ca_file);
    } else if (target.host == "127.0.0.1") {
      // A self-signed certificate on loopback (donatio demo); never for any other host.
      client.enable_server_certificate_verification(false);
    }
  }
  const httplib::Headers base_headers = {
      {"User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
      {"Accept", "*/*; q=0.5, application/xml"}};
  for (;;) {
    std::string payload;
    std::size_t index = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !delivery_queue_.empty(); });
      if (stopping_) return;
      index = delivery_queue_.front();
      delivery_queue_.pop_front();
      delivery_in_flight_ = true;
      payload = events_[index].dump(2);
    }
    bool delivered = false;
    auto backoff = options_.webhook_backoff;
    for (int attempt = 0; attempt < std::max(1, options_.webhook_attempts); ++attempt) {
      if (attempt > 0) {
        if (!sleep_unless_stopping(static_cast<int>(backoff.count()))) break;
        backoff *= 2;
      }
      httplib::Headers headers = base_headers;
      headers.emplace("Stripe-Signature",
                      webhooks::sign_header(options_.webhook_secret, now(), payload));
      auto response =
          client.Post(target.path, headers, payload, "application/json; charset=utf-8");
      {
        std::lock_guard lock(mu_);
        ++attempts_;
      }
      if (response && response->status >= 200 && response->status < 300) {
        delivered = true;
        break;
      }
    }
    {
      std::lock_guard lock(mu_);
      delivery_in_flight_ = false;
      if (delivered) {
        ++delivered_;
        events_[index]["pending_webhooks"] = 0;
      } else {
        ++failed_;
      }
    }
    cv_.notify_all();
  }
}

}  // namespace donatio::stripe
