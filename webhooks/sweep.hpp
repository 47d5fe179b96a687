// EventSweeper: the catch-up that makes "nothing acknowledged is lost" true even when our
// endpoint was down. Lists Stripe's Events API from a stored watermark minus an overlap
// (30-day horizon), applies every event not yet seen through the same ingest path as the
// webhook (duplicates are no-ops), and settles donations left pending by asking Stripe for
// their payment intent. Used by a background thread in the service and by `donatio events sync`.
// Thread-safety: one sweep at a time per instance (a mutex); several instances are safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "donatio/clock.hpp"
#include "donatio/payment_gateway.hpp"
#include "src/store/database.hpp"
#include "webhooks/ingestor.hpp"

namespace donatio::webhooks {

struct SweepReport {
  int listed = 0;    // events Stripe returned
  int applied = 0;   // newly applied
  int duplicates = 0;
  int ignored = 0;
  int failed = 0;
  int settled = 0;   // pending donations settled from their payment intent
  std::int64_t watermark = 0;
};

struct SweepOptions {
  std::int64_t overlap_s = 600;
  std::int64_t horizon_s = 30 * 86400;  // Stripe keeps events 30 days
  std::int64_t settle_after_s = 3600;   // pending donations older than this are settled
  int max_pages = 200;
};

class EventSweeper {
 public:
  EventSweeper(store::Database& db, PaymentGateway& gateway, EventIngestor& ingestor, const Clock& clock,
               SweepOptions options)
      : db_(db), gateway_(gateway), ingestor_(ingestor), clock_(clock), options_(options) {}

  // `since`: list events created at or after it; default: stored watermark − overlap, or the
  // 30-day horizon when none is stored.
  Result<SweepReport> sync(std::optional<std::int64_t> since = std::nullopt);

 private:
  Status settle_pending(SweepReport& report);
  store::Database& db_;
  PaymentGateway& gateway_;
  EventIngestor& ingestor_;
  const Clock& clock_;
  SweepOptions options_;
  std::mutex mutex_;
};

// The event types donatio acts on (the `types[]` filter of the sweep).
const std::vector<std::string>& handled_event_types();

}  // namespace donatio::webhooks
