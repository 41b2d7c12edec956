#include "ingest/event_reader.h"


#include "aggregate/json_writer.h"
#include "ingest/decode.h"
#include "ingest/json_token.h"

namespace tally {
namespace {

constexpr std::string_view kIdExpected = "an ID (a non-negative integer or a string of digits)";

// The JSON type a raw token starts; false for a byte that starts none.
bool TypeOf(std::string_view token, od::json_type* type) {
  if (token.empty()) return false;
  switch (token[0]) {
    case '{': *type = od::json_type::object; return true;
    case '[': *type = od::json_type::array; return true;
    case '"': *type = od::json_type::string; return true;
    case 't':
    case 'f': *type = od::json_type::boolean; return true;
    case 'n': *type = od::json_type::null; return true;
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      *type = od::json_type::number;
      return true;
    default: return false;
  }
}

// How much of a bad value a message quotes: enough to recognize it.
constexpr size_t kShown = 60;

// A value quoted for a message, cut to a readable length.
std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(s.substr(0, kShown), &out);
  if (s.size() > kShown) out.insert(out.size() - 1, "...");
  return out;
}

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned>(c - '0') > 9) return false;
  }
  return true;
}

// The key of an instanceInfo member. Keys without escapes (nearly all) are used
// in place, since stage 1 has already validated their bytes; the others are
// unescaped, which also validates their escapes.
[[gnu::always_inline]] inline simdjson::error_code MemberKey(od::field& field, std::string_view* key) {
  const char* raw = field.key().raw();
  if (const int length = json::SimpleKeyLength(raw); length >= 0) {
    *key = std::string_view(raw, static_cast<size_t>(length));
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(*key);
}

}  // namespace

bool EventReader::Syntax(std::string message) {
  syntax_error_ = std::move(message);
  return false;
}

bool EventReader::Syntax(simdjson::error_code error) { return Syntax(simdjson::error_message(error)); }

bool EventReader::BadNumber(std::string_view text) {
  return Syntax("\"" + std::string(json::TrimRight(text).substr(0, kShown)) + "\" is not a JSON value");
}

bool EventReader::TooDeep() {
  return Syntax("nesting deeper than " + std::to_string(Decoder::kMaxDepth) + " levels");
}

void EventReader::Reject(RejectReason reason, std::string_view field, std::string_view subject,
                         std::string_view detail) {
  if (problem_) return;
  std::string message(subject);
  message += ": ";
  message += detail;
  problem_ = Problem{reason, std::string(field), std::move(message)};
}

bool EventReader::MakeItem(od::value& v, int depth, std::optional<Item>* item) {
  const std::string_view token = v.raw_json_token();
  od::json_type type;
  if (!TypeOf(token, &type)) return Syntax("unexpected character at the start of a value");
  item->emplace(Item{v, token, type, depth});
  return true;
}

bool EventReader::Skip(od::value& v, int depth) {
  std::string ignored;
  return Consume(v, depth, &ignored);
}

bool EventReader::Consume(od::value& v, int depth, std::string* got) {
  std::optional<Item> item;
  return MakeItem(v, depth, &item) && ConsumeItem(*item, got);
}

bool EventReader::ConsumeItem(Item& item, std::string* got) {
  od::value& v = item.value;
  switch (item.type) {
    case od::json_type::object: {
      if (item.depth > Decoder::kMaxDepth) return TooDeep();
      od::object obj;
      if (auto e = v.get_object().get(obj)) return Syntax(e);
      for (auto member : obj) {
        // Used in place: copying simdjson's field costs a store-forwarding stall.
        if (member.error()) return Syntax(member.error());
        std::string_view key;
        if (auto e = member.value_unsafe().unescaped_key().get(key)) return Syntax(e);
        if (!Skip(member.value_unsafe().value(), item.depth + 1)) return false;
      }
      *got = "an object";
      return true;
    }
    case od::json_type::array: {
      if (item.depth > Decoder::kMaxDepth) return TooDeep();
      od::array arr;
      if (auto e = v.get_array().get(arr)) return Syntax(e);
      for (auto element : arr) {
        if (element.error()) return Syntax(element.error());
        if (!Skip(element.value_unsafe(), item.depth + 1)) return false;
      }
      *got = "an array";
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = v.get_string().get(s)) return Syntax(e);
      *got = "string " + Quote(s);
      return true;
    }
    case od::json_type::number: {
      json::Number n;
      if (!json::ParseNumber(item.token, &n)) return BadNumber(item.token);
      *got = "number " + std::string(n.text);
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = v.get_bool().get(b)) return Syntax(e);
      *got = b ? "true" : "false";
      return true;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null)) return Syntax(e);
      if (!is_null) return Syntax("invalid literal (expected null)");
      *got = "null";
      return true;
    }
  }
  return Syntax("unknown JSON type");
}

bool EventReader::Read(od::object obj, int depth, TaskAction* action) {
  builder_.Start(action);
  problem_.reset();
  seen_ = 0;
  Field hint = Field::kId;  // producers write fields in one order: try the next one first
  for (auto member : obj) {
    // Used in place: copying simdjson's field costs a store-forwarding stall.
    if (member.error()) return Syntax(member.error());
    od::field& field = member.value_unsafe();
    int length;
    Field f = kFieldTable.FindRaw(field.key().raw(), hint, &length);
    if (length < 0) {  // escaped or long: unescape, which also validates it
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return Syntax(e);
      if (key.size() < 32) f = kFieldTable.Find(key.data(), static_cast<int>(key.size()), Field::kCount);
    }
    if (f == Field::kCount) {  // unknown fields are ignored, but must still be JSON
      if (!Skip(field.value(), depth + 1)) return false;
      continue;
    }
    hint = static_cast<Field>(static_cast<unsigned>(f) + 1);
    if (seen_ & Bit(f)) {
      Reject(RejectReason::kDuplicateField, f, "appears more than once");
      if (!Skip(field.value(), depth + 1)) return false;
      continue;
    }
    seen_ |= Bit(f);
    od::value& value = field.value();
    const std::string_view token = value.raw_json_token();
    if (token.empty()) return Syntax("a value is missing");
    if (builder_.TryStore(f, token)) continue;  // the common case
    od::json_type type;
    if (!TypeOf(token, &type)) return Syntax("unexpected character at the start of a value");
    Item item{value, token, type, depth + 1};
    if (!ReadField(f, item)) return false;
  }
  if (const uint32_t missing = kRequiredFields & ~seen_) {
    const auto first = static_cast<Field>(__builtin_ctz(missing));
    Reject(RejectReason::kMissingField, first, "required field is missing");
  }
  builder_.Finish();
  return true;
}

bool EventReader::ReadField(Field f, Item& item) {
  TaskAction& a = builder_.action();
  switch (f) {
    case Field::kId: return ReadRequiredId(f, item, &a.id);
    case Field::kTaskId: return ReadRequiredId(f, item, &a.task_id);
    case Field::kProjectId: return ReadId(f, item, &a.project_id);
    case Field::kPoolId: return ReadId(f, item, &a.pool_id);
    case Field::kFolderId: return ReadId(f, item, &a.folder_id);
    case Field::kAnnotationRequestId: {
      std::optional<std::string_view> s;
      if (!ReadString(f, item, &s)) return false;
      if (s && s->empty()) Reject(RejectReason::kOutOfRange, f, "must not be empty");
      if (s) a.annotation_request_id.assign(*s);
      return true;
    }
    case Field::kCampaignId: return ReadCampaignId(item);
    case Field::kSceneId: {
      std::optional<std::string_view> s;
      if (!ReadString(f, item, &s)) return false;
      if (s) a.scene_id.assign(*s);  // "" stays empty: absent
      return true;
    }
    case Field::kPoolName:
    case Field::kAliceName: return ReadOptionalString(f, item);
    case Field::kPoolType: return ReadEnum(f, item, &a.pool_type);
    case Field::kStatus: return ReadEnum(f, item, &a.status);
    case Field::kActionType: return ReadEnum(f, item, &a.action_type);
    case Field::kCreatedTime: return ReadTime(item);
    case Field::kInstanceInfo: return ReadInstanceInfo(item);
    case Field::kModifyInstanceNum: return ReadInteger(f, nullptr, item, kMaxCount, &a.modify_instance_num);
    case Field::kModifyAttributesNum: return ReadInteger(f, nullptr, item, kMaxCount, &a.modify_attributes_num);
    case Field::kInstanceSum: return ReadInteger(f, nullptr, item, kMaxCount, &a.instance_sum);
    case Field::kAttributesSum: return ReadInteger(f, nullptr, item, kMaxCount, &a.attributes_sum);
    case Field::kCount: break;
  }
  return Syntax("unreachable field");
}

// A value of a type the field does not take: null (absent, or missing if the field
// is required) or anything else (wrong_type, saying what was expected).
bool EventReader::Unexpected(Field f, Item& item, std::string_view expected) {
  std::string got;
  if (!ConsumeItem(item, &got)) return false;
  if (item.type == od::json_type::null) {
    if (kRequiredFields & Bit(f)) Reject(RejectReason::kMissingField, f, "required field is null");
    return true;
  }
  Reject(RejectReason::kWrongType, f, "expected " + std::string(expected) + ", got " + got);
  return true;
}

bool EventReader::ReadRequiredId(Field f, Item& item, Id* out) {
  std::optional<Id> id;
  if (!ReadId(f, item, &id)) return false;
  if (id) *out = *id;
  return true;
}

bool EventReader::ReadId(Field f, Item& item, std::optional<Id>* out) {
  if (item.type == od::json_type::number) {
    json::Number n;
    if (!json::ParseNumber(item.token, &n)) return BadNumber(item.token);
    if (!n.integer) {
      Reject(RejectReason::kWrongType, f,
             "expected " + std::string(kIdExpected) + ", got number " + std::string(n.text));
    } else if (n.negative && !n.IsZero()) {
      Reject(RejectReason::kOutOfRange, f, "must not be negative, got " + std::string(n.text));
    } else if (n.digits.size() <= 19) {
      *out = Id(n.value);
    } else if (auto id = Id::FromDigits(n.digits)) {
      *out = *id;
    } else {
      Reject(RejectReason::kOutOfRange, f, "has more than " + std::to_string(Id::kMaxDigits) + " digits");
    }
    return true;
  }
  if (item.type == od::json_type::string) {
    std::string_view s;
    if (auto e = item.value.get_string().get(s)) return Syntax(e);
    if (s.empty() || !AllDigits(s)) {
      Reject(RejectReason::kWrongType, f,
             "expected " + std::string(kIdExpected) + ", got string " + Quote(s));
    } else if (s.size() > kMaxIdStringChars) {
      Reject(RejectReason::kTooLong, f,
             "an ID string has at most " + std::to_string(kMaxIdStringChars) + " characters");
    } else if (auto id = Id::FromDigits(s)) {
      *out = *id;
    } else {
      Reject(RejectReason::kOutOfRange, f,
             "has more than " + std::to_string(Id::kMaxDigits) + " significant digits");
    }
    return true;
  }
  return Unexpected(f, item, kIdExpected);
}

// A string of at most kMaxStringBytes; *out is nullopt when absent (null) or
// invalid. The view lives until the parser's next document.
bool EventReader::ReadString(Field f, Item& item, std::optional<std::string_view>* out) {
  if (item.type != od::json_type::string) return Unexpected(f, item, "a string");
  std::string_view s;
  if (auto e = item.value.get_string().get(s)) return Syntax(e);
  if (s.size() > kMaxStringBytes) {
    Reject(RejectReason::kTooLong, f,
           "is " + std::to_string(s.size()) + " bytes, over the limit of " + std::to_string(kMaxStringBytes));
    return true;
  }
  *out = s;
  return true;
}

bool EventReader::ReadOptionalString(Field f, Item& item) {
  std::optional<std::string_view> s;
  if (!ReadString(f, item, &s)) return false;
  if (s) builder_.StoreOptionalString(f, *s);
  return true;
}

bool EventReader::ReadCampaignId(Item& item) {
  constexpr Field f = Field::kCampaignId;
  if (item.type == od::json_type::number) {
    json::Number n;
    if (!json::ParseNumber(item.token, &n)) return BadNumber(item.token);
    if (!n.integer) {
      Reject(RejectReason::kWrongType, f, "expected a string or an integer, got number " + std::string(n.text));
    } else if (n.negative && !n.IsZero()) {
      Reject(RejectReason::kOutOfRange, f, "must not be negative, got " + std::string(n.text));
    } else if (n.digits.size() > kMaxStringBytes) {
      Reject(RejectReason::kTooLong, f, "has more than " + std::to_string(kMaxStringBytes) + " digits");
    } else {
      builder_.action().campaign_id.assign(n.digits);  // "-0" is kept as "0"
    }
    return true;
  }
  if (item.type != od::json_type::string) return Unexpected(f, item, "a string or an integer");
  std::optional<std::string_view> s;
  if (!ReadString(f, item, &s)) return false;
  if (s && s->empty()) Reject(RejectReason::kOutOfRange, f, "must not be empty");
  if (s) builder_.action().campaign_id.assign(*s);
  return true;
}

// An integer 0..max written as a JSON number; *out is untouched unless valid.
// `key` is set for an instanceInfo count (then null is a wrong type); for a
// field's own value it is null (then null means the field is absent).
bool EventReader::ReadInteger(Field f, const std::string_view* key, Item& item, uint32_t max,
                              std::optional<uint32_t>* out) {
  // Messages are built only for rejections: this is the hot path.
  auto reject = [&](RejectReason reason, const std::string& detail) {
    const std::string subject = key ? "instanceInfo[" + Quote(*key) + "]" : std::string(NameOf(f));
    Reject(reason, NameOf(f), subject, detail);
  };
  if (item.type != od::json_type::number) {
    std::string got;
    if (!ConsumeItem(item, &got)) return false;
    if (item.type == od::json_type::null && key == nullptr) {
      if (kRequiredFields & Bit(f)) Reject(RejectReason::kMissingField, f, "required field is null");
      return true;
    }
    reject(RejectReason::kWrongType, "expected an integer 0.." + std::to_string(max) + ", got " + got);
    return true;
  }
  json::Number n;
  if (!json::ParseNumber(item.token, &n)) return BadNumber(item.token);
  if (!n.integer) {
    reject(RejectReason::kWrongType,
           "expected an integer 0.." + std::to_string(max) + ", got number " + std::string(n.text));
  } else if ((n.negative && !n.IsZero()) || n.digits.size() > 10 || n.value > max) {
    reject(RejectReason::kOutOfRange, "must be 0.." + std::to_string(max) + ", got " + std::string(n.text));
  } else {
    *out = static_cast<uint32_t>(n.value);
  }
  return true;
}

template <class Enum>
bool EventReader::ReadEnum(Field f, Item& item, Enum* out) {
  std::optional<uint32_t> value;
  if (!ReadInteger(f, nullptr, item, kMaxEnumValue, &value)) return false;
  if (value) *out = static_cast<Enum>(*value);
  return true;
}

bool EventReader::ReadTime(Item& item) {
  constexpr Field f = Field::kCreatedTime;
  if (item.type != od::json_type::string) return Unexpected(f, item, "a string \"YYYY-MM-DD HH:MM:SS\"");
  std::string_view s;
  if (auto e = item.value.get_string().get(s)) return Syntax(e);
  Result<Timestamp> t = ParseTimestamp(s);
  if (t) {
    builder_.action().created_time = *t;
  } else {
    Reject(RejectReason::kInvalidTime, f, t.error().message() + ", got " + Quote(s));
  }
  return true;
}

bool EventReader::ReadInstanceInfo(Item& item) {
  constexpr Field f = Field::kInstanceInfo;
  if (item.type != od::json_type::object) return Unexpected(f, item, "an object of integer counts");
  if (item.depth > Decoder::kMaxDepth) return TooDeep();
  od::object obj;
  if (auto e = item.value.get_object().get(obj)) return Syntax(e);
  InstanceInfo& info = builder_.action().instance_info;
  size_t keys = 0;
  for (auto member : obj) {
    if (member.error()) return Syntax(member.error());
    od::field& field = member.value_unsafe();
    std::string_view key;
    if (auto e = MemberKey(field, &key)) return Syntax(e);
    if (++keys <= kMaxInstanceKeys && key.size() <= kMaxStringBytes) {
      uint64_t x;
      if (json::FastUnsigned(json::TrimRight(field.value().raw_json_token()), &x) && x <= kMaxCount) {
        info.Add(key, static_cast<uint32_t>(x));
        continue;
      }
    }
    std::optional<Item> count_item;
    if (!MakeItem(field.value(), item.depth + 1, &count_item)) return false;
    if (keys > kMaxInstanceKeys) {
      Reject(RejectReason::kTooManyKeys, f, "has more than " + std::to_string(kMaxInstanceKeys) + " keys");
      std::string ignored;
      if (!ConsumeItem(*count_item, &ignored)) return false;
      continue;
    }
    if (key.size() > kMaxStringBytes) {
      Reject(RejectReason::kTooLong, f,
             "key " + Quote(key) + " is " + std::to_string(key.size()) + " bytes, over the limit of " +
                 std::to_string(kMaxStringBytes));
    }
    std::optional<uint32_t> count;
    if (!ReadInteger(f, &key, *count_item, kMaxCount, &count)) return false;
    info.Add(key, count.value_or(0));
  }
  std::string_view duplicate;
  if (!info.Sort(&duplicate)) {
    Reject(RejectReason::kDuplicateField, f, "key " + Quote(duplicate) + " appears more than once");
  }
  return true;
}

}  // namespace tally
