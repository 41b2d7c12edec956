#pragma once

// Test helper: the decoder's verdict on each event of one message, in message
// order: "ok", or "<reason> <field>" ("wrong_type taskId").

#include <string>
#include <string_view>
#include <vector>

#include "ingest/decode.h"

namespace tally::testing {

inline std::vector<std::string> Verdicts(Decoder& decoder, std::string_view message) {
  DecodedEvents events;
  decoder.Decode(message, Origin{}, &events);
  std::vector<std::string> verdicts(events.size(), "ok");
  for (const Rejection& r : events.rejections()) {
    const std::string verdict = std::string(Slug(r.reason)) + " " + r.field;
    if (!r.element) return {verdict};  // judged as a whole: the only event
    verdicts.at(*r.element) = verdict;
  }
  return verdicts;
}

}  // namespace tally::testing
