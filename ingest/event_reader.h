#pragma once

// EventReader reads the fields of one TaskAction object, as simdjson on-demand
// walks it, into a TaskAction, enforcing every field rule of docs/events.md. It
// also validates what it skips (unknown fields, values of the wrong type),
// because on-demand checks only what it is asked to read. Private to ingest/;
// Decoder owns one.
//
// Every method that returns bool returns false when the JSON itself is malformed
// (the whole message is then rejected; syntax_error() says why) and true
// otherwise. A broken contract rule is recorded as the event's problem (the
// first one wins) and reading goes on, so the rest of the message is validated.

#include <simdjson.h>

#include <optional>
#include <string>
#include <string_view>

#include "aggregate/rejection.h"
#include "aggregate/task_action.h"
#include "ingest/event_builder.h"
#include "ingest/event_fields.h"

namespace tally {

namespace od = simdjson::ondemand;

// Why an event is rejected, before it gets its origin and excerpt.
struct Problem {
  RejectReason reason;
  std::string field;
  std::string message;
};

class EventReader {
 public:
  // Reads the event object `obj`, which is at nesting `depth`, into *action. The
  // slot may hold an earlier event's values; all of them are overwritten.
  bool Read(od::object obj, int depth, TaskAction* action);

  // The rule the last event broke, if any.
  std::optional<Problem>& problem() { return problem_; }

  // Consumes any value, checking that it is JSON nested at most Decoder's
  // kMaxDepth; `depth` is the value's own depth if it is an array or object.
  // *got says what it was ("string \"abc\"", "number 1.5", "an object").
  bool Consume(od::value& v, int depth, std::string* got);

  // Records why the JSON is malformed; returns false for `return Syntax(...)`.
  bool Syntax(std::string message);
  bool Syntax(simdjson::error_code error);
  // Syntax() for a token that is not a JSON number, quoting its start.
  bool BadNumber(std::string_view text);
  // Syntax() for a value nested deeper than Decoder::kMaxDepth.
  bool TooDeep();
  const std::string& syntax_error() const { return syntax_error_; }

 private:
  // A field's value with what its first byte says about it.
  struct Item {
    od::value& value;
    std::string_view token;  // the raw token at the value (for numbers: the number)
    od::json_type type;
    int depth;
  };

  bool MakeItem(od::value& v, int depth, std::optional<Item>* item);
  bool ConsumeItem(Item& item, std::string* got);
  bool Skip(od::value& v, int depth);

  void Reject(RejectReason reason, std::string_view field, std::string_view subject,
              std::string_view detail);
  void Reject(RejectReason reason, Field f, std::string_view detail) {
    Reject(reason, NameOf(f), NameOf(f), detail);
  }
  bool Unexpected(Field f, Item& item, std::string_view expected);

  bool ReadField(Field f, Item& item);
  bool ReadId(Field f, Item& item, std::optional<Id>* out);
  bool ReadRequiredId(Field f, Item& item, Id* out);
  bool ReadString(Field f, Item& item, std::optional<std::string_view>* out);
  bool ReadOptionalString(Field f, Item& item);
  bool ReadCampaignId(Item& item);
  bool ReadInteger(Field f, const std::string_view* key, Item& item, uint32_t max,
                   std::optional<uint32_t>* out);
  template <class Enum>
  bool ReadEnum(Field f, Item& item, Enum* out);
  bool ReadTime(Item& item);
  bool ReadInstanceInfo(Item& item);

  EventBuilder builder_;
  std::optional<Problem> problem_;
  uint32_t seen_ = 0;  // bits of the fields given, null or not
  std::string syntax_error_;
};

}  // namespace tally
