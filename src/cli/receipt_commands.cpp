// `donatio receipts …`: resend NUMBER (queues a duplicate-marked e-mail in the outbox; a
// running `serve` sends it) and annual (one statement PDF per donor and year).
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "donatio/clock.hpp"
#include "src/cli/commands.hpp"
#include "src/http/request_context.hpp"
#include "src/receipts/receipt_pdf.hpp"
#include "src/receipts/receipt_service.hpp"

namespace donatio::cli {
namespace {

constexpr const char* kReceiptsUsage =
    "Usage:\n"
    "  donatio receipts resend NUMBER --config FILE\n"
    "      queue a copy marked DUPLICATE of receipt NUMBER for e-mail (sent by the running service)\n"
    "  donatio receipts annual --config FILE --year YYYY [--donor EMAIL] [--out DIR]\n"
    "      write one annual statement PDF per donor (default: every donor with gifts that year)\n"
    "      to DIR (default: .), and print each file's path\n";

// A file name from an e-mail address: keeps letters, digits, '@', '.', '-', '_'.
std::string file_safe(const std::string& email) {
  std::string out;
  for (char c : email) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '@' || c == '.' || c == '-' || c == '_';
    out += keep ? c : '_';
  }
  return out;
}

int resend(const Args& args, store::Database& db, const Config& config) {
  const auto& words = args.positional();
  if (words.size() != 3) return usage_error("receipts resend needs exactly one receipt NUMBER");
  receipts::ReceiptService service(db, config.organization);
  auto id = service.enqueue_resend(words[2], cli_actor(), "",
                                   SystemClock().now_unix());
  if (!id.ok()) return fail(id.status());
  std::printf("queued a duplicate of %s as outbox row %lld\n", words[2].c_str(), static_cast<long long>(*id));
  return 0;
}

int annual(const Args& args, store::Database& db, const Config& config) {
  const std::string year_text = args.get_or("year", "");
  if (year_text.size() != 4 || year_text.find_first_not_of("0123456789") != std::string::npos) {
    return usage_error("--year YYYY is required");
  }
  const int year = std::stoi(year_text);
  const std::filesystem::path out_dir = args.get_or("out", ".");
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return fail(Status::InvalidArgument("out", "cannot create --out directory: " + ec.message()));
  receipts::ReceiptService service(db, config.organization);
  std::vector<std::string> donors;
  if (auto donor = args.get("donor")) {
    donors.push_back(*donor);
  } else {
    auto all = service.donors_in(year);
    if (!all.ok()) return fail(all.status());
    donors = std::move(*all);
  }
  const std::int64_t now = SystemClock().now_unix();
  int written = 0;
  for (const auto& email : donors) {
    auto statement = service.annual_statement(email, year, now);
    if (!statement.ok()) {
      std::fprintf(stderr, "donatio: %s: %s\n", email.c_str(), statement.status().message().c_str());
      if (args.get("donor")) return 1;
      continue;
    }
    const auto path = out_dir / ("statement-" + year_text + "-" + file_safe(email) + ".pdf");
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string pdf = receipts::render_statement_pdf(*statement);
    out.write(pdf.data(), static_cast<std::streamsize>(pdf.size()));
    if (!out) return fail(Status::Internal("cannot write " + path.string()));
    std::printf("%s\n", path.string().c_str());
    ++written;
  }
  if (written == 0 && donors.empty()) std::fprintf(stderr, "donatio: no gifts with receipts in %d\n", year);
  return 0;
}

}  // namespace

int run_receipt_commands(const Args& args) {
  const auto& words = args.positional();
  const std::string sub = words.size() > 1 ? words[1] : "";
  if (args.help() || sub.empty()) {
    std::fputs(kReceiptsUsage, stdout);
    return sub.empty() && !args.help() ? 2 : 0;
  }
  if (sub != "resend" && sub != "annual") return usage_error("unknown receipts command '" + sub + "'");
  if (auto bad = args.unknown_option({"config", "year", "donor", "out"}); !bad.empty()) {
    return usage_error("unknown option --" + bad);
  }
  int code = 0;
  auto env = open_command_env(args, code);
  if (!env) return code;
  return sub == "resend" ? resend(args, *env->db, env->config) : annual(args, *env->db, env->config);
}

}  // namespace donatio::cli
