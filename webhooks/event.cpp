// Stripe event JSON → StripeEvent: one simdjson pass (or, for what simdjson refuses, one SAX
// pass with nlohmann::json) that keeps only the members we read, then typed reads that report
// the first bad field by its JSON path. No exceptions on bad input.
#include "webhooks/event.hpp"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstring>

#include <initializer_list>
#include <limits>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace donatio::webhooks {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kMaxIdBytes = 255;  // Stripe ids are far shorter; ours are stored keys

Status invalid_event(std::string field, std::string message) {
  return Status::InvalidArgument(std::move(field), std::move(message), "invalid_event");
}

// Where a container sits, which decides which of its members are kept.
enum class Level { envelope, data, data_object, kept, skipped };

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  if (name.empty()) return false;
  for (const std::string_view candidate : names) {
    // The first byte first: most of a Stripe object's ~60 member names share a length with a
    // kept one, few also its first letter.
    if (name.size() == candidate.size() && name[0] == candidate[0] && name == candidate) return true;
  }
  return false;
}

Level child_level(Level parent, std::string_view name) {
  switch (parent) {
    case Level::envelope:
      if (name == "data") return Level::data;
      return is_one_of(name, {"id", "type", "api_version", "created", "livemode"})
                 ? Level::kept : Level::skipped;
    case Level::data:
      return name == "object" ? Level::data_object : Level::skipped;
    case Level::data_object:
      // Union of what read_payment_intent, read_charge and read_dispute look at.
      return is_one_of(name, {"id", "object", "amount", "amount_received", "amount_refunded",
                              "currency", "status", "latest_charge", "metadata",
                              "receipt_email", "created", "last_payment_error",
                              "payment_intent", "refunded", "balance_transaction", "refunds",
                              "charge", "reason"})
                 ? Level::kept : Level::skipped;
    case Level::kept:
      return Level::kept;
    case Level::skipped:
      return Level::skipped;
  }
  return Level::skipped;
}

// Builds a DOM of only the members parse_event reads, while the parser still checks the whole
// text (syntax, UTF-8, trailing bytes). Skipped members cost lexing only, no DOM nodes: a
// payment intent event keeps about 15 of its ~60 values (1.7x faster than a full DOM). Also
// enforces the nesting bound, so a hostile body never grows the parser's stack.
// When a reader starts using another member of data.object, add it to child_level's list.
class EventDomBuilder final : public nlohmann::json_sax<Json> {
 public:
  explicit EventDomBuilder(Json& root) : root_(root) {}

  bool too_deep() const { return too_deep_; }

  bool null() override { return add(Json(nullptr)); }
  bool boolean(bool value) override { return add(Json(value)); }
  bool number_integer(number_integer_t value) override { return add(Json(value)); }
  bool number_unsigned(number_unsigned_t value) override { return add(Json(value)); }
  bool number_float(number_float_t value, const string_t& /*text*/) override {
    return add(Json(value));
  }
  bool string(string_t& value) override { return add(Json(std::move(value))); }
  bool binary(binary_t& /*value*/) override { return false; }  // never produced from JSON text
  bool start_object(std::size_t /*size*/) override { return open(Json::value_t::object); }
  bool start_array(std::size_t /*size*/) override { return open(Json::value_t::array); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t& name) override {
    slot_ = nullptr;
    const Frame& frame = stack_.back();
    if (frame.container == nullptr) return true;
    const Level child = child_level(frame.level, name);
    if (child == Level::skipped) return true;
    slot_ = &(*frame.container)[name];  // a repeated key overwrites, as in a full parse
    slot_level_ = child;
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& /*error*/) override {
    return false;
  }

 private:
  struct Frame {
    Json* container;  // nullptr while inside a skipped value
    Level level;
  };

  // Where the next value goes: the root, the end of an array, or the slot of a kept key.
  Json* destination(Level& level) {
    if (stack_.empty()) {
      level = Level::envelope;
      return &root_;
    }
    const Frame& frame = stack_.back();
    if (frame.container == nullptr) return nullptr;
    if (frame.container->is_array()) {
      if (frame.level != Level::kept) return nullptr;
      level = Level::kept;
      frame.container->push_back(Json());
      return &frame.container->back();
    }
    Json* slot = slot_;
    slot_ = nullptr;
    if (slot != nullptr) level = slot_level_;
    return slot;
  }

  bool add(Json&& value) {
    Level level = Level::skipped;
    if (Json* target = destination(level)) *target = std::move(value);
    return true;
  }

  bool open(Json::value_t type) {
    if (stack_.size() >= static_cast<std::size_t>(kMaxEventNestingDepth)) {
      too_deep_ = true;
      return false;
    }
    Level level = Level::skipped;
    Json* target = destination(level);
    if (target != nullptr) *target = Json(type);
    stack_.push_back(Frame{level == Level::skipped ? nullptr : target, level});
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  Json& root_;
  std::vector<Frame> stack_;
  Json* slot_ = nullptr;
  Level slot_level_ = Level::skipped;
  bool too_deep_ = false;
};

// The fast reader: simdjson checks the whole text (syntax, UTF-8, nesting) at several GB/s,
// then only the members parse_event reads are copied into the same small DOM the SAX builder
// makes (3.5 µs instead of 28 µs for a 2 KB payment intent event in the webhook benchmark).
// Anything simdjson refuses is read again by the SAX builder, so a refused body gets exactly
// the answer it always got; the two accept the same texts except that simdjson refuses
// integers beyond 64 bits (the SAX builder reads them as floats — then the fallback does) and
// reads "-0" as the integer 0 (the SAX builder as a negative integer).
Json kept_value(simdjson::dom::element value, Level level) {
  switch (value.type()) {
    case simdjson::dom::element_type::OBJECT: {
      Json object = Json::object();
      if (level == Level::skipped) return object;
      for (const simdjson::dom::key_value_pair field : simdjson::dom::object(value)) {
        const Level child = child_level(level, field.key);
        // A repeated key overwrites, as in the SAX builder.
        if (child != Level::skipped) object[std::string(field.key)] = kept_value(field.value, child);
      }
      return object;
    }
    case simdjson::dom::element_type::ARRAY: {
      Json array = Json::array();
      if (level != Level::kept) return array;  // as the SAX builder: only kept arrays hold values
      for (const simdjson::dom::element entry : simdjson::dom::array(value)) {
        array.push_back(kept_value(entry, Level::kept));
      }
      return array;
    }
    case simdjson::dom::element_type::STRING:
      return Json(std::string(std::string_view(value)));
    case simdjson::dom::element_type::INT64: {
      const std::int64_t n = std::int64_t(value);
      // The SAX builder's types: non-negative integers are unsigned.
      return n < 0 ? Json(n) : Json(static_cast<std::uint64_t>(n));
    }
    case simdjson::dom::element_type::UINT64:
      return Json(std::uint64_t(value));
    case simdjson::dom::element_type::DOUBLE:
      return Json(double(value));
    case simdjson::dom::element_type::BOOL:
      return Json(bool(value));
    case simdjson::dom::element_type::NULL_VALUE:
      return Json(nullptr);
  }
  return Json(nullptr);
}

// simdjson's depth bound counts the document as a level but not an empty innermost container:
// at 64 it accepts nothing nested deeper than 64 containers, and the few texts of exactly 64
// it refuses are read by the SAX builder, which allows 64.
constexpr std::size_t kSimdjsonDepth = static_cast<std::size_t>(kMaxEventNestingDepth);

// One parser per thread (it keeps its buffers between calls); bodies larger than this get a
// parser of their own, so a rare big event does not leave megabytes behind on every thread.
constexpr std::size_t kReusedParserBytes = 64 * 1024;

// A parser for documents of up to `max_bytes`, nested at most kMaxEventNestingDepth deep (its
// buffers grow as needed and keep that depth). Null when the memory is not there.
std::unique_ptr<simdjson::dom::parser> event_parser(std::size_t max_bytes, std::size_t first_bytes) {
  auto parser = std::make_unique<simdjson::dom::parser>(max_bytes);
  if (parser->allocate(first_bytes, kSimdjsonDepth) != simdjson::SUCCESS) return nullptr;
  return parser;
}

// The kept members of `text` into `root`; false when simdjson refuses the text.
bool read_fast(std::string_view text, Json& root) {
  thread_local const std::unique_ptr<simdjson::dom::parser> reused = event_parser(kReusedParserBytes, 4096);
  std::unique_ptr<simdjson::dom::parser> own;
  simdjson::dom::parser* parser = reused.get();
  if (text.size() > kReusedParserBytes) {
    own = event_parser(text.size(), text.size());
    parser = own.get();
  }
  if (parser == nullptr) return false;
  simdjson::dom::element doc;
  if (own) {
    if (parser->parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS) return false;
  } else {
    // simdjson reads up to SIMDJSON_PADDING bytes past the end of its input; told nothing, it
    // copies every text into a freshly allocated padded buffer. One padded copy per thread instead.
    thread_local std::vector<char> padded;  // grows to the largest body this thread has read
    if (padded.size() < text.size() + simdjson::SIMDJSON_PADDING) padded.resize(text.size() + simdjson::SIMDJSON_PADDING);
    std::memcpy(padded.data(), text.data(), text.size());
    std::memset(padded.data() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    if (parser->parse(padded.data(), text.size(), false).get(doc) != simdjson::SUCCESS) return false;
  }
  root = kept_value(doc, Level::envelope);
  return true;
}

// Reads the members of one JSON object. Every read returns false on a bad value and keeps the
// first failure (path + reason) in status(); absent and null optional members leave the
// output untouched.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string_view path) : object_(object), path_(path) {}

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  const Json* member(std::string_view key) const {
    const auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  bool required_string(std::string_view key, std::string& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return fail(key, "is required");
    if (!value->is_string()) return fail(key, "must be a string");
    out = value->get_ref<const std::string&>();
    return true;
  }

  bool optional_string(std::string_view key, std::string& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return true;
    if (!value->is_string()) return fail(key, "must be a string or null");
    out = value->get_ref<const std::string&>();
    return true;
  }

  // A non-empty identifier of bounded length ("evt_…", "pi_…").
  bool required_id(std::string_view key, std::string& out) {
    if (!required_string(key, out)) return false;
    if (out.empty() || out.size() > kMaxIdBytes) return fail(key, "must be a non-empty id");
    return true;
  }

  // An expandable reference: "ch_…", an expanded object carrying "id", or null.
  bool optional_reference(std::string_view key, std::string& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return true;
    const Json* id = value;
    if (value->is_object()) {
      const auto it = value->find("id");
      if (it == value->end()) return fail(key, "expanded object has no id");
      id = &*it;
    }
    if (!id->is_string() || id->get_ref<const std::string&>().empty() ||
        id->get_ref<const std::string&>().size() > kMaxIdBytes) {
      return fail(key, "must be an id, an expanded object with an id, or null");
    }
    out = id->get_ref<const std::string&>();
    return true;
  }

  bool required_reference(std::string_view key, std::string& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return fail(key, "is required");
    return optional_reference(key, out);
  }

  // A non-negative integer that fits int64 (amounts in minor units, unix timestamps).
  bool required_count(std::string_view key, std::int64_t& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return fail(key, "is required");
    return read_count(key, *value, out);
  }

  bool optional_count(std::string_view key, std::int64_t& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return true;
    return read_count(key, *value, out);
  }

  bool optional_bool(std::string_view key, bool& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return true;
    if (!value->is_boolean()) return fail(key, "must be true or false");
    out = value->get<bool>();
    return true;
  }

  // Three ASCII letters, returned upper case ("chf" → "CHF").
  bool required_currency(std::string_view key, std::string& out) {
    if (!required_string(key, out)) return false;
    if (out.size() != 3) return fail(key, "must be a three-letter currency code");
    for (char& c : out) {
      if (c >= 'a' && c <= 'z') {
        c = static_cast<char>(c - 'a' + 'A');
      } else if (c < 'A' || c > 'Z') {
        return fail(key, "must be a three-letter currency code");
      }
    }
    return true;
  }

  // A flat object of string values (Stripe metadata), or null.
  bool optional_string_map(std::string_view key, std::map<std::string, std::string>& out) {
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return true;
    if (!value->is_object()) return fail(key, "must be an object of strings");
    for (const auto& [name, entry] : value->items()) {
      if (!entry.is_string()) return fail(key, "must be an object of strings");
      out.emplace(name, entry.get_ref<const std::string&>());
    }
    return true;
  }

  // A nested object, or nullptr when absent or null (false only for another type).
  bool optional_object(std::string_view key, const Json*& out) {
    out = nullptr;
    const Json* value = member(key);
    if (value == nullptr || value->is_null()) return true;
    if (!value->is_object()) return fail(key, "must be an object or null");
    out = value;
    return true;
  }

  std::string path_of(std::string_view key) const {
    std::string path(path_);
    if (!path.empty()) path += '.';
    path += key;
    return path;
  }

  bool fail(std::string_view key, std::string_view reason) {
    if (status_.ok()) {
      std::string path = path_of(key);
      std::string message = path + ' ' + std::string(reason);
      status_ = invalid_event(std::move(path), std::move(message));
    }
    return false;
  }

  // Keeps a failure found by a reader of a nested object.
  void adopt(const Status& nested) {
    if (status_.ok() && !nested.ok()) status_ = nested;
  }

 private:
  bool read_count(std::string_view key, const Json& value, std::int64_t& out) {
    if (value.is_number_unsigned()) {
      const auto n = value.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return fail(key, "is out of range");
      }
      out = static_cast<std::int64_t>(n);
      return true;
    }
    if (value.is_number_integer()) return fail(key, "must not be negative");
    return fail(key, "must be an integer");
  }

  const Json& object_;
  std::string_view path_;
  Status status_;
};

constexpr std::string_view kObjectPath = "data.object";

Status read_payment_intent(const Json& object, PaymentIntentDetails& out) {
  ObjectReader r(object, kObjectPath);
  r.required_id("id", out.id);
  r.required_count("amount", out.amount);
  r.optional_count("amount_received", out.amount_received);
  r.required_currency("currency", out.currency);
  r.required_string("status", out.status);
  r.optional_reference("latest_charge", out.latest_charge);
  r.optional_string_map("metadata", out.metadata);
  r.optional_string("receipt_email", out.receipt_email);
  r.optional_count("created", out.created);
  const Json* error = nullptr;
  if (r.optional_object("last_payment_error", error) && error != nullptr) {
    const std::string path = r.path_of("last_payment_error");
    ObjectReader e(*error, path);
    e.optional_string("code", out.failure_code);
    e.optional_string("message", out.failure_message);
    r.adopt(e.status());
  }
  return r.status();
}

// The newest refund of a charge's `refunds` list (by `created`; Stripe lists newest first, so
// the first entry wins a tie).
Status read_latest_refund(ObjectReader& charge, std::string& latest_refund_id) {
  const Json* refunds = nullptr;
  if (!charge.optional_object("refunds", refunds) || refunds == nullptr) return charge.status();
  const std::string path = charge.path_of("refunds");
  ObjectReader list(*refunds, path);
  const Json* data = list.member("data");
  if (data == nullptr || data->is_null()) return charge.status();
  if (!data->is_array()) {
    list.fail("data", "must be an array");
    return list.status();
  }
  std::int64_t newest_created = -1;
  for (const Json& entry : *data) {
    if (!entry.is_object()) {
      list.fail("data", "must hold refund objects");
      return list.status();
    }
    const std::string entry_path = path + ".data[]";
    ObjectReader refund(entry, entry_path);
    std::string id;
    std::int64_t created = 0;
    if (!refund.required_id("id", id) || !refund.optional_count("created", created)) {
      return refund.status();
    }
    if (created > newest_created) {
      newest_created = created;
      latest_refund_id = std::move(id);
    }
  }
  return Status::Ok();
}

Status read_charge(const Json& object, ChargeDetails& out) {
  ObjectReader r(object, kObjectPath);
  r.required_id("id", out.id);
  r.optional_reference("payment_intent", out.payment_intent);
  r.required_count("amount", out.amount);
  r.required_count("amount_refunded", out.amount_refunded);
  r.required_currency("currency", out.currency);
  r.optional_bool("refunded", out.refunded);
  r.optional_reference("balance_transaction", out.balance_transaction);
  if (!r.ok()) return r.status();
  return read_latest_refund(r, out.latest_refund_id);
}

Status read_dispute(const Json& object, DisputeDetails& out) {
  ObjectReader r(object, kObjectPath);
  r.required_id("id", out.id);
  r.required_reference("charge", out.charge);
  r.optional_reference("payment_intent", out.payment_intent);
  r.required_count("amount", out.amount);
  r.required_currency("currency", out.currency);
  r.required_string("status", out.status);
  r.optional_string("reason", out.reason);
  return r.status();
}

enum class ObjectKind { none, payment_intent, charge, dispute };

// Which typed details an event type carries; other types are acknowledged and ignored.
ObjectKind kind_for_type(std::string_view type) {
  if (type.starts_with("payment_intent.")) return ObjectKind::payment_intent;
  if (type == "charge.refunded") return ObjectKind::charge;
  if (type.starts_with("charge.dispute.")) return ObjectKind::dispute;
  return ObjectKind::none;
}

Result<StripeEvent> parse_event_unguarded(std::string_view text) {
  if (text.size() > kMaxEventBytes) return invalid_event("", "event body is too large");
  Json root;
  EventDomBuilder builder(root);
  if (!read_fast(text, root) && !Json::sax_parse(text.data(), text.data() + text.size(), &builder)) {
    if (builder.too_deep()) return invalid_event("", "event body is nested too deeply");
    return invalid_event("", "event body is not valid JSON");
  }
  if (!root.is_object()) return invalid_event("", "event body must be a JSON object");

  StripeEvent event;
  ObjectReader envelope(root, "");
  envelope.required_id("id", event.id);
  envelope.required_id("type", event.type);
  envelope.optional_string("api_version", event.api_version);
  envelope.optional_count("created", event.created);
  envelope.optional_bool("livemode", event.livemode);
  const Json* data = nullptr;
  if (!envelope.optional_object("data", data)) return envelope.status();
  if (data == nullptr) return invalid_event("data.object", "data.object is required");
  if (!envelope.ok()) return envelope.status();

  const auto object_it = data->find("object");
  if (object_it == data->end() || !object_it->is_object()) {
    return invalid_event("data.object", "data.object must be an object");
  }
  const Json& object = *object_it;
  ObjectReader generic(object, kObjectPath);
  generic.optional_string("object", event.object_type);
  generic.optional_string("id", event.object_id);
  if (!generic.ok()) return generic.status();

  const ObjectKind kind = kind_for_type(event.type);
  const auto expect_object = [&](std::string_view object_type) -> Status {
    if (event.object_type == object_type) return Status::Ok();
    return invalid_event("data.object.object", event.type + " must carry a " +
                                                   std::string(object_type) + " object");
  };
  Status status;
  switch (kind) {
    case ObjectKind::payment_intent:
      status = expect_object("payment_intent");
      if (status.ok()) status = read_payment_intent(object, event.payment_intent.emplace());
      break;
    case ObjectKind::charge:
      status = expect_object("charge");
      if (status.ok()) status = read_charge(object, event.charge.emplace());
      break;
    case ObjectKind::dispute:
      status = expect_object("dispute");
      if (status.ok()) status = read_dispute(object, event.dispute.emplace());
      break;
    case ObjectKind::none:
      break;
  }
  if (!status.ok()) return status;
  return event;
}

}  // namespace

std::string_view PaymentIntentDetails::metadata_value(std::string_view key) const {
  const auto it = metadata.find(std::string(key));
  return it == metadata.end() ? std::string_view{} : std::string_view{it->second};
}

Result<StripeEvent> parse_event(std::string_view json) {
  try {
    return parse_event_unguarded(json);
  } catch (const nlohmann::json::exception& e) {
    // e.what() may quote bytes of the body (donor data): report only nlohmann's error number.
    return invalid_event("", "event body could not be read (json error " + std::to_string(e.id) + ")");
  } catch (const std::bad_alloc&) {
    return Status::Internal("out of memory while reading a webhook event");
  }
}

std::optional<PaymentEvent> payment_event_for(const StripeEvent& event) {
  const std::string_view type = event.type;
  if (event.payment_intent) {
    if (type == "payment_intent.processing") return PaymentEvent::processing;
    if (type == "payment_intent.succeeded") return PaymentEvent::succeeded;
    if (type == "payment_intent.payment_failed") return PaymentEvent::payment_failed;
    if (type == "payment_intent.canceled") return PaymentEvent::canceled;
    return std::nullopt;
  }
  if (event.charge && type == "charge.refunded") {
    const ChargeDetails& charge = *event.charge;
    if (charge.amount_refunded <= 0 && !charge.refunded) return std::nullopt;
    // `refunded` covers a partially captured charge refunded in full (amount_refunded < amount).
    if (charge.refunded || charge.amount_refunded >= charge.amount) return PaymentEvent::refunded;
    return PaymentEvent::partially_refunded;
  }
  if (event.dispute) {
    if (type == "charge.dispute.created") return PaymentEvent::dispute_opened;
    if (type == "charge.dispute.closed") {
      const std::string_view status = event.dispute->status;
      if (status == "won" || status == "warning_closed") return PaymentEvent::dispute_won;
      if (status == "lost") return PaymentEvent::dispute_lost;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace donatio::webhooks
