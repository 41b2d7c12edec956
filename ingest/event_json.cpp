#include "ingest/event_json.h"

#include "aggregate/json_writer.h"

namespace tally {
namespace {

std::string CreatedTimeText(Timestamp t) {
  std::string text;
  AppendTimestamp(t, &text);
  const int64_t ms = ((t.millis % 1000) + 1000) % 1000;
  if (ms != 0) {
    text[text.find(' ')] = 'T';
    const char frac[] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                         static_cast<char>('0' + ms % 10), 'Z'};
    text.append(frac, sizeof(frac));
  }
  return text;
}

}  // namespace

void AppendEventJson(const TaskAction& a, std::string* out) {
  JsonWriter w(out);
  auto id = [&](const JsonName& key, const std::optional<Id>& value) {
    if (!value) return;
    w.Key(key);
    w.Id(*value);
  };
  auto text = [&](const JsonName& key, const std::optional<std::string>& value) {
    if (!value) return;
    w.Key(key);
    w.String(*value);
  };
  auto count = [&](const JsonName& key, std::optional<uint32_t> value) {
    if (!value) return;
    w.Key(key);
    w.Uint(*value);
  };
  w.BeginObject();
  w.Key("id");
  w.Id(a.id);
  w.Key("annotationRequestId");
  w.String(a.annotation_request_id);
  w.Key("campaignId");
  w.String(a.campaign_id);
  if (!a.scene_id.empty()) {
    w.Key("sceneId");
    w.String(a.scene_id);
  }
  w.Key("taskId");
  w.Id(a.task_id);
  id("projectId", a.project_id);
  id("poolId", a.pool_id);
  text("poolName", a.pool_name);
  w.Key("poolType");
  w.Int(static_cast<int32_t>(a.pool_type));
  id("folderId", a.folder_id);
  text("aliceName", a.alice_name);
  w.Key("status");
  w.Int(static_cast<int32_t>(a.status));
  w.Key("actionType");
  w.Int(static_cast<int32_t>(a.action_type));
  w.Key("createdTime");
  w.String(CreatedTimeText(a.created_time));
  w.Key("instanceInfo");
  w.BeginObject();
  for (const InstanceInfo::Entry c : a.instance_info) {
    w.DataKey(c.key);
    w.Uint(c.count);
  }
  w.EndObject();
  count("modifyInstanceNum", a.modify_instance_num);
  count("modifyAttributesNum", a.modify_attributes_num);
  count("instanceSum", a.instance_sum);
  count("attributesSum", a.attributes_sum);
  w.EndObject();
}

}  // namespace tally
