#include "api/params.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <random>
#include <unordered_set>

#include "aggregate/task_action.h"

namespace tally {
namespace {

using Kind = ParamSource::Value::Kind;

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// What a rejected value looked like, short enough for a message.
std::string Shown(const ParamSource::Value& v) {
  switch (v.kind) {
    case Kind::kString:
    case Kind::kInteger: {
      std::string s = v.text.size() > 40 ? v.text.substr(0, 40) + "..." : v.text;
      return v.kind == Kind::kString ? "\"" + s + "\"" : s;
    }
    case Kind::kNumber: return "a number with a fraction or exponent";
    case Kind::kBool: return "a boolean";
    case Kind::kNull: return "null";
    case Kind::kArray: return "an array";
    case Kind::kObject: return "an object";
    case Kind::kBadEncoding: return "a malformed percent-escape";
  }
  return "?";
}

// simdjson refuses an integer beyond 64 bits, which the query string takes (a
// huge pageSize is clamped, a huge pageNumber is past the end): such integers
// are rewritten as strings that begin with this mark and read back as integers.
// Random per process, so no client string can pass for one.
const std::string& BigIntegerMark() {
  static const std::string mark = [] {
    std::random_device random;
    char text[32];
    std::snprintf(text, sizeof text, "\x01%08x%08x:", random(), random());
    return std::string(text);
  }();
  return mark;
}

// The body with every integer value of more than 19 digits turned into a
// marked string (the JSON text escapes the mark's first byte); nullopt if it
// has none. Numbers where a member name belongs are left to fail the parse.
std::optional<std::string> MarkBigIntegers(std::string_view body) {
  std::string out;
  std::string open;  // the enclosing '{' and '[', innermost last
  bool changed = false;
  bool in_string = false;
  bool name_next = false;  // in an object, after '{' or ','
  for (size_t i = 0; i < body.size();) {
    const char c = body[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < body.size()) {
        out.push_back(body[++i]);
      } else if (c == '"') {
        in_string = false;
      }
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      name_next = false;
    } else if (c == '{' || c == '[') {
      open.push_back(c);
      name_next = c == '{';
    } else if (c == '}' || c == ']') {
      if (!open.empty()) open.pop_back();
    } else if (c == ',') {
      name_next = !open.empty() && open.back() == '{';
    }
    const bool starts = (c == '-' && i + 1 < body.size() && std::isdigit(static_cast<unsigned char>(body[i + 1]))) ||
                        std::isdigit(static_cast<unsigned char>(c));
    if (!starts || name_next) {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t end = i + (c == '-' ? 1 : 0);
    while (end < body.size() && std::isdigit(static_cast<unsigned char>(body[end]))) ++end;
    const bool fraction = end < body.size() && (body[end] == '.' || body[end] == 'e' || body[end] == 'E');
    const std::string_view token = body.substr(i, end - i);
    if (!fraction && token.size() - (c == '-' ? 1 : 0) > 19) {
      out += "\"\\u0001";
      out += std::string_view(BigIntegerMark()).substr(1);
      out += token;
      out += '"';
      changed = true;
    } else {
      out += token;
    }
    i = end;
  }
  if (!changed) return std::nullopt;
  return out;
}

ParamSource::Value FromJson(simdjson::dom::element e, bool with_items) {
  ParamSource::Value v;
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      v.kind = Kind::kString;
      v.text = std::string(e.get_string().value_unsafe());
      if (v.text.starts_with(BigIntegerMark())) {
        v.kind = Kind::kInteger;
        v.text.erase(0, BigIntegerMark().size());
      }
      break;
    case simdjson::dom::element_type::INT64:
      v.kind = Kind::kInteger;
      v.text = std::to_string(e.get_int64().value_unsafe());
      break;
    case simdjson::dom::element_type::UINT64:
      v.kind = Kind::kInteger;
      v.text = std::to_string(e.get_uint64().value_unsafe());
      break;
    case simdjson::dom::element_type::DOUBLE: v.kind = Kind::kNumber; break;
    case simdjson::dom::element_type::BOOL: v.kind = Kind::kBool; break;
    case simdjson::dom::element_type::NULL_VALUE: v.kind = Kind::kNull; break;
    case simdjson::dom::element_type::OBJECT: v.kind = Kind::kObject; break;
    case simdjson::dom::element_type::ARRAY:
      v.kind = Kind::kArray;
      if (with_items) {
        simdjson::dom::array array;
        if (!e.get_array().get(array)) {
          for (simdjson::dom::element item : array) v.items.push_back(FromJson(item, false));
        }
      }
      break;
  }
  return v;
}

// Whole numbers are decimal digits only (a leading zero is fine); larger than
// 2^64-1 saturates, which every rule below treats as "very large".
std::optional<uint64_t> ParseDigits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
  }
  return n;
}

// The single occurrence of a plain parameter, or the error for several.
Result<const ParamSource::Value*> Single(const std::vector<ParamSource::Value>* values, std::string_view name) {
  if (values == nullptr) return static_cast<const ParamSource::Value*>(nullptr);
  if (values->size() > 1) return InvalidParameter(name, "is given more than once");
  const ParamSource::Value& v = values->front();
  if (v.kind == Kind::kArray) return InvalidParameter(name, "must be a single value, not an array");
  if (v.kind == Kind::kNull) return static_cast<const ParamSource::Value*>(nullptr);
  return &v;
}

Result<std::string> RequiredId(const ParamSource& source, std::string_view name) {
  auto value = source.String(name);
  if (!value) return value.error();
  if (!*value) return InvalidParameter(name, "is required");
  if ((*value)->empty()) return InvalidParameter(name, "must not be empty");
  if ((*value)->size() > kMaxStringBytes) return InvalidParameter(name, "must be at most " + std::to_string(kMaxStringBytes) + " bytes");
  return std::move(**value);
}

// A page number (>= 1, default 1) and a page size (>= 1, default 10, clamped).
Result<Page> ParsePage(const ParamSource& source, std::string_view number_name, std::string_view size_name) {
  Page page;
  auto number = source.PositiveInteger(number_name);
  if (!number) return number.error();
  auto size = source.PositiveInteger(size_name);
  if (!size) return size.error();
  page.number = number->value_or(1);
  page.size = static_cast<uint32_t>(std::min<uint64_t>(size->value_or(10), kMaxPageSize));
  return page;
}

}  // namespace

Status InvalidParameter(std::string_view name, std::string_view why) {
  std::string message = "Invalid parameter: ";
  message.append(name);
  message.push_back(' ');
  message.append(why);
  return Status::InvalidArgument(std::move(message));
}

std::optional<std::string> PercentDecode(std::string_view text) {
  if (std::none_of(text.begin(), text.end(), [](char c) { return c == '%' || c == '+'; })) {
    return std::string(text);  // most names and values: nothing to decode
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = HexDigit(text[i + 1]), lo = HexDigit(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

ParamSource ParamSource::FromQuery(std::string_view query) {
  ParamSource source;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    auto name = PercentDecode(pair.substr(0, eq));
    if (!name) continue;  // cannot name a known parameter: ignored like any unknown one
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    Value value;
    if (auto decoded = PercentDecode(raw)) {
      value.text = std::move(*decoded);
    } else {
      value.kind = Kind::kBadEncoding;
    }
    if (name->size() > 2 && name->ends_with("[]")) {
      name->resize(name->size() - 2);
      Value array;
      array.kind = Kind::kArray;
      array.items.push_back(std::move(value));
      value = std::move(array);
    }
    source.values_[std::move(*name)].push_back(std::move(value));
  }
  return source;
}

Result<ParamSource> ParamSource::FromJsonBody(std::string_view body) {
  // One parser per thread, reused: it keeps its buffers between requests.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element root;
  auto error = parser.parse(padded).get(root);
  std::optional<std::string> marked;
  if (error == simdjson::NUMBER_ERROR && (marked = MarkBigIntegers(body))) {
    padded = simdjson::padded_string(*marked);
    error = parser.parse(padded).get(root);
  }
  if (error) {
    return Status::InvalidArgument(std::string("Invalid parameter: the request body is not valid JSON (") +
                                   simdjson::error_message(error) + ")");
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return Status::InvalidArgument("Invalid parameter: the request body must be a JSON object");
  }
  ParamSource source;
  source.from_body_ = true;
  for (auto field : object) {
    source.values_[std::string(field.key)].push_back(FromJson(field.value, true));
  }
  return source;
}

Result<ParamSource> ParamSource::FromRequest(std::string_view query, std::string_view body) {
  if (std::all_of(body.begin(), body.end(), IsJsonSpace)) return FromQuery(query);
  return FromJsonBody(body);
}

Result<std::optional<std::string>> ParamSource::String(std::string_view name) const {
  auto it = values_.find(name);
  auto single = Single(it == values_.end() ? nullptr : &it->second, name);
  if (!single) return single.error();
  const Value* v = *single;
  if (v == nullptr) return std::optional<std::string>();
  if (v->kind == Kind::kBadEncoding) return InvalidParameter(name, "has a malformed percent-escape");
  if (v->kind != Kind::kString) return InvalidParameter(name, "must be a string, got " + Shown(*v));
  return std::optional<std::string>(v->text);
}

Result<std::optional<uint64_t>> ParamSource::PositiveInteger(std::string_view name) const {
  auto it = values_.find(name);
  auto single = Single(it == values_.end() ? nullptr : &it->second, name);
  if (!single) return single.error();
  const Value* v = *single;
  if (v == nullptr) return std::optional<uint64_t>();
  std::optional<uint64_t> n;
  if (v->kind == Kind::kString || v->kind == Kind::kInteger) n = ParseDigits(v->text);
  if (!n || *n == 0) return InvalidParameter(name, "must be a whole number >= 1, got " + Shown(*v));
  return n;
}

Result<std::optional<std::vector<std::string>>> ParamSource::StringArray(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::optional<std::vector<std::string>>();
  const std::vector<Value>& values = it->second;
  if (from_body_ && values.size() > 1) return InvalidParameter(name, "is given more than once");
  if (values.size() == 1 && values.front().kind == Kind::kNull) return std::optional<std::vector<std::string>>();
  // A lone plain query value is the comma form; repeated values and the
  // bracket form are one id each, which is how an id containing a comma is sent.
  const bool comma_form = !from_body_ && values.size() == 1 && values.front().kind == Kind::kString;
  std::vector<std::string> out;
  auto add = [&](const Value& v) -> Status {
    if (v.kind == Kind::kBadEncoding) return InvalidParameter(name, "has a malformed percent-escape");
    if (v.kind != Kind::kString) return InvalidParameter(name, "must hold strings, got " + Shown(v));
    if (!comma_form) {
      out.push_back(v.text);
      return Status::OK();
    }
    std::string_view rest = v.text;
    while (true) {
      const size_t comma = rest.find(',');
      out.emplace_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    return Status::OK();
  };
  for (const Value& v : values) {
    if (v.kind == Kind::kArray) {
      for (const Value& item : v.items) {
        if (Status s = add(item); !s.ok()) return s;
      }
    } else if (Status s = add(v); !s.ok()) {
      return s;
    }
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<StatisticsParams> ParseStatisticsParams(const ParamSource& source) {
  StatisticsParams params;
  auto id = RequiredId(source, "annotationRequestId");
  if (!id) return id.error();
  params.annotation_request_id = std::move(*id);
  auto page = ParsePage(source, "pageNumber", "pageSize");
  if (!page) return page.error();
  params.page = *page;
  return params;
}

Result<SummaryParams> ParseSummaryParams(const ParamSource& source) {
  SummaryParams params;
  auto id = RequiredId(source, "annotationRequestId");
  if (!id) return id.error();
  params.annotation_request_id = std::move(*id);
  return params;
}

Result<RecordParams> ParseRecordParams(const ParamSource& source) {
  constexpr std::string_view kName = "annotationRequestId";
  RecordParams params;
  auto ids = source.StringArray(kName);
  if (!ids) return ids.error();
  if (!*ids) return InvalidParameter(kName, "is required");
  std::unordered_set<std::string_view> seen;
  for (const std::string& id : **ids) {
    if (id.empty()) return InvalidParameter(kName, "must not contain an empty id");
    if (id.size() > kMaxStringBytes) return InvalidParameter(kName, "must contain ids of at most " + std::to_string(kMaxStringBytes) + " bytes");
    if (seen.insert(id).second) params.annotation_request_ids.push_back(id);
  }
  if (params.annotation_request_ids.empty()) return InvalidParameter(kName, "must list at least one id");
  if (params.annotation_request_ids.size() > kMaxRecordRequests) {
    return InvalidParameter(kName, "must list at most " + std::to_string(kMaxRecordRequests) + " distinct ids");
  }
  auto page = ParsePage(source, "offset", "limit");
  if (!page) return page.error();
  params.page = *page;
  return params;
}

Result<TaskGetParams> ParseTaskGetParams(const ParamSource& source) {
  TaskGetParams params;
  auto campaign = RequiredId(source, "campaignId");
  if (!campaign) return campaign.error();
  auto request = RequiredId(source, "annotationRequestId");
  if (!request) return request.error();
  auto scene = RequiredId(source, "sceneId");
  if (!scene) return scene.error();
  params.campaign_id = std::move(*campaign);
  params.annotation_request_id = std::move(*request);
  params.scene_id = std::move(*scene);
  return params;
}

namespace {

void AppendKeyNumber(uint64_t n, std::string* key) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
  (void)ec;  // 24 bytes always hold a uint64_t
  key->append(digits, end);
  key->push_back('/');
}

void AppendKeyString(std::string_view text, std::string* key) {
  AppendKeyNumber(text.size(), key);
  key->append(text);
}

}  // namespace

void AppendCacheKey(const StatisticsParams& params, std::string* key) {
  AppendKeyNumber(params.page.number, key);
  AppendKeyNumber(params.page.size, key);
  AppendKeyString(params.annotation_request_id, key);
}

void AppendCacheKey(const SummaryParams& params, std::string* key) {
  AppendKeyString(params.annotation_request_id, key);
}

void AppendCacheKey(const RecordParams& params, std::string* key) {
  AppendKeyNumber(params.page.number, key);
  AppendKeyNumber(params.page.size, key);
  for (const std::string& id : params.annotation_request_ids) AppendKeyString(id, key);
}

void AppendCacheKey(const TaskGetParams& params, std::string* key) {
  AppendKeyString(params.campaign_id, key);
  AppendKeyString(params.annotation_request_id, key);
  AppendKeyString(params.scene_id, key);
}

}  // namespace tally
