// Finance reports over real HTTP against SQLite and PostgreSQL: summary (JSON/CSV), the streamed
// donation export, reconciliation against the Stripe emulator, the CLI, and the pure matching.
//
// The ledger is seeded with SQL straight into the donations/refunds tables (and the summary's
// daily totals); tests/integration/daily_totals_test.cpp builds one through the webhook path.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include "donatio/clock.hpp"
#include "donatio/money.hpp"
#include "src/reports/csv.hpp"
#include "src/reports/donation_export.hpp"
#include "src/reports/reconciliation.hpp"
#include "src/reports/reconciliation_source.hpp"
#include "src/reports/summary.hpp"
#include "src/store/daily_totals.hpp"
#include "src/store/row.hpp"
#include "src/stripe/emulator.hpp"
#include "src/stripe/stripe_client.hpp"
#include "support/service_fixture.hpp"
#include "support/helpers.hpp"

using namespace donatio;
using namespace donatio::testing;
using nlohmann::json;

namespace {

struct SeedDonation {
  std::string id;
  std::string campaign;  // slug, "" = unattributed
  std::string status = "succeeded";
  std::int64_t amount = 0;
  std::string currency;
  std::optional<std::int64_t> fee;
  std::optional<std::int64_t> net;
  std::int64_t refunded = 0;
  std::int64_t disputed = 0;
  std::int64_t created_at = 0;
  std::optional<std::int64_t> succeeded_at;  // default: created_at + 5 when money moved
  std::string settlement_currency;
  std::string charge_id;
  std::string payment_intent_id;
  std::string receipt_number;
  std::string donor_email = "donor@example.org";
};

void seed_campaign(ServiceFixture& fx, const std::string& slug, const std::string& currency) {
  REQUIRE(fx.service().database().transaction([&](soci::session& sql) {
    const long long goal = 100000000, t = at("2026-01-01");
    const std::string title = "Title of " + slug;  // SOCI binds by reference: no temporaries
    sql << "INSERT INTO campaigns (slug, title, category, currency, goal_amount, starts_at, created_at, updated_at) "
           "VALUES (:s, :title, 'humanitarian', :c, :g, :t1, :t2, :t3)",
        soci::use(slug), soci::use(title), soci::use(currency), soci::use(goal), soci::use(t),
        soci::use(t), soci::use(t);
    return Status::Ok();
  }).ok());
}

void seed(ServiceFixture& fx, const SeedDonation& d) {
  Status s = fx.service().database().transaction([&](soci::session& sql) {
    long long campaign_id = 0;
    soci::indicator campaign_ind = soci::i_null;
    if (!d.campaign.empty()) {
      soci::rowset<soci::row> rows = (sql.prepare << "SELECT id FROM campaigns WHERE slug = :s", soci::use(d.campaign));
      for (const auto& r : rows) campaign_id = store::i64(r, 0);
      campaign_ind = soci::i_ok;
    }
    const long long amount = d.amount, refunded = d.refunded, disputed = d.disputed, created = d.created_at;
    long long fee = d.fee.value_or(0), net = d.net.value_or(0);
    soci::indicator fee_ind = d.fee ? soci::i_ok : soci::i_null, net_ind = d.net ? soci::i_ok : soci::i_null;
    const bool moved = d.status != "pending" && d.status != "failed" && d.status != "canceled" &&
                       d.status != "processing";
    long long succeeded = d.succeeded_at.value_or(d.created_at + 5);
    soci::indicator succeeded_ind = moved ? soci::i_ok : soci::i_null;
    std::string settlement = d.settlement_currency, charge = d.charge_id, pi = d.payment_intent_id,
                receipt = d.receipt_number;
    soci::indicator settlement_ind = settlement.empty() ? soci::i_null : soci::i_ok;
    soci::indicator charge_ind = charge.empty() ? soci::i_null : soci::i_ok;
    soci::indicator pi_ind = pi.empty() ? soci::i_null : soci::i_ok;
    soci::indicator receipt_ind = receipt.empty() ? soci::i_null : soci::i_ok;
    sql << "INSERT INTO donations (id, campaign_id, status, amount, gift_amount, currency, donor_email, "
           "payment_intent_id, charge_id, amount_refunded, disputed_amount, fee, net, settlement_currency, "
           "receipt_number, created_at, updated_at, succeeded_at) VALUES (:id, :campaign, :status, :amount, :gift, "
           ":currency, :email, :pi, :charge, :refunded, :disputed, :fee, :net, :settlement, :receipt, :created, "
           ":updated, :succeeded)",
        soci::use(d.id), soci::use(campaign_id, campaign_ind), soci::use(d.status), soci::use(amount),
        soci::use(amount), soci::use(d.currency), soci::use(d.donor_email), soci::use(pi, pi_ind),
        soci::use(charge, charge_ind), soci::use(refunded), soci::use(disputed), soci::use(fee, fee_ind),
        soci::use(net, net_ind), soci::use(settlement, settlement_ind), soci::use(receipt, receipt_ind),
        soci::use(created), soci::use(created), soci::use(succeeded, succeeded_ind);
    // Like every writer of donations, the seed moves the summary's daily totals with the row.
    store::SummaryInputs inputs;
    if (!d.campaign.empty()) inputs.campaign_id = campaign_id;
    inputs.currency = d.currency;
    inputs.status = d.status;
    inputs.created_at = d.created_at;
    inputs.amount = d.amount;
    inputs.amount_refunded = d.refunded;
    inputs.disputed_amount = d.disputed;
    inputs.fee = d.fee;
    inputs.net = d.net;
    if (!settlement.empty()) inputs.settlement_currency = settlement;
    store::Sql totals(sql, fx.service().database().dialect());
    store::apply_totals_change(totals, std::nullopt, inputs);
    return Status::Ok();
  });
  INFO(s.message());
  REQUIRE(s.ok());
}

void seed_refund(ServiceFixture& fx, const std::string& id, const std::string& donation_id, std::int64_t amount,
                 const std::string& currency, const std::string& stripe_refund_id, const std::string& status) {
  REQUIRE(fx.service().database().transaction([&](soci::session& sql) {
    const long long a = amount, t = at("2026-11-20");
    sql << "INSERT INTO refunds (id, donation_id, amount, currency, status, stripe_refund_id, created_at, updated_at) "
           "VALUES (:id, :d, :a, :c, :s, :r, :t1, :t2)",
        soci::use(id), soci::use(donation_id), soci::use(a), soci::use(currency), soci::use(status),
        soci::use(stripe_refund_id), soci::use(t), soci::use(t);
    return Status::Ok();
  }).ok());
}

// The summary/export data set: two campaigns, five currencies (JPY 0 decimals, BHD 3),
// refunds, disputes, a cross-currency settlement, unattributed donations, rows on both edges.
void seed_ledger(ServiceFixture& fx) {
  seed_campaign(fx, "flood", "CHF");
  seed_campaign(fx, "cyber", "BHD");
  const std::int64_t t = at("2026-11-02T10:00:00Z");
  seed(fx, {.id = "d01", .campaign = "flood", .amount = 5000, .currency = "CHF", .fee = 175, .net = 4825,
            .created_at = t, .receipt_number = "CPI-2026-000001", .donor_email = "=HYPERLINK(\"http://evil\",\"x\")"});
  seed(fx, {.id = "d02", .campaign = "flood", .status = "partially_refunded", .amount = 10000, .currency = "CHF",
            .fee = 320, .net = 9680, .refunded = 3000, .created_at = t + 60, .donor_email = "+41 44 000@example.org"});
  seed(fx, {.id = "d03", .campaign = "flood", .status = "pending", .amount = 7000, .currency = "CHF",
            .created_at = t + 120, .donor_email = "-minus@example.org"});
  seed(fx, {.id = "d04", .campaign = "flood", .status = "refunded", .amount = 2000, .currency = "CHF", .fee = 88,
            .net = 1912, .refunded = 2000, .created_at = t + 120, .donor_email = "@at@example.org"});
  seed(fx, {.id = "d05", .campaign = "flood", .amount = 5000, .currency = "JPY", .fee = 175, .net = 4825,
            .created_at = t + 120, .donor_email = "\ttab@example.org"});
  seed(fx, {.id = "d06", .campaign = "cyber", .amount = 1250, .currency = "BHD", .fee = 66, .net = 1184,
            .created_at = t + 3600, .donor_email = "a,\"b\"\r\nc@example.org"});
  seed(fx, {.id = "d07", .campaign = "cyber", .status = "disputed", .amount = 20000, .currency = "BHD", .fee = 610,
            .net = 19390, .disputed = 20000, .created_at = t + 7200});
  seed(fx, {.id = "d08", .campaign = "cyber", .status = "lost", .amount = 3000, .currency = "BHD", .disputed = 3000,
            .created_at = t + 7300});
  seed(fx, {.id = "d09", .amount = 10000, .currency = "USD", .fee = 320, .net = 9680, .created_at = t + 86400});
  seed(fx, {.id = "d10", .amount = 4000, .currency = "EUR", .fee = 150, .net = 4200, .created_at = t + 86500,
            .settlement_currency = "USD"});
  seed(fx, {.id = "d11", .campaign = "flood", .amount = 999, .currency = "CHF", .created_at = at("2026-11-01") - 1});
  seed(fx, {.id = "d12", .campaign = "flood", .amount = 777, .currency = "CHF", .created_at = at("2026-12-01")});
  seed(fx, {.id = "d13", .campaign = "flood", .status = "failed", .amount = 1234, .currency = "CHF",
            .created_at = t + 200});
}

constexpr const char* kPeriod = "from=2026-11-01&to=2026-12-01";

const json* find_row(const json& rows, const json& campaign, const std::string& currency) {
  for (const auto& r : rows) {
    if (r["campaign"] == campaign && r["currency"] == currency) return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("summary sums per campaign and currency over the half-open period, money that moved only") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      seed_ledger(fx);
      const auto finance = fx.token("finance");
      auto doc = get_json(fx, finance, std::string("/v1/admin/reports/summary?") + kPeriod, 200);
      CHECK(doc["from"] == "2026-11-01T00:00:00Z");
      CHECK(doc["to"] == "2026-12-01T00:00:00Z");
      const auto& rows = doc["rows"];
      REQUIRE(rows.size() == 5);
      CHECK(rows[0]["campaign"] == "cyber");  // ordered by slug, unattributed last
      CHECK(rows[4]["campaign"].is_null());

      const json* chf = find_row(rows, "flood", "CHF");
      REQUIRE(chf);
      CHECK((*chf)["count"] == 3);  // d01, d02, d04: not pending d03, failed d13, nor d11/d12 outside
      CHECK((*chf)["gross"] == 17000);
      CHECK((*chf)["fees"] == 583);
      CHECK((*chf)["net"] == 16417);
      CHECK((*chf)["refunded"] == 5000);
      CHECK((*chf)["disputed"] == 0);
      CHECK((*chf)["fees_excluded"] == 0);

      const json* jpy = find_row(rows, "flood", "JPY");
      REQUIRE(jpy);
      CHECK((*jpy)["count"] == 1);
      CHECK((*jpy)["gross"] == 5000);

      const json* bhd = find_row(rows, "cyber", "BHD");
      REQUIRE(bhd);
      CHECK((*bhd)["count"] == 3);
      CHECK((*bhd)["gross"] == 24250);
      CHECK((*bhd)["fees"] == 676);
      CHECK((*bhd)["net"] == 20574);
      CHECK((*bhd)["disputed"] == 23000);
      CHECK((*bhd)["fees_excluded"] == 1);  // d08: fee unknown

      const json* eur = find_row(rows, nullptr, "EUR");
      REQUIRE(eur);
      CHECK((*eur)["gross"] == 4000);
      CHECK((*eur)["fees"] == 0);  // settled in USD: never added to EUR
      CHECK((*eur)["fees_excluded"] == 1);
      const json* usd = find_row(rows, nullptr, "USD");
      REQUIRE(usd);
      CHECK((*usd)["fees"] == 320);

      std::map<std::string, std::int64_t> gross;
      for (const auto& t : doc["totals"]) gross[t["currency"]] = t["gross"];
      CHECK(gross == std::map<std::string, std::int64_t>{
                         {"BHD", 24250}, {"CHF", 17000}, {"EUR", 4000}, {"JPY", 5000}, {"USD", 10000}});
    }
  }
}

TEST_CASE("summary CSV has major units per currency exponent and totals equal the rows") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      seed_ledger(fx);
      auto res = fx.client().Get((std::string("/v1/admin/reports/summary?format=csv&") + kPeriod).c_str(),
                                 bearer(fx.token("admin")));
      REQUIRE(res);
      REQUIRE(res->status == 200);
      CHECK(res->get_header_value("Content-Type").rfind("text/csv", 0) == 0);
      CHECK(res->body.find("\r\n") != std::string::npos);
      auto rows = reports::parse_csv(res->body);
      REQUIRE(rows.size() == 1 + 5 + 5);
      CHECK(rows[0] == std::vector<std::string>{"campaign", "currency", "count", "gross", "fees", "net", "refunded",
                                                "disputed", "fees_excluded"});
      CHECK(rows[1] == std::vector<std::string>{"cyber", "BHD", "3", "24.250", "0.676", "20.574", "0.000", "23.000", "1"});
      CHECK(rows[2] == std::vector<std::string>{"flood", "CHF", "3", "170.00", "5.83", "164.17", "50.00", "0.00", "0"});
      CHECK(rows[3] == std::vector<std::string>{"flood", "JPY", "1", "5000", "175", "4825", "0", "0", "0"});
      CHECK(rows[4][0] == "(unattributed)");
      // Totals rows equal the sum of the campaign rows, per currency, in minor units.
      std::map<std::string, std::int64_t> from_rows, from_totals;
      for (std::size_t i = 1; i < rows.size(); ++i) {
        auto minor = parse_major(rows[i][3], rows[i][1]);
        REQUIRE(minor);
        (rows[i][0] == "(total)" ? from_totals : from_rows)[rows[i][1]] += *minor;
      }
      CHECK(from_rows == from_totals);
      CHECK(from_totals.size() == 5);
    }
  }
}

TEST_CASE("summary over whole and partial days equals one GROUP BY over the seeded donations") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      seed_ledger(fx);  // disputed amounts, a USD settlement, rows one second either side of the month
      auto& db = fx.service().database();
      const std::vector<std::int64_t> instants = {
          at("2026-10-31T23:59:59Z"), at("2026-11-01"), at("2026-11-02"), at("2026-11-02T10:00:00Z"),
          at("2026-11-02T10:02:00Z"), at("2026-11-02T12:00:00Z"), at("2026-11-03"), at("2026-11-03T10:00:00Z"),
          at("2026-11-03T10:01:41Z"), at("2026-11-04"), at("2026-12-01"), at("2026-12-01T00:00:01Z")};
      for (std::size_t i = 0; i < instants.size(); ++i) {
        for (std::size_t j = i + 1; j < instants.size(); ++j) {
          const reports::ReportPeriod period{instants[i], instants[j]};
          auto fast = reports::load_summary(db, period);
          auto direct = reports::load_summary_from_donations(db, period);
          REQUIRE(fast.ok());
          REQUIRE(direct.ok());
          INFO(format_iso8601(period.from) << " .. " << format_iso8601(period.to));
          CHECK(reports::summary_json(*fast) == reports::summary_json(*direct));
        }
      }
    }
  }
}

TEST_CASE("donation export streams RFC 4180 CSV whose totals equal the summary, formulas neutralised") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      seed_ledger(fx);
      const auto finance = fx.token("finance");
      auto res = fx.client().Get((std::string("/v1/admin/reports/donations?") + kPeriod).c_str(), bearer(finance));
      REQUIRE(res);
      REQUIRE(res->status == 200);
      CHECK(res->get_header_value("Transfer-Encoding") == "chunked");
      CHECK(res->get_header_value("Content-Type").rfind("text/csv", 0) == 0);
      auto rows = reports::parse_csv(res->body);
      REQUIRE(rows.size() == 1 + 11);  // d01…d10 and d13; not d11 (before) nor d12 (at `to`)
      CHECK(rows[0] == std::vector<std::string>{"id", "created", "campaign", "status", "amount", "currency", "fee",
                                                "net", "settlement_currency", "refunded", "receipt_number",
                                                "payment_intent", "donor_email"});
      std::map<std::string, std::vector<std::string>> by_id;
      for (std::size_t i = 1; i < rows.size(); ++i) {
        REQUIRE(rows[i].size() == 13);
        by_id[rows[i][0]] = rows[i];
      }
      CHECK(rows[1][0] == "d01");  // ordered by created_at, id
      CHECK(by_id["d01"][1] == "2026-11-02T10:00:00Z");
      CHECK(by_id["d01"][2] == "flood");
      CHECK(by_id["d01"][4] == "50.00");
      CHECK(by_id["d01"][10] == "CPI-2026-000001");
      CHECK(by_id["d01"][12] == "'=HYPERLINK(\"http://evil\",\"x\")");
      CHECK(by_id["d02"][12] == "'+41 44 000@example.org");
      CHECK(by_id["d02"][9] == "30.00");
      CHECK(by_id["d03"][12] == "'-minus@example.org");
      CHECK(by_id["d04"][12] == "'@at@example.org");
      CHECK(by_id["d05"][12] == "'\ttab@example.org");
      CHECK(by_id["d05"][4] == "5000");
      CHECK(by_id["d06"][12] == "a,\"b\"\r\nc@example.org");
      CHECK(by_id["d06"][4] == "1.250");
      CHECK(by_id["d09"][2] == "(unattributed)");
      CHECK(by_id["d10"][8] == "USD");
      CHECK(by_id["d13"][3] == "failed");

      // Gross per currency of the money-moved rows equals the summary's totals.
      std::map<std::string, std::int64_t> exported;
      for (const auto& [id, row] : by_id) {
        if (row[3] == "pending" || row[3] == "failed") continue;
        auto minor = parse_major(row[4], row[5]);
        REQUIRE(minor);
        exported[row[5]] += *minor;
      }
      auto summary = get_json(fx, finance, std::string("/v1/admin/reports/summary?") + kPeriod, 200);
      std::map<std::string, std::int64_t> totals;
      for (const auto& t : summary["totals"]) totals[t["currency"]] = t["gross"];
      CHECK(exported == totals);
    }
  }
}

TEST_CASE("donation export pages by (created_at, id) without losing or repeating rows") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      seed_ledger(fx);  // d03, d04, d05 share a created_at
      reports::DonationExport page_of_two(fx.service().database(), {at("2026-11-01"), at("2026-12-01")}, 2);
      std::string csv = reports::DonationExport::header_line();
      int pages = 0;
      while (!page_of_two.finished()) {
        auto n = page_of_two.next_page(csv);
        REQUIRE(n.ok());
        ++pages;
      }
      CHECK(pages == 6);  // 11 rows: 5 full pages and one of 1
      auto rows = reports::parse_csv(csv);
      REQUIRE(rows.size() == 12);
      std::vector<std::string> ids;
      for (std::size_t i = 1; i < rows.size(); ++i) ids.push_back(rows[i][0]);
      CHECK(ids == std::vector<std::string>{"d01", "d02", "d03", "d04", "d05", "d13", "d06", "d07", "d08", "d09", "d10"});
      // The fixture's server must be listening before it is stopped: HttpServer::stop() before
      // listen_after_bind() has started is lost and the destructor would wait forever.
      REQUIRE(fx.client().Get("/healthz"));
    }
  }
}

TEST_CASE("report endpoints reject bad periods and formats with 400 naming the field") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      const auto finance = fx.token("finance");
      struct Case {
        std::string path;
        std::string field;
      };
      const std::vector<Case> cases = {
          {"/v1/admin/reports/summary?to=2026-12-01", "from"},
          {"/v1/admin/reports/summary?from=2026-11-01", "to"},
          {"/v1/admin/reports/summary?from=2026-13-45&to=2026-12-01", "from"},
          {"/v1/admin/reports/summary?from=2026-11-01&to=yesterday", "to"},
          {"/v1/admin/reports/summary?from=2026-11-01&to=2026-11-01", "to"},
          {"/v1/admin/reports/summary?from=2026-12-01&to=2026-11-01T00:00:00Z", "to"},
          {"/v1/admin/reports/summary?from=2026-11-01&to=2026-12-01&format=xml", "format"},
          {"/v1/admin/reports/donations?from=2026-11-01&to=2026-12-01&format=json", "format"},
          {"/v1/admin/reports/donations?from=2026-11-01", "to"},
          {"/v1/admin/reconciliation?from=nope&to=2026-12-01", "from"},
          {"/v1/admin/reconciliation?from=2026-11-01&to=2026-12-01&format=pdf", "format"},
      };
      for (const auto& c : cases) {
        auto doc = get_json(fx, finance, c.path, 400);
        INFO(c.path);
        CHECK(doc["error"]["field"] == c.field);
        CHECK(!doc["error"]["code"].get<std::string>().empty());
      }
      // Offsets and date-times are accepted.
      get_json(fx, finance, "/v1/admin/reports/summary?from=2026-11-01T00:00:00%2B02:00&to=2026-12-01T00:00:00Z", 200);
    }
  }
}

TEST_CASE("report endpoints need a finance or admin token") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      for (const char* path : {"/v1/admin/reports/summary?from=2026-11-01&to=2026-12-01",
                               "/v1/admin/reports/donations?from=2026-11-01&to=2026-12-01",
                               "/v1/admin/reconciliation?from=2026-11-01&to=2026-12-01"}) {
        INFO(path);
        auto none = fx.client().Get(path);
        REQUIRE(none);
        CHECK(none->status == 401);
        auto bad = fx.client().Get(path, bearer("not-a-token"));
        REQUIRE(bad);
        CHECK(bad->status == 401);
        CHECK(json::parse(bad->body)["error"]["code"] == "invalid_token");
      }
      // admin ⊇ finance: both may read reports (no role below finance exists that could get 403).
      get_json(fx, fx.token("finance"), "/v1/admin/reports/summary?from=2026-11-01&to=2026-12-01", 200);
      get_json(fx, fx.token("admin"), "/v1/admin/reports/summary?from=2026-11-01&to=2026-12-01", 200);
    }
  }
}

TEST_CASE("reconciliation without a payment provider answers 503 provider_unavailable") {
  ServiceFixture fx(Backend::sqlite);
  auto doc = get_json(fx, fx.token("finance"), "/v1/admin/reconciliation?from=2026-11-01&to=2026-12-01", 503);
  CHECK(doc["error"]["code"] == "provider_unavailable");
}

// ---------------------------------------------------------------------------------------------
// Reconciliation: the pure matching on plain vectors.

namespace {

BalanceTransaction txn(const std::string& id, const std::string& type, const std::string& source, std::int64_t amount,
                       std::int64_t fee, const std::string& currency, std::int64_t created) {
  BalanceTransaction t;
  t.id = id;
  t.type = type;
  t.source = source;
  t.amount_minor = amount;
  t.fee_minor = fee;
  t.net_minor = amount - fee;
  t.currency = currency;
  t.created = created;
  t.status = "available";
  return t;
}

reports::LedgerDonation ledger(const std::string& id, const std::string& charge, std::int64_t amount,
                               const std::string& currency, std::optional<std::int64_t> fee, bool in_period = true) {
  reports::LedgerDonation d;
  d.id = id;
  d.status = "succeeded";
  d.charge_id = charge;
  d.amount_minor = amount;
  d.currency = currency;
  d.fee_minor = fee;
  if (fee) d.net_minor = amount - *fee;
  d.in_period = in_period;
  d.succeeded_at = 1000;
  return d;
}

}  // namespace

TEST_CASE("reconcile pairs charges by charge id, balance transaction id or payment intent", "[unit]") {
  reports::ReconciliationInput in;
  in.from = 1000;
  in.to = 2000;
  in.transactions = {txn("txn_1", "charge", "ch_1", 5000, 175, "CHF", 1100),
                     txn("txn_2", "charge", "ch_2", 2500, 103, "EUR", 1200),
                     txn("txn_3", "charge", "ch_3", 700, 50, "USD", 1300)};
  in.donations = {ledger("d1", "ch_1", 5000, "CHF", 175), ledger("d2", "", 2500, "EUR", std::nullopt),
                  ledger("d3", "", 700, "USD", 50)};
  in.donations[1].balance_transaction_id = "txn_2";
  in.donations[2].payment_intent_id = "pi_3";
  in.payment_intent_of_charge = {{"ch_3", "pi_3"}};
  auto r = reports::reconcile(in);
  CHECK(r.matched.size() == 3);
  CHECK(r.clean());
  CHECK(r.matched[2].donation_id == "d3");
}

TEST_CASE("reconcile reports each kind of difference", "[unit]") {
  reports::ReconciliationInput in;
  in.from = 1000;
  in.to = 2000;
  in.transactions = {
      txn("txn_amount", "charge", "ch_a", 3000, 117, "CHF", 1100),
      txn("txn_fee", "charge", "ch_f", 4000, 146, "USD", 1100),
      txn("txn_state", "charge", "ch_s", 1000, 59, "CHF", 1100),
      txn("txn_unknown", "charge", "ch_x", 1500, 74, "CHF", 1100),
      txn("txn_refund", "refund", "re_1", -2000, 0, "CHF", 1150),
      txn("txn_refund_unknown", "refund", "re_x", -100, 0, "CHF", 1150),
      txn("txn_dispute", "adjustment", "du_1", -1000, 1500, "CHF", 1160),
      txn("txn_payout", "payout", "po_1", -9000, 0, "CHF", 1170),
      txn("txn_margin", "charge", "ch_m", 800, 53, "CHF", 950),      // before `from`: found, not reported
      txn("txn_late", "charge", "ch_late", 800, 53, "CHF", 2100),    // after `to`, unknown: not reported
      txn("txn_amount", "charge", "ch_a", 3000, 117, "CHF", 1100),   // a repeated page entry counts once
  };
  in.donations = {ledger("d_amount", "ch_a", 3100, "CHF", 117), ledger("d_fee", "ch_f", 4000, "USD", 147),
                  ledger("d_state", "ch_s", 1000, "CHF", 59), ledger("d_margin", "ch_m", 800, "CHF", 53),
                  ledger("d_gone", "ch_gone", 900, "CHF", std::nullopt), ledger("d_refunded", "ch_r", 5000, "CHF", 175, false)};
  in.donations[2].status = "pending";
  in.refunds = {{"rf_1", "re_1", "d_refunded", "succeeded", 2000, "CHF", "succeeded"}};  // donation not refunded
  auto r = reports::reconcile(in);
  REQUIRE(r.amount_mismatch.size() == 1);
  CHECK(r.amount_mismatch[0].donation_id == "d_amount");
  CHECK(*r.amount_mismatch[0].ledger_amount == 3100);
  CHECK(*r.amount_mismatch[0].provider_amount == 3000);
  REQUIRE(r.fee_mismatch.size() == 1);
  CHECK(r.fee_mismatch[0].donation_id == "d_fee");
  REQUIRE(r.status_mismatch.size() == 2);
  CHECK(r.status_mismatch[0].donation_id == "d_state");
  CHECK(r.status_mismatch[1].refund_id == "rf_1");
  REQUIRE(r.missing_in_ledger.size() == 2);
  CHECK(r.missing_in_ledger[0].transaction_id == "txn_unknown");
  CHECK(r.missing_in_ledger[1].transaction_id == "txn_refund_unknown");
  REQUIRE(r.missing_at_provider.size() == 1);
  CHECK(r.missing_at_provider[0].donation_id == "d_gone");
  REQUIRE(r.other.size() == 1);
  CHECK(r.other[0].source == "du_1");
  CHECK(r.matched.empty());
  CHECK_FALSE(r.clean());

  // Every finding also comes out as CSV, one line each, parseable.
  auto rows = reports::parse_csv(reports::reconciliation_csv(r));
  CHECK(rows.size() == 1 + 1 + 1 + 2 + 2 + 1 + 1);
}

TEST_CASE("reconcile compares a cross-currency charge with the ledger's settled fee and net", "[unit]") {
  reports::ReconciliationInput in;
  in.from = 0;
  in.to = 10;
  in.transactions = {txn("txn_fx", "charge", "ch_fx", 4300, 155, "USD", 5)};
  in.donations = {ledger("d_fx", "ch_fx", 4000, "EUR", 155)};
  in.donations[0].settlement_currency = "USD";
  in.donations[0].net_minor = 4145;
  CHECK(reports::reconcile(in).clean());
  in.donations[0].net_minor = 4100;  // settled amount 4255 ≠ 4300
  auto r = reports::reconcile(in);
  CHECK(r.amount_mismatch.size() == 1);
  CHECK(r.fee_mismatch.empty());  // the net differs, but the amount difference already explains it
  in.donations[0].settlement_currency.clear();
  in.donations[0].fee_minor.reset();
  in.donations[0].net_minor.reset();
  CHECK(reports::reconcile(in).amount_mismatch.size() == 1);  // EUR vs USD, nothing to compare with
}

TEST_CASE("a payout balances when its transactions' nets add up to its amount", "[unit]") {
  reports::ReconciliationInput in;
  in.from = 0;
  in.to = 10;
  in.donations = {ledger("d1", "ch_1", 5000, "CHF", 175, false)};
  reports::PayoutWithTransactions p;
  p.payout.id = "po_1";
  p.payout.currency = "CHF";
  p.payout.amount_minor = 4825 - 1000;
  p.transactions = {txn("txn_1", "charge", "ch_1", 5000, 175, "CHF", 1), txn("txn_2", "refund", "re_9", -1000, 0, "CHF", 2),
                    txn("txn_po", "payout", "po_1", -3825, 0, "CHF", 3)};
  in.payouts = {p};
  auto r = reports::reconcile(in);
  REQUIRE(r.payouts.size() == 1);
  CHECK(r.payouts[0].balanced);
  CHECK(r.payouts[0].transactions_net == 3825);
  CHECK(r.payouts[0].transaction_count == 2);
  CHECK(r.payouts[0].donation_ids == std::vector<std::string>{"d1"});
  CHECK(r.payouts[0].unmatched_transaction_ids == std::vector<std::string>{"txn_2"});
  CHECK(r.clean());
  in.payouts[0].payout.amount_minor += 1;
  auto off = reports::reconcile(in);
  CHECK_FALSE(off.payouts[0].balanced);
  CHECK_FALSE(off.clean());
}

TEST_CASE("bench: reconcile matches 100,000 balance transactions", "[.][bench]") {
  reports::ReconciliationInput in;
  in.from = 0;
  in.to = 1000000;
  const int n = 100000;
  in.transactions.reserve(n);
  in.donations.reserve(n);
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    const std::int64_t amount = 1000 + i % 5000;
    in.transactions.push_back(txn("txn_" + k, "charge", "ch_" + k, amount, 30 + amount * 29 / 1000, "CHF", i));
    in.donations.push_back(ledger("d" + k, i % 10 == 0 ? "" : "ch_" + k, amount, "CHF", 30 + amount * 29 / 1000));
    if (i % 10 == 0) {
      in.donations.back().payment_intent_id = "pi_" + k;
      in.payment_intent_of_charge["ch_" + k] = "pi_" + k;
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = reports::reconcile(in);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto json_start = std::chrono::steady_clock::now();
  const std::size_t json_size = reports::reconciliation_json(r).size();
  const double json_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - json_start).count();
  std::printf("reconcile(100000 transactions): %.3f s; JSON report %zu bytes in %.3f s\n", seconds, json_size,
              json_seconds);
  CHECK(r.matched.size() == static_cast<std::size_t>(n));
  CHECK(seconds < 10.0);
}

// ---------------------------------------------------------------------------------------------
// Reconciliation against the Stripe emulator, over HTTP and through the CLI.

namespace {

struct StripeWorld {
  StripeWorld() {
    clock = std::make_shared<FakeClock>(at("2026-11-10T00:00:00Z") * 1000);
    stripe::EmulatorOptions options;
    options.deliver_webhooks = false;
    options.clock = clock;
    emulator = std::make_unique<stripe::StripeEmulator>(options);
    emulator->start();
    stripe::StripeClientOptions client_options;
    client_options.api_base = emulator->base_url();
    client_options.secret_key = "sk_test_emulator";
    client_options.max_retries = 0;
    client_options.timeout_ms = 5000;
    client = std::make_unique<stripe::StripeClient>(client_options);
  }

  struct Paid {
    std::string payment_intent;
    std::string charge;
    std::int64_t fee = 0;
    std::int64_t net = 0;
  };
  // A confirmed payment: the charge and its balance transaction's fee and net.
  Paid pay(std::int64_t amount, const std::string& currency) {
    clock->advance_seconds(60);
    json pi = emulator->create_payment_intent(amount, currency);
    auto confirmed = emulator->confirm(pi["id"]);
    REQUIRE(confirmed);
    Paid paid;
    paid.payment_intent = pi["id"];
    paid.charge = (*confirmed)["latest_charge"];
    auto charge = emulator->charge(paid.charge);
    REQUIRE(charge);
    auto bt = emulator->balance_transaction((*charge)["balance_transaction"]);
    REQUIRE(bt);
    paid.fee = (*bt)["fee"];
    paid.net = (*bt)["net"];
    return paid;
  }
  std::string refund(const std::string& payment_intent, std::optional<std::int64_t> amount) {
    clock->advance_seconds(60);
    auto r = emulator->refund(payment_intent, amount);
    REQUIRE(r);
    return (*r)["id"];
  }

  std::shared_ptr<FakeClock> clock;
  std::unique_ptr<stripe::StripeEmulator> emulator;
  std::unique_ptr<stripe::StripeClient> client;
};

SeedDonation paid_donation(const std::string& id, const StripeWorld::Paid& p, std::int64_t amount,
                           const std::string& currency) {
  SeedDonation d;
  d.id = id;
  d.campaign = "flood";
  d.amount = amount;
  d.currency = currency;
  d.fee = p.fee;
  d.net = p.net;
  d.created_at = at("2026-11-10T00:00:00Z");
  d.succeeded_at = at("2026-11-10T01:00:00Z");
  d.charge_id = p.charge;
  d.payment_intent_id = p.payment_intent;
  return d;
}

// Every category once; see the comments per donation.
void seed_reconciliation_world(ServiceFixture& fx, StripeWorld& w, std::map<std::string, std::string>& ids) {
  seed_campaign(fx, "flood", "CHF");
  auto a = w.pay(5000, "CHF");  // matched
  seed(fx, paid_donation("dA", a, 5000, "CHF"));
  auto b = w.pay(2500, "EUR");  // matched through its payment intent: the ledger lacks the charge id
  auto db = paid_donation("dB", b, 2500, "EUR");
  db.charge_id.clear();
  seed(fx, db);
  auto c = w.pay(3000, "CHF");  // amount_mismatch
  seed(fx, paid_donation("dC", c, 3100, "CHF"));
  auto d = w.pay(4000, "USD");  // fee_mismatch
  auto dd = paid_donation("dD", d, 4000, "USD");
  dd.fee = d.fee + 1;
  seed(fx, dd);
  auto e = w.pay(6000, "CHF");  // charge matched; its refund is a status_mismatch (ledger: succeeded)
  seed(fx, paid_donation("dE", e, 6000, "CHF"));
  ids["refund_E"] = w.refund(e.payment_intent, 2000);
  seed_refund(fx, "rfE", "dE", 2000, "CHF", ids["refund_E"], "succeeded");
  auto f = w.pay(5000, "JPY");  // charge and full refund both matched
  auto df = paid_donation("dF", f, 5000, "JPY");
  df.status = "refunded";
  df.refunded = 5000;
  seed(fx, df);
  ids["refund_F"] = w.refund(f.payment_intent, std::nullopt);
  seed_refund(fx, "rfF", "dF", 5000, "JPY", ids["refund_F"], "succeeded");
  auto g = w.pay(1500, "CHF");  // missing_in_ledger
  ids["charge_G"] = g.charge;
  SeedDonation h;  // missing_at_provider
  h.id = "dH";
  h.amount = 800;
  h.currency = "CHF";
  h.created_at = at("2026-11-11T00:00:00Z");
  h.charge_id = "ch_unknownToStripe";
  h.payment_intent_id = "pi_unknownToStripe";
  seed(fx, h);
  auto i = w.pay(20000, "BHD");  // charge matched; the dispute withdrawal is `other`
  auto di = paid_donation("dI", i, 20000, "BHD");
  di.status = "disputed";
  di.disputed = 20000;
  seed(fx, di);
  w.clock->advance_seconds(60);
  REQUIRE(w.emulator->open_dispute(i.charge));
  w.clock->advance_seconds(60);
  ids["payouts"] = std::to_string(w.emulator->create_payout().size());
}

std::vector<std::string> donations_of(const json& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i["donation"].is_null() ? "" : i["donation"].get<std::string>());
  std::sort(out.begin(), out.end());
  return out;
}

int run_cli(const std::string& arguments, const std::string& out_path) {
  const std::string command = std::string(DONATIO_BINARY) + " " + arguments + " > " + out_path + " 2> " + out_path + ".err";
  const int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A config for the CLI on the fixture's SQLite file and the emulator.
std::string write_cli_config(ServiceFixture& fx, StripeWorld& w) {
  const std::string path = fx.dir().path() + "/reconcile.toml";
  std::ofstream out(path);
  out << "[server]\nlisten = \"127.0.0.1:0\"\ntls = false\n"
      << "[database]\nurl = \"" << fx.config().database.url << "\"\n"
      << "[stripe]\napi_base = \"" << w.emulator->base_url() << "\"\nsecret_key_env = \"DONATIO_TEST_RECONCILE_KEY\"\n"
      << "max_retries = 0\n"
      << "[organization]\nname = \"Test\"\naddress = \"Street 1\"\ntax_id = \"X\"\nreceipt_prefix = \"T-\"\n"
      << "receipt_footer = \"Thanks\"\n";
  ::setenv("DONATIO_TEST_RECONCILE_KEY", "sk_test_emulator", 1);
  return path;
}

}  // namespace

TEST_CASE("reconciliation against the Stripe emulator finds every category and checks payouts") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      StripeWorld w;
      FixtureOptions options;
      options.gateway = w.client.get();
      ServiceFixture fx(backend, options);
      std::map<std::string, std::string> ids;
      seed_reconciliation_world(fx, w, ids);
      const auto finance = fx.token("finance");
      auto doc = get_json(fx, finance, "/v1/admin/reconciliation?from=2026-11-01&to=2026-12-01", 200);
      INFO(doc.dump(2));
      CHECK(doc["clean"] == false);
      CHECK(donations_of(doc["matched"]) == std::vector<std::string>{"dA", "dB", "dE", "dF", "dF", "dI"});
      CHECK(donations_of(doc["amount_mismatch"]) == std::vector<std::string>{"dC"});
      CHECK(doc["amount_mismatch"][0]["ledger_amount"] == 3100);
      CHECK(doc["amount_mismatch"][0]["provider_amount"] == 3000);
      CHECK(donations_of(doc["fee_mismatch"]) == std::vector<std::string>{"dD"});
      REQUIRE(doc["status_mismatch"].size() == 1);
      CHECK(doc["status_mismatch"][0]["donation"] == "dE");
      CHECK(doc["status_mismatch"][0]["source"] == ids["refund_E"]);
      REQUIRE(doc["missing_in_ledger"].size() == 1);
      CHECK(doc["missing_in_ledger"][0]["source"] == ids["charge_G"]);
      CHECK(donations_of(doc["missing_at_provider"]) == std::vector<std::string>{"dH"});
      REQUIRE(doc["other"].size() == 1);
      CHECK(doc["other"][0]["type"] == "adjustment");

      // Payouts (CHF, EUR, USD have a positive net; JPY and BHD went negative): all balanced.
      REQUIRE(doc["payouts"].size() == std::stoul(ids["payouts"]));
      REQUIRE(doc["payouts"].size() == 3);
      bool saw_chf = false;
      for (const auto& p : doc["payouts"]) {
        CHECK(p["balanced"] == true);
        CHECK(p["transactions_net"] == p["amount"]);
        if (p["currency"] == "CHF") {
          saw_chf = true;
          auto in_payout = p["donations"].get<std::vector<std::string>>();
          CHECK(in_payout == std::vector<std::string>{"dA", "dC", "dE"});
          CHECK(p["unmatched_transactions"].size() == 1);  // G's charge
        }
      }
      CHECK(saw_chf);

      // CSV: one line per finding and per payout.
      auto csv = fx.client().Get("/v1/admin/reconciliation?from=2026-11-01&to=2026-12-01&format=csv", bearer(finance));
      REQUIRE(csv);
      REQUIRE(csv->status == 200);
      auto rows = reports::parse_csv(csv->body);
      CHECK(rows.size() == 1 + 6 + 1 + 1 + 1 + 1 + 1 + 1 + 3);

      // The same answer when Stripe's lists come two at a time (several pages, starting_after).
      const int lists_before = w.emulator->count("GET", "/v1/balance_transactions");
      reports::ReconciliationOptions small_pages;
      small_pages.page_limit = 2;
      auto paged = reports::run_reconciliation(fx.service().database(), *w.client,
                                               {at("2026-11-01"), at("2026-12-01")}, small_pages);
      REQUIRE(paged.ok());
      CHECK(paged->matched.size() == 6);
      CHECK(paged->missing_in_ledger.size() == 1);
      CHECK(paged->missing_at_provider.size() == 1);
      CHECK(w.emulator->count("GET", "/v1/balance_transactions") - lists_before > 6);
      bool cursor_used = false;
      for (const auto& r : w.emulator->requests()) {
        if (r.path == "/v1/balance_transactions" && r.params.count("starting_after")) cursor_used = true;
      }
      CHECK(cursor_used);

      if (backend == Backend::sqlite) {
        const std::string config = write_cli_config(fx, w);
        const std::string out = fx.dir().path() + "/reconcile.out";
        CHECK(run_cli("reconcile --config " + config + " --from 2026-11-01 --to 2026-12-01", out) == 1);
        auto cli_doc = json::parse(read_file(out));
        CHECK(cli_doc["counts"]["matched"] == 6);
        CHECK(cli_doc["counts"]["missing_at_provider"] == 1);
        CHECK(run_cli("reconcile --config " + config + " --from 2026-11-01 --to 2026-12-01 --format csv", out) == 1);
        CHECK(reports::parse_csv(read_file(out)).size() == rows.size());
        CHECK(run_cli("reconcile --config " + config + " --from 2026-11-01 --to 2026-10-01", out) == 2);
        CHECK(read_file(out + ".err").find("--to") != std::string::npos);
      }
    }
  }
}

TEST_CASE("reconcile CLI exits 0 when ledger and Stripe agree") {
  StripeWorld w;
  FixtureOptions options;
  options.gateway = w.client.get();
  ServiceFixture fx(Backend::sqlite, options);
  seed_campaign(fx, "flood", "CHF");
  auto a = w.pay(5000, "CHF");
  seed(fx, paid_donation("dA", a, 5000, "CHF"));
  auto b = w.pay(12500, "CHF");
  seed(fx, paid_donation("dB", b, 12500, "CHF"));
  w.clock->advance_seconds(60);
  REQUIRE(w.emulator->create_payout().size() == 1);
  const std::string config = write_cli_config(fx, w);
  const std::string out = fx.dir().path() + "/reconcile.out";
  CHECK(run_cli("reconcile --config " + config + " --from 2026-11-01 --to 2026-12-01", out) == 0);
  auto doc = json::parse(read_file(out));
  CHECK(doc["clean"] == true);
  CHECK(doc["counts"]["matched"] == 2);
  REQUIRE(doc["payouts"].size() == 1);
  CHECK(doc["payouts"][0]["balanced"] == true);
  CHECK(doc["payouts"][0]["donations"] == json::array({"dA", "dB"}));

  // The summary CLI reads the same ledger.
  CHECK(run_cli("report summary --config " + config + " --from 2026-11-01 --to 2026-12-01 --format csv", out) == 0);
  auto rows = reports::parse_csv(read_file(out));
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][0] == "flood");
  CHECK(rows[1][3] == "175.00");
  CHECK(run_cli("report summary --config " + config + " --from 2026-11-01 --to 2026-12-01 --format xml", out) == 2);
}

TEST_CASE("reconciliation's ledger reads by charge and by success time use indexes that leave pending donations out") {
  for (Backend backend : test_backends()) {
    SECTION(backend_name(backend)) {
      ServiceFixture fx(backend);
      store::Database& db = fx.service().database();
      const bool pg = backend == Backend::postgresql;
      // The lines a query plan (or an index definition) is made of.
      auto lines = [&](const std::string& text) {
        std::vector<std::string> out;
        REQUIRE(db.read([&](soci::session& sql) {
          soci::rowset<soci::row> rows = (sql.prepare << text);
          for (const auto& r : rows) out.push_back(r.get<std::string>(pg ? 0 : 3));
          return Status::Ok();
        }).ok());
        return out;
      };
      auto mentions = [](const std::vector<std::string>& plan, const std::string& name) {
        for (const auto& line : plan) {
          if (line.find(name) != std::string::npos) return true;
        }
        return false;
      };
      for (const std::string index : {"donations_charge", "donations_succeeded"}) {
        INFO(index);
        std::string definition;
        REQUIRE(db.read([&](soci::session& sql) {
          if (pg) {
            sql << "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :n",
                soci::use(index), soci::into(definition);
          } else {
            sql << "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n", soci::use(index),
                soci::into(definition);
          }
          return Status::Ok();
        }).ok());
        const std::string column = index == "donations_charge" ? "charge_id" : "succeeded_at";
        CHECK(definition.find(pg ? "WHERE (" + column + " IS NOT NULL)" : "WHERE " + column + " IS NOT NULL") !=
              std::string::npos);
      }
      // The ledger's own queries: their conditions imply IS NOT NULL, so the partial indexes
      // serve them (on PostgreSQL with sequential scans off: its tables are empty here).
      const std::string explain = pg ? "EXPLAIN " : "EXPLAIN QUERY PLAN ";
      std::string in_period = reports::succeeded_in_period_query(db.dialect());
      for (const auto& [name, value] : {std::pair{":from", "1700000000"}, std::pair{":to", "1800000000"}}) {
        const auto at = in_period.find(name);
        REQUIRE(at != std::string::npos);
        in_period.replace(at, std::string(name).size(), value);
      }
      if (pg) REQUIRE(db.read([](soci::session& sql) { sql << "SET enable_seqscan = off"; return Status::Ok(); }).ok());
      const auto by_charge = lines(explain + reports::by_charge_query_prefix() + "('ch_a', 'ch_b')");
      const auto by_time = lines(explain + in_period);
      if (pg) REQUIRE(db.read([](soci::session& sql) { sql << "RESET enable_seqscan"; return Status::Ok(); }).ok());
      CHECK(mentions(by_charge, "donations_charge"));
      CHECK(mentions(by_time, "donations_succeeded"));
    }
  }
}
