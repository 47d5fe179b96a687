// Admin API tokens. A token is 256 random bits shown once ("dnt_" + 64 hex); only its SHA-256
// is stored. Roles: admin ⊇ finance. Thread-safe (stateless; uses the Database).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/store/database.hpp"

namespace donatio::store {

struct TokenRecord {
  std::int64_t id = 0;
  std::string name;
  std::string role;  // admin | finance
  std::int64_t created_at = 0;
  std::optional<std::int64_t> revoked_at;
};

// "dnt_" + 64 lower-case hex characters from the OS CSPRNG.
std::string generate_token();
// Lower-case hex SHA-256 of the text (token hashes, request fingerprints).
std::string hash_token(std::string_view token);
bool is_valid_role(const std::string& role);
// True when a token of role `held` may do what `needed` allows.
bool role_allows(const std::string& held, const std::string& needed);

class TokenStore {
 public:
  explicit TokenStore(Database& db) : db_(db) {}
  // Creates a token named `name`; returns the plaintext, which is never stored.
  Result<std::string> create(const std::string& name, const std::string& role, const std::string& actor,
                             std::int64_t now);
  // The active token matching `token`, compared by hash in constant time; not_found otherwise.
  Result<TokenRecord> authenticate(std::string_view token);
  Result<std::vector<TokenRecord>> list();
  Status revoke(const std::string& name, const std::string& actor, std::int64_t now);

 private:
  Database& db_;
};

}  // namespace donatio::store
