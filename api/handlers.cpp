#include "api/handlers.h"

#include <spdlog/spdlog.h>

#include "aggregate/json_writer.h"
#include "aggregate/task_view.h"
#include "aggregate/timestamp.h"

namespace tally {
namespace {

// A store failure is the server's problem, not the caller's: log it, answer 5000.
Outcome StoreFailure(const Status& status) {
  spdlog::error("api: store query failed: {}", status.ToString());
  return Outcome::Error(ApiCode::kInternal, std::string(kInternalMessage));
}

void OptionalId(JsonWriter& w, const std::optional<Id>& id) {
  if (id) {
    w.Id(*id);
  } else {
    w.Null();
  }
}

// A view field taken from the latest record that carried it, or null.
void OptionalId(JsonWriter& w, const std::optional<Stamped<Id>>& id) {
  OptionalId(w, id ? std::optional<Id>(id->value) : std::nullopt);
}

void OptionalString(JsonWriter& w, const std::optional<std::string>& text) {
  if (text) {
    w.String(*text);
  } else {
    w.Null();
  }
}

template <class T>
void OptionalUint(JsonWriter& w, const std::optional<T>& n) {
  if (n) {
    w.Uint(*n);
  } else {
    w.Null();
  }
}

}  // namespace

void AppendTaskJson(const TaskView& task, std::string* out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key("id");
  w.Id(task.task_id);
  w.Key("status");
  w.Int(static_cast<int32_t>(task.status));
  w.Key("project_id");
  OptionalId(w, task.project_id);
  w.Key("pool_id");
  OptionalId(w, task.pool_id);
  w.Key("pool_type");
  w.Int(static_cast<int32_t>(task.pool_type));
  w.Key("instance_info");
  w.BeginObject();
  for (const InstanceSum& s : task.instance_info) {
    w.Key(s.key);
    w.Uint(s.sum);
  }
  w.EndObject();
  w.Key("instance_num");
  w.Uint(task.instance_num);
  w.EndObject();
}

void AppendRecordJson(const TaskAction& r, std::string* out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key("id");
  w.Id(r.id);
  w.Key("status");
  w.Int(static_cast<int32_t>(r.status));
  w.Key("campaignId");
  w.String(r.campaign_id);
  w.Key("taskId");
  w.Id(r.task_id);
  w.Key("poolName");
  OptionalString(w, r.pool_name);
  w.Key("poolType");
  w.Int(static_cast<int32_t>(r.pool_type));
  w.Key("folderId");
  OptionalId(w, r.folder_id);
  w.Key("aliceName");
  OptionalString(w, r.alice_name);
  w.Key("createdTime");
  w.Raw("\"");
  AppendTimestamp(r.created_time, out);
  out->push_back('"');
  w.Key("actionType");
  w.Int(static_cast<int32_t>(r.action_type));
  w.Key("instanceInfo");
  w.BeginObject();
  for (InstanceInfo::Entry e : r.instance_info) {
    w.Key(e.key);
    w.Uint(e.count);
  }
  w.EndObject();
  w.Key("modifyInstanceNum");
  OptionalUint(w, r.modify_instance_num);
  w.Key("modifyAttributesNum");
  OptionalUint(w, r.modify_attributes_num);
  w.Key("instanceSum");
  OptionalUint(w, r.instance_sum);
  w.Key("attributesSum");
  OptionalUint(w, r.attributes_sum);
  w.EndObject();
}

Outcome HandleStatistics(const StatisticsParams& params, const Store& store, const ReadView& view,
                         std::string* data) {
  auto page = store.Tasks(view, params.annotation_request_id, params.page);
  if (!page) return StoreFailure(page.error());
  if (!*page) {
    return Outcome::Error(ApiCode::kRequestNotFound,
                          std::string(kRequestNotFoundMessage) + " (" + params.annotation_request_id + ")");
  }
  const TaskPage& tasks = **page;
  data->push_back('[');
  for (size_t i = 0; i < tasks.tasks.size(); ++i) {
    if (i > 0) data->push_back(',');
    AppendTaskJson(tasks.tasks[i], data);
  }
  data->push_back(']');
  Outcome ok;
  ok.total_count = tasks.total;
  return ok;
}

Outcome HandleStatisticsRecord(const RecordParams& params, const Store& store, const ReadView& view,
                               std::string* data) {
  auto page = store.Records(view, params.annotation_request_ids, params.page);
  if (!page) return StoreFailure(page.error());
  if (!page->unknown.empty()) {
    std::string message(kRequestNotFoundMessage);
    message += " (";
    for (size_t i = 0; i < page->unknown.size(); ++i) {
      if (i > 0) message += ", ";
      message += page->unknown[i];
    }
    message += ")";
    return Outcome::Error(ApiCode::kRequestNotFound, std::move(message));
  }
  JsonWriter w(data);
  w.BeginObject();
  w.Key("count");
  w.Uint(page->total);
  w.Key("data");
  w.BeginArray();
  for (const TaskAction& r : page->records) {
    w.Raw("");  // places the comma
    AppendRecordJson(r, data);
  }
  w.EndArray();
  w.EndObject();
  return Outcome();
}

Outcome HandleTaskGet(const TaskGetParams& params, const Store& store, const ReadView& view,
                      std::string_view view_url_base, std::string* data) {
  auto found = store.FindTask(view, params.campaign_id, params.annotation_request_id, params.scene_id);
  if (!found) return StoreFailure(found.error());
  switch (found->missing) {
    case TaskLookup::Missing::kCampaign:
      return Outcome::Error(ApiCode::kCampaignNotFound,
                            std::string(kCampaignNotFoundMessage) + " (" + params.campaign_id + ")");
    case TaskLookup::Missing::kRequest:
      return Outcome::Error(ApiCode::kRequestNotFound, std::string(kRequestNotFoundMessage) + " (" +
                                                           params.annotation_request_id + " in campaign " +
                                                           params.campaign_id + ")");
    case TaskLookup::Missing::kScene:
      return Outcome::Error(ApiCode::kSceneNotFound,
                            std::string(kSceneNotFoundMessage) + " (" + params.scene_id + ")");
    case TaskLookup::Missing::kNone: break;
  }
  const TaskView& task = found->task;
  JsonWriter w(data);
  w.BeginObject();
  w.Key("viewUrl");
  if (task.project_id) {
    std::string url(view_url_base);
    url += "/rosetta-open/task/";
    task.project_id->value.AppendDecimal(&url);
    url.push_back('/');
    task.task_id.AppendDecimal(&url);
    url += "/viewOnly";
    w.String(url);
  } else {
    w.Null();
  }
  w.Key("status");
  w.Int(HelixStatus(task));
  w.EndObject();
  return Outcome();
}

}  // namespace tally
