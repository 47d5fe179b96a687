#include "webhooks/sweep.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "src/store/row.hpp"

namespace donatio::webhooks {
namespace {

const std::string kWatermark = "events_sweep_watermark";

void count(SweepReport& report, const IngestResult& r) {
  if (!r.status.ok()) return;
  switch (r.outcome.kind) {
    case ApplyKind::applied: ++report.applied; break;
    case ApplyKind::duplicate: ++report.duplicates; break;
    case ApplyKind::ignored: ++report.ignored; break;
    case ApplyKind::failed: ++report.failed; break;
  }
}

}  // namespace

const std::vector<std::string>& handled_event_types() {
  static const std::vector<std::string> types{
      "payment_intent.processing", "payment_intent.succeeded", "payment_intent.payment_failed",
      "payment_intent.canceled",   "charge.refunded",          "charge.dispute.created",
      "charge.dispute.closed"};
  return types;
}

Result<SweepReport> EventSweeper::sync(std::optional<std::int64_t> since) {
  std::lock_guard lock(mutex_);
  SweepReport report;
  const std::int64_t now = clock_.now_unix();
  std::int64_t from = now - options_.horizon_s;
  if (since) {
    from = std::max(*since, from);
  } else {
    std::string stored;
    Status s = db_.read([&](soci::session& sql) {
      soci::indicator ind;
      sql << "SELECT value FROM sync_state WHERE name = :n", soci::use(kWatermark), soci::into(stored, ind);
      if (!sql.got_data() || ind != soci::i_ok) stored.clear();
      return Status::Ok();
    });
    if (!s.ok()) return s;
    if (!stored.empty()) from = std::max<std::int64_t>(from, std::stoll(stored) - options_.overlap_s);
  }

  // Stripe lists newest first; collect the window, then apply oldest first.
  std::vector<std::string> raw_events;
  ListWindow window;
  window.created_gte = from;
  window.limit = 100;
  for (int page = 0; page < options_.max_pages; ++page) {
    auto listed = gateway_.list_events(window, handled_event_types());
    if (!listed.ok()) return listed.status();
    for (auto& e : listed->data) raw_events.push_back(std::move(e));
    if (!listed->has_more || listed->data.empty()) break;
    auto last = nlohmann::json::parse(raw_events.back(), nullptr, false);
    if (!last.is_object() || !last.contains("id")) break;
    window.starting_after = last["id"].get<std::string>();
  }
  report.listed = static_cast<int>(raw_events.size());
  std::vector<std::pair<StripeEvent, std::string>> parsed;
  for (auto& raw : raw_events) {
    auto event = parse_event(raw);
    if (!event.ok()) {
      ++report.failed;
      spdlog::error("sweep: an event from Stripe's Events API did not parse: {}", event.status().message());
      continue;
    }
    parsed.emplace_back(std::move(event).value(), std::move(raw));
  }
  std::stable_sort(parsed.begin(), parsed.end(),
                   [](const auto& a, const auto& b) { return a.first.created < b.first.created; });
  std::int64_t newest = from;
  std::vector<std::future<IngestResult>> pending;
  for (auto& [event, raw] : parsed) {
    newest = std::max(newest, event.created);
    pending.push_back(ingestor_.submit(std::move(event), std::move(raw), "sweep"));
  }
  bool all_committed = true;
  for (auto& f : pending) {
    auto r = f.get();
    all_committed &= r.status.ok();
    count(report, r);
  }
  // Move the watermark only when everything listed is safely stored.
  if (all_committed && !parsed.empty()) {
    const std::string value = std::to_string(newest);
    Status s = db_.transaction([&](soci::session& sql) {
      sql << "DELETE FROM sync_state WHERE name = :n", soci::use(kWatermark);
      sql << "INSERT INTO sync_state (name, value) VALUES (:n, :v)", soci::use(kWatermark), soci::use(value);
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  report.watermark = newest;
  if (Status s = settle_pending(report); !s.ok()) return s;
  return report;
}

Status EventSweeper::settle_pending(SweepReport& report) {
  // Donations still pending long after creation: ask Stripe what became of their intent and
  // apply the answer as a synthetic event (id "sweep_<pi>_<status>", so it applies once).
  std::vector<std::string> intents;
  const long long before = clock_.now_unix() - options_.settle_after_s;
  Status s = db_.read([&](soci::session& sql) {
    soci::rowset<soci::row> rows =
        (sql.prepare << "SELECT payment_intent_id FROM donations WHERE status IN ('pending', 'processing') "
                        "AND payment_intent_id IS NOT NULL AND created_at < :b ORDER BY created_at LIMIT 500",
         soci::use(before));
    for (const auto& r : rows) intents.push_back(store::str(r, 0));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  for (const auto& id : intents) {
    auto pi = gateway_.retrieve_payment_intent(id);
    if (!pi.ok()) {
      spdlog::warn("sweep: could not retrieve payment intent {}: {}", id, pi.status().error_code());
      continue;
    }
    std::string type;
    if (pi->status == "succeeded") type = "payment_intent.succeeded";
    else if (pi->status == "canceled") type = "payment_intent.canceled";
    else if (pi->status == "processing") type = "payment_intent.processing";
    else continue;
    StripeEvent event;
    event.id = "sweep_" + pi->id + "_" + pi->status;
    event.type = type;
    event.created = clock_.now_unix();
    event.object_type = "payment_intent";
    event.object_id = pi->id;
    PaymentIntentDetails details;
    details.id = pi->id;
    details.amount = pi->amount_minor;
    details.amount_received = pi->amount_received_minor;
    details.currency = pi->currency;
    details.status = pi->status;
    details.latest_charge = pi->latest_charge;
    details.metadata = pi->metadata;
    details.created = pi->created;
    event.payment_intent = std::move(details);
    const std::string raw = nlohmann::json{{"id", event.id}, {"type", type}, {"source", "settle_sweep"},
                                           {"payment_intent", pi->id}, {"status", pi->status}}.dump();
    auto r = ingestor_.apply(std::move(event), raw, "sweep");
    if (r.status.ok() && r.outcome.kind == ApplyKind::applied) ++report.settled;
  }
  return Status::Ok();
}

}  // namespace donatio::webhooks
