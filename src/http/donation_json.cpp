#include "src/http/donation_json.hpp"

#include "donatio/clock.hpp"

namespace donatio::http {

nlohmann::json donation_json(const store::DonationRecord& d) {
  auto opt = [](const std::optional<std::int64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  auto str_or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  return {{"id", d.id},
          {"campaign", d.campaign_slug ? nlohmann::json(*d.campaign_slug) : nlohmann::json(nullptr)},
          {"status", d.status},
          {"amount", d.amount},
          {"gift_amount", d.gift_amount},
          {"currency", d.currency},
          {"cover_fees", d.cover_fees},
          {"donor", {{"email", d.donor_email}, {"name", d.donor_name}}},
          {"source", d.source},
          {"payment_intent", str_or_null(d.payment_intent_id)},
          {"charge", str_or_null(d.charge_id)},
          {"amount_refunded", d.amount_refunded},
          {"fee", opt(d.fee)},
          {"net", opt(d.net)},
          {"settlement_currency", str_or_null(d.settlement_currency)},
          {"exchange_rate", str_or_null(d.exchange_rate)},
          {"receipt_number", str_or_null(d.receipt_number)},
          {"created_at", format_iso8601(d.created_at)},
          {"updated_at", format_iso8601(d.updated_at)}};
}

}  // namespace donatio::http
