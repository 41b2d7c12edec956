// libFuzzer target for the decoder. Beyond "no crash, no sanitizer report" it
// checks the decoder's promises on every input: reused event slots decode as
// fresh ones do; each rejection names its field first and keeps at most 4 KiB; a whole-message rejection is the only
// event; every accepted event is within the contract's limits and survives a
// round trip through the event writer unchanged.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ingest/decode.h"
#include "ingest/event_json.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "decode_fuzz: broken promise: %s\n", what);
    std::abort();
  }
}

void CheckAction(const tally::TaskAction& a) {
  using tally::kMaxStringBytes;
  Check(!a.annotation_request_id.empty() && a.annotation_request_id.size() <= kMaxStringBytes,
        "annotationRequestId is 1..255 bytes");
  Check(!a.campaign_id.empty() && a.campaign_id.size() <= kMaxStringBytes,
        "campaignId is 1..255 bytes");
  Check(a.scene_id.size() <= kMaxStringBytes, "sceneId is at most 255 bytes");
  Check(!a.pool_name || a.pool_name->size() <= kMaxStringBytes, "poolName is at most 255 bytes");
  Check(!a.alice_name || a.alice_name->size() <= kMaxStringBytes, "aliceName is at most 255 bytes");
  for (auto v : {static_cast<int32_t>(a.pool_type), static_cast<int32_t>(a.status),
                 static_cast<int32_t>(a.action_type)}) {
    Check(v >= 0 && v <= tally::kMaxEnumValue, "enums are 0..1000");
  }
  Check(a.instance_info.size() <= tally::kMaxInstanceKeys, "at most 10000 instanceInfo keys");
  for (size_t i = 0; i < a.instance_info.size(); ++i) {
    Check(a.instance_info[i].key.size() <= kMaxStringBytes, "instanceInfo keys <= 255 bytes");
    Check(a.instance_info[i].count <= tally::kMaxCount, "counts <= 2^31-1");
    Check(i == 0 || a.instance_info[i - 1].key < a.instance_info[i].key,
          "instanceInfo sorted and unique");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tally::Decoder decoder;
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  tally::DecodedEvents events;
  decoder.Decode(message, tally::Origin{tally::Partition{1}, tally::Offset{2}}, &events);
  // A reused DecodedEvents keeps earlier inputs' events in its slots: none of
  // their values may survive into this input's.
  static tally::DecodedEvents reused;
  reused.clear();
  decoder.Decode(message, tally::Origin{tally::Partition{1}, tally::Offset{2}}, &reused);
  Check(std::equal(events.actions().begin(), events.actions().end(), reused.actions().begin(),
                   reused.actions().end()),
        "reused slots decode the same actions");
  Check(events.rejections() == reused.rejections(), "reused slots reject alike");
  for (const tally::Rejection& r : events.rejections()) {
    Check(!r.field.empty() && r.message.rfind(r.field, 0) == 0, "message starts with the field");
    Check(r.excerpt.size() <= tally::kRejectionExcerptBytes, "excerpt <= 4 KiB");
    Check(r.element.has_value() || events.size() == 1, "a whole-message rejection stands alone");
  }
  for (const tally::TaskAction& a : events.actions()) {
    CheckAction(a);
    std::string json;
    tally::AppendEventJson(a, &json);
    tally::DecodedEvents again;
    decoder.Decode(json, tally::Origin{}, &again);
    Check(again.actions().size() == 1 && again.rejections().empty(), "written event decodes");
    Check(again.actions().size() == 1 && again.actions()[0] == a, "round trip keeps every value");
  }
  return 0;
}
