// `donatio refund ID` (through Stripe, like POST /v1/admin/donations/{id}/refund) and
// `donatio privacy export|erase|purge` (like the admin donor routes, plus the retention purge).
#include <cstdio>
#include <string>

#include "donatio/clock.hpp"
#include "src/cli/commands.hpp"
#include "src/donations/refund_donation.hpp"
#include "src/privacy/donor_privacy.hpp"
#include "src/stripe/stripe_client.hpp"

namespace donatio::cli {
namespace {

constexpr const char* kRefundUsage =
    "Usage: donatio refund ID --config FILE [--amount MINOR] [--reason duplicate|fraudulent|requested_by_customer]\n"
    "                      [--idempotency-key KEY]\n\n"
    "Refunds donation ID through Stripe: everything still refundable, or --amount in minor units.\n"
    "The donation changes when Stripe's charge.refunded event arrives (webhook or `events sync`).\n"
    "Run it again with the same --idempotency-key after a timeout: it never refunds twice.\n";

constexpr const char* kPrivacyUsage =
    "Usage:\n"
    "  donatio privacy export EMAIL --config FILE    everything held about the donor, as JSON on stdout\n"
    "  donatio privacy erase EMAIL --config FILE     replace the donor's name and e-mail with a pseudonym\n"
    "  donatio privacy purge --config FILE [--dry-run]\n"
    "      delete donations (with receipts, refunds, history), Stripe events and outbox rows from before\n"
    "      1 January of (this year - privacy.receipt_retention_years); --dry-run only counts\n";

}  // namespace

int cmd_refund(const Args& args) {
  const auto& words = args.positional();
  if (args.help()) {
    std::fputs(kRefundUsage, stdout);
    return 0;
  }
  if (words.size() != 2) return usage_error("refund needs exactly one donation ID");
  if (auto bad = args.unknown_option({"config", "amount", "reason", "idempotency-key"}); !bad.empty()) {
    return usage_error("unknown option --" + bad);
  }
  donations::RefundRequest request;
  request.donation_id = words[1];
  request.reason = args.get_or("reason", "");
  request.client_key = args.get_or("idempotency-key", "");
  request.actor = cli_actor();
  if (auto amount = args.get("amount")) {
    if (amount->empty() || amount->size() > 15 || amount->find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(*amount) <= 0) {
      return usage_error("--amount must be a positive integer in minor units");
    }
    request.amount = std::stoll(*amount);
  }
  int code = 0;
  auto env = open_command_env(args, code);
  if (!env) return code;
  auto secrets = load_secrets(env->config, false);
  if (!secrets.ok()) return fail(secrets.status());
  if (secrets->stripe_secret_key.empty()) {
    std::fprintf(stderr, "donatio: config: stripe.secret_key_env: %s is empty; refunds need the Stripe key\n",
                 env->config.stripe.secret_key_env.c_str());
    return 2;
  }
  stripe::StripeClient gateway(stripe::stripe_client_options(env->config.stripe, secrets->stripe_secret_key));
  SystemClock clock;
  auto refund = donations::refund_donation(*env->db, &gateway, clock, request);
  if (!refund.ok()) return fail(refund.status());
  std::printf("refund %s of %lld %s for donation %s: %s, Stripe refund %s%s\n", refund->id.c_str(),
              static_cast<long long>(refund->amount), refund->currency.c_str(), refund->donation_id.c_str(),
              refund->status.c_str(), refund->stripe_refund_id.empty() ? "(none)" : refund->stripe_refund_id.c_str(),
              refund->replayed ? " (already made with this idempotency key)" : "");
  return refund->status == "failed" ? 1 : 0;
}

int cmd_privacy(const Args& args) {
  const auto& words = args.positional();
  const std::string sub = words.size() > 1 ? words[1] : "";
  if (args.help() || sub.empty()) {
    std::fputs(kPrivacyUsage, stdout);
    return sub.empty() && !args.help() ? 2 : 0;
  }
  if (sub != "export" && sub != "erase" && sub != "purge") return usage_error("unknown privacy command '" + sub + "'");
  if (auto bad = args.unknown_option({"config", "dry-run"}); !bad.empty()) return usage_error("unknown option --" + bad);
  const bool needs_email = sub != "purge";
  if (words.size() != (needs_email ? 3u : 2u)) {
    return usage_error(needs_email ? "privacy " + sub + " needs exactly one EMAIL" : "privacy purge takes no arguments");
  }
  int code = 0;
  auto env = open_command_env(args, code);
  if (!env) return code;
  const std::int64_t now = SystemClock().now_unix();
  const privacy::Actor actor{cli_actor(), ""};
  if (sub == "export") {
    auto data = privacy::export_donor(*env->db, words[2], now);
    if (!data.ok()) return fail(data.status());
    std::printf("%s\n", data->dump(2).c_str());
    return 0;
  }
  if (sub == "erase") {
    auto erased = privacy::erase_donor(*env->db, words[2], actor, now);
    if (!erased.ok()) return fail(erased.status());
    std::printf("erased: %d donations and %d Stripe events now carry %s; %d queued receipt e-mails cancelled\n",
                erased->donations, erased->events, erased->pseudonym.c_str(), erased->mails_cancelled);
    return 0;
  }
  const bool dry_run = args.flag("dry-run");
  auto purge = privacy::purge_expired(*env->db, env->config.privacy.receipt_retention_years, actor, now, dry_run);
  if (!purge.ok()) return fail(purge.status());
  std::printf("%s everything before %s (retention %d years): %lld donations, %lld receipts, %lld refunds, "
              "%lld history rows, %lld Stripe events, %lld outbox rows\n",
              dry_run ? "would delete" : "deleted", format_iso8601(purge->cutoff).c_str(),
              env->config.privacy.receipt_retention_years, static_cast<long long>(purge->donations),
              static_cast<long long>(purge->receipts), static_cast<long long>(purge->refunds),
              static_cast<long long>(purge->history), static_cast<long long>(purge->events),
              static_cast<long long>(purge->outbox));
  return 0;
}

}  // namespace donatio::cli
