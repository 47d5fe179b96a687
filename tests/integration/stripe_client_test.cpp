// StripeClient against a scripted fake Stripe (cpp-httplib on an ephemeral loopback port).
#include <arpa/inet.h>
#include <curl/curl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "src/stripe/form_encoding.hpp"
#include "src/stripe/stripe_client.hpp"

namespace {

using donatio::CreatePaymentIntent;
using donatio::CreateRefund;
using donatio::ListWindow;
using donatio::StatusCode;
using donatio::stripe::StripeClient;
using donatio::stripe::StripeClientOptions;

constexpr const char* kStripeTestKey = "sk_test_51NeverLogThisKey0123456789";

void ensure_curl_global_init() {
  static const bool initialized = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  REQUIRE(initialized);
}

struct SeenStripeRequest {
  std::string method;
  std::string path;    // decoded by httplib
  std::string target;  // raw, with the query string
  std::string body;
  std::string authorization;
  std::string stripe_version;
  std::string idempotency_key;
  std::string content_type;
  std::string user_agent;
  int remote_port = -1;

  // The decoded form: the POST body or the GET query, as flat "name[sub]" -> values.
  std::multimap<std::string, std::string> form() const {
    std::string encoded = body;
    if (method == "GET") {
      const auto q = target.find('?');
      encoded = q == std::string::npos ? "" : target.substr(q + 1);
    }
    const auto fields = donatio::stripe::decode_form(encoded);
    REQUIRE(fields.has_value());
    std::multimap<std::string, std::string> out;
    for (const auto& field : *fields) out.emplace(donatio::stripe::flat_name(field), field.value);
    return out;
  }
  std::string form_value(const std::string& name) const {
    const auto all = form();
    const auto it = all.find(name);
    return it == all.end() ? "<absent>" : it->second;
  }
};

// A throwaway self-signed P-256 certificate for 127.0.0.1, also written as PEM to a temp file
// that a client can use as its CA bundle.
class LoopbackTestCertificate {
 public:
  LoopbackTestCertificate() {
    key_ = EVP_EC_gen("P-256");
    REQUIRE(key_ != nullptr);
    cert_ = X509_new();
    REQUIRE(cert_ != nullptr);
    X509_set_version(cert_, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert_), 3600);
    X509_set_pubkey(cert_, key_);
    X509_NAME* name = X509_get_subject_name(cert_);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert_, name);
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, cert_, cert_, nullptr, nullptr, 0);
    X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &context, NID_subject_alt_name,
                                              "DNS:localhost,IP:127.0.0.1");
    REQUIRE(san != nullptr);
    X509_add_ext(cert_, san, -1);
    X509_EXTENSION_free(san);
    REQUIRE(X509_sign(cert_, key_, EVP_sha256()) > 0);

    pem_path_ = (std::filesystem::temp_directory_path() /
                 ("donatio-stripe-test-ca-" + std::to_string(::getpid()) + ".pem"))
                    .string();
    FILE* file = std::fopen(pem_path_.c_str(), "w");
    REQUIRE(file != nullptr);
    const bool written = PEM_write_X509(file, cert_) == 1;
    std::fclose(file);
    REQUIRE(written);
  }
  ~LoopbackTestCertificate() {
    std::remove(pem_path_.c_str());
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }
  LoopbackTestCertificate(const LoopbackTestCertificate&) = delete;
  LoopbackTestCertificate& operator=(const LoopbackTestCertificate&) = delete;

  X509* cert() const { return cert_; }
  EVP_PKEY* key() const { return key_; }
  const std::string& pem_path() const { return pem_path_; }

 private:
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  std::string pem_path_;
};

// A fake Stripe whose every answer comes from a per-test script. call_number starts at 1.
class ScriptedStripeServer {
 public:
  using Script =
      std::function<void(const SeenStripeRequest&, int call_number, httplib::Response&)>;

  // With `tls`, serves HTTPS with that certificate.
  explicit ScriptedStripeServer(Script script, const LoopbackTestCertificate* tls = nullptr)
      : script_(std::move(script)),
        server_(tls != nullptr ? std::make_unique<httplib::SSLServer>(tls->cert(), tls->key())
                               : std::make_unique<httplib::Server>()),
        scheme_(tls != nullptr ? "https" : "http") {
    ensure_curl_global_init();
    REQUIRE(server_->is_valid());
    server_->set_tcp_nodelay(true);
    server_->set_keep_alive_max_count(1000);
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      SeenStripeRequest seen;
      seen.method = req.method;
      seen.path = req.path;
      seen.target = req.target;
      seen.body = req.body;
      seen.authorization = req.get_header_value("Authorization");
      seen.stripe_version = req.get_header_value("Stripe-Version");
      seen.idempotency_key = req.get_header_value("Idempotency-Key");
      seen.content_type = req.get_header_value("Content-Type");
      seen.user_agent = req.get_header_value("User-Agent");
      seen.remote_port = req.remote_port;
      int call_number = 0;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(seen);
        call_number = static_cast<int>(requests_.size());
      }
      res.set_header("Request-Id", "req_test" + std::to_string(call_number));
      script_(seen, call_number, res);
    };
    server_->Get(".*", handler);
    server_->Post(".*", handler);
    port_ = server_->bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // stop() is a no-op until the listen loop runs; wait for it so the destructor cannot hang.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    REQUIRE(server_->is_running());
  }

  ~ScriptedStripeServer() {
    stopping_ = true;
    server_->stop();
    thread_.join();
  }

  std::string base_url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }

  std::vector<SeenStripeRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  // For "hang" scripts: waits up to `limit`, returning early when the server shuts down.
  void hang(std::chrono::milliseconds limit) const {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  Script script_;
  std::unique_ptr<httplib::Server> server_;
  std::string scheme_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<SeenStripeRequest> requests_;
  std::atomic<bool> stopping_{false};
};

void answer_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void answer_stripe_error(httplib::Response& res, int status, const std::string& type,
                         const std::string& code, const std::string& message) {
  nlohmann::json error = {{"error", {{"type", type}, {"message", message}}}};
  if (!code.empty()) error["error"]["code"] = code;
  answer_json(res, status, error.dump());
}

const std::string kPaymentIntentJson = R"({
  "id": "pi_3Test", "object": "payment_intent", "amount": 5000, "amount_received": 0,
  "currency": "chf", "status": "requires_payment_method", "client_secret": "pi_3Test_secret_abc",
  "latest_charge": null, "created": 1767225600,
  "metadata": {"donation_id": "don_42", "campaign": "flood-relief"}})";

StripeClientOptions client_options(const std::string& api_base) {
  StripeClientOptions options;
  options.api_base = api_base;
  options.api_version = "2024-06-20";
  options.secret_key = kStripeTestKey;
  options.timeout_ms = 1000;
  options.connect_timeout_ms = 500;
  options.max_retries = 2;
  options.pool_size = 2;
  options.backoff_base_ms = 1;
  options.backoff_cap_ms = 5;
  return options;
}

CreatePaymentIntent donation_intent() {
  CreatePaymentIntent request;
  request.amount_minor = 5000;
  request.currency = "CHF";
  request.receipt_email = "ada+donor@example.org";
  request.description = "Donation to Flood relief & recovery";
  request.metadata = {{"donation_id", "don_42"}, {"campaign", "flood-relief"}};
  request.idempotency_key = "donation-don_42";
  return request;
}

// A loopback port with nothing listening on it.
int unused_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

long long millis_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace

TEST_CASE("stripe client creates a payment intent with Stripe's form body and headers") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, kPaymentIntentJson);
  });
  StripeClient client(client_options(stripe.base_url()));

  const auto intent = client.create_payment_intent(donation_intent());
  REQUIRE(intent.ok());
  CHECK(intent->id == "pi_3Test");
  CHECK(intent->client_secret == "pi_3Test_secret_abc");
  CHECK(intent->status == "requires_payment_method");
  CHECK(intent->amount_minor == 5000);
  CHECK(intent->currency == "CHF");
  CHECK(intent->latest_charge.empty());
  CHECK(intent->created == 1767225600);
  CHECK(intent->metadata.at("donation_id") == "don_42");

  const auto requests = stripe.requests();
  REQUIRE(requests.size() == 1);
  const auto& seen = requests[0];
  CHECK(seen.method == "POST");
  CHECK(seen.path == "/v1/payment_intents");
  CHECK(seen.authorization == std::string("Bearer ") + kStripeTestKey);
  CHECK(seen.stripe_version == "2024-06-20");
  CHECK(seen.idempotency_key == "donation-don_42");
  CHECK(seen.content_type == "application/x-www-form-urlencoded");
  CHECK(seen.user_agent == "donatio/0.1");
  const auto form = seen.form();
  CHECK(form.size() == 7);
  CHECK(seen.form_value("amount") == "5000");
  CHECK(seen.form_value("currency") == "chf");
  CHECK(seen.form_value("automatic_payment_methods[enabled]") == "true");
  CHECK(seen.form_value("receipt_email") == "ada+donor@example.org");
  CHECK(seen.form_value("description") == "Donation to Flood relief & recovery");
  CHECK(seen.form_value("metadata[donation_id]") == "don_42");
  CHECK(seen.form_value("metadata[campaign]") == "flood-relief");
}

TEST_CASE("stripe client reads payment intents: expanded charge, metadata, numbers, refused texts") {
  // Answers in turn: an intent with its charge expanded and a non-text metadata value; one
  // with an integer too big for 64 bits (simdjson refuses the text, nlohmann reads it as a
  // float, the field reads as 0 as it always did); one without an id; one that is not an object.
  const std::vector<std::string> answers = {
      R"({"id":"pi_X","object":"payment_intent","amount":5200,"amount_received":5200,"currency":"eur",
          "status":"succeeded","client_secret":"pi_X_secret_1","latest_charge":{"id":"ch_1","object":"charge"},
          "created":1767225600,"metadata":{"donation_id":"don_7","count":5}})",
      R"({"id":"pi_Y","amount":5000,"amount_received":123456789012345678901234567890,"currency":"chf",
          "latest_charge":"ch_2","created":1767225601})",
      R"({"object":"payment_intent","amount":5000})",
      R"(["pi_Z"])",
  };
  ScriptedStripeServer stripe([&answers](const SeenStripeRequest&, int number, httplib::Response& res) {
    answer_json(res, 200, answers.at(static_cast<std::size_t>(number - 1)));
  });
  StripeClient client(client_options(stripe.base_url()));

  const auto expanded = client.retrieve_payment_intent("pi_X");
  REQUIRE(expanded.ok());
  CHECK(expanded->id == "pi_X");
  CHECK(expanded->client_secret == "pi_X_secret_1");
  CHECK(expanded->status == "succeeded");
  CHECK(expanded->amount_minor == 5200);
  CHECK(expanded->amount_received_minor == 5200);
  CHECK(expanded->currency == "EUR");
  CHECK(expanded->latest_charge == "ch_1");
  CHECK(expanded->created == 1767225600);
  CHECK(expanded->metadata == std::map<std::string, std::string>{{"donation_id", "don_7"}});

  const auto big = client.create_payment_intent(donation_intent());
  REQUIRE(big.ok());
  CHECK(big->id == "pi_Y");
  CHECK(big->amount_minor == 5000);
  CHECK(big->amount_received_minor == 0);
  CHECK(big->latest_charge == "ch_2");
  CHECK(big->client_secret.empty());
  CHECK(big->metadata.empty());

  for (int i = 0; i < 2; ++i) {
    const auto refused = client.retrieve_payment_intent("pi_Z");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == StatusCode::provider_unavailable);
  }
}

TEST_CASE("stripe client leaves out an empty receipt email and description") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, kPaymentIntentJson);
  });
  StripeClient client(client_options(stripe.base_url()));
  auto request = donation_intent();
  request.receipt_email.clear();
  request.description.clear();
  REQUIRE(client.create_payment_intent(request).ok());
  const auto seen = stripe.requests().at(0);
  CHECK(seen.form_value("receipt_email") == "<absent>");
  CHECK(seen.form_value("description") == "<absent>");
}

TEST_CASE("stripe client retries a 500 with the same Idempotency-Key and then succeeds") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int call, httplib::Response& res) {
    if (call == 1) {
      answer_stripe_error(res, 500, "api_error", "", "Something went wrong on Stripe's end.");
    } else {
      answer_json(res, 200, kPaymentIntentJson);
    }
  });
  StripeClient client(client_options(stripe.base_url()));

  const auto intent = client.create_payment_intent(donation_intent());
  REQUIRE(intent.ok());
  const auto requests = stripe.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].idempotency_key == "donation-don_42");
  CHECK(requests[1].idempotency_key == "donation-don_42");
  CHECK(requests[0].body == requests[1].body);
}

TEST_CASE("stripe client retries a 429 and then succeeds") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int call, httplib::Response& res) {
    if (call == 1) {
      answer_stripe_error(res, 429, "invalid_request_error", "rate_limit", "Too many requests.");
    } else {
      answer_json(res, 200, kPaymentIntentJson);
    }
  });
  StripeClient client(client_options(stripe.base_url()));
  CHECK(client.retrieve_payment_intent("pi_3Test").ok());
  CHECK(stripe.requests().size() == 2);
}

TEST_CASE("a Stripe 400 error object is provider_rejected with Stripe's code and is not retried") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_stripe_error(res, 400, "invalid_request_error", "amount_too_small",
                        "Amount must be at least 0.50 chf");
  });
  StripeClient client(client_options(stripe.base_url()));

  const auto intent = client.create_payment_intent(donation_intent());
  REQUIRE_FALSE(intent.ok());
  CHECK(intent.status().code() == StatusCode::provider_rejected);
  CHECK(intent.status().error_code() == "provider_amount_too_small");
  CHECK(intent.status().message() == "Amount must be at least 0.50 chf");
  CHECK(stripe.requests().size() == 1);
}

TEST_CASE("a Stripe 4xx without an error code is provider_rejected with a generic code") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 404, "not json at all");
  });
  StripeClient client(client_options(stripe.base_url()));
  const auto charge = client.retrieve_charge("ch_missing");
  REQUIRE_FALSE(charge.ok());
  CHECK(charge.status().code() == StatusCode::provider_rejected);
  CHECK(charge.status().error_code() == "provider_rejected");
  CHECK_FALSE(charge.status().message().empty());
  CHECK(stripe.requests().size() == 1);
}

TEST_CASE("Stripe-Should-Retry false stops the retry of a 503") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    res.set_header("Stripe-Should-Retry", "false");
    answer_stripe_error(res, 503, "api_error", "", "Unavailable.");
  });
  StripeClient client(client_options(stripe.base_url()));
  const auto intent = client.create_payment_intent(donation_intent());
  REQUIRE_FALSE(intent.ok());
  CHECK(intent.status().code() == StatusCode::provider_unavailable);
  CHECK(intent.status().error_code() == "provider_unavailable");
  CHECK(stripe.requests().size() == 1);
}

TEST_CASE("a 409 is retried only when Stripe-Should-Retry says true") {
  SECTION("with Stripe-Should-Retry: true the retry succeeds") {
    ScriptedStripeServer stripe([](const SeenStripeRequest&, int call, httplib::Response& res) {
      if (call == 1) {
        res.set_header("Stripe-Should-Retry", "true");
        answer_stripe_error(res, 409, "idempotency_error", "lock_timeout", "Concurrent request.");
      } else {
        answer_json(res, 200, kPaymentIntentJson);
      }
    });
    StripeClient client(client_options(stripe.base_url()));
    CHECK(client.create_payment_intent(donation_intent()).ok());
    CHECK(stripe.requests().size() == 2);
  }
  SECTION("without the header it is a rejection after one request") {
    ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
      answer_stripe_error(res, 409, "idempotency_error", "idempotency_key_in_use",
                          "Keys for idempotent requests can only be used with the same parameters.");
    });
    StripeClient client(client_options(stripe.base_url()));
    const auto intent = client.create_payment_intent(donation_intent());
    REQUIRE_FALSE(intent.ok());
    CHECK(intent.status().code() == StatusCode::provider_rejected);
    CHECK(intent.status().error_code() == "provider_idempotency_key_in_use");
    CHECK(stripe.requests().size() == 1);
  }
}

TEST_CASE("Stripe-Should-Retry true does not make an ordinary 400 retryable") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    res.set_header("Stripe-Should-Retry", "true");
    answer_stripe_error(res, 400, "invalid_request_error", "parameter_missing", "Missing amount.");
  });
  StripeClient client(client_options(stripe.base_url()));
  CHECK_FALSE(client.create_payment_intent(donation_intent()).ok());
  CHECK(stripe.requests().size() == 1);
}

TEST_CASE("persistent 5xx ends as provider_unavailable after max_retries with jittered backoff") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_stripe_error(res, 502, "api_error", "", "Bad gateway.");
  });
  auto options = client_options(stripe.base_url());
  options.max_retries = 3;
  options.backoff_base_ms = 100;
  options.backoff_cap_ms = 250;
  std::vector<std::chrono::milliseconds> waits;
  options.sleep = [&waits](std::chrono::milliseconds delay) { waits.push_back(delay); };
  StripeClient client(options);

  const auto payouts = client.list_payouts({});
  REQUIRE_FALSE(payouts.ok());
  CHECK(payouts.status().code() == StatusCode::provider_unavailable);
  CHECK(stripe.requests().size() == 4);
  REQUIRE(waits.size() == 3);
  CHECK(waits[0].count() <= 100);  // base
  CHECK(waits[1].count() <= 200);  // base * 2
  CHECK(waits[2].count() <= 250);  // capped
  for (const auto wait : waits) CHECK(wait.count() >= 0);
}

TEST_CASE("a POST that hangs past the timeout is provider_timeout and is not retried") {
  ScriptedStripeServer* server = nullptr;
  ScriptedStripeServer stripe([&server](const SeenStripeRequest&, int, httplib::Response& res) {
    server->hang(std::chrono::milliseconds(2500));
    answer_json(res, 200, kPaymentIntentJson);
  });
  server = &stripe;
  auto options = client_options(stripe.base_url());
  options.timeout_ms = 300;
  StripeClient client(options);

  const auto start = std::chrono::steady_clock::now();
  const auto intent = client.create_payment_intent(donation_intent());
  const auto elapsed = millis_since(start);
  REQUIRE_FALSE(intent.ok());
  CHECK(intent.status().code() == StatusCode::provider_timeout);
  CHECK(intent.status().error_code() == "provider_timeout");
  CHECK(elapsed >= 250);
  CHECK(elapsed < 300 + 400);
  CHECK(stripe.requests().size() == 1);
}

TEST_CASE("a GET that hangs is retried within its budget, then provider_timeout") {
  ScriptedStripeServer* server = nullptr;
  ScriptedStripeServer stripe([&server](const SeenStripeRequest&, int, httplib::Response& res) {
    server->hang(std::chrono::milliseconds(2500));
    answer_json(res, 200, kPaymentIntentJson);
  });
  server = &stripe;
  auto options = client_options(stripe.base_url());
  options.timeout_ms = 200;
  options.max_retries = 1;
  StripeClient client(options);

  const auto start = std::chrono::steady_clock::now();
  const auto intent = client.retrieve_payment_intent("pi_3Test");
  REQUIRE_FALSE(intent.ok());
  CHECK(intent.status().code() == StatusCode::provider_timeout);
  CHECK(millis_since(start) < 2 * 200 + 400);
  CHECK(stripe.requests().size() == 2);
}

TEST_CASE("an unreachable Stripe is provider_unavailable") {
  ensure_curl_global_init();
  StripeClient client(client_options("http://127.0.0.1:" + std::to_string(unused_loopback_port())));
  const auto start = std::chrono::steady_clock::now();
  const auto intent = client.create_payment_intent(donation_intent());
  REQUIRE_FALSE(intent.ok());
  CHECK(intent.status().code() == StatusCode::provider_unavailable);
  CHECK(intent.status().error_code() == "provider_unavailable");
  CHECK(millis_since(start) < 1000);
}

TEST_CASE("a connection Stripe drops after reading a POST is retried, then outcome unknown") {
  // A raw socket "server" that reads each request and closes the connection without answering.
  ensure_curl_global_init();
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  REQUIRE(::listen(listener, 8) == 0);
  std::atomic<int> accepted{0};
  std::thread closer([&] {
    for (int i = 0; i < 3; ++i) {
      const int connection = ::accept(listener, nullptr, nullptr);
      if (connection < 0) return;
      ++accepted;
      char buffer[4096];
      (void)::recv(connection, buffer, sizeof buffer, 0);  // read the request, answer nothing
      ::close(connection);
    }
  });
  {
    StripeClient client(client_options("http://127.0.0.1:" + std::to_string(ntohs(address.sin_port))));
    const auto refund = client.create_refund({"pi_3Test", 1000, "requested_by_customer", {}, "refund-1"});
    REQUIRE_FALSE(refund.ok());
    CHECK(refund.status().code() == StatusCode::provider_timeout);
  }
  ::shutdown(listener, SHUT_RDWR);  // unblocks accept() if the client gave up early
  closer.join();
  ::close(listener);
  CHECK(accepted == 3);  // first attempt + max_retries, all with the same key
}

TEST_CASE("a 401 from Stripe is our misconfiguration: provider_unavailable, no retry") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_stripe_error(res, 401, "invalid_request_error", "",
                        std::string("Invalid API Key provided: ") + kStripeTestKey);
  });
  StripeClient client(client_options(stripe.base_url()));
  const auto intent = client.create_payment_intent(donation_intent());
  REQUIRE_FALSE(intent.ok());
  CHECK(intent.status().code() == StatusCode::provider_unavailable);
  CHECK(intent.status().message() == "payment provider rejected our credentials");
  CHECK(stripe.requests().size() == 1);
}

TEST_CASE("a POST without an Idempotency-Key is refused before anything is sent") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, kPaymentIntentJson);
  });
  StripeClient client(client_options(stripe.base_url()));
  auto request = donation_intent();
  request.idempotency_key.clear();
  const auto intent = client.create_payment_intent(request);
  REQUIRE_FALSE(intent.ok());
  CHECK(intent.status().code() == StatusCode::internal);
  CHECK(stripe.requests().empty());
}

TEST_CASE("sequential requests reuse pooled connections") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, kPaymentIntentJson);
  });
  auto options = client_options(stripe.base_url());
  options.pool_size = 2;
  StripeClient client(options);
  for (int i = 0; i < 20; ++i) REQUIRE(client.retrieve_payment_intent("pi_3Test").ok());

  std::set<int> client_ports;
  for (const auto& seen : stripe.requests()) client_ports.insert(seen.remote_port);
  CHECK(stripe.requests().size() == 20);
  CHECK(client_ports.size() <= 2);
}

TEST_CASE("concurrent callers share at most pool_size connections") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    answer_json(res, 200, kPaymentIntentJson);
  });
  auto options = client_options(stripe.base_url());
  options.pool_size = 3;
  StripeClient client(options);

  std::atomic<int> failures{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&client, &failures, t] {
      for (int i = 0; i < 10; ++i) {
        auto request = donation_intent();
        request.idempotency_key = "donation-" + std::to_string(t) + "-" + std::to_string(i);
        if (!client.create_payment_intent(request).ok()) ++failures;
      }
    });
  }
  for (auto& caller : callers) caller.join();

  CHECK(failures == 0);
  const auto requests = stripe.requests();
  CHECK(requests.size() == 80);
  std::set<int> client_ports;
  std::set<std::string> keys;
  for (const auto& seen : requests) {
    client_ports.insert(seen.remote_port);
    keys.insert(seen.idempotency_key);
  }
  CHECK(client_ports.size() <= 3);
  CHECK(keys.size() == 80);
}

TEST_CASE("the secret key never appears in a Status message or a log line") {
  std::ostringstream log_text;
  const auto previous_logger = spdlog::default_logger();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text);
  auto capture = std::make_shared<spdlog::logger>("stripe_key_leak_capture", sink);
  capture->set_level(spdlog::level::trace);
  spdlog::set_default_logger(capture);
  const auto previous_level = spdlog::get_level();
  spdlog::set_level(spdlog::level::trace);

  std::vector<std::string> messages;
  {
    ScriptedStripeServer stripe([](const SeenStripeRequest& seen, int, httplib::Response& res) {
      const std::string echo = "Invalid API Key provided: " + std::string(kStripeTestKey);
      if (seen.path == "/v1/payment_intents") {
        answer_stripe_error(res, 400, "invalid_request_error", "api_key_invalid", echo);
      } else if (seen.path == "/v1/charges/ch_other_key") {
        answer_stripe_error(res, 400, "invalid_request_error", "", "Key rk_live_OtherKey9 is wrong");
      } else if (seen.path == "/v1/refunds") {
        answer_stripe_error(res, 401, "invalid_request_error", "", echo);
      } else {
        answer_stripe_error(res, 500, "api_error", "", echo);
      }
    });
    StripeClient client(client_options(stripe.base_url()));
    messages.push_back(client.create_payment_intent(donation_intent()).status().message());
    messages.push_back(
        client.create_refund({"pi_3Test", std::nullopt, "", {}, "refund-1"}).status().message());
    messages.push_back(client.retrieve_charge("ch_1").status().message());
    const auto other_key = client.retrieve_charge("ch_other_key").status().message();
    CHECK(other_key == "Key [redacted] is wrong");
    messages.push_back(other_key);
  }
  {
    StripeClient client(client_options("http://127.0.0.1:" + std::to_string(unused_loopback_port())));
    messages.push_back(client.retrieve_charge("ch_1").status().message());
  }

  spdlog::set_default_logger(previous_logger);
  spdlog::set_level(previous_level);

  for (const auto& message : messages) {
    CHECK_FALSE(message.empty());
    CHECK(message.find(kStripeTestKey) == std::string::npos);
    CHECK(message.find("NeverLogThisKey") == std::string::npos);
  }
  CHECK(messages[0].find("[redacted]") != std::string::npos);
  const auto logs = log_text.str();
  CHECK_FALSE(logs.empty());
  CHECK(logs.find("NeverLogThisKey") == std::string::npos);
  CHECK(logs.find("secret_abc") == std::string::npos);  // no bodies either
}

TEST_CASE("a balance transaction keeps exchange_rate as Stripe's decimal text") {
  ScriptedStripeServer stripe([](const SeenStripeRequest& seen, int, httplib::Response& res) {
    const bool converted = seen.path == "/v1/balance_transactions/txn_fx";
    answer_json(res, 200,
                std::string(R"({"id":")") + (converted ? "txn_fx" : "txn_plain") +
                    R"(","object":"balance_transaction","amount":1234,"fee":66,"net":1168,)"
                    R"("currency":"usd","exchange_rate":)" +
                    (converted ? "1.10000000000000000001" : "null") +
                    R"(,"type":"charge","source":"ch_1","status":"pending","created":1767225600,)"
                    R"("available_on":1767830400,"reporting_category":"charge"})");
  });
  StripeClient client(client_options(stripe.base_url()));

  const auto converted = client.retrieve_balance_transaction("txn_fx");
  REQUIRE(converted.ok());
  CHECK(converted->exchange_rate == "1.10000000000000000001");
  CHECK(converted->amount_minor == 1234);
  CHECK(converted->fee_minor == 66);
  CHECK(converted->net_minor == 1168);
  CHECK(converted->currency == "USD");
  CHECK(converted->type == "charge");
  CHECK(converted->source == "ch_1");
  CHECK(converted->status == "pending");
  CHECK(converted->created == 1767225600);
  CHECK(converted->payout.empty());

  const auto plain = client.retrieve_balance_transaction("txn_plain");
  REQUIRE(plain.ok());
  CHECK(plain->exchange_rate.empty());
}

TEST_CASE("list_events sends the window, repeated types and the cursor, and returns event JSON") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, R"({"object":"list","url":"/v1/events","has_more":true,"data":[
      {"id":"evt_2","object":"event","type":"payment_intent.succeeded","created":1767225700,
       "data":{"object":{"id":"pi_1","object":"payment_intent","amount":5000}}},
      {"id":"evt_1","object":"event","type":"charge.refunded","created":1767225600,
       "data":{"object":{"id":"ch_1","object":"charge"}}}]})");
  });
  StripeClient client(client_options(stripe.base_url()));

  ListWindow window;
  window.created_gte = 1767225000;
  window.created_lt = 1767226000;
  window.starting_after = "evt_3";
  window.limit = 50;
  const auto page =
      client.list_events(window, {"payment_intent.succeeded", "charge.refunded"});
  REQUIRE(page.ok());
  CHECK(page->has_more);
  REQUIRE(page->data.size() == 2);
  const auto first = nlohmann::json::parse(page->data[0]);
  CHECK(first["id"] == "evt_2");
  CHECK(first["data"]["object"]["amount"] == 5000);

  const auto seen = stripe.requests().at(0);
  CHECK(seen.method == "GET");
  CHECK(seen.path == "/v1/events");
  CHECK(seen.idempotency_key.empty());
  CHECK(seen.authorization == std::string("Bearer ") + kStripeTestKey);
  const auto form = seen.form();
  CHECK(seen.form_value("created[gte]") == "1767225000");
  CHECK(seen.form_value("created[lt]") == "1767226000");
  CHECK(seen.form_value("starting_after") == "evt_3");
  CHECK(seen.form_value("limit") == "50");
  const auto types = form.equal_range("types[]");
  std::vector<std::string> sent_types;
  for (auto it = types.first; it != types.second; ++it) sent_types.push_back(it->second);
  CHECK(sent_types == std::vector<std::string>{"payment_intent.succeeded", "charge.refunded"});
}

TEST_CASE("list_balance_transactions filters by payout and tags each transaction with it") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, R"({"object":"list","has_more":false,"data":[
      {"id":"txn_1","object":"balance_transaction","amount":5000,"fee":175,"net":4825,
       "currency":"chf","exchange_rate":null,"type":"charge","source":"ch_1",
       "status":"available","created":1767225600},
      {"id":"txn_2","object":"balance_transaction","amount":-1000,"fee":0,"net":-1000,
       "currency":"chf","exchange_rate":0.9134,"type":"refund","source":{"id":"re_1"},
       "status":"available","created":1767225700}]})");
  });
  StripeClient client(client_options(stripe.base_url()));

  ListWindow window;
  window.limit = 1000;  // clamped to Stripe's maximum
  const auto page = client.list_balance_transactions(window, "po_1");
  REQUIRE(page.ok());
  CHECK_FALSE(page->has_more);
  REQUIRE(page->data.size() == 2);
  CHECK(page->data[0].payout == "po_1");
  CHECK(page->data[0].fee_minor == 175);
  CHECK(page->data[1].amount_minor == -1000);
  CHECK(page->data[1].source == "re_1");
  CHECK(page->data[1].exchange_rate == "0.9134");

  const auto seen = stripe.requests().at(0);
  CHECK(seen.path == "/v1/balance_transactions");
  CHECK(seen.form_value("payout") == "po_1");
  CHECK(seen.form_value("limit") == "100");
  CHECK(seen.form_value("created[gte]") == "<absent>");
}

TEST_CASE("list_payouts sends the window and reads payout fields") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, R"({"object":"list","has_more":false,"data":[
      {"id":"po_1","object":"payout","amount":482500,"currency":"chf","status":"paid",
       "arrival_date":1767398400,"created":1767225600}]})");
  });
  StripeClient client(client_options(stripe.base_url()));
  ListWindow window;
  window.created_gte = 1767225000;
  const auto page = client.list_payouts(window);
  REQUIRE(page.ok());
  REQUIRE(page->data.size() == 1);
  CHECK(page->data[0].id == "po_1");
  CHECK(page->data[0].amount_minor == 482500);
  CHECK(page->data[0].currency == "CHF");
  CHECK(page->data[0].status == "paid");
  CHECK(page->data[0].arrival_date == 1767398400);
  CHECK(page->data[0].created == 1767225600);
  const auto seen = stripe.requests().at(0);
  CHECK(seen.path == "/v1/payouts");
  CHECK(seen.form_value("created[gte]") == "1767225000");
  CHECK(seen.form_value("limit") == "100");
}

TEST_CASE("create_refund sends the payment intent, amount, reason and metadata") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, R"({"id":"re_1","object":"refund","amount":1000,"currency":"chf",
      "status":"succeeded","payment_intent":"pi_3Test","charge":"ch_1"})");
  });
  StripeClient client(client_options(stripe.base_url()));
  CreateRefund request;
  request.payment_intent = "pi_3Test";
  request.amount_minor = 1000;
  request.reason = "requested_by_customer";
  request.metadata = {{"refund_id", "rf_7"}};
  request.idempotency_key = "refund-rf_7";
  const auto refund = client.create_refund(request);
  REQUIRE(refund.ok());
  CHECK(refund->id == "re_1");
  CHECK(refund->status == "succeeded");
  CHECK(refund->amount_minor == 1000);
  CHECK(refund->currency == "CHF");
  CHECK(refund->charge == "ch_1");

  const auto seen = stripe.requests().at(0);
  CHECK(seen.path == "/v1/refunds");
  CHECK(seen.idempotency_key == "refund-rf_7");
  CHECK(seen.form().size() == 4);
  CHECK(seen.form_value("payment_intent") == "pi_3Test");
  CHECK(seen.form_value("amount") == "1000");
  CHECK(seen.form_value("reason") == "requested_by_customer");
  CHECK(seen.form_value("metadata[refund_id]") == "rf_7");
}

TEST_CASE("a full refund sends no amount and no reason") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, R"({"id":"re_2","amount":5000,"currency":"chf","status":"pending",
      "payment_intent":"pi_3Test","charge":{"id":"ch_1"}})");
  });
  StripeClient client(client_options(stripe.base_url()));
  const auto refund = client.create_refund({"pi_3Test", std::nullopt, "", {}, "refund-rf_8"});
  REQUIRE(refund.ok());
  CHECK(refund->charge == "ch_1");
  const auto seen = stripe.requests().at(0);
  CHECK(seen.form().size() == 1);
}

TEST_CASE("retrieve_charge reads ids of expanded objects and escapes the path id") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, R"({"id":"ch_1","object":"charge","amount":5000,"amount_refunded":1000,
      "currency":"eur","payment_intent":"pi_3Test",
      "balance_transaction":{"id":"txn_1","object":"balance_transaction"}})");
  });
  StripeClient client(client_options(stripe.base_url()));
  const auto charge = client.retrieve_charge("ch_1");
  REQUIRE(charge.ok());
  CHECK(charge->balance_transaction == "txn_1");
  CHECK(charge->payment_intent == "pi_3Test");
  CHECK(charge->amount_refunded_minor == 1000);
  CHECK(charge->currency == "EUR");

  REQUIRE(client.retrieve_charge("ch_1/../../v1/refunds").ok());
  const auto seen = stripe.requests().at(1);
  CHECK(seen.target == "/v1/charges/ch_1%2F..%2F..%2Fv1%2Frefunds");
}

TEST_CASE("an unreadable 2xx answer to a GET is provider_unavailable") {
  ScriptedStripeServer stripe([](const SeenStripeRequest&, int, httplib::Response& res) {
    answer_json(res, 200, R"({"object":"list","data":"nope"})");
  });
  StripeClient client(client_options(stripe.base_url()));
  const auto page = client.list_payouts({});
  REQUIRE_FALSE(page.ok());
  CHECK(page.status().code() == StatusCode::provider_unavailable);
}

TEST_CASE("stripe client refuses bad options at construction without echoing the key") {
  ensure_curl_global_init();
  auto options = client_options("ftp://127.0.0.1");
  CHECK_THROWS_AS(StripeClient(options), std::invalid_argument);
  options = client_options("http://127.0.0.1:1");
  options.secret_key = std::string("sk_test_bad\r\nX-Injected: 1");
  try {
    StripeClient client(options);
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& error) {
    CHECK(std::string(error.what()).find("sk_test_bad") == std::string::npos);
  }
  options = client_options("http://127.0.0.1:1");
  options.secret_key.clear();
  CHECK_THROWS_AS(StripeClient(options), std::invalid_argument);
}

TEST_CASE("over https the client verifies Stripe's certificate and reuses the TLS connection") {
  const LoopbackTestCertificate certificate;
  ScriptedStripeServer stripe(
      [](const SeenStripeRequest&, int, httplib::Response& res) {
        answer_json(res, 200, kPaymentIntentJson);
      },
      &certificate);
  REQUIRE(stripe.base_url().rfind("https://", 0) == 0);

  SECTION("trusted through ca_file: requests succeed over one connection") {
    auto options = client_options(stripe.base_url());
    options.ca_file = certificate.pem_path();
    options.connect_timeout_ms = 3000;
    options.timeout_ms = 5000;
    StripeClient client(options);
    for (int i = 0; i < 5; ++i) REQUIRE(client.retrieve_payment_intent("pi_3Test").ok());
    std::set<int> client_ports;
    for (const auto& seen : stripe.requests()) client_ports.insert(seen.remote_port);
    CHECK(stripe.requests().size() == 5);
    CHECK(client_ports.size() == 1);
  }
  SECTION("an untrusted certificate is refused before any request is sent, without retries") {
    std::vector<std::chrono::milliseconds> waits;
    auto options = client_options(stripe.base_url());
    // Loading the system CA store is slow under sanitizers: keep the handshake in budget.
    options.connect_timeout_ms = 3000;
    options.timeout_ms = 5000;
    options.sleep = [&waits](std::chrono::milliseconds delay) { waits.push_back(delay); };
    StripeClient client(options);  // system CA store only
    const auto intent = client.create_payment_intent(donation_intent());
    REQUIRE_FALSE(intent.ok());
    CHECK(intent.status().code() == StatusCode::provider_unavailable);
    CHECK(intent.status().message() == "payment provider's TLS certificate is not trusted");
    CHECK(stripe.requests().empty());
    CHECK(waits.empty());
  }
}
