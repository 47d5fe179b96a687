// Donation: one gift and its state machine. Transitions only move forward:
//   pending → processing → succeeded → partially_refunded → refunded
//   succeeded/partially_refunded → disputed → succeeded (won) | lost
//   pending/processing → failed (a new attempt may still succeed) | canceled
// A late event never moves a donation back; a refund that arrives before the success still
// ends refunded. `decide_transition` is the one pure function that says where an event takes a
// donation; the store applies its answer inside one transaction. Thread-safe (pure).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace donatio {

enum class DonationStatus {
  pending,
  processing,
  succeeded,
  partially_refunded,
  refunded,
  disputed,
  lost,
  failed,
  canceled,
};

const char* donation_status_name(DonationStatus status);
std::optional<DonationStatus> parse_donation_status(std::string_view name);

// What the provider told us happened.
enum class PaymentEvent {
  processing,
  succeeded,
  payment_failed,
  canceled,
  partially_refunded,
  refunded,
  dispute_opened,
  dispute_won,
  dispute_lost,
};

struct TransitionDecision {
  bool changes = false;      // false: keep the current status (a late or repeated event)
  DonationStatus next = DonationStatus::pending;
  bool issues_receipt = false;   // entering succeeded for the first time
  const char* reason = "";       // why it was ignored, for the history/audit row
};

// REQUIRES: `already_receipted` tells whether a receipt number was issued before.
TransitionDecision decide_transition(DonationStatus current, PaymentEvent event,
                                     bool already_receipted);

// True for statuses whose money counts toward a campaign's raised amount.
bool counts_as_raised(DonationStatus status);

// Cover-the-fees gross-up: the amount to charge so that after `percent_bps` basis points and
// `fixed_minor` the recipient gets `gift_minor`: ceil((gift + fixed) / (1 − pct)).
// Integer arithmetic only. nullopt on overflow or a percentage >= 100 %.
std::optional<std::int64_t> gross_up_for_fees(std::int64_t gift_minor, int percent_bps,
                                              std::int64_t fixed_minor);

}  // namespace donatio
