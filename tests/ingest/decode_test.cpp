#include "ingest/decode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ingest/event_json.h"
#include "ingest/workload.h"
#include "tests/ingest/verdicts.h"

namespace tally {
namespace {

constexpr std::string_view kSeedEvent = R"({"id": 1, "annotationRequestId": "7d44b43b-3bbd-4f53-9f95-b7c0217d8d5b",
  "campaignId": "a3f8b6e4", "sceneId": "d7a8c3f9", "taskId": 234234123133374715904,
  "projectId": 1234, "poolId": 3001, "poolName": "CO 041401CO2-Completion Pool", "poolType": 1,
  "folderId": 4001, "aliceName": "daf", "status": 1, "actionType": 0,
  "createdTime": "2025-04-01 10:00:00",
  "instanceInfo": {"select-[e000f]": 44, "0e767bcb-7480-4e85-bbe8-439fe7871104": 11},
  "modifyInstanceNum": 10, "modifyAttributesNum": 5, "instanceSum": 20, "attributesSum": 10})";

DecodedEvents Decode(std::string_view message, Origin origin = {}) {
  Decoder decoder;
  DecodedEvents events;
  decoder.Decode(message, origin, &events);
  return events;
}

TEST(DecodeTest, DecodesEveryFieldOfTheSeedExample) {
  const DecodedEvents events = Decode(kSeedEvent);
  ASSERT_EQ(events.actions().size(), 1u);
  const TaskAction& a = events.actions()[0];
  EXPECT_EQ(a.id, Id(1));
  EXPECT_EQ(a.annotation_request_id, "7d44b43b-3bbd-4f53-9f95-b7c0217d8d5b");
  EXPECT_EQ(a.campaign_id, "a3f8b6e4");
  EXPECT_EQ(a.scene_id, "d7a8c3f9");
  EXPECT_EQ(a.task_id.ToString(), "234234123133374715904");
  EXPECT_EQ(a.project_id, Id(1234));
  EXPECT_EQ(a.pool_id, Id(3001));
  EXPECT_EQ(a.pool_name, "CO 041401CO2-Completion Pool");
  EXPECT_EQ(a.pool_type, PoolType::kAnnotation);
  EXPECT_EQ(a.folder_id, Id(4001));
  EXPECT_EQ(a.alice_name, "daf");
  EXPECT_EQ(a.status, TaskStatus::kWaitingForAllocation);
  EXPECT_EQ(a.action_type, ActionType::kInitialization);
  EXPECT_EQ(FormatTimestamp(a.created_time), "2025-04-01 10:00:00");
  // Sorted by key, whatever the order in the event.
  EXPECT_EQ(a.instance_info,
            (InstanceInfo{{"0e767bcb-7480-4e85-bbe8-439fe7871104", 11}, {"select-[e000f]", 44}}));
  EXPECT_EQ(a.instance_info[0].key, "0e767bcb-7480-4e85-bbe8-439fe7871104");
  EXPECT_EQ(a.modify_instance_num, 10u);
  EXPECT_EQ(a.modify_attributes_num, 5u);
  EXPECT_EQ(a.instance_sum, 20u);
  EXPECT_EQ(a.attributes_sum, 10u);
}

TEST(DecodeTest, RoundTripsAGeneratedStream) {
  WorkloadOptions options;
  options.requests = 10;
  options.tasks_per_request = 30;
  Workload workload(options);
  Decoder decoder;
  DecodedEvents events;
  std::vector<TaskAction> written;
  TaskAction action;
  while (workload.Next(&action)) {
    std::string json;
    AppendEventJson(action, &json);
    decoder.Decode(json, Origin{}, &events);
    written.push_back(action);
  }
  ASSERT_GT(written.size(), 2000u);
  ASSERT_EQ(events.actions().size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) ASSERT_EQ(events.actions()[i], written[i]) << i;
}

TEST(DecodeTest, PrettyPrintedAndCompactJsonDecodeAlike) {
  const std::string pretty = "\n\t{\r\n  \"id\" :\t\"0012\" ,\n \"annotationRequestId\":\"r\",\"campaignId\": 7,"
                             "\"taskId\":5,\"poolType\":2,\"status\":3,\"actionType\":8,"
                             "\"createdTime\":\"2025-04-01T18:00:00.250+08:00\",\"instanceInfo\": { \"b\" : 1 , \"a\" : 2 } }\n";
  const std::string compact = R"({"id":12,"annotationRequestId":"r","campaignId":"7","taskId":"5","poolType":2,)"
                              R"("status":3,"actionType":8,"createdTime":"2025-04-01T10:00:00.250Z",)"
                              R"("instanceInfo":{"a":2,"b":1}})";
  const DecodedEvents a = Decode(pretty), b = Decode(compact);
  ASSERT_EQ(a.actions().size(), 1u);
  ASSERT_EQ(b.actions().size(), 1u);
  EXPECT_EQ(a.actions()[0], b.actions()[0]);  // an ID as "0012" equals 12; campaign 7 is "7"
  EXPECT_EQ(a.actions()[0].created_time.millis % 1000, 250);
}

TEST(DecodeTest, ReusedSlotsForgetTheEarlierEvent) {
  Decoder decoder;
  DecodedEvents events;
  decoder.Decode(kSeedEvent, Origin{}, &events);
  events.clear();
  decoder.Decode(R"({"id":2,"annotationRequestId":"r","campaignId":"c","taskId":3,"poolType":0,)"
                 R"("status":1,"actionType":0,"createdTime":"2025-04-01 10:00:00"})",
                 Origin{}, &events);
  ASSERT_EQ(events.actions().size(), 1u);
  const TaskAction& a = events.actions()[0];
  EXPECT_TRUE(a.scene_id.empty());
  EXPECT_FALSE(a.project_id || a.pool_id || a.folder_id || a.pool_name || a.alice_name);
  EXPECT_TRUE(a.instance_info.empty());
  EXPECT_FALSE(a.modify_instance_num || a.modify_attributes_num || a.instance_sum || a.attributes_sum);
}

TEST(DecodeTest, UnescapesStrings) {
  const DecodedEvents events = Decode(
      R"({"id":1,"annotationRequestId":"r\u00e9q","campaignId":"c","taskId":3,"poolType":0,)"
      R"("status":1,"actionType":0,"createdTime":"2025-04-01 10:00:00","aliceName":"a\"b\\c\nd",)"
      R"("instanceInfo":{"k\u0041":1}})");
  ASSERT_EQ(events.actions().size(), 1u);
  EXPECT_EQ(events.actions()[0].annotation_request_id, "r\xc3\xa9q");
  EXPECT_EQ(events.actions()[0].alice_name, "a\"b\\c\nd");
  EXPECT_EQ(events.actions()[0].instance_info[0].key, "kA");
}

TEST(DecodeTest, JudgesArrayElementsAloneWithTheirIndexAndText) {
  const std::string good = R"({"id":1,"annotationRequestId":"r","campaignId":"c","taskId":3,"poolType":0,"status":1,"actionType":0,"createdTime":"2025-04-01 10:00:00"})";
  const std::string bad = R"({"id":2,"annotationRequestId":"r","campaignId":"c","taskId":"x","poolType":0,"status":1,"actionType":0,"createdTime":"2025-04-01 10:00:00"})";
  const DecodedEvents events = Decode("[" + good + ",\n  " + bad + " , 7, [1, 2] ]", Origin{Partition{4}, Offset{900}});
  EXPECT_EQ(events.size(), 4u);
  ASSERT_EQ(events.actions().size(), 1u);
  ASSERT_EQ(events.rejections().size(), 3u);
  const Rejection& r = events.rejections()[0];
  EXPECT_EQ(r.element, 1u);
  EXPECT_EQ(r.origin, (Origin{Partition{4}, Offset{900}}));
  EXPECT_EQ(r.reason, RejectReason::kWrongType);
  EXPECT_EQ(r.field, "taskId");
  EXPECT_EQ(r.excerpt, bad);
  EXPECT_EQ(events.rejections()[1].element, 2u);
  EXPECT_EQ(events.rejections()[1].excerpt, "7");
  EXPECT_EQ(events.rejections()[2].element, 3u);
  EXPECT_EQ(events.rejections()[2].excerpt, "[1, 2]");
  EXPECT_EQ(events.rejections()[2].message, "event: expected an object, got an array");
}

TEST(DecodeTest, MalformedArrayIsRejectedWholeOnce) {
  DecodedEvents events;
  Decoder decoder;
  decoder.Decode(kSeedEvent, Origin{Partition{0}, Offset{1}}, &events);  // an earlier message stays
  decoder.Decode(std::string("[") + std::string(kSeedEvent) + ", {\"id\": 01}]", Origin{Partition{0}, Offset{2}}, &events);
  ASSERT_EQ(events.actions().size(), 1u);
  ASSERT_EQ(events.rejections().size(), 1u);
  EXPECT_EQ(events.rejections()[0].reason, RejectReason::kInvalidJson);
  EXPECT_EQ(events.rejections()[0].field, "message");
  EXPECT_FALSE(events.rejections()[0].element.has_value());
  EXPECT_EQ(events.rejections()[0].origin, (Origin{Partition{0}, Offset{2}}));
}

// A huge array is decoded in parts of bounded size, with the same events as a
// whole decode; a large message that is not JSON is still one rejection and
// nothing else, however far into it the error is.
TEST(DecodeTest, LargeArraysGoInBoundedPartsWithTheSameEvents) {
  std::string message = "[";
  for (int i = 0; i < 30'000; ++i) {
    if (i) message += ",";
    if (i % 3 == 0) {
      std::string event(kSeedEvent);
      event.replace(event.find("\"id\": 1,"), 9, "\"id\": " + std::to_string(i + 1) + ",");
      message += event;
    } else {
      message += i % 3 == 1 ? "[]" : R"({"id": "x"})";
    }
  }
  message += "]";
  ASSERT_GT(message.size(), 16 * Decoder::kWholeMessageBytes);
  Decoder whole_decoder, parts_decoder;
  DecodedEvents whole;
  whole_decoder.Decode(message, Origin{Partition{3}, Offset{9}}, &whole);
  ASSERT_EQ(whole.size(), 30'000u);

  const DecodeLimits limits{1000, size_t{1} << 20};
  std::vector<TaskAction> actions;
  std::vector<Rejection> rejections;
  DecodedEvents part;
  int parts = 0;
  for (bool done = parts_decoder.Decode(message, Origin{Partition{3}, Offset{9}}, &part, limits);; done = parts_decoder.Continue(&part, limits)) {
    ++parts;
    EXPECT_LE(part.size(), limits.events);
    actions.insert(actions.end(), part.actions().begin(), part.actions().end());
    rejections.insert(rejections.end(), part.rejections().begin(), part.rejections().end());
    part.clear();
    if (done) break;
    ASSERT_LT(parts, 1000);
  }
  EXPECT_GE(parts, 30);
  EXPECT_TRUE(std::equal(actions.begin(), actions.end(), whole.actions().begin(), whole.actions().end()));
  EXPECT_EQ(rejections, whole.rejections());

  message.back() = ',';  // not JSON, at its very end
  part.clear();
  EXPECT_TRUE(parts_decoder.Decode(message, Origin{Partition{3}, Offset{10}}, &part, limits));
  ASSERT_EQ(part.size(), 1u);
  EXPECT_EQ(part.rejections()[0].reason, RejectReason::kInvalidJson);
  EXPECT_EQ(part.rejections()[0].origin, (Origin{Partition{3}, Offset{10}}));
  EXPECT_EQ(part.rejections()[0].element, std::nullopt);
}

TEST(DecodeTest, EmptyArrayCarriesNoEvents) {
  EXPECT_EQ(Decode("[]").size(), 0u);
  EXPECT_EQ(Decode(" [ \n ] ").size(), 0u);
}

TEST(DecodeTest, RejectsMessagesOver8MiBWithA4KiBExcerpt) {
  std::string huge = R"({"id":1,"pad":")";
  huge.append(Decoder::kMaxMessageBytes, 'x');
  huge += "\"}";
  const DecodedEvents events = Decode(huge);
  ASSERT_EQ(events.rejections().size(), 1u);
  EXPECT_EQ(events.rejections()[0].reason, RejectReason::kTooLarge);
  EXPECT_EQ(events.rejections()[0].excerpt.size(), kRejectionExcerptBytes);
  // Just under the limit is decoded (and here rejected for what it lacks).
  std::string fits = R"({"pad":")" + std::string(Decoder::kMaxMessageBytes - 20, 'x') + "\"}";
  EXPECT_EQ(Decode(fits).rejections()[0].reason, RejectReason::kMissingField);
}

TEST(DecodeTest, DeepNestingIsInvalidJsonNotACrash) {
  const std::string deep = R"({"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  const DecodedEvents events = Decode(deep);
  ASSERT_EQ(events.rejections().size(), 1u);
  EXPECT_EQ(events.rejections()[0].reason, RejectReason::kInvalidJson);
  EXPECT_NE(events.rejections()[0].message.find("1024"), std::string::npos);
}

// Each limit's rejection names the limit, as its constant says it: changing a
// limit changes its message. (The event lacks campaignId, but the first problem
// met is the one reported, and a missing field is only known at the end.)
TEST(DecodeTest, LimitRejectionsNameTheLimitOfTheirConstant) {
  const std::string head = R"({"id":1,"annotationRequestId":"r","poolType":0,"status":1,"actionType":0,"createdTime":"2025-04-01 10:00:00",)";
  auto message = [&](const std::string& rest) {
    const DecodedEvents events = Decode(head + rest);
    return events.rejections().empty() ? std::string("(accepted)") : events.rejections()[0].message;
  };
  auto contains = [](const std::string& text, const std::string& part) {
    return ::testing::AssertionResult(text.find(part) != std::string::npos) << text << " lacks: " << part;
  };
  const std::string bytes = std::to_string(kMaxStringBytes);
  const std::string too_long(kMaxStringBytes + 1, 'p');
  EXPECT_TRUE(contains(message(R"("taskId":3,"poolName":")" + too_long + "\"}"),
                       "is " + std::to_string(kMaxStringBytes + 1) + " bytes, over the limit of " + bytes));
  EXPECT_TRUE(contains(message(R"("taskId":3,"instanceInfo":{")" + too_long + "\":1}}"),
                       "bytes, over the limit of " + bytes));
  EXPECT_TRUE(contains(message(R"("taskId":3,"campaignId":)" + std::string(kMaxStringBytes + 1, '7') + "}"),
                       "has more than " + bytes + " digits"));
  EXPECT_TRUE(contains(message(R"("taskId":")" + std::string(kMaxIdStringChars + 1, '0') + "\"}"),
                       "an ID string has at most " + std::to_string(kMaxIdStringChars) + " characters"));
  const std::string too_many_digits(Id::kMaxDigits + 1, '9');
  EXPECT_TRUE(contains(message(R"("taskId":)" + too_many_digits + "}"),
                       "has more than " + std::to_string(Id::kMaxDigits) + " digits"));
  EXPECT_TRUE(contains(message(R"("taskId":")" + too_many_digits + "\"}"),
                       "has more than " + std::to_string(Id::kMaxDigits) + " significant digits"));
  std::string keys = R"("taskId":3,"instanceInfo":{)";
  for (size_t k = 0; k <= kMaxInstanceKeys; ++k) keys += (k ? ",\"k" : "\"k") + std::to_string(k) + "\":1";
  EXPECT_TRUE(contains(message(keys + "}}"), "has more than " + std::to_string(kMaxInstanceKeys) + " keys"));
  const int depth = Decoder::kMaxDepth + 1;
  EXPECT_TRUE(contains(message(R"("taskId":3,"x":)" + std::string(depth, '[') + std::string(depth, ']') + "}"),
                       "nesting deeper than " + std::to_string(Decoder::kMaxDepth) + " levels"));
  EXPECT_TRUE(contains(message(R"("taskId":3,"pad":")" + std::string(Decoder::kMaxMessageBytes, 'x') + "\"}"),
                       "over the limit of " + std::to_string(Decoder::kMaxMessageBytes >> 20) + " MiB"));
}

TEST(DecodeTest, EqualityIsTheContractsSameDecodedValues) {
  auto decode = [](std::string_view text) { return Decode(text).actions()[0]; };
  const std::string head = R"({"id":1,"annotationRequestId":"r","campaignId":"c","taskId":3,"poolType":0,"status":1,"actionType":0,"createdTime":"2025-04-01 10:00:00",)";
  EXPECT_EQ(decode(head + R"("instanceInfo":{"a":1,"b":2}})"), decode(head + R"("instanceInfo":{"b":2,"a":1}})"));
  EXPECT_EQ(decode(head + R"("instanceInfo":null})"), decode(head + R"("instanceInfo":{}})"));
  EXPECT_EQ(decode(head + R"("sceneId":""})"), decode(head + R"("sceneId":null})"));
  EXPECT_NE(decode(head + R"("instanceInfo":{"a":1}})"), decode(head + R"("instanceInfo":{"a":2}})"));
  EXPECT_NE(decode(head + R"("poolName":""})"), decode(head + R"("poolName":null})"));
}

}  // namespace
}  // namespace tally
