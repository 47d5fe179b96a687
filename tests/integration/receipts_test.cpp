// Receipts end to end: numbering under concurrency on two real server processes, the e-mail
// with its PDF, refund documents, the admin and donor endpoints, resend, the annual statement,
// and the fee look-up from the Stripe emulator.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "src/receipts/receipt_service.hpp"
#include "support/process.hpp"
#include "support/service_fixture.hpp"
#include "support/webhook_client.hpp"
#include "webhooks/signature.hpp"
#include "support/helpers.hpp"

using namespace donatio::testing;
using nlohmann::json;

namespace {

// The body of the first MIME part with this content type.
std::string mime_part(const std::string& data, const std::string& content_type) {
  const auto type = data.find("Content-Type: " + content_type);
  if (type == std::string::npos) return "";
  const auto start = data.find("\r\n\r\n", type);
  const auto end = data.find("\r\n--", start);
  return data.substr(start + 4, end - start - 4);
}

std::string pdf_attachment(const std::string& data) { return decode_base64(mime_part(data, "application/pdf")); }
std::string text_body(const std::string& data) { return decode_quoted_printable(mime_part(data, "text/plain")); }

std::string pdf_text(const std::string& pdf) {
  TempDir dir;
  const std::string path = dir.path() + "/doc.pdf";
  std::ofstream(path, std::ios::binary) << pdf;
  std::string out;
  FILE* p = ::popen(("pdftotext -layout " + path + " - 2>/dev/null").c_str(), "r");
  REQUIRE(p != nullptr);
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, p)) > 0) out.append(buffer, n);
  ::pclose(p);
  return out;
}

// The Subject header, unfolded (long ASCII subjects are folded at a space: CRLF + space).
std::string subject_of(const std::string& data) {
  const auto at = data.find("Subject: ") + 9;
  auto end = data.find("\r\n", at);
  while (end != std::string::npos && end + 2 < data.size() && (data[end + 2] == ' ' || data[end + 2] == '\t')) {
    end = data.find("\r\n", end + 2);
  }
  std::string value = data.substr(at, end - at), out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value.compare(i, 2, "\r\n") == 0) ++i;  // unfolding removes the CRLF, keeps the space
    else out += value[i];
  }
  if (out.rfind("=?UTF-8?B?", 0) != 0) return out;
  // RFC 2047 encoded-words (used when the subject does not fit on one line); the spaces
  // between them are not part of the text.
  std::string decoded;
  for (std::size_t pos = out.find("=?UTF-8?B?"); pos != std::string::npos; pos = out.find("=?UTF-8?B?", pos)) {
    const auto end = out.find("?=", pos + 10);
    decoded += decode_base64(out.substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return decoded;
}

// The fixture's Stripe client would otherwise talk to api.stripe.com for fee look-ups.
void no_real_stripe(donatio::Config& c) { c.stripe.api_base = "http://127.0.0.1:1"; }

httplib::Result succeed(ServiceFixture& fx, const std::string& n, std::int64_t amount, const std::string& currency,
                        const std::string& campaign, const std::string& email = "donor@example.org",
                        const std::string& charge = "") {
  std::map<std::string, std::string> meta;
  if (!campaign.empty()) meta["campaign"] = campaign;
  auto event = json::parse(payment_intent_event("evt_" + n, "payment_intent.succeeded", "pi_" + n, amount, currency, meta,
                                                fx.clock().now_unix(), charge));
  event["data"]["object"]["receipt_email"] = email;
  return post_signed(fx, event.dump());
}

}  // namespace

TEST_CASE("a succeeded donation gets one e-mail with its PDF receipt and a signed link") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.configure = no_real_stripe, .smtp_sink = true, .outbox_poll_ms = 20});
      fx.create_campaign("flood-relief-2026", "CHF");
      REQUIRE(succeed(fx, "m1", 5000, "chf", "flood-relief-2026")->status == 200);
      REQUIRE(fx.smtp().wait_for(1, std::chrono::seconds(15)));
      const auto mail = fx.smtp().messages()[0];
      CHECK(mail.rcpt_to == std::vector<std::string>{"donor@example.org"});
      CHECK(contains(mail.data, "Message-ID: <outbox-1@donatio>"));
      CHECK(contains(mail.data, "multipart/alternative"));
      CHECK(subject_of(mail.data) == "Your donation receipt CPI-2027-000001");
      const std::string text = pdf_text(pdf_attachment(mail.data));
      CHECK(contains(text, "CPI-2027-000001"));
      CHECK(contains(text, "CyberPeace Example Foundation"));
      CHECK(contains(text, "CHE-000.000.000"));
      CHECK(contains(text, "CHF 50.00"));
      CHECK(contains(text, "Campaign flood-relief-2026"));
      CHECK(contains(text, "pi_m1"));
      CHECK(contains(text, "No goods or services were provided"));
      REQUIRE(eventually([&] { return query_string(fx, "SELECT status FROM outbox WHERE id = 1") == "done"; }));

      // The donor's link: https://HOST:PORT/v1/receipts/NUMBER.pdf?token=HEX
      const std::string body = text_body(mail.data);
      const std::string prefix = "https://127.0.0.1:" + std::to_string(fx.port());
      const auto at = body.find(prefix + "/v1/receipts/CPI-2027-000001.pdf?token=");
      REQUIRE(at != std::string::npos);
      const auto end = body.find_first_of(" \r\n>\"", at);
      const std::string path = body.substr(at + prefix.size(), end - at - prefix.size());
      auto good = fx.client().Get(path);
      REQUIRE(good->status == 200);
      CHECK(good->get_header_value("Content-Type") == "application/pdf");
      CHECK(contains(pdf_text(good->body), "CPI-2027-000001"));
      std::string tampered = path;
      tampered.back() = tampered.back() == '0' ? '1' : '0';
      auto bad = fx.client().Get(tampered);
      CHECK(bad->status == 404);
      CHECK(fx.client().Get("/v1/receipts/CPI-2027-000001.pdf")->status == 404);
      // A correctly signed link to a number that does not exist looks exactly the same.
      donatio::receipts::ReceiptLinks links("", "receipt-secret-for-tests");
      auto unknown = fx.client().Get("/v1/receipts/CPI-2027-000999.pdf?token=" + links.token("CPI-2027-000999"));
      CHECK(unknown->status == 404);
      CHECK(unknown->body == bad->body);
    }
  }
}

TEST_CASE("receipt JSON and PDF for finance, 401 without a token, 403 for resend as finance, 404 unknown") {
  ServiceFixture fx(Backend::sqlite, {.configure = no_real_stripe});
  REQUIRE(succeed(fx, "j1", 2500, "eur", "", "ana@example.org")->status == 200);
  const auto finance = fx.token("finance", "fin-1");
  auto res = fx.client().Get("/v1/admin/receipts/CPI-2027-000001", bearer(finance));
  REQUIRE(res->status == 200);
  auto r = json::parse(res->body);
  CHECK(r["number"] == "CPI-2027-000001");
  CHECK(r["kind"] == "receipt");
  CHECK(r["references"].is_null());
  CHECK(r["amount"] == 2500);
  CHECK(r["currency"] == "EUR");
  CHECK(r["issued_at"] == "2027-01-01T00:00:00Z");
  CHECK(r["donor"]["email"] == "ana@example.org");
  CHECK(r["campaign"].is_null());
  CHECK(r["campaign_title"] == "General fund");
  CHECK(r["donation_id"].get<std::string>().rfind("don_", 0) == 0);

  auto pdf = fx.client().Get("/v1/admin/receipts/CPI-2027-000001.pdf", bearer(finance));
  REQUIRE(pdf->status == 200);
  CHECK(pdf->get_header_value("Content-Type") == "application/pdf");
  const auto text = pdf_text(pdf->body);
  CHECK(contains(text, "CPI-2027-000001"));
  CHECK(contains(text, "General fund"));
  auto headers = bearer(finance);
  headers.emplace("Accept", "application/pdf");
  auto accept = fx.client().Get("/v1/admin/receipts/CPI-2027-000001", headers);
  CHECK(accept->get_header_value("Content-Type") == "application/pdf");
  CHECK(accept->body.rfind("%PDF-", 0) == 0);

  CHECK(fx.client().Get("/v1/admin/receipts/CPI-2027-000001")->status == 401);
  CHECK(fx.client().Get("/v1/admin/receipts/CPI-2027-000001", bearer("not-a-token"))->status == 401);
  CHECK(fx.client().Get("/v1/admin/receipts/CPI-2027-000002", bearer(finance))->status == 404);
  CHECK(fx.client().Get("/v1/admin/receipts/CPI-2027-000002.pdf", bearer(finance))->status == 404);
  CHECK(fx.client().Post("/v1/admin/receipts/CPI-2027-000001/resend", bearer(finance), "{}", "application/json")->status == 403);
  const auto admin = fx.token("admin");
  CHECK(fx.client().Post("/v1/admin/receipts/CPI-2027-000002/resend", bearer(admin), "{}", "application/json")->status == 404);
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE action = 'receipt.resent'") == 0);
}

TEST_CASE("resend queues a copy marked DUPLICATE, audited, the CLI does the same") {
  ServiceFixture fx(Backend::sqlite, {.configure = no_real_stripe, .smtp_sink = true, .outbox_poll_ms = 20});
  REQUIRE(succeed(fx, "d1", 5000, "chf", "")->status == 200);
  REQUIRE(fx.smtp().wait_for(1, std::chrono::seconds(15)));
  const auto admin = fx.token("admin", "alice-admin");
  auto res = fx.client().Post("/v1/admin/receipts/CPI-2027-000001/resend", bearer(admin), "{}", "application/json");
  REQUIRE(res->status == 202);
  CHECK(json::parse(res->body)["status"] == "queued");
  REQUIRE(fx.smtp().wait_for(2, std::chrono::seconds(15)));
  const auto copy = fx.smtp().messages()[1].data;
  CHECK(subject_of(copy) == "Your donation receipt CPI-2027-000001 (duplicate)");
  const auto text = pdf_text(pdf_attachment(copy));
  CHECK(contains(text, "DUPLICATE"));
  CHECK(contains(text, "CPI-2027-000001"));
  CHECK_FALSE(contains(pdf_text(pdf_attachment(fx.smtp().messages()[0].data)), "DUPLICATE"));
  CHECK(query_string(fx, "SELECT actor FROM audit_log WHERE action = 'receipt.resent'") == "alice-admin");
  CHECK(query_string(fx, "SELECT target FROM audit_log WHERE action = 'receipt.resent'") == "CPI-2027-000001");

  // donatio receipts resend NUMBER --config F, against the same database.
  const std::string config_path = fx.dir().path() + "/cli.toml";
  std::ofstream(config_path) << "[database]\nurl = \"" << fx.config().database.url << "\"\n"
                             << "[organization]\nname = \"X\"\n";
  auto cli = run_donatio({"receipts", "resend", "CPI-2027-000001", "--config", config_path});
  INFO(cli.err);
  CHECK(cli.exit_code == 0);
  REQUIRE(fx.smtp().wait_for(3, std::chrono::seconds(15)));
  CHECK(contains(subject_of(fx.smtp().messages()[2].data), "(duplicate)"));
  CHECK(count_rows(fx, "SELECT COUNT(*) FROM audit_log WHERE action = 'receipt.resent'") == 2);
  CHECK(run_donatio({"receipts", "resend", "CPI-2027-000042", "--config", config_path}).exit_code == 1);
}

TEST_CASE("refunds: the amended receipt and the void notice are mailed and reference the original") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.configure = no_real_stripe, .smtp_sink = true, .outbox_poll_ms = 20});
      const auto t = fx.clock().now_unix();
      REQUIRE(succeed(fx, "r1", 5000, "chf", "", "donor@example.org", "ch_r1")->status == 200);
      REQUIRE(post_signed(fx, charge_refunded_event("evt_rf1", "ch_r1", "pi_r1", 5000, 2000, "chf", t))->status == 200);
      REQUIRE(post_signed(fx, charge_refunded_event("evt_rf2", "ch_r1", "pi_r1", 5000, 5000, "chf", t))->status == 200);
      REQUIRE(fx.smtp().wait_for(3, std::chrono::seconds(20)));
      std::map<std::string, std::string> by_subject;
      for (const auto& m : fx.smtp().messages()) by_subject[subject_of(m.data)] = pdf_text(pdf_attachment(m.data));
      REQUIRE(by_subject.size() == 3);
      const auto amended = by_subject.find("Your amended donation receipt CPI-2027-000002 (replaces CPI-2027-000001)");
      REQUIRE(amended != by_subject.end());
      CHECK(contains(amended->second, "CPI-2027-000002"));
      CHECK(contains(amended->second, "CPI-2027-000001"));
      CHECK(contains(amended->second, "CHF 30.00"));
      const auto voided = by_subject.find("Void notice CPI-2027-000003 for your donation receipt CPI-2027-000001");
      REQUIRE(voided != by_subject.end());
      CHECK(contains(voided->second, "CPI-2027-000003"));
      CHECK(contains(voided->second, "CPI-2027-000001"));
      const auto finance = fx.token("finance");
      auto r = json::parse(fx.client().Get("/v1/admin/receipts/CPI-2027-000003", bearer(finance))->body);
      CHECK(r["kind"] == "void");
      CHECK(r["references"] == "CPI-2027-000001");
    }
  }
}

TEST_CASE("the annual statement lists every gift of the donor net of refunds, with totals per currency") {
  ServiceFixture fx(Backend::sqlite, {.configure = no_real_stripe});
  fx.create_campaign("flood-relief-2026", "CHF");
  const auto t = fx.clock().now_unix();
  REQUIRE(succeed(fx, "a1", 5000, "chf", "flood-relief-2026", "Mia@Example.org")->status == 200);   // 000001
  REQUIRE(succeed(fx, "a2", 2000, "chf", "", "mia@example.org", "ch_a2")->status == 200);            // 000002
  REQUIRE(succeed(fx, "a3", 1500, "eur", "", "mia@example.org")->status == 200);                     // 000003
  REQUIRE(succeed(fx, "a4", 9900, "chf", "", "someone.else@example.org")->status == 200);            // 000004
  REQUIRE(succeed(fx, "a5", 700, "chf", "", "mia@example.org", "ch_a5")->status == 200);             // 000005
  REQUIRE(post_signed(fx, charge_refunded_event("evt_ra2", "ch_a2", "pi_a2", 2000, 500, "chf", t))->status == 200);
  REQUIRE(post_signed(fx, charge_refunded_event("evt_ra5", "ch_a5", "pi_a5", 700, 700, "chf", t))->status == 200);
  const auto finance = fx.token("finance");
  auto res = fx.client().Get("/v1/admin/donors/mia@example.org/statement?year=2027", bearer(finance));
  REQUIRE(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/pdf");
  const auto text = pdf_text(res->body);
  CHECK(contains(text, "CPI-2027-000001"));
  CHECK(contains(text, "CPI-2027-000002"));
  CHECK(contains(text, "CPI-2027-000003"));
  CHECK_FALSE(contains(text, "CPI-2027-000004"));  // another donor
  CHECK_FALSE(contains(text, "CPI-2027-000005"));  // fully refunded: voided, not a gift
  CHECK(contains(text, "CHF 15.00"));              // 20.00 net of the 5.00 refund
  CHECK(contains(text, "CHF 65.00"));              // total CHF: 50.00 + 15.00
  CHECK(contains(text, "EUR 15.00"));              // total EUR, never added to CHF
  CHECK(fx.client().Get("/v1/admin/donors/mia@example.org/statement?year=2026", bearer(finance))->status == 404);
  CHECK(fx.client().Get("/v1/admin/donors/mia@example.org/statement?year=twenty", bearer(finance))->status == 400);
  CHECK(fx.client().Get("/v1/admin/donors/mia@example.org/statement?year=2027")->status == 401);

  // donatio receipts annual --year 2027 --out DIR: one file per donor.
  const std::string config_path = fx.dir().path() + "/cli.toml";
  std::ofstream(config_path) << "[database]\nurl = \"" << fx.config().database.url << "\"\n"
                             << "[organization]\nname = \"CyberPeace Example Foundation\"\n";
  const std::string out = fx.dir().path() + "/statements";
  auto cli = run_donatio({"receipts", "annual", "--config", config_path, "--year", "2027", "--out", out});
  INFO(cli.err);
  REQUIRE(cli.exit_code == 0);
  CHECK(std::filesystem::exists(out + "/statement-2027-mia@example.org.pdf"));
  CHECK(std::filesystem::exists(out + "/statement-2027-someone.else@example.org.pdf"));
  std::ifstream in(out + "/statement-2027-mia@example.org.pdf", std::ios::binary);
  const std::string pdf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(contains(pdf_text(pdf), "CHF 65.00"));
  auto one = run_donatio({"receipts", "annual", "--config", config_path, "--year", "2027", "--donor",
                          "someone.else@example.org", "--out", out + "/one"});
  CHECK(one.exit_code == 0);
  CHECK(contains(one.out, "statement-2027-someone.else@example.org.pdf"));
}

TEST_CASE("the balance_transaction outbox row fills fee and net from the Stripe emulator") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend, {.stripe_emulator = true, .outbox_poll_ms = 20});
      fx.create_campaign("flood-relief-2026", "CHF");
      auto created = fx.client().Post("/v1/donations", R"({"campaign":"flood-relief-2026","amount":5000,"currency":"CHF",
        "donor":{"email":"fee@example.org","name":"Fee Test"}})", "application/json");
      REQUIRE(created->status == 201);
      auto donation = json::parse(created->body);
      REQUIRE(fx.stripe().confirm(donation["payment_intent"]));
      REQUIRE(fx.stripe().wait_for_deliveries(std::chrono::seconds(10)));
      const std::string id = donation["id"];
      REQUIRE(eventually([&] {
        return query_string(fx, "SELECT status FROM outbox WHERE kind = 'balance_transaction'") == "done";
      }));
      const auto finance = fx.token("finance");
      auto d = json::parse(fx.client().Get("/v1/admin/donations/" + id, bearer(finance))->body);
      CHECK(d["fee"] == 175);
      CHECK(d["net"] == 4825);
      CHECK(d["settlement_currency"] == "CHF");
      CHECK(query_string(fx, "SELECT balance_transaction_id FROM donations").rfind("txn_", 0) == 0);
    }
  }
}

namespace {

// Posts `count` signed payment_intent.succeeded events from 32 threads, spread over `ports`.
void post_concurrently(const std::vector<int>& ports, int count) {
  const auto t = donatio::SystemClock().now_unix();
  std::atomic<int> next{0}, ok{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 32; ++w) {
    workers.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        const std::string n = std::to_string(i);
        const auto body = payment_intent_event("evt_n" + n, "payment_intent.succeeded", "pi_n" + n, 1000 + i, "chf", {}, t);
        httplib::Client cli("http://127.0.0.1:" + std::to_string(ports[static_cast<std::size_t>(i) % ports.size()]));
        cli.set_read_timeout(30);
        httplib::Headers h{{"Stripe-Signature", donatio::webhooks::sign_header(ServiceFixture::kWebhookSecret, t, body)}};
        for (int attempt = 0; attempt < 3; ++attempt) {  // as Stripe would, on a 5xx or a reset
          auto res = cli.Post("/webhooks/stripe", h, body, "application/json");
          if (res && res->status == 200) {
            ++ok;
            break;
          }
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(ok == count);
}

void check_contiguous(const std::string& url, int count) {
  donatio::DatabaseConfig c;
  c.url = url;
  c.pool_size = 1;
  auto db = donatio::store::Database::open(c);
  REQUIRE(db.ok());
  long long rows = 0, distinct = 0, low = 0, high = 0;
  REQUIRE((*db)->read([&](soci::session& sql) {
    sql << "SELECT COUNT(*), COUNT(DISTINCT number), MIN(sequence), MAX(sequence) FROM receipts", soci::into(rows),
        soci::into(distinct), soci::into(low), soci::into(high);
    return donatio::Status::Ok();
  }).ok());
  CHECK(rows == count);
  CHECK(distinct == count);
  CHECK(low == 1);
  CHECK(high == count);
}

}  // namespace

TEST_CASE("300 concurrent successes get receipt numbers 1..300: two server processes on PostgreSQL, one on SQLite") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      TestDatabase database(backend);
      TempDir dir;
      const int instances = backend == Backend::postgresql ? 2 : 1;
      std::vector<int> ports;
      std::vector<std::unique_ptr<DonatioProcess>> servers;
      for (int k = 0; k < instances; ++k) {
        ports.push_back(free_port());
        const std::string config = dir.path() + "/server" + std::to_string(k) + ".toml";
        std::ofstream(config) << "[server]\nlisten = \"127.0.0.1:" << ports.back() << "\"\ntls = false\nlog_level = \"warn\"\n"
                              << "threads = 40\n[database]\nurl = \"" << database.url() << "\"\npool_size = 8\n"
                              << "[organization]\nname = \"CyberPeace Example Foundation\"\nreceipt_prefix = \"CPI-\"\n"
                              << "[smtp]\nenabled = false\n";
        servers.push_back(std::make_unique<DonatioProcess>(
            std::vector<std::string>{"serve", "--config", config},
            std::map<std::string, std::string>{{"STRIPE_WEBHOOK_SECRETS", ServiceFixture::kWebhookSecret},
                                               {"STRIPE_SECRET_KEY", ""},
                                               {"DONATIO_RECEIPT_SECRET", "test-secret"}},
            dir.path() + "/server" + std::to_string(k) + ".log"));
        // The first one migrates alone; the second finds the schema current.
        REQUIRE(wait_until_healthy(ports.back(), 20000));
      }
      post_concurrently(ports, 300);
      check_contiguous(database.url(), 300);
      for (auto& s : servers) {
        s->signal(SIGTERM);
        CHECK(s->wait(15000) == 0);
      }
    }
  }
}
