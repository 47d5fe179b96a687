// What one donation adds to its donation_daily_totals row (src/store/daily_totals.hpp): pure
// rules, no database. The integration tests hold them equal to the SQL aggregate.
#include <catch2/catch.hpp>

#include "src/store/daily_totals.hpp"

using namespace donatio::store;

namespace {

SummaryInputs succeeded_chf() {
  SummaryInputs d;
  d.campaign_id = 7;
  d.currency = "CHF";
  d.status = "succeeded";
  d.created_at = 1798761600 + 3600;  // 2027-01-01T01:00:00Z
  d.amount = 5000;
  d.fee = 175;
  d.net = 4825;
  return d;
}

}  // namespace

TEST_CASE("a UTC day starts at midnight, also before 1970") {
  CHECK(utc_day_start(1798761600) == 1798761600);
  CHECK(utc_day_start(1798761600 + 86399) == 1798761600);
  CHECK(utc_day_start(1798761600 - 1) == 1798761600 - 86400);
  CHECK(utc_day_start(0) == 0);
  CHECK(utc_day_start(-1) == -86400);
  CHECK(utc_day_start(-86400) == -86400);
}

TEST_CASE("only donations whose money moved count in the summary") {
  for (const char* status : {"succeeded", "partially_refunded", "refunded", "disputed", "lost"}) {
    auto d = succeeded_chf();
    d.status = status;
    CHECK(contribution(d).count == 1);
  }
  for (const char* status : {"pending", "processing", "failed", "canceled"}) {
    auto d = succeeded_chf();
    d.status = status;
    CHECK(contribution(d).is_zero());
  }
}

TEST_CASE("fee and net count only when known and settled in the donation's currency") {
  auto d = succeeded_chf();
  auto own = contribution(d);
  CHECK(own.gross == 5000);
  CHECK(own.fees == 175);
  CHECK(own.net == 4825);
  CHECK(own.fees_excluded == 0);

  d.settlement_currency = "CHF";
  CHECK(contribution(d).fees == 175);

  d.settlement_currency = "USD";
  auto other = contribution(d);
  CHECK(other.fees == 0);
  CHECK(other.net == 0);
  CHECK(other.fees_excluded == 1);

  d.settlement_currency = "";  // stored but empty: not the donation's currency (as in SQL)
  CHECK(contribution(d).fees_excluded == 1);

  d = succeeded_chf();
  d.net.reset();
  auto half = contribution(d);
  CHECK(half.fees == 175);
  CHECK(half.net == 0);
  CHECK(half.fees_excluded == 1);
}

TEST_CASE("refunded and disputed amounts are carried as they are") {
  auto d = succeeded_chf();
  d.status = "partially_refunded";
  d.amount_refunded = 2000;
  d.disputed_amount = 300;
  auto t = contribution(d);
  CHECK(t.refunded == 2000);
  CHECK(t.disputed == 300);
  DailyTotals sum;
  sum += t;
  sum += t;
  sum -= t;
  CHECK(sum.gross == t.gross);
  CHECK(sum.refunded == 2000);
}
