#include "ingest/decode.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "aggregate/json_writer.h"
#include "ingest/event_reader.h"
#include "ingest/json_token.h"

namespace tally {

struct Decoder::Impl {
  bool Decode(std::string_view message, Origin origin, DecodedEvents* out, const DecodeLimits* limits);
  bool Continue(DecodedEvents* out, const DecodeLimits* limits);

 private:
  // Starts decoding the buffered message: an object or scalar is decoded at
  // once; an array leaves its elements to Elements (in_array_). False if the
  // JSON is malformed.
  bool Begin(DecodedEvents* out);
  // Decodes array elements until the array ends (in_array_ turns false) or,
  // with limits, *out is full.
  bool Elements(DecodedEvents* out, const DecodeLimits* limits);
  bool CheckEnd();
  bool Validate();
  // Ends the message as one rejection (not JSON), dropping what it added to *out.
  void RejectWhole(DecodedEvents* out, RejectReason reason, std::string text);
  bool DecodeElement(od::value& element, uint32_t index, DecodedEvents* out);
  bool DecodeScalarDocument(od::json_type type, std::string* got);
  // The element's text from `start` to where the document now stands, trimmed.
  std::string Excerpt(const char* start, const char* fallback_end);
  std::string_view message() const { return {buffer_.get(), size_}; }

  od::parser parser_;
  od::document doc_;
  EventReader reader_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;  // bytes in buffer_, padding included
  size_t size_ = 0;      // bytes of the current message

  // The message being decoded.
  Origin origin_;
  bool in_array_ = false;  // inside its array: more elements may follow
  bool split_ok_ = false;  // checked whole: may be split at the limits
  od::array_iterator next_, end_;
  uint32_t index_ = 0;
  // What *out held when the current part of the message began.
  size_t actions_before_ = 0, rejections_before_ = 0, bytes_before_ = 0;
  DecodedEvents scratch_;  // for Validate
};

void Decoder::Impl::RejectWhole(DecodedEvents* out, RejectReason reason, std::string text) {
  out->Truncate(actions_before_, rejections_before_, bytes_before_);
  out->AddRejection(Rejection{origin_, std::nullopt, reason, "message", std::move(text),
                              std::string(message().substr(0, kRejectionExcerptBytes))});
  in_array_ = false;
}

bool Decoder::Impl::Decode(std::string_view message, Origin origin, DecodedEvents* out,
                           const DecodeLimits* limits) {
  origin_ = origin;
  in_array_ = false;
  split_ok_ = false;
  actions_before_ = out->actions().size();
  rejections_before_ = out->rejections().size();
  bytes_before_ = out->bytes();
  static_assert(kMaxMessageBytes % (size_t{1} << 20) == 0, "its rejection says it in MiB");
  if (message.size() > kMaxMessageBytes) {
    size_ = 0;
    out->AddRejection(Rejection{origin, std::nullopt, RejectReason::kTooLarge, "message",
                                "message: " + std::to_string(message.size()) + " bytes is over the limit of " +
                                    std::to_string(kMaxMessageBytes >> 20) + " MiB",
                                std::string(message.substr(0, kRejectionExcerptBytes))});
    return true;
  }
  // Kafka payloads are not padded; simdjson reads up to SIMDJSON_PADDING bytes past
  // the end, so the message is copied into a buffer that is.
  const size_t needed = message.size() + simdjson::SIMDJSON_PADDING;
  if (needed > capacity_) {
    capacity_ = std::max(needed, capacity_ * 2);
    buffer_ = std::make_unique<char[]>(capacity_);
  }
  std::memcpy(buffer_.get(), message.data(), message.size());
  std::memset(buffer_.get() + message.size(), 0, simdjson::SIMDJSON_PADDING);
  size_ = message.size();
  if (limits && size_ > kWholeMessageBytes && json::TrimLeft(this->message()).starts_with('[')) {
    // It may be split: it must be known to be valid JSON before any part goes.
    if (!Validate()) {
      RejectWhole(out, RejectReason::kInvalidJson, "message: not valid JSON: " + reader_.syntax_error());
      return true;
    }
    split_ok_ = true;
  }
  if (!Begin(out)) {
    RejectWhole(out, RejectReason::kInvalidJson, "message: not valid JSON: " + reader_.syntax_error());
    return true;
  }
  return Continue(out, limits);
}

bool Decoder::Impl::Continue(DecodedEvents* out, const DecodeLimits* limits) {
  if (!in_array_) return true;
  actions_before_ = out->actions().size();
  rejections_before_ = out->rejections().size();
  bytes_before_ = out->bytes();
  if (!Elements(out, split_ok_ ? limits : nullptr)) {
    // Not reached for a message split in parts (it was checked whole); for the
    // others nothing of the message has gone yet.
    RejectWhole(out, RejectReason::kInvalidJson, "message: not valid JSON: " + reader_.syntax_error());
    return true;
  }
  return !in_array_;
}

// Runs the whole message through the reader, keeping nothing: whether it is
// valid JSON, before any part of it goes.
bool Decoder::Impl::Validate() {
  scratch_.clear();
  bool ok = Begin(&scratch_);
  const DecodeLimits part{1024, size_t{1} << 20};
  while (ok && in_array_) {
    scratch_.clear();
    ok = Elements(&scratch_, &part);
  }
  scratch_.clear();
  in_array_ = false;
  return ok;
}

bool Decoder::Impl::Begin(DecodedEvents* out) {
  if (auto e = parser_.iterate(buffer_.get(), size_, capacity_).get(doc_)) return reader_.Syntax(e);
  od::json_type type;
  if (auto e = doc_.type().get(type)) return reader_.Syntax(e);
  if (type == od::json_type::object) {
    od::object obj;
    if (auto e = doc_.get_object().get(obj)) return reader_.Syntax(e);
    if (!reader_.Read(obj, 1, &out->NewAction())) return false;
    if (auto& problem = reader_.problem()) {
      out->DropLastAction();
      out->AddRejection(Rejection{origin_, std::nullopt, problem->reason, std::move(problem->field),
                                  std::move(problem->message),
                                  std::string(message().substr(0, kRejectionExcerptBytes))});
    } else {
      out->AddBytes(sizeof(TaskAction) + size_);
    }
  } else if (type == od::json_type::array) {
    od::array arr;
    if (auto e = doc_.get_array().get(arr)) return reader_.Syntax(e);
    if (auto e = arr.begin().get(next_)) return reader_.Syntax(e);
    if (auto e = arr.end().get(end_)) return reader_.Syntax(e);
    index_ = 0;
    in_array_ = true;
    return true;
  } else {
    std::string got;
    if (!DecodeScalarDocument(type, &got)) return false;
    out->AddRejection(Rejection{origin_, std::nullopt, RejectReason::kWrongType, "event",
                                "event: expected an object or an array of objects, got " + got,
                                std::string(json::TrimRight(message()).substr(0, kRejectionExcerptBytes))});
    if (type == od::json_type::number) return true;  // checked for trailing content already
  }
  return CheckEnd();
}

bool Decoder::Impl::Elements(DecodedEvents* out, const DecodeLimits* limits) {
  while (next_ != end_) {
    if (limits && (out->size() >= limits->events || out->bytes() >= limits->bytes)) return true;
    auto element = *next_;
    if (element.error()) return reader_.Syntax(element.error());
    if (!DecodeElement(element.value_unsafe(), index_++, out)) return false;
    ++next_;
  }
  in_array_ = false;
  return CheckEnd();
}

bool Decoder::Impl::CheckEnd() {
  const char* rest;
  if (!doc_.current_location().get(rest)) {
    return reader_.Syntax("unexpected content after the JSON value");
  }
  return true;
}

// A document that is a lone scalar: it still has to be valid JSON to be judged
// as a wrong type rather than as invalid JSON.
bool Decoder::Impl::DecodeScalarDocument(od::json_type type, std::string* got) {
  switch (type) {
    case od::json_type::string: {
      std::string_view s;
      if (auto e = doc_.get_string().get(s)) return reader_.Syntax(e);
      *got = "a string";
      return true;
    }
    case od::json_type::number: {
      // raw_json_token does not consume a root number, so the caller's trailing
      // content check cannot see past it: look at the rest of the buffer here.
      const std::string_view token = doc_.raw_json_token();
      json::Number n;
      if (!json::ParseNumber(token, &n)) return reader_.BadNumber(token);
      const char* rest = token.data() + token.size();
      if (!json::TrimRight(std::string_view(rest, static_cast<size_t>(buffer_.get() + size_ - rest))).empty()) {
        return reader_.Syntax("unexpected content after the JSON value");
      }
      *got = "number " + std::string(n.text);
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = doc_.get_bool().get(b)) return reader_.Syntax(e);
      *got = b ? "true" : "false";
      return true;
    }
    default: {
      bool is_null = false;
      if (auto e = doc_.is_null().get(is_null)) return reader_.Syntax(e);
      if (!is_null) return reader_.Syntax("invalid literal");
      *got = "null";
      return true;
    }
  }
}

std::string Decoder::Impl::Excerpt(const char* start, const char* fallback_end) {
  // After a container is consumed the document stands on the next ',' or ']'.
  const char* end;
  if (doc_.current_location().get(end) || end < start) end = fallback_end;
  const std::string_view text(start, static_cast<size_t>(end - start));
  return std::string(json::TrimRight(text).substr(0, kRejectionExcerptBytes));
}

bool Decoder::Impl::DecodeElement(od::value& element, uint32_t index, DecodedEvents* out) {
  const std::string_view token = element.raw_json_token();
  const bool is_object = !token.empty() && token[0] == '{';
  if (!is_object) {
    std::string got;
    if (!reader_.Consume(element, 2, &got)) return false;
    // A scalar is not consumed by every reader: its excerpt is its own token.
    const bool container = !token.empty() && token[0] == '[';
    const char* end = token.data() + token.size();
    out->AddRejection(Rejection{origin_, index, RejectReason::kWrongType, "event",
                                "event: expected an object, got " + got,
                                container ? Excerpt(token.data(), end)
                                          : std::string(json::TrimRight(token))});
    return true;
  }
  od::object obj;
  if (auto e = element.get_object().get(obj)) return reader_.Syntax(e);
  if (!reader_.Read(obj, 2, &out->NewAction())) return false;
  if (auto& problem = reader_.problem()) {
    out->DropLastAction();
    out->AddRejection(Rejection{origin_, index, problem->reason, std::move(problem->field),
                                std::move(problem->message),
                                Excerpt(token.data(), token.data() + token.size())});
  } else {
    const char* end;
    if (doc_.current_location().get(end) || end < token.data()) end = token.data() + token.size();
    out->AddBytes(sizeof(TaskAction) + static_cast<size_t>(end - token.data()));
  }
  return true;
}

Decoder::Decoder() : impl_(std::make_unique<Impl>()) {}
Decoder::~Decoder() = default;

void Decoder::Decode(std::string_view message, Origin origin, DecodedEvents* out) {
  impl_->Decode(message, origin, out, nullptr);
}

bool Decoder::Decode(std::string_view message, Origin origin, DecodedEvents* out, const DecodeLimits& limits) {
  return impl_->Decode(message, origin, out, &limits);
}

bool Decoder::Continue(DecodedEvents* out, const DecodeLimits& limits) { return impl_->Continue(out, &limits); }

}  // namespace tally
