#include "src/receipts/receipt_store.hpp"

#include "src/store/donation_store.hpp"
#include "src/store/row.hpp"

namespace donatio::receipts {
namespace {

using store::i64;
using store::is_null;
using store::str;

constexpr const char* kGiftFilter =
    "FROM receipts r JOIN donations d ON d.id = r.donation_id LEFT JOIN campaigns c ON c.id = d.campaign_id "
    "WHERE r.kind = 'receipt' AND r.year = :y AND d.status IN ('succeeded', 'partially_refunded', 'disputed') ";

}  // namespace

Result<ReceiptRecord> ReceiptStore::find(const std::string& number) {
  std::optional<ReceiptRecord> found;
  Status s = db_.read([&](soci::session& sql) {
    soci::rowset<soci::row> rows =
        (sql.prepare << "SELECT r.number, r.kind, r.references_number, r.donation_id, r.amount, r.currency, "
                        "r.issued_at, d.donor_email, d.donor_name, d.created_at, d.payment_intent_id, d.charge_id, "
                        "c.slug, c.title FROM receipts r JOIN donations d ON d.id = r.donation_id "
                        "LEFT JOIN campaigns c ON c.id = d.campaign_id WHERE r.number = :n",
         soci::use(number));
    for (const auto& r : rows) {
      ReceiptRecord rec;
      rec.number = str(r, 0);
      rec.kind = str(r, 1);
      rec.references_number = str(r, 2);
      rec.donation_id = str(r, 3);
      rec.amount = i64(r, 4);
      rec.currency = str(r, 5);
      rec.issued_at = i64(r, 6);
      rec.donor_email = str(r, 7);
      rec.donor_name = str(r, 8);
      rec.gift_at = i64(r, 9);
      rec.payment_intent_id = str(r, 10);
      rec.charge_id = str(r, 11);
      if (!is_null(r, 12)) rec.campaign_slug = str(r, 12);
      rec.campaign_title = str(r, 13);
      found = std::move(rec);
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!found) return Status::NotFound("no receipt with this number", "receipt_not_found");
  return *found;
}

Result<std::vector<StatementGift>> ReceiptStore::gifts_of(const std::string& donor_email, int year) {
  std::vector<StatementGift> gifts;
  Status s = db_.read([&](soci::session& sql) {
    soci::rowset<soci::row> rows =
        (sql.prepare << std::string("SELECT r.number, d.created_at, c.title, d.amount, d.amount_refunded, d.currency, "
                                    "d.donor_name ") +
                            kGiftFilter + "AND " + store::kDonorEmailMatch + " ORDER BY d.created_at, r.sequence",
         soci::use(year), soci::use(donor_email));
    for (const auto& r : rows) {
      StatementGift g;
      g.receipt_number = str(r, 0);
      g.gift_at = i64(r, 1);
      g.campaign_title = str(r, 2);
      g.amount = i64(r, 3);
      g.amount_refunded = i64(r, 4);
      g.currency = str(r, 5);
      g.donor_name = str(r, 6);
      gifts.push_back(std::move(g));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return gifts;
}

Result<std::vector<std::string>> ReceiptStore::donors_in(int year) {
  std::vector<std::string> donors;
  Status s = db_.read([&](soci::session& sql) {
    soci::rowset<soci::row> rows =
        (sql.prepare << std::string("SELECT DISTINCT LOWER(d.donor_email) ") + kGiftFilter +
                            "AND d.donor_email <> '' ORDER BY 1",
         soci::use(year));
    for (const auto& r : rows) donors.push_back(str(r, 0));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return donors;
}

}  // namespace donatio::receipts
