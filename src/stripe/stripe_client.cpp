#include "src/stripe/stripe_client.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <simdjson.h>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "donatio/money.hpp"
#include "src/stripe/form_encoding.hpp"

namespace donatio::stripe {
namespace {

using nlohmann::json;

constexpr const char* kUserAgent = "donatio/0.1";
constexpr std::size_t kMaxJsonDepth = 64;
constexpr const char* kCredentialsMessage = "payment provider rejected our credentials";

enum class Method { get, post };

const char* method_name(Method method) { return method == Method::post ? "POST" : "GET"; }

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

bool has_control_chars(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

// Keeps a header value we log (Request-Id) short and printable: it comes from the network.
std::string loggable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x21 && u < 0x7F ? c : '?');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON: a DOM builder that keeps every non-integer number as the exact text Stripe sent (as a
// JSON string), so a decimal such as exchange_rate never passes through a double.
class DecimalTextJsonBuilder {
 public:
  explicit DecimalTextJsonBuilder(json& root) : root_(root) {}

  bool null() { return put(nullptr); }
  bool boolean(bool value) { return put(value); }
  bool number_integer(json::number_integer_t value) { return put(value); }
  bool number_unsigned(json::number_unsigned_t value) { return put(value); }
  bool number_float(json::number_float_t /*value*/, const json::string_t& text) {
    return put(text);
  }
  bool string(json::string_t& value) { return put(std::move(value)); }
  bool binary(json::binary_t& /*value*/) { return false; }
  bool start_object(std::size_t /*elements*/) { return open(json::object()); }
  bool key(json::string_t& name) {
    key_ = std::move(name);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(json::array()); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/,
                   const json::exception& /*error*/) {
    return false;
  }

 private:
  json* place(json value) {
    if (stack_.empty()) {
      root_ = std::move(value);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return &parent.back();
    }
    json& slot = parent[key_];
    slot = std::move(value);
    return &slot;
  }
  bool put(json value) { return place(std::move(value)) != nullptr; }
  bool open(json value) {
    if (stack_.size() >= kMaxJsonDepth) return false;
    stack_.push_back(place(std::move(value)));
    return true;
  }
  bool close() {
    if (stack_.empty()) return false;
    stack_.pop_back();
    return true;
  }

  json& root_;
  std::vector<json*> stack_;
  std::string key_;
};

std::optional<json> parse_json_keeping_decimals(const std::string& text) {
  json root;
  DecimalTextJsonBuilder builder(root);
  if (!json::sax_parse(text, &builder)) return std::nullopt;
  return root;
}

std::string text_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::int64_t int_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();  // signed or unsigned
  return 0;
}

// An "expandable" field: Stripe sends either the id or, when expanded, the object.
std::string id_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) return text_field(*it, "id");
  return {};
}

std::string decimal_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();  // raw decimal text kept by the builder
  if (it->is_number()) return it->dump();
  return {};
}

std::map<std::string, std::string> metadata_field(const json& object) {
  std::map<std::string, std::string> out;
  const auto it = object.find("metadata");
  if (it == object.end() || !it->is_object()) return out;
  for (const auto& [key, value] : it->items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

bool has_id(const json& object) { return object.is_object() && !text_field(object, "id").empty(); }

// One mapping of a payment intent's fields, from either reader below (nlohmann or simdjson):
// `Fields` has text(name), integer(name), expandable_id(name) and metadata(), with the rules of
// text_field, int_field, id_field and metadata_field above.
template <typename Fields>
std::optional<PaymentIntent> read_payment_intent(const Fields& j) {
  PaymentIntent out;
  out.id = j.text("id");
  if (out.id.empty()) return std::nullopt;
  out.client_secret = j.text("client_secret");
  out.status = j.text("status");
  out.amount_minor = j.integer("amount");
  out.amount_received_minor = j.integer("amount_received");
  out.currency = upper_currency(j.text("currency"));
  out.latest_charge = j.expandable_id("latest_charge");
  out.created = j.integer("created");
  out.metadata = j.metadata();
  return out;
}

struct NlohmannFields {
  const json& object;
  std::string text(const char* name) const { return text_field(object, name); }
  std::int64_t integer(const char* name) const { return int_field(object, name); }
  std::string expandable_id(const char* name) const { return id_field(object, name); }
  std::map<std::string, std::string> metadata() const { return metadata_field(object); }
};

struct SimdjsonFields {
  simdjson::dom::object object;
  static std::string text_in(simdjson::dom::object from, const char* name) {
    std::string_view value;
    return from[name].get(value) == simdjson::SUCCESS ? std::string(value) : std::string();
  }
  std::string text(const char* name) const { return text_in(object, name); }
  std::int64_t integer(const char* name) const {
    simdjson::dom::element value;
    if (object[name].get(value) != simdjson::SUCCESS) return 0;
    if (value.is_int64()) return value.get_int64().value_unsafe();
    if (value.is_uint64()) return static_cast<std::int64_t>(value.get_uint64().value_unsafe());  // signed or unsigned
    return 0;
  }
  std::string expandable_id(const char* name) const {
    simdjson::dom::element value;
    if (object[name].get(value) != simdjson::SUCCESS) return {};
    if (value.is_string()) return std::string(value.get_string().value_unsafe());
    if (value.is_object()) return text_in(value.get_object().value_unsafe(), "id");
    return {};
  }
  std::map<std::string, std::string> metadata() const {
    std::map<std::string, std::string> out;
    simdjson::dom::object fields;
    if (object["metadata"].get(fields) != simdjson::SUCCESS) return out;
    for (auto field : fields) {
      std::string_view value;
      if (field.value.get(value) == simdjson::SUCCESS) out[std::string(field.key)] = std::string(value);
    }
    return out;
  }
};

std::optional<PaymentIntent> to_payment_intent(const json& j) {
  if (!j.is_object()) return std::nullopt;
  return read_payment_intent(NlohmannFields{j});
}

// Payment intents are read on the donation path, once per donation: simdjson reads them (a
// DOM parse of a few KiB costs a few microseconds; nlohmann's was ~5 % of a donation's CPU).
// What simdjson refuses is read by nlohmann as every other answer is, so a refused text gets
// the answer it always got.
std::optional<PaymentIntent> payment_intent_from_text(const std::string& text) {
  thread_local simdjson::dom::parser parser;  // keeps its buffers: sized by the largest answer
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return std::nullopt;
    return to_payment_intent(j);
  }
  simdjson::dom::object object;
  if (doc.get(object) != simdjson::SUCCESS) return std::nullopt;
  return read_payment_intent(SimdjsonFields{object});
}

std::optional<Charge> to_charge(const json& j) {
  if (!has_id(j)) return std::nullopt;
  Charge out;
  out.id = text_field(j, "id");
  out.payment_intent = id_field(j, "payment_intent");
  out.balance_transaction = id_field(j, "balance_transaction");
  out.amount_minor = int_field(j, "amount");
  out.amount_refunded_minor = int_field(j, "amount_refunded");
  out.currency = upper_currency(text_field(j, "currency"));
  return out;
}

std::optional<Refund> to_refund(const json& j) {
  if (!has_id(j)) return std::nullopt;
  Refund out;
  out.id = text_field(j, "id");
  out.status = text_field(j, "status");
  out.amount_minor = int_field(j, "amount");
  out.currency = upper_currency(text_field(j, "currency"));
  out.payment_intent = id_field(j, "payment_intent");
  out.charge = id_field(j, "charge");
  return out;
}

std::optional<BalanceTransaction> to_balance_transaction(const json& j) {
  if (!has_id(j)) return std::nullopt;
  BalanceTransaction out;
  out.id = text_field(j, "id");
  out.type = text_field(j, "type");
  out.source = id_field(j, "source");
  out.amount_minor = int_field(j, "amount");
  out.fee_minor = int_field(j, "fee");
  out.net_minor = int_field(j, "net");
  out.currency = upper_currency(text_field(j, "currency"));
  out.exchange_rate = decimal_field(j, "exchange_rate");
  out.created = int_field(j, "created");
  out.status = text_field(j, "status");
  return out;
}

std::optional<Payout> to_payout(const json& j) {
  if (!has_id(j)) return std::nullopt;
  Payout out;
  out.id = text_field(j, "id");
  out.amount_minor = int_field(j, "amount");
  out.currency = upper_currency(text_field(j, "currency"));
  out.status = text_field(j, "status");
  out.arrival_date = int_field(j, "arrival_date");
  out.created = int_field(j, "created");
  return out;
}

// Stripe's list envelope: {"object":"list","data":[…],"has_more":bool}.
const json* list_data(const json& j, bool& has_more) {
  if (!j.is_object()) return nullptr;
  const auto data = j.find("data");
  if (data == j.end() || !data->is_array()) return nullptr;
  const auto more = j.find("has_more");
  has_more = more != j.end() && more->is_boolean() && more->get<bool>();
  return &*data;
}

void add_window(FormParams& params, const ListWindow& window) {
  if (window.created_gte) params.add_nested("created", "gte", std::to_string(*window.created_gte));
  if (window.created_lt) params.add_nested("created", "lt", std::to_string(*window.created_lt));
  if (!window.starting_after.empty()) params.add("starting_after", window.starting_after);
  params.add("limit", static_cast<std::int64_t>(std::clamp(window.limit, 1, 100)));
}

// ---------------------------------------------------------------------------------------------
// Statuses. Messages are fixed texts or Stripe's own message with the key redacted.
Status unavailable(std::string message) {
  return {StatusCode::provider_unavailable, "provider_unavailable", std::move(message)};
}
Status timed_out(std::string message) {
  return {StatusCode::provider_timeout, "provider_timeout", std::move(message)};
}
Status bad_answer(Method method) {
  // A POST that Stripe accepted but whose answer we cannot read has an unknown outcome.
  if (method == Method::post) {
    return timed_out("payment provider sent an unreadable answer; outcome unknown");
  }
  return unavailable("payment provider sent an unreadable answer");
}

std::string safe_error_code(std::string_view code) {
  std::string out;
  for (const char c : code.substr(0, 64)) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') out.push_back(c);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The bounded pool of easy handles. LIFO, so the most recently used (warm) connection is reused.
// Outside the anonymous namespace because StripeClient::Impl holds one.
namespace curl_pool {
class HandlePool {
 public:
  explicit HandlePool(int size) : size_(size) {}
  ~HandlePool() {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
  }
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;

  // nullptr when none became free within `wait` or curl could not make one.
  CURL* acquire(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    if (!freed_.wait_for(lock, wait, [&] { return !idle_.empty() || created_ < size_; })) {
      return nullptr;
    }
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
    CURL* handle = curl_easy_init();
    if (handle != nullptr) ++created_;
    return handle;
  }

  void release(CURL* handle) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(handle);
    }
    freed_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<CURL*> idle_;
  int created_ = 0;
  const int size_;
};
}  // namespace curl_pool

namespace {
using curl_pool::HandlePool;

class HandleLease {
 public:
  HandleLease(HandlePool& pool, CURL* handle) : pool_(pool), handle_(handle) {}
  ~HandleLease() {
    if (handle_ != nullptr) pool_.release(handle_);
  }
  HandleLease(const HandleLease&) = delete;
  HandleLease& operator=(const HandleLease&) = delete;
  CURL* get() const { return handle_; }

 private:
  HandlePool& pool_;
  CURL* handle_;
};

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  bool add(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) return false;
    list = next;
    return true;
  }
};

// What one attempt produced.
struct Attempt {
  CURLcode curl = CURLE_OK;
  bool request_sent = false;  // false: nothing reached the server (safe to say "not done")
  bool too_large = false;
  long http_status = 0;
  std::string body;
  std::string request_id;
  std::optional<bool> should_retry;  // Stripe-Should-Retry
  std::int64_t max_body = 0;
};

// Failures that a retry cannot fix (nothing was sent; the operator must fix the setup).
bool is_configuration_error(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
      return true;
    default:
      return false;
  }
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const std::size_t bytes = size * count;
  if (static_cast<std::int64_t>(attempt->body.size() + bytes) > attempt->max_body) {
    attempt->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  attempt->body.append(data, bytes);
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* attempt = static_cast<Attempt*>(user);
  const std::size_t bytes = size * count;
  const std::string_view line(data, bytes);
  if (line.substr(0, 5) == "HTTP/") {  // a new (possibly interim) response: forget earlier ones
    attempt->request_id.clear();
    attempt->should_retry.reset();
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return bytes;
  const auto name = lower_ascii(trim(line.substr(0, colon)));
  const auto value = trim(line.substr(colon + 1));
  if (name == "request-id") {
    attempt->request_id = loggable(value);
  } else if (name == "stripe-should-retry") {
    const auto lowered = lower_ascii(value);
    if (lowered == "true") attempt->should_retry = true;
    if (lowered == "false") attempt->should_retry = false;
  }
  return bytes;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
StripeClientOptions stripe_client_options(const StripeConfig& config, std::string secret_key) {
  StripeClientOptions options;
  options.api_base = config.api_base;
  options.api_version = config.api_version;
  options.secret_key = std::move(secret_key);
  options.timeout_ms = config.timeout_ms;
  options.connect_timeout_ms = config.connect_timeout_ms;
  options.max_retries = config.max_retries;
  options.pool_size = config.max_connections;
  options.ca_file = config.ca_file;
  return options;
}

class StripeClient::Impl {
 public:
  explicit Impl(StripeClientOptions options)
      : options_(std::move(options)), pool_(options_.pool_size) {
    while (!options_.api_base.empty() && options_.api_base.back() == '/') {
      options_.api_base.pop_back();
    }
    if (!options_.sleep) {
      options_.sleep = [](std::chrono::milliseconds delay) { std::this_thread::sleep_for(delay); };
    }
  }

  // Sends the request with retries. On a 2xx returns the body; otherwise the mapped Status.
  Result<std::string> call(Method method, const std::string& path, const std::string& form,
                           const std::string& idempotency_key);

  // Removes our key, and anything shaped like a Stripe secret or restricted key, from text
  // that came from the network before it goes into a Status.
  std::string redact(std::string text) const {
    const auto& key = options_.secret_key;
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos)) {
      text.replace(pos, key.size(), "[redacted]");
    }
    for (const char* prefix : {"sk_live_", "sk_test_", "rk_live_", "rk_test_"}) {
      for (auto pos = text.find(prefix); pos != std::string::npos; pos = text.find(prefix, pos)) {
        auto end = pos + std::string_view(prefix).size();
        while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) != 0 ||
                                     text[end] == '_' || text[end] == '*')) {
          ++end;
        }
        text.replace(pos, end - pos, "[redacted]");
      }
    }
    return text;
  }

 private:
  Attempt perform(CURL* handle, Method method, const std::string& url, const std::string& form,
                  const HeaderList& headers) const;
  std::chrono::milliseconds backoff(int retry_number) const;
  Status status_from_answer(const Attempt& attempt) const;

  StripeClientOptions options_;
  curl_pool::HandlePool pool_;
};

Attempt StripeClient::Impl::perform(CURL* handle, Method method, const std::string& url,
                                    const std::string& form, const HeaderList& headers) const {
  Attempt attempt;
  attempt.max_body = options_.max_response_bytes;
  // Reset clears options but keeps live connections, TLS session and DNS caches.
  curl_easy_reset(handle);
  const std::string target = method == Method::get && !form.empty() ? url + "?" + form : url;
  curl_easy_setopt(handle, CURLOPT_URL, target.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout_ms));
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(handle, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(handle, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &attempt);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &attempt);
  if (method == Method::post) {
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form.size()));
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, form.c_str());
  } else {
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  }

  attempt.curl = curl_easy_perform(handle);
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &attempt.http_status);
  // Was any of the request handed to the network? Pre-transfer time stays zero until the
  // connection is up and the request is about to go; the request size counts bytes sent.
  curl_off_t pretransfer_us = 0;
  curl_easy_getinfo(handle, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
  long request_bytes = 0;
  curl_easy_getinfo(handle, CURLINFO_REQUEST_SIZE, &request_bytes);
  attempt.request_sent = pretransfer_us > 0 || request_bytes > 0 || attempt.http_status != 0;
  return attempt;
}

std::chrono::milliseconds StripeClient::Impl::backoff(int retry_number) const {
  // Full jitter: uniform in [0, min(cap, base * 2^(n-1))].
  const int shift = std::min(retry_number - 1, 20);
  const std::int64_t ceiling = std::min<std::int64_t>(
      options_.backoff_cap_ms, static_cast<std::int64_t>(options_.backoff_base_ms) << shift);
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
  return std::chrono::milliseconds(pick(random));
}

Status StripeClient::Impl::status_from_answer(const Attempt& attempt) const {
  const long http = attempt.http_status;
  if (http == 401 || http == 403) return unavailable(kCredentialsMessage);
  if (http == 429) return unavailable("payment provider is rate limiting us; try again later");
  if (http >= 500) return unavailable("payment provider is unavailable; try again later");
  if (http >= 400) {
    std::string code;
    std::string message;
    const auto parsed = json::parse(attempt.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) {
      const auto error = parsed.find("error");
      if (error != parsed.end() && error->is_object()) {
        code = safe_error_code(text_field(*error, "code"));
        message = text_field(*error, "message");
      }
    }
    if (message.empty()) message = "payment provider rejected the request";
    return {StatusCode::provider_rejected, code.empty() ? "provider_rejected" : "provider_" + code,
            redact(std::move(message))};
  }
  return unavailable("unexpected answer from payment provider");
}

Result<std::string> StripeClient::Impl::call(Method method, const std::string& path,
                                             const std::string& form,
                                             const std::string& idempotency_key) {
  const char* verb = method_name(method);
  if (method == Method::post && idempotency_key.empty()) {
    spdlog::error("stripe {} {}: refused to send a POST without an Idempotency-Key", verb, path);
    return Status::Internal("payment request is missing its idempotency key");
  }
  if (has_control_chars(idempotency_key)) {
    return Status::Internal("payment request has an invalid idempotency key");
  }

  HeaderList headers;
  bool headers_ok = headers.add("Authorization: Bearer " + options_.secret_key) &&
                    headers.add("Stripe-Version: " + options_.api_version) &&
                    headers.add("Expect:");  // no 100-continue round trip for larger bodies
  if (method == Method::post) {
    headers_ok = headers_ok && headers.add("Content-Type: application/x-www-form-urlencoded") &&
                 headers.add("Idempotency-Key: " + idempotency_key);
  }
  if (!headers_ok) return unavailable("out of memory preparing the payment request");

  const std::string url = options_.api_base + path;
  const int attempts_allowed = 1 + std::max(options_.max_retries, 0);
  const auto started = std::chrono::steady_clock::now();
  const auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 started)
        .count();
  };

  Status last_failure = unavailable("payment provider is unavailable; try again later");
  for (int attempt_number = 1; attempt_number <= attempts_allowed; ++attempt_number) {
    Attempt attempt;
    {
      CURL* handle = pool_.acquire(std::chrono::milliseconds(options_.timeout_ms));
      if (handle == nullptr) {
        spdlog::warn("stripe {} {}: no connection free in the pool", verb, path);
        return unavailable("payment provider client is busy; try again later");
      }
      HandleLease lease(pool_, handle);
      attempt = perform(handle, method, url, form, headers);
    }
    const bool last_attempt = attempt_number == attempts_allowed;
    bool retry = false;
    std::string outcome;  // for the log: "HTTP 503" or curl's error text, never a body

    if (attempt.curl != CURLE_OK) {
      const bool timeout = attempt.curl == CURLE_OPERATION_TIMEDOUT;
      outcome = curl_easy_strerror(attempt.curl);
      if (!attempt.request_sent) outcome += " (request not sent)";
      if (is_configuration_error(attempt.curl)) {
        // Retrying cannot help: a certificate we do not trust, a bad CA file, a bad URL.
        last_failure = unavailable(attempt.curl == CURLE_PEER_FAILED_VERIFICATION
                                       ? "payment provider's TLS certificate is not trusted"
                                       : "payment provider connection is misconfigured");
      } else if (attempt.too_large) {
        last_failure = method == Method::post
                           ? timed_out("payment provider answer too large; outcome unknown")
                           : unavailable("payment provider answer too large");
      } else if (!attempt.request_sent) {
        // Nothing reached Stripe: safe to retry, and a final failure means "not done".
        last_failure = unavailable("payment provider is unreachable; try again later");
        retry = true;
      } else if (timeout) {
        last_failure = timed_out("payment provider did not answer in time; outcome unknown");
        retry = method == Method::get;  // a POST that timed out may have been applied
      } else {
        // The connection broke after the request went out. The same Idempotency-Key makes a
        // retry safe; if every attempt breaks, a POST's outcome is unknown.
        last_failure =
            method == Method::post
                ? timed_out("connection to payment provider broke; outcome unknown")
                : unavailable("connection to payment provider broke; try again later");
        retry = true;
      }
    } else {
      const long http = attempt.http_status;
      if (http >= 200 && http < 300) {
        spdlog::info("stripe {} {} -> HTTP {} attempts={} request_id={} {}ms", verb, path, http,
                     attempt_number, attempt.request_id, elapsed_ms());
        return std::move(attempt.body);
      }
      outcome = "HTTP " + std::to_string(http);
      last_failure = status_from_answer(attempt);
      if (http == 409) {
        retry = attempt.should_retry.value_or(false);
      } else if (http >= 400 && http < 500 && http != 429) {
        retry = false;
      } else if (attempt.should_retry.has_value()) {
        retry = *attempt.should_retry;
      } else {
        retry = http == 429 || http >= 500;
      }
    }

    if (!retry || last_attempt) {
      // A rejection is the donor's or the request's business (info); the rest is ours (warn).
      const auto level = last_failure.code() == StatusCode::provider_rejected
                             ? spdlog::level::info
                             : spdlog::level::warn;
      spdlog::log(level, "stripe {} {} -> {} attempts={} request_id={} {}ms error_code={}", verb,
                  path, outcome, attempt_number, attempt.request_id, elapsed_ms(),
                  last_failure.error_code());
      return last_failure;
    }
    const auto delay = backoff(attempt_number);
    spdlog::info("stripe {} {} attempt {}: {} request_id={}; retrying in {}ms", verb, path,
                 attempt_number, outcome, attempt.request_id, delay.count());
    options_.sleep(delay);
  }
  return last_failure;  // not reached: the last attempt always returns above
}

// ---------------------------------------------------------------------------------------------
StripeClient::StripeClient(StripeClientOptions options) {
  if (options.secret_key.empty()) throw std::invalid_argument("stripe: secret key is empty");
  if (has_control_chars(options.secret_key)) {
    throw std::invalid_argument("stripe: secret key contains control characters");
  }
  if (options.api_version.empty() || has_control_chars(options.api_version)) {
    throw std::invalid_argument("stripe: api_version is empty or invalid");
  }
  const auto base = lower_ascii(options.api_base);
  if (base.rfind("https://", 0) != 0 && base.rfind("http://", 0) != 0) {
    throw std::invalid_argument("stripe: api_base must start with https:// or http://");
  }
  if (options.timeout_ms < 1 || options.connect_timeout_ms < 1 || options.pool_size < 1 ||
      options.max_response_bytes < 1 || options.max_retries < 0 || options.backoff_base_ms < 0 ||
      options.backoff_cap_ms < 0) {
    throw std::invalid_argument("stripe: timeouts, pool size and limits must be positive");
  }
  impl_ = std::make_unique<Impl>(std::move(options));
}

StripeClient::~StripeClient() = default;

namespace {

std::string object_path(const char* collection, const std::string& id) {
  return std::string("/v1/") + collection + "/" + percent_encode(id);
}

template <typename T, typename Convert>
Result<T> decode_object(const Result<std::string>& answer, Method method, bool keep_decimals,
                        Convert convert) {
  if (!answer.ok()) return answer.status();
  const auto parsed = keep_decimals
                          ? parse_json_keeping_decimals(*answer)
                          : std::optional<json>(json::parse(*answer, nullptr, false));
  if (!parsed || parsed->is_discarded()) return bad_answer(method);
  auto object = convert(*parsed);
  if (!object) return bad_answer(method);
  return std::move(*object);
}

Result<PaymentIntent> decode_payment_intent(const Result<std::string>& answer, Method method) {
  if (!answer.ok()) return answer.status();
  auto intent = payment_intent_from_text(*answer);
  if (!intent) return bad_answer(method);
  return std::move(*intent);
}

Status missing_id(const char* what) {
  return Status::InvalidArgument("id", std::string(what) + " id is empty");
}

}  // namespace

Result<PaymentIntent> StripeClient::create_payment_intent(const CreatePaymentIntent& request) {
  FormParams params;
  params.add("amount", request.amount_minor);
  params.add("currency", lower_currency(request.currency));
  params.add_nested("automatic_payment_methods", "enabled", "true");
  if (!request.receipt_email.empty()) params.add("receipt_email", request.receipt_email);
  if (!request.description.empty()) params.add("description", request.description);
  params.add_map("metadata", request.metadata);
  const auto answer =
      impl_->call(Method::post, "/v1/payment_intents", params.encode(), request.idempotency_key);
  return decode_payment_intent(answer, Method::post);
}

Result<PaymentIntent> StripeClient::retrieve_payment_intent(const std::string& id) {
  if (id.empty()) return missing_id("payment intent");
  const auto answer = impl_->call(Method::get, object_path("payment_intents", id), "", "");
  return decode_payment_intent(answer, Method::get);
}

Result<Charge> StripeClient::retrieve_charge(const std::string& id) {
  if (id.empty()) return missing_id("charge");
  const auto answer = impl_->call(Method::get, object_path("charges", id), "", "");
  return decode_object<Charge>(answer, Method::get, false, to_charge);
}

Result<Refund> StripeClient::create_refund(const CreateRefund& request) {
  if (request.payment_intent.empty()) {
    return Status::InvalidArgument("payment_intent", "refund needs a payment intent");
  }
  FormParams params;
  params.add("payment_intent", request.payment_intent);
  if (request.amount_minor) params.add("amount", *request.amount_minor);
  if (!request.reason.empty()) params.add("reason", request.reason);
  params.add_map("metadata", request.metadata);
  const auto answer =
      impl_->call(Method::post, "/v1/refunds", params.encode(), request.idempotency_key);
  return decode_object<Refund>(answer, Method::post, false, to_refund);
}

Result<BalanceTransaction> StripeClient::retrieve_balance_transaction(const std::string& id) {
  if (id.empty()) return missing_id("balance transaction");
  const auto answer = impl_->call(Method::get, object_path("balance_transactions", id), "", "");
  return decode_object<BalanceTransaction>(answer, Method::get, true, to_balance_transaction);
}

Result<Page<std::string>> StripeClient::list_events(const ListWindow& window,
                                                    const std::vector<std::string>& types) {
  FormParams params;
  add_window(params, window);
  params.add_list("types", types);
  const auto answer = impl_->call(Method::get, "/v1/events", params.encode(), "");
  return decode_object<Page<std::string>>(
      answer, Method::get, false, [](const json& j) -> std::optional<Page<std::string>> {
        Page<std::string> page;
        const json* data = list_data(j, page.has_more);
        if (data == nullptr) return std::nullopt;
        for (const auto& event : *data) {
          if (!has_id(event)) return std::nullopt;
          page.data.push_back(event.dump());
        }
        return page;
      });
}

Result<Page<BalanceTransaction>> StripeClient::list_balance_transactions(
    const ListWindow& window, const std::string& payout) {
  FormParams params;
  add_window(params, window);
  if (!payout.empty()) params.add("payout", payout);
  const auto answer = impl_->call(Method::get, "/v1/balance_transactions", params.encode(), "");
  return decode_object<Page<BalanceTransaction>>(
      answer, Method::get, true,
      [&payout](const json& j) -> std::optional<Page<BalanceTransaction>> {
        Page<BalanceTransaction> page;
        const json* data = list_data(j, page.has_more);
        if (data == nullptr) return std::nullopt;
        for (const auto& item : *data) {
          auto txn = to_balance_transaction(item);
          if (!txn) return std::nullopt;
          txn->payout = payout;
          page.data.push_back(std::move(*txn));
        }
        return page;
      });
}

Result<Page<Payout>> StripeClient::list_payouts(const ListWindow& window) {
  FormParams params;
  add_window(params, window);
  const auto answer = impl_->call(Method::get, "/v1/payouts", params.encode(), "");
  return decode_object<Page<Payout>>(
      answer, Method::get, false, [](const json& j) -> std::optional<Page<Payout>> {
        Page<Payout> page;
        const json* data = list_data(j, page.has_more);
        if (data == nullptr) return std::nullopt;
        for (const auto& item : *data) {
          auto payout = to_payout(item);
          if (!payout) return std::nullopt;
          page.data.push_back(std::move(*payout));
        }
        return page;
      });
}

}  // namespace donatio::stripe
