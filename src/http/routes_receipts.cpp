// Receipt routes. Admin: GET /v1/admin/receipts/{number} (finance; JSON, or PDF with the .pdf
// suffix or Accept: application/pdf), POST /v1/admin/receipts/{number}/resend (admin; queues a
// duplicate-marked e-mail, 202), GET /v1/admin/donors/{email}/statement?year=Y (finance; PDF),
// GET /v1/admin/outbox?status=&limit= (finance). Public: GET /v1/receipts/{number}.pdf?token=
// (the signed link in the donor's e-mail; 404 for any bad token, never revealing whether the
// number exists).
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "donatio/clock.hpp"
#include "src/http/context.hpp"
#include "src/http/errors.hpp"
#include "src/http/request_context.hpp"
#include "src/http/server.hpp"
#include "src/outbox/outbox_store.hpp"
#include "src/outbox/receipt_delivery.hpp"
#include "src/receipts/receipt_pdf.hpp"

namespace donatio::http {
namespace {

constexpr const char* kNumber = "([A-Za-z0-9_-]{1,64})";

nlohmann::json receipt_json(const receipts::ReceiptRecord& r) {
  auto or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  return {{"number", r.number},
          {"kind", r.kind},
          {"references", or_null(r.references_number)},
          {"donation_id", r.donation_id},
          {"amount", r.amount},
          {"currency", r.currency},
          {"issued_at", format_iso8601(r.issued_at)},
          {"gift_at", format_iso8601(r.gift_at)},
          {"donor", {{"email", r.donor_email}, {"name", r.donor_name}}},
          {"campaign", r.campaign_slug ? nlohmann::json(*r.campaign_slug) : nlohmann::json(nullptr)},
          {"campaign_title", r.campaign_slug ? r.campaign_title : std::string(receipts::kGeneralFund)},
          {"payment_reference", or_null(!r.payment_intent_id.empty() ? r.payment_intent_id : r.charge_id)}};
}

nlohmann::json outbox_json(const outbox::OutboxItem& it) {
  auto payload = nlohmann::json::parse(it.payload, nullptr, false);
  return {{"id", it.id},
          {"kind", it.kind},
          {"status", it.status},
          {"attempts", it.attempts},
          {"payload", payload.is_discarded() ? nlohmann::json(nullptr) : payload},
          {"next_attempt_at", format_iso8601(it.next_attempt_at)},
          {"last_error", it.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(it.last_error)},
          {"created_at", format_iso8601(it.created_at)},
          {"updated_at", format_iso8601(it.updated_at)}};
}

bool wants_pdf(const httplib::Request& req, bool suffix) {
  if (suffix) return true;
  const std::string accept = req.get_header_value("Accept");
  return accept.find("application/pdf") != std::string::npos;
}

void send_pdf(httplib::Response& res, const std::string& filename, std::string bytes) {
  res.status = 200;
  res.set_header("Content-Disposition", "inline; filename=\"" + filename + "\"");
  res.set_content(std::move(bytes), "application/pdf");
}

void send_rendered(httplib::Response& res, const std::string& filename, const std::function<std::string()>& render) {
  try {
    send_pdf(res, filename, render());
  } catch (const std::exception& e) {
    spdlog::error("rendering {} failed: {}", filename, e.what());
    send_error(res, Status::Internal("the PDF could not be rendered"));
  }
}

}  // namespace

void register_receipt_routes(HttpServer& server, ServiceContext& ctx) {
  if (ctx.receipt_delivery == nullptr) return;
  outbox::ReceiptDelivery& delivery = *ctx.receipt_delivery;

  server.get(std::string("/v1/admin/receipts/") + kNumber + R"((\.pdf)?)", "/v1/admin/receipts/{number}",
             [&ctx, &delivery](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    const std::string number = req.matches[1];
    auto record = delivery.receipts().find(number);
    if (!record.ok()) return send_error(res, record.status());
    if (!wants_pdf(req, req.matches[2].length() > 0)) return send_json(res, 200, receipt_json(*record).dump());
    const ReceiptDocument doc = receipts::receipt_document(*record, ctx.config.organization, false);
    send_rendered(res, number + ".pdf", [&] { return receipts::render_receipt_pdf(doc); });
  });

  server.post(std::string("/v1/admin/receipts/") + kNumber + "/resend", "/v1/admin/receipts/{number}/resend",
              [&ctx, &delivery](const httplib::Request& req, httplib::Response& res) {
    auto who = require_role(ctx, req, res, "admin");
    if (!who) return;
    const std::string number = req.matches[1];
    auto id = delivery.receipts().enqueue_resend(number, who->token_name, current_request().request_id,
                                                 ctx.clock.now_unix());
    if (!id.ok()) return send_error(res, id.status());
    delivery.nudge_mail();
    spdlog::info("receipt {} resend queued as outbox row {} by {}", number, *id, who->token_name);
    send_json(res, 202, nlohmann::json{{"receipt_number", number}, {"outbox_id", *id}, {"status", "queued"}}.dump());
  });

  server.get(R"(/v1/admin/donors/([^/]{1,254})/statement)", "/v1/admin/donors/{email}/statement",
             [&ctx, &delivery](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    const std::string email = req.matches[1];
    const std::string year_text = req.get_param_value("year");
    if (year_text.size() != 4 || year_text.find_first_not_of("0123456789") != std::string::npos) {
      return send_error(res, Status::InvalidArgument("year", "year must be a four-digit year, e.g. year=2026"));
    }
    auto statement = delivery.receipts().annual_statement(email, std::stoi(year_text), ctx.clock.now_unix());
    if (!statement.ok()) return send_error(res, statement.status());
    send_rendered(res, "statement-" + year_text + ".pdf", [&] { return receipts::render_statement_pdf(*statement); });
  });

  server.get("/v1/admin/outbox", "/v1/admin/outbox", [&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!require_role(ctx, req, res, "finance")) return;
    const std::string status = req.get_param_value("status");
    if (!status.empty() && status != "pending" && status != "done" && status != "dead") {
      return send_error(res, Status::InvalidArgument("status", "status must be pending, done or dead"));
    }
    int limit = 100;
    if (req.has_param("limit")) {
      const std::string text = req.get_param_value("limit");
      if (text.empty() || text.size() > 3 || text.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(text) < 1 || std::stoi(text) > 500) {
        return send_error(res, Status::InvalidArgument("limit", "limit must be an integer from 1 to 500"));
      }
      limit = std::stoi(text);
    }
    auto items = outbox::OutboxStore(ctx.db).list(status, limit);
    if (!items.ok()) return send_error(res, items.status());
    nlohmann::json data = nlohmann::json::array();
    for (const auto& it : *items) data.push_back(outbox_json(it));
    send_json(res, 200, nlohmann::json{{"data", std::move(data)}}.dump());
  });

  server.get(std::string("/v1/receipts/") + kNumber + R"(\.pdf)", "/v1/receipts/{number}.pdf",
             [&ctx, &delivery](const httplib::Request& req, httplib::Response& res) {
    const std::string number = req.matches[1];
    // The same answer for a bad token and an unknown number: the link proves nothing else.
    const Status not_found = Status::NotFound("no such receipt", "receipt_not_found");
    if (!delivery.links().verify(number, req.get_param_value("token"))) return send_error(res, not_found);
    auto record = delivery.receipts().find(number);
    if (!record.ok()) return send_error(res, record.status().code() == StatusCode::not_found ? not_found : record.status());
    const ReceiptDocument doc = receipts::receipt_document(*record, ctx.config.organization, false);
    send_rendered(res, number + ".pdf", [&] { return receipts::render_receipt_pdf(doc); });
  });
}

}  // namespace donatio::http
