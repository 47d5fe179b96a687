#include <catch2/catch.hpp>

#include "donatio/donation.hpp"

using namespace donatio;

TEST_CASE("a late processing event never moves a succeeded donation back") {
  auto d = decide_transition(DonationStatus::succeeded, PaymentEvent::processing, true);
  CHECK_FALSE(d.changes);
  CHECK(d.next == DonationStatus::succeeded);
}

TEST_CASE("entering succeeded for the first time issues a receipt") {
  auto d = decide_transition(DonationStatus::pending, PaymentEvent::succeeded, false);
  CHECK(d.changes);
  CHECK(d.next == DonationStatus::succeeded);
  CHECK(d.issues_receipt);
  auto again = decide_transition(DonationStatus::disputed, PaymentEvent::dispute_won, true);
  CHECK(again.next == DonationStatus::succeeded);
  CHECK_FALSE(again.issues_receipt);
}

TEST_CASE("a refund that arrives before the success still ends refunded") {
  auto d = decide_transition(DonationStatus::pending, PaymentEvent::refunded, false);
  CHECK(d.next == DonationStatus::refunded);
  auto late = decide_transition(DonationStatus::refunded, PaymentEvent::succeeded, false);
  CHECK_FALSE(late.changes);
  CHECK(late.next == DonationStatus::refunded);
}

TEST_CASE("disputes: won returns to succeeded, lost is final") {
  CHECK(decide_transition(DonationStatus::succeeded, PaymentEvent::dispute_opened, true).next ==
        DonationStatus::disputed);
  CHECK(decide_transition(DonationStatus::disputed, PaymentEvent::dispute_lost, true).next ==
        DonationStatus::lost);
  CHECK_FALSE(decide_transition(DonationStatus::lost, PaymentEvent::dispute_won, true).changes);
  CHECK_FALSE(decide_transition(DonationStatus::pending, PaymentEvent::dispute_opened, false).changes);
}

TEST_CASE("a failed attempt can still succeed, a canceled intent cannot") {
  CHECK(decide_transition(DonationStatus::failed, PaymentEvent::succeeded, false).next ==
        DonationStatus::succeeded);
  CHECK_FALSE(decide_transition(DonationStatus::canceled, PaymentEvent::succeeded, false).changes);
  CHECK_FALSE(decide_transition(DonationStatus::succeeded, PaymentEvent::payment_failed, true).changes);
}

TEST_CASE("status names round-trip") {
  for (auto s : {DonationStatus::pending, DonationStatus::partially_refunded, DonationStatus::canceled}) {
    CHECK(parse_donation_status(donation_status_name(s)) == s);
  }
  CHECK_FALSE(parse_donation_status("paid").has_value());
}

TEST_CASE("cover-the-fees gross-up uses ceil((gift + fixed) / (1 - pct))") {
  // 2.9 % + 30: gift 1000 -> (1030 / 0.971) = 1060.76… -> 1061
  CHECK(gross_up_for_fees(1000, 290, 30) == 1061);
  // exact division stays exact: 0 % fee
  CHECK(gross_up_for_fees(1000, 0, 0) == 1000);
  CHECK_FALSE(gross_up_for_fees(1000, 10000, 0).has_value());
  CHECK_FALSE(gross_up_for_fees(-1, 290, 30).has_value());
}
