#pragma once

// FlatReader decodes the messages nearly every producer writes, in one pass over
// the bytes and without simdjson's on-demand machinery: events that are flat JSON
// objects (instanceInfo the only nested object), strings without escapes, values
// that EventBuilder takes. It never judges: given anything else it gives up, and
// the decoder runs EventReader, whose verdict is the only one. The fuzzer and the
// corpus test check that whatever FlatReader accepts, EventReader decodes to the
// same events. Private to ingest/; Decoder owns one.

#include <string_view>

#include "ingest/decode.h"
#include "ingest/event_builder.h"

namespace tally {

class FlatReader {
 public:
  // Decodes `text`, which must be followed by at least 64 readable bytes (the
  // decoder's padded buffer), appending its events to *out. Returns false, with
  // *out as it was, if the message is not of the flat kind or breaks any rule.
  bool Read(std::string_view text, DecodedEvents* out);

 private:
  bool ReadEvent(const char*& p, const char* end, DecodedEvents* out);
  bool ReadInstanceInfo(const char*& p, const char* end);

  EventBuilder builder_;
};

}  // namespace tally
