// Receipt PDF throughput: renders N receipts on one thread and prints receipts per second and
// the average PDF size. Usage: bench_receipt_pdf [N] (default 500).
// Donor names cycle through Latin, Polish, German, CJK and Arabic so font fallback and
// right-to-left shaping are part of the measurement. The first render (fontconfig start-up)
// is timed separately.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "donatio/receipt.hpp"
#include "src/receipts/receipt_pdf.hpp"

namespace {

donatio::ReceiptDocument make_receipt(std::int64_t sequence, const std::string& donor_name,
                                      donatio::Money amount) {
  donatio::ReceiptDocument receipt;
  receipt.number = donatio::format_receipt_number("CPI-", 2026, sequence);
  receipt.issued_at = 1770681600 + sequence;
  receipt.gift_at = 1770593400 + sequence;
  receipt.org_name = "CyberPeace Example Foundation";
  receipt.org_address = "Example street 1, 1200 Geneva, Switzerland";
  receipt.org_tax_id = "CHE-000.000.000";
  receipt.donor_name = donor_name;
  receipt.donor_email = "donor" + std::to_string(sequence) + "@example.org";
  receipt.amount = std::move(amount);
  receipt.campaign_title = "Hospital ransomware relief";
  receipt.statement = "No goods or services were provided in exchange for this contribution.";
  receipt.payment_reference = "pi_3PxBench" + std::to_string(sequence);
  return receipt;
}

}  // namespace

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 500;
  if (count <= 0) {
    std::fprintf(stderr, "usage: %s [N>0]\n", argv[0]);
    return 2;
  }
  const std::vector<std::pair<std::string, donatio::Money>> donors{
      {"Zoë Lambert", {5000, "CHF"}},  {"Łukasz Wróbel", {5000, "JPY"}},
      {"Anna Müller", {1250, "BHD"}},  {"王芳", {5000, "CHF"}},
      {"ليلى حداد", {2500, "EUR"}},
  };

  using Clock = std::chrono::steady_clock;
  const auto warm_start = Clock::now();
  const std::size_t first_size =
      donatio::receipts::render_receipt_pdf(make_receipt(0, donors[0].first, donors[0].second))
          .size();
  const double first_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - warm_start).count();

  std::uint64_t total_bytes = 0;
  const auto start = Clock::now();
  for (long i = 0; i < count; ++i) {
    const auto& [name, amount] = donors[static_cast<std::size_t>(i) % donors.size()];
    total_bytes += donatio::receipts::render_receipt_pdf(make_receipt(i + 1, name, amount)).size();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::printf("first render (includes fontconfig start-up): %.1f ms, %zu bytes\n", first_ms,
              first_size);
  std::printf("receipts: %ld in %.3f s -> %.1f receipts/s, %.2f ms each\n", count, seconds,
              static_cast<double>(count) / seconds, seconds * 1000.0 / static_cast<double>(count));
  std::printf("average size: %.0f bytes (%.1f KB)\n",
              static_cast<double>(total_bytes) / static_cast<double>(count),
              static_cast<double>(total_bytes) / static_cast<double>(count) / 1024.0);
  return 0;
}
