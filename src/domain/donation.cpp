// The donation state machine (see include/donatio/donation.hpp).
#include "donatio/donation.hpp"

#include <array>
#include <limits>

namespace donatio {
namespace {

constexpr std::array<const char*, 9> kNames{"pending", "processing", "succeeded",
                                            "partially_refunded", "refunded", "disputed",
                                            "lost", "failed", "canceled"};

TransitionDecision keep(DonationStatus current, const char* reason) {
  return {false, current, false, reason};
}
TransitionDecision move(DonationStatus next, bool issues_receipt = false) {
  return {true, next, issues_receipt, ""};
}

}  // namespace

const char* donation_status_name(DonationStatus status) {
  return kNames[static_cast<std::size_t>(status)];
}

std::optional<DonationStatus> parse_donation_status(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (name == kNames[i]) return static_cast<DonationStatus>(i);
  }
  return std::nullopt;
}

TransitionDecision decide_transition(DonationStatus current, PaymentEvent event,
                                     bool already_receipted) {
  using S = DonationStatus;
  using E = PaymentEvent;
  const bool before_success = current == S::pending || current == S::processing || current == S::failed;
  switch (event) {
    case E::processing:
      if (current == S::pending || current == S::failed) return move(S::processing);
      return keep(current, "late processing event");
    case E::succeeded:
      if (before_success) return move(S::succeeded, !already_receipted);
      return keep(current, "already past succeeded");
    case E::payment_failed:
      // A failed attempt; the donor may try again on the same payment intent.
      if (current == S::pending || current == S::processing) return move(S::failed);
      return keep(current, "late payment_failed event");
    case E::canceled:
      if (before_success) return move(S::canceled);
      return keep(current, "late canceled event");
    case E::partially_refunded:
      if (current == S::succeeded || before_success) return move(S::partially_refunded, !already_receipted && current != S::succeeded);
      if (current == S::partially_refunded) return move(S::partially_refunded);
      return keep(current, "refund does not apply in this state");
    case E::refunded:
      if (current == S::succeeded || current == S::partially_refunded || before_success ||
          current == S::canceled) {
        return move(S::refunded);
      }
      return keep(current, "refund does not apply in this state");
    case E::dispute_opened:
      if (current == S::succeeded || current == S::partially_refunded) return move(S::disputed);
      return keep(current, "dispute does not apply in this state");
    case E::dispute_won:
      if (current == S::disputed) return move(S::succeeded);
      return keep(current, "no open dispute");
    case E::dispute_lost:
      if (current == S::disputed) return move(S::lost);
      return keep(current, "no open dispute");
  }
  return keep(current, "unknown event");
}

bool counts_as_raised(DonationStatus status) {
  return status == DonationStatus::succeeded || status == DonationStatus::partially_refunded ||
         status == DonationStatus::disputed;
}

std::optional<std::int64_t> gross_up_for_fees(std::int64_t gift_minor, int percent_bps,
                                              std::int64_t fixed_minor) {
  if (gift_minor < 0 || fixed_minor < 0 || percent_bps < 0 || percent_bps >= 10000) {
    return std::nullopt;
  }
  // charged = ceil((gift + fixed) * 10000 / (10000 - bps)), in 128-bit to avoid overflow.
  const __int128 numerator = static_cast<__int128>(gift_minor + fixed_minor) * 10000;
  const __int128 denominator = 10000 - percent_bps;
  const __int128 charged = (numerator + denominator - 1) / denominator;
  if (charged > std::numeric_limits<std::int64_t>::max()) return std::nullopt;
  return static_cast<std::int64_t>(charged);
}

}  // namespace donatio
