#include "ingest/decode.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "aggregate/json_writer.h"
#include "ingest/event_reader.h"
#include "ingest/flat_reader.h"
#include "ingest/json_token.h"

namespace tally {

TaskAction& DecodedEvents::NewAction() {
  if (actions_ == slots_.size()) slots_.emplace_back();
  return slots_[actions_++];
}

void DecodedEvents::Truncate(size_t actions, size_t rejections) {
  actions_ = std::min(actions_, actions);
  if (rejections < rejections_.size()) rejections_.resize(rejections);
}

struct Decoder::Impl {
  explicit Impl(bool fast_path) : fast_path_(fast_path) {}
  void Decode(std::string_view message, Origin origin, DecodedEvents* out);

 private:
  bool DecodeMessage(std::string_view message, Origin origin, DecodedEvents* out);
  bool DecodeElement(od::value& element, uint32_t index, Origin origin, DecodedEvents* out);
  bool DecodeScalarDocument(od::json_type type, std::string* got);
  // The element's text from `start` to where the document now stands, trimmed.
  std::string Excerpt(const char* start, const char* fallback_end);

  const bool fast_path_;
  FlatReader flat_;
  od::parser parser_;
  od::document doc_;
  EventReader reader_;
  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;  // bytes in buffer_, padding included
  size_t size_ = 0;      // bytes of the current message
};

void Decoder::Impl::Decode(std::string_view message, Origin origin, DecodedEvents* out) {
  auto whole = [&](RejectReason reason, std::string text) {
    out->AddRejection(Rejection{origin, std::nullopt, reason, "message", std::move(text),
                                std::string(message.substr(0, kRejectionExcerptBytes))});
  };
  if (message.size() > kMaxMessageBytes) {
    whole(RejectReason::kTooLarge,
          "message: " + std::to_string(message.size()) + " bytes is over the limit of 8 MiB");
    return;
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
  if (fast_path_ && flat_.Read(std::string_view(buffer_.get(), size_), out)) return;

  const size_t actions_before = out->actions().size();
  const size_t rejections_before = out->rejections().size();
  if (!DecodeMessage(message, origin, out)) {
    out->Truncate(actions_before, rejections_before);
    whole(RejectReason::kInvalidJson, "message: not valid JSON: " + reader_.syntax_error());
  }
}

bool Decoder::Impl::DecodeMessage(std::string_view message, Origin origin, DecodedEvents* out) {
  if (auto e = parser_.iterate(buffer_.get(), size_, capacity_).get(doc_)) return reader_.Syntax(e);
  od::json_type type;
  if (auto e = doc_.type().get(type)) return reader_.Syntax(e);
  if (type == od::json_type::object) {
    od::object obj;
    if (auto e = doc_.get_object().get(obj)) return reader_.Syntax(e);
    if (!reader_.Read(obj, 1, &out->NewAction())) return false;
    if (auto& problem = reader_.problem()) {
      out->DropLastAction();
      out->AddRejection(Rejection{origin, std::nullopt, problem->reason, std::move(problem->field),
                                  std::move(problem->message),
                                  std::string(message.substr(0, kRejectionExcerptBytes))});
    }
  } else if (type == od::json_type::array) {
    od::array arr;
    if (auto e = doc_.get_array().get(arr)) return reader_.Syntax(e);
    uint32_t index = 0;
    for (auto element : arr) {
      if (element.error()) return reader_.Syntax(element.error());
      if (!DecodeElement(element.value_unsafe(), index++, origin, out)) return false;
    }
  } else {
    std::string got;
    if (!DecodeScalarDocument(type, &got)) return false;
    out->AddRejection(Rejection{origin, std::nullopt, RejectReason::kWrongType, "event",
                                "event: expected an object or an array of objects, got " + got,
                                std::string(json::TrimRight(message).substr(0, kRejectionExcerptBytes))});
    if (type == od::json_type::number) return true;  // checked for trailing content already
  }
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
      if (!json::ParseNumber(token, &n)) return reader_.Syntax("\"" + std::string(n.text.substr(0, 60)) + "\" is not a JSON value");
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

bool Decoder::Impl::DecodeElement(od::value& element, uint32_t index, Origin origin,
                                  DecodedEvents* out) {
  const std::string_view token = element.raw_json_token();
  const bool is_object = !token.empty() && token[0] == '{';
  if (!is_object) {
    std::string got;
    if (!reader_.Consume(element, 2, &got)) return false;
    // A scalar is not consumed by every reader: its excerpt is its own token.
    const bool container = !token.empty() && token[0] == '[';
    const char* end = token.data() + token.size();
    out->AddRejection(Rejection{origin, index, RejectReason::kWrongType, "event",
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
    out->AddRejection(Rejection{origin, index, problem->reason, std::move(problem->field),
                                std::move(problem->message),
                                Excerpt(token.data(), token.data() + token.size())});
  }
  return true;
}

Decoder::Decoder(bool fast_path) : impl_(std::make_unique<Impl>(fast_path)) {}
Decoder::~Decoder() = default;

void Decoder::Decode(std::string_view message, Origin origin, DecodedEvents* out) {
  impl_->Decode(message, origin, out);
}

}  // namespace tally
