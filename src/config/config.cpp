// Loading and validating config.toml (see include/donatio/config.hpp).
#include "donatio/config.hpp"

#include <toml++/toml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "donatio/money.hpp"

namespace donatio {
namespace {

namespace fs = std::filesystem;

// Reports the first problem as "key: what is wrong".
class Reader {
 public:
  explicit Reader(const toml::table& root) : root_(root) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(const std::string& key, const std::string& what) {
    if (error_.empty()) error_ = key + ": " + what;
  }

  // Rejects unknown sections and keys: a typo must not silently fall back to a default.
  void check_known(const std::map<std::string, std::set<std::string>>& known) {
    for (const auto& [section, node] : root_) {
      const std::string name(section.str());
      auto it = known.find(name);
      if (it == known.end()) {
        fail(name, "unknown section");
        return;
      }
      const auto* table = node.as_table();
      if (table == nullptr) {
        fail(name, "expected a [" + name + "] table");
        return;
      }
      for (const auto& [key, value] : *table) {
        (void)value;
        if (!it->second.count(std::string(key.str()))) {
          fail(name + "." + std::string(key.str()), "unknown key");
          return;
        }
      }
    }
  }

  void string(const char* section, const char* key, std::string& out, bool required = false) {
    const auto node = root_[section][key];
    if (!node) {
      if (required) fail(path(section, key), "missing (required)");
      return;
    }
    if (auto v = node.value<std::string>(); v && node.is_string()) {
      out = *v;
    } else {
      fail(path(section, key), "expected a string");
    }
  }

  void boolean(const char* section, const char* key, bool& out) {
    const auto node = root_[section][key];
    if (!node) return;
    if (node.is_boolean()) {
      out = *node.value<bool>();
    } else {
      fail(path(section, key), "expected true or false");
    }
  }

  template <typename Int>
  void integer(const char* section, const char* key, Int& out, std::int64_t min, std::int64_t max) {
    const auto node = root_[section][key];
    if (!node) return;
    if (!node.is_integer()) {
      fail(path(section, key), "expected an integer");
      return;
    }
    const std::int64_t v = *node.value<std::int64_t>();
    if (v < min || v > max) {
      fail(path(section, key), "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return;
    }
    out = static_cast<Int>(v);
  }

  void string_list(const char* section, const char* key, std::vector<std::string>& out) {
    const auto node = root_[section][key];
    if (!node) return;
    const auto* array = node.as_array();
    if (array == nullptr) {
      fail(path(section, key), "expected an array of strings");
      return;
    }
    out.clear();
    for (const auto& item : *array) {
      if (!item.is_string()) {
        fail(path(section, key), "expected an array of strings");
        return;
      }
      out.push_back(*item.value<std::string>());
    }
  }

  // A table of currency -> integer, e.g. fee_fixed_minor = { USD = 30, EUR = 25 }.
  void currency_amounts(const char* section, const char* key, std::map<std::string, std::int64_t>& out) {
    const auto node = root_[section][key];
    if (!node) return;
    const auto* table = node.as_table();
    if (table == nullptr) {
      fail(path(section, key), "expected a table like { USD = 30, EUR = 25 }");
      return;
    }
    out.clear();
    for (const auto& [code, value] : *table) {
      const std::string currency = upper_currency(code.str());
      if (!is_known_currency(currency)) {
        fail(path(section, key) + "." + std::string(code.str()), "not an ISO-4217 currency code");
        return;
      }
      if (!value.is_integer() || *value.value<std::int64_t>() < 0) {
        fail(path(section, key) + "." + std::string(code.str()), "expected a non-negative integer (minor units)");
        return;
      }
      out[currency] = *value.value<std::int64_t>();
    }
  }

 private:
  static std::string path(const char* section, const char* key) {
    return std::string(section) + "." + key;
  }
  const toml::table& root_;
  std::string error_;
};

bool split_listen(const std::string& listen, std::string& host, int& port) {
  std::string h;
  std::string p;
  if (!listen.empty() && listen.front() == '[') {
    const auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') return false;
    h = listen.substr(1, close - 1);
    p = listen.substr(close + 2);
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    h = listen.substr(0, colon);
    p = listen.substr(colon + 1);
    if (h.find(':') != std::string::npos) return false;  // IPv6 needs brackets
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  const int value = std::stoi(p);
  if (value > 65535) return false;
  host = h;
  port = value;
  return true;
}

std::string resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

bool valid_env_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return !(name[0] >= '0' && name[0] <= '9');
}

}  // namespace

Result<Config> parse_config(const std::string& toml_text, const std::string& base_dir) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "TOML syntax error at line " << e.source().begin.line << ": " << e.description();
    return Status::InvalidArgument("config", msg.str(), "invalid_config");
  }

  Config c;
  Reader r(root);
  r.check_known({
      {"server", {"listen", "tls", "tls_cert", "tls_key", "allowed_origins", "max_body_bytes", "threads",
                  "keep_alive_max_count", "read_timeout_ms", "request_timeout_ms", "write_timeout_ms", "shutdown_grace_ms",
                  "max_header_count", "log_json", "log_level", "public_rate_per_minute",
                  "public_rate_burst", "admin_auth_failures_per_minute", "receipt_link_base"}},
      {"database", {"url", "pool_size", "synchronous_commit"}},
      {"stripe", {"api_base", "api_version", "secret_key_env", "webhook_secrets_env", "webhook_tolerance_s",
                  "timeout_ms", "connect_timeout_ms", "max_retries", "max_connections", "ca_file", "fee_percent_bps",
                  "fee_fixed_minor", "max_amount_minor", "default_max_amount_minor", "sweep_interval_s",
                  "sweep_overlap_s", "pending_settle_after_s"}},
      {"organization", {"name", "address", "tax_id", "receipt_prefix", "receipt_footer", "receipt_secret_env"}},
      {"smtp", {"url", "from", "username_env", "password_env", "ca_file", "timeout_ms", "max_attempts", "enabled"}},
      {"outbox", {"poll_interval_ms", "base_backoff_s", "max_backoff_s"}},
      {"privacy", {"receipt_retention_years"}},
  });

  auto& s = c.server;
  r.string("server", "listen", s.listen);
  r.boolean("server", "tls", s.tls);
  r.string("server", "tls_cert", s.tls_cert);
  r.string("server", "tls_key", s.tls_key);
  r.string_list("server", "allowed_origins", s.allowed_origins);
  r.integer("server", "max_body_bytes", s.max_body_bytes, 1024, 64 * 1024 * 1024);
  r.integer("server", "threads", s.threads, 2, 1024);
  r.integer("server", "keep_alive_max_count", s.keep_alive_max_count, 1, 100000);
  r.integer("server", "read_timeout_ms", s.read_timeout_ms, 100, 600000);
  r.integer("server", "request_timeout_ms", s.request_timeout_ms, 100, 600000);
  r.integer("server", "write_timeout_ms", s.write_timeout_ms, 100, 600000);
  r.integer("server", "shutdown_grace_ms", s.shutdown_grace_ms, 0, 600000);
  r.integer("server", "max_header_count", s.max_header_count, 8, 1000);
  r.boolean("server", "log_json", s.log_json);
  r.string("server", "log_level", s.log_level);
  r.integer("server", "public_rate_per_minute", s.public_rate_per_minute, 1, 1000000);
  r.integer("server", "public_rate_burst", s.public_rate_burst, 1, 1000000);
  r.integer("server", "admin_auth_failures_per_minute", s.admin_auth_failures_per_minute, 1, 1000000);
  r.string("server", "receipt_link_base", s.receipt_link_base);

  auto& d = c.database;
  r.string("database", "url", d.url);
  r.integer("database", "pool_size", d.pool_size, 1, 256);
  r.boolean("database", "synchronous_commit", d.synchronous_commit);

  auto& st = c.stripe;
  r.string("stripe", "api_base", st.api_base);
  r.string("stripe", "api_version", st.api_version);
  r.string("stripe", "secret_key_env", st.secret_key_env);
  r.string("stripe", "webhook_secrets_env", st.webhook_secrets_env);
  r.integer("stripe", "webhook_tolerance_s", st.webhook_tolerance_s, 1, 86400);
  r.integer("stripe", "timeout_ms", st.timeout_ms, 100, 120000);
  r.integer("stripe", "connect_timeout_ms", st.connect_timeout_ms, 100, 120000);
  r.integer("stripe", "max_connections", st.max_connections, 1, 1024);
  r.integer("stripe", "max_retries", st.max_retries, 0, 10);
  r.string("stripe", "ca_file", st.ca_file);
  r.integer("stripe", "fee_percent_bps", st.fee_percent_bps, 0, 9999);
  r.currency_amounts("stripe", "fee_fixed_minor", st.fee_fixed_minor);
  r.currency_amounts("stripe", "max_amount_minor", st.max_amount_minor);
  r.integer("stripe", "default_max_amount_minor", st.default_max_amount_minor, 1, INT64_MAX / 2);
  r.integer("stripe", "sweep_interval_s", st.sweep_interval_s, 0, 86400);
  r.integer("stripe", "sweep_overlap_s", st.sweep_overlap_s, 0, 86400);
  r.integer("stripe", "pending_settle_after_s", st.pending_settle_after_s, 60, 30 * 86400);

  auto& o = c.organization;
  r.string("organization", "name", o.name, true);
  r.string("organization", "address", o.address);
  r.string("organization", "tax_id", o.tax_id);
  r.string("organization", "receipt_prefix", o.receipt_prefix);
  r.string("organization", "receipt_footer", o.receipt_footer);
  r.string("organization", "receipt_secret_env", o.receipt_secret_env);

  auto& m = c.smtp;
  r.string("smtp", "url", m.url);
  r.string("smtp", "from", m.from);
  r.string("smtp", "username_env", m.username_env);
  r.string("smtp", "password_env", m.password_env);
  r.string("smtp", "ca_file", m.ca_file);
  r.integer("smtp", "timeout_ms", m.timeout_ms, 100, 600000);
  r.integer("smtp", "max_attempts", m.max_attempts, 1, 100);
  r.boolean("smtp", "enabled", m.enabled);

  r.integer("outbox", "poll_interval_ms", c.outbox.poll_interval_ms, 10, 600000);
  r.integer("outbox", "base_backoff_s", c.outbox.base_backoff_s, 1, 86400);
  r.integer("outbox", "max_backoff_s", c.outbox.max_backoff_s, 1, 7 * 86400);
  r.integer("privacy", "receipt_retention_years", c.privacy.receipt_retention_years, 1, 100);

  if (r.failed()) return Status::InvalidArgument("config", r.error(), "invalid_config");

  auto bad = [](const std::string& key, const std::string& what) -> Result<Config> {
    return Status::InvalidArgument("config", key + ": " + what, "invalid_config");
  };
  if (!split_listen(s.listen, s.host, s.port)) return bad("server.listen", "expected HOST:PORT, e.g. 127.0.0.1:8443");
  if (s.tls && (s.tls_cert.empty() || s.tls_key.empty())) {
    return bad(s.tls_cert.empty() ? "server.tls_cert" : "server.tls_key", "required when server.tls = true");
  }
  for (const auto& origin : s.allowed_origins) {
    if (origin == "*") return bad("server.allowed_origins", "a wildcard is not allowed; list each origin");
    if (origin.rfind("https://", 0) != 0 && origin.rfind("http://", 0) != 0) {
      return bad("server.allowed_origins", "each origin must start with https:// or http://");
    }
    if (origin.back() == '/') return bad("server.allowed_origins", "an origin has no trailing slash: " + origin);
  }
  static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!kLevels.count(s.log_level)) return bad("server.log_level", "expected one of trace, debug, info, warn, error, off");
  if (d.url.rfind("sqlite:", 0) != 0 && d.url.rfind("postgresql://", 0) != 0 && d.url.rfind("postgres://", 0) != 0) {
    return bad("database.url", "expected sqlite:PATH or postgresql://USER:PASS@HOST:PORT/DB");
  }
  if (d.url.rfind("sqlite:", 0) == 0) {
    if (d.url.size() == 7) return bad("database.url", "sqlite: needs a file path");
    d.url = "sqlite:" + resolve(base_dir, d.url.substr(7));
  }
  if (st.api_base.rfind("https://", 0) != 0 && st.api_base.rfind("http://", 0) != 0) {
    return bad("stripe.api_base", "expected an http(s):// URL");
  }
  while (!st.api_base.empty() && st.api_base.back() == '/') st.api_base.pop_back();
  if (!valid_env_name(st.secret_key_env)) return bad("stripe.secret_key_env", "expected the NAME of an environment variable");
  if (!valid_env_name(st.webhook_secrets_env)) return bad("stripe.webhook_secrets_env", "expected the NAME of an environment variable");
  if (!valid_env_name(o.receipt_secret_env)) return bad("organization.receipt_secret_env", "expected the NAME of an environment variable");
  if (!m.username_env.empty() && !valid_env_name(m.username_env)) return bad("smtp.username_env", "expected the NAME of an environment variable");
  if (!m.password_env.empty() && !valid_env_name(m.password_env)) return bad("smtp.password_env", "expected the NAME of an environment variable");
  if (o.name.empty()) return bad("organization.name", "must not be empty");
  if (o.receipt_prefix.size() > 16 || o.receipt_prefix.find_first_of(" /\\?#%") != std::string::npos) {
    return bad("organization.receipt_prefix", "at most 16 characters, no spaces, slashes, ?, # or %");
  }
  if (m.url.rfind("smtp://", 0) != 0 && m.url.rfind("smtps://", 0) != 0) return bad("smtp.url", "expected smtp://HOST:PORT or smtps://HOST:PORT");
  if (m.from.find('@') == std::string::npos) return bad("smtp.from", "expected an e-mail address");
  if (c.outbox.max_backoff_s < c.outbox.base_backoff_s) return bad("outbox.max_backoff_s", "must be >= outbox.base_backoff_s");

  s.tls_cert = resolve(base_dir, s.tls_cert);
  s.tls_key = resolve(base_dir, s.tls_key);
  st.ca_file = resolve(base_dir, st.ca_file);
  m.ca_file = resolve(base_dir, m.ca_file);
  return c;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("config", path + ": cannot read the configuration file", "invalid_config");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string base = fs::path(path).parent_path().string();
  auto config = parse_config(text.str(), base.empty() ? "." : base);
  if (config.ok()) config->path = path;
  return config;
}

Result<Secrets> load_secrets(const Config& config, bool require_webhook_secret) {
  auto env = [](const std::string& name) -> std::string {
    if (name.empty()) return {};
    const char* v = std::getenv(name.c_str());
    return v ? std::string(v) : std::string();
  };
  Secrets secrets;
  secrets.stripe_secret_key = env(config.stripe.secret_key_env);
  std::stringstream list(env(config.stripe.webhook_secrets_env));
  for (std::string item; std::getline(list, item, ',');) {
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.erase(0, 1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t' || item.back() == '\n')) item.pop_back();
    if (!item.empty()) secrets.webhook_secrets.push_back(item);
  }
  if (require_webhook_secret && secrets.webhook_secrets.empty()) {
    return Status::InvalidArgument(
        "config", "stripe.webhook_secrets_env: environment variable " + config.stripe.webhook_secrets_env +
                      " is empty or unset; at least one webhook signing secret is required",
        "invalid_config");
  }
  secrets.smtp_username = env(config.smtp.username_env);
  secrets.smtp_password = env(config.smtp.password_env);
  secrets.receipt_secret = env(config.organization.receipt_secret_env);
  return secrets;
}

}  // namespace donatio
