#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "donatio/config.hpp"

using namespace donatio;

namespace {

const char* kMinimal = "[organization]\nname = \"Org\"\n";

std::string message_for(const std::string& toml) {
  auto c = parse_config(toml, "/etc/donatio");
  REQUIRE_FALSE(c.ok());
  return c.status().message();
}

}  // namespace

TEST_CASE("config.example.toml parses and documents every key with its default") {
  std::ifstream in(std::string(DONATIO_SOURCE_DIR) + "/config.example.toml");
  std::stringstream text;
  text << in.rdbuf();
  auto c = parse_config(text.str(), "/srv/donatio");
  REQUIRE(c.ok());
  CHECK(c->server.host == "127.0.0.1");
  CHECK(c->server.port == 8443);
  CHECK(c->server.tls);
  CHECK(c->server.tls_cert == "/srv/donatio/var/dev-cert.pem");
  CHECK(c->database.url == "sqlite:/srv/donatio/var/donatio.db");
  CHECK(c->stripe.webhook_tolerance_s == 300);
  CHECK(c->stripe.fee_fixed_minor.at("CHF") == 30);
  CHECK(c->organization.receipt_prefix == "CPI-");
  // The example holds the defaults: parsing it equals parsing a minimal file.
  auto minimal = parse_config(kMinimal, "/srv/donatio");
  REQUIRE(minimal.ok());
  CHECK(minimal->server.max_body_bytes == c->server.max_body_bytes);
  CHECK(minimal->stripe.api_version == c->stripe.api_version);
  CHECK(minimal->smtp.max_attempts == c->smtp.max_attempts);
}

TEST_CASE("a wrong or missing setting is one line naming the key") {
  CHECK(message_for("[server]\nlisten = \"nonsense\"\n[organization]\nname=\"O\"") .rfind("server.listen:", 0) == 0);
  CHECK(message_for("[server]\nlisten = \"127.0.0.1:99999\"\n[organization]\nname=\"O\"").rfind("server.listen:", 0) == 0);
  CHECK(message_for("[server]\ntls = \"yes\"\n[organization]\nname=\"O\"").rfind("server.tls:", 0) == 0);
  CHECK(message_for("[server]\nmax_body_bytes = 10\n[organization]\nname=\"O\"").rfind("server.max_body_bytes:", 0) == 0);
  CHECK(message_for("[server]\nallowed_origins = [\"*\"]\n[organization]\nname=\"O\"").rfind("server.allowed_origins:", 0) == 0);
  CHECK(message_for("[database]\nurl = \"mysql://x\"\n[organization]\nname=\"O\"").rfind("database.url:", 0) == 0);
  CHECK(message_for("[stripe]\nsecret_key_env = \"sk_live_123 456\"\n[organization]\nname=\"O\"").rfind("stripe.secret_key_env:", 0) == 0);
  CHECK(message_for("[stripe]\nfee_fixed_minor = { XYZ = 3 }\n[organization]\nname=\"O\"").rfind("stripe.fee_fixed_minor.XYZ:", 0) == 0);
  CHECK(message_for("[server]\nlisten = \"127.0.0.1:1\"\n").rfind("organization.name:", 0) == 0);
  CHECK(message_for("[servre]\nlisten = \"127.0.0.1:1\"\n").rfind("servre:", 0) == 0);
  CHECK(message_for("[server]\nlistn = \"127.0.0.1:1\"\n[organization]\nname=\"O\"").rfind("server.listn:", 0) == 0);
  CHECK(message_for("[server\n").find("line 1") != std::string::npos);
  for (const auto& m : {message_for("[server]\nlisten = 5\n[organization]\nname=\"O\"")}) {
    CHECK(m.find('\n') == std::string::npos);
  }
}

TEST_CASE("secrets come from the environment variables the config names") {
  auto c = parse_config("[stripe]\nsecret_key_env = \"DONATIO_T_KEY\"\nwebhook_secrets_env = \"DONATIO_T_WH\"\n[organization]\nname=\"O\"");
  REQUIRE(c.ok());
  setenv("DONATIO_T_KEY", "sk_test_abc", 1);
  setenv("DONATIO_T_WH", "whsec_one, whsec_two ,", 1);
  auto s = load_secrets(*c, true);
  REQUIRE(s.ok());
  CHECK(s->stripe_secret_key == "sk_test_abc");
  CHECK(s->webhook_secrets == std::vector<std::string>{"whsec_one", "whsec_two"});
  setenv("DONATIO_T_WH", "", 1);
  auto none = load_secrets(*c, true);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().rfind("stripe.webhook_secrets_env:", 0) == 0);
  CHECK(load_secrets(*c, false).ok());
  unsetenv("DONATIO_T_KEY");
  unsetenv("DONATIO_T_WH");
}

