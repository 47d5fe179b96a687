#include "src/store/token_store.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "src/http/request_context.hpp"
#include "src/store/audit_log.hpp"
#include "src/store/row.hpp"

namespace donatio::store {

std::string generate_token() { return "dnt_" + http::random_hex(32); }

std::string hash_token(std::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(len) * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

bool is_valid_role(const std::string& role) { return role == "admin" || role == "finance"; }

bool role_allows(const std::string& held, const std::string& needed) {
  if (held == "admin") return true;
  return held == "finance" && needed == "finance";
}

Result<std::string> TokenStore::create(const std::string& name, const std::string& role, const std::string& actor,
                                       std::int64_t now) {
  if (name.empty() || name.size() > 100) return Status::InvalidArgument("name", "name must be 1-100 characters");
  if (!is_valid_role(role)) return Status::InvalidArgument("role", "role must be admin or finance");
  const std::string token = generate_token();
  const std::string hash = hash_token(token);
  Status s = db_.transaction([&](soci::session& sql) {
    const long long at = now;
    sql << "INSERT INTO tokens (name, role, token_hash, created_at) VALUES (:n, :r, :h, :c)", soci::use(name),
        soci::use(role), soci::use(hash), soci::use(at);
    append_audit(sql, {actor, "token.created", name, "{\"role\":\"" + role + "\"}", ""}, now);
    return Status::Ok();
  });
  if (s.code() == StatusCode::conflict) return Status::Conflict("a token named '" + name + "' already exists", "token_exists", "name");
  if (!s.ok()) return s;
  return token;
}

Result<TokenRecord> TokenStore::authenticate(std::string_view token) {
  if (token.size() != 68 || token.substr(0, 4) != "dnt_") return Status::NotFound("unknown token");
  const std::string hash = hash_token(token);
  TokenRecord record;
  bool found = false;
  Status s = db_.read([&](soci::session& sql) {
    std::string stored_hash;
    long long id = 0, created = 0;
    sql << "SELECT id, name, role, token_hash, created_at FROM tokens WHERE token_hash = :h AND revoked_at IS NULL",
        soci::use(hash), soci::into(id), soci::into(record.name), soci::into(record.role), soci::into(stored_hash),
        soci::into(created);
    // The index lookup finds the row; the final equality check is constant-time.
    found = sql.got_data() && stored_hash.size() == hash.size() &&
            CRYPTO_memcmp(stored_hash.data(), hash.data(), hash.size()) == 0;
    record.id = id;
    record.created_at = created;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!found) return Status::NotFound("unknown token");
  return record;
}

Result<std::vector<TokenRecord>> TokenStore::list() {
  std::vector<TokenRecord> out;
  Status s = db_.read([&](soci::session& sql) {
    soci::rowset<soci::row> rows = (sql.prepare << "SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY id");
    for (const auto& row : rows) {
      TokenRecord t;
      t.id = i64(row, 0);
      t.name = str(row, 1);
      t.role = str(row, 2);
      t.created_at = i64(row, 3);
      t.revoked_at = opt_i64(row, 4);
      out.push_back(std::move(t));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status TokenStore::revoke(const std::string& name, const std::string& actor, std::int64_t now) {
  return db_.transaction([&](soci::session& sql) {
    const long long at = now;
    soci::statement st = (sql.prepare << "UPDATE tokens SET revoked_at = :at WHERE name = :n AND revoked_at IS NULL",
                          soci::use(at), soci::use(name));
    st.execute(true);
    if (st.get_affected_rows() == 0) return Status::NotFound("no active token named '" + name + "'", "token_not_found");
    append_audit(sql, {actor, "token.revoked", name, "{}", ""}, now);
    return Status::Ok();
  });
}

}  // namespace donatio::store
