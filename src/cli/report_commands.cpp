// `donatio report summary`, `donatio report rebuild-totals` and `donatio reconcile`: the finance
// reports from the command line, for people and for cron. Exit codes: 0 ok (reconcile:
// everything matched; summary --verify: the daily totals agree with the donations), 1 the
// operation failed or found differences, 2 usage or configuration error.
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "src/cli/args.hpp"
#include "src/cli/commands.hpp"
#include "src/http/request_context.hpp"
#include "src/reports/period.hpp"
#include "src/reports/reconciliation_source.hpp"
#include "src/reports/summary.hpp"
#include "src/store/daily_totals.hpp"
#include "src/stripe/stripe_client.hpp"

namespace donatio::cli {
namespace {

// Period and format from --from/--to/--format; prints the usage error and returns nullopt.
std::optional<std::pair<reports::ReportPeriod, std::string>> read_period(const Args& args, int& exit_code) {
  auto period = reports::parse_period(args.get("from"), args.get("to"));
  if (!period.ok()) {
    exit_code = usage_error("--" + period.status().field() + ": " + period.status().message());
    return std::nullopt;
  }
  auto format = reports::parse_format(args.get("format"), {"json", "csv"}, "json");
  if (!format.ok()) {
    exit_code = usage_error("--format: " + format.status().message());
    return std::nullopt;
  }
  return std::make_pair(*period, *format);
}

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
}

int rebuild_totals(const Args& args) {
  if (auto bad = args.unknown_option({"config"}); !bad.empty()) return usage_error("unknown option --" + bad);
  auto config = load_config_from(args);
  if (!config.ok()) return fail(config.status());
  http::init_logging("warn", false);
  auto db = open_database(*config);
  if (!db.ok()) return fail(db.status());
  std::int64_t rows = 0;
  Status s = (*db)->transaction([&](soci::session& sql) {
    rows = store::rebuild_daily_totals(sql, (*db)->dialect());
    return Status::Ok();
  });
  if (!s.ok()) return fail(s);
  std::printf("rebuilt donation_daily_totals: %lld rows\n", static_cast<long long>(rows));
  return 0;
}

}  // namespace

int cmd_report(const Args& args) {
  const auto& words = args.positional();
  const std::string sub = words.size() > 1 ? words[1] : "";
  if (args.help() || sub.empty()) {
    std::puts(
        "Usage: donatio report summary --config FILE --from DATE --to DATE [--format json|csv] [--verify]\n"
        "       donatio report rebuild-totals --config FILE\n\n"
        "summary: per campaign and currency over donations created in [from, to) (UTC, ISO-8601) whose\n"
        "money moved (succeeded, partially_refunded, refunded, disputed, lost): count, gross, fees, net,\n"
        "refunded, disputed, plus totals per currency. JSON amounts are integer minor units; CSV amounts\n"
        "major units. Whole UTC days are read from the daily totals table, partial days from donations.\n"
        "--verify also computes it from the donations alone (slow on large ledgers) and exits 1, naming\n"
        "the rows, when the two differ.\n\n"
        "rebuild-totals: recomputes the daily totals table from the donations, in one transaction (after\n"
        "donations were changed outside donatio, or when --verify found a difference).");
    return sub.empty() && !args.help() ? 2 : 0;
  }
  if (sub == "rebuild-totals") return rebuild_totals(args);
  if (sub != "summary") return usage_error("unknown report '" + sub + "'");
  if (auto bad = args.unknown_option({"config", "from", "to", "format", "verify"}); !bad.empty()) {
    return usage_error("unknown option --" + bad);
  }
  int code = 0;
  auto q = read_period(args, code);
  if (!q) return code;
  auto config = load_config_from(args);
  if (!config.ok()) return fail(config.status());
  http::init_logging("warn", false);
  auto db = open_database(*config);
  if (!db.ok()) return fail(db.status());
  auto summary = reports::load_summary(**db, q->first);
  if (!summary.ok()) return fail(summary.status());
  write_out(q->second == "csv" ? reports::summary_csv(*summary) : reports::summary_json(*summary));
  if (!args.flag("verify")) return 0;
  auto direct = reports::load_summary_from_donations(**db, q->first);
  if (!direct.ok()) return fail(direct.status());
  if (reports::summary_json(*direct) == reports::summary_json(*summary)) {
    std::fputs("verify: the daily totals agree with the donations\n", stderr);
    return 0;
  }
  std::fputs("verify: the daily totals differ from the donations (donatio report rebuild-totals repairs them):\n",
             stderr);
  for (const auto& line : reports::summary_differences(*direct, *summary)) {
    std::fprintf(stderr, "  %s\n", line.c_str());
  }
  return 1;
}

int cmd_reconcile(const Args& args) {
  if (args.help()) {
    std::puts(
        "Usage: donatio reconcile --config FILE --from DATE --to DATE [--format json|csv]\n\n"
        "Compares the ledger with Stripe's balance transactions and payouts for [from, to) (UTC).\n"
        "Exit code 0 when everything matches and every payout balances, 1 when anything differs\n"
        "(or Stripe/the database could not be read), 2 on a usage or configuration error.");
    return 0;
  }
  if (auto bad = args.unknown_option({"config", "from", "to", "format"}); !bad.empty()) {
    return usage_error("unknown option --" + bad);
  }
  int code = 0;
  auto q = read_period(args, code);
  if (!q) return code;
  auto config = load_config_from(args);
  if (!config.ok()) return fail(config.status());
  http::init_logging("warn", false);
  auto secrets = load_secrets(*config, false);
  if (!secrets.ok()) return fail(secrets.status());
  if (secrets->stripe_secret_key.empty()) {
    std::fprintf(stderr, "donatio: config: stripe.secret_key_env: environment variable %s is empty or unset\n",
                 config->stripe.secret_key_env.c_str());
    return 2;
  }
  std::unique_ptr<stripe::StripeClient> gateway;
  try {
    gateway = std::make_unique<stripe::StripeClient>(
        stripe::stripe_client_options(config->stripe, secrets->stripe_secret_key));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "donatio: config: %s\n", e.what());
    return 2;
  }
  auto db = open_database(*config);
  if (!db.ok()) return fail(db.status());
  auto report = reports::run_reconciliation(**db, *gateway, q->first);
  if (!report.ok()) return fail(report.status());
  write_out(q->second == "csv" ? reports::reconciliation_csv(*report) : reports::reconciliation_json(*report));
  std::size_t unbalanced = 0;
  for (const auto& p : report->payouts) unbalanced += p.balanced ? 0 : 1;
  std::fprintf(stderr,
               "reconcile: %zu matched, %zu missing_in_ledger, %zu missing_at_provider, %zu amount_mismatch, "
               "%zu fee_mismatch, %zu status_mismatch, %zu other, %zu/%zu payouts unbalanced\n",
               report->matched.size(), report->missing_in_ledger.size(), report->missing_at_provider.size(),
               report->amount_mismatch.size(), report->fee_mismatch.size(), report->status_mismatch.size(),
               report->other.size(), unbalanced, report->payouts.size());
  return report->clean() ? 0 : 1;
}

}  // namespace donatio::cli
