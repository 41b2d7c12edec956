#pragma once

// An independent in-memory model of what the store must answer (docs/views.md),
// written plainly for the tests: no shared code with the store beyond the
// TaskAction type. Records are kept first-wins by id in delivery order.

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "aggregate/task_action.h"

namespace tally::testing {

// GET /statistics/summary of one request, computed from scratch.
struct ModelSummary {
  uint64_t tasks = 0, records = 0;
  std::map<int, uint64_t> tasks_by_status, tasks_by_helix_status, records_by_action_type;
  std::map<std::string, uint64_t> instance_info;  // non-zero sums only
  uint64_t instance_num = 0;
  int64_t first = 0, last = 0;  // createdTime ms
};

// One labeler of GET /statistics/labelers, computed from scratch.
struct ModelLabeler {
  uint64_t records = 0;
  std::set<Id> tasks;
  std::map<int, uint64_t> records_by_action_type;
  uint64_t modify_instance_num = 0, modify_attributes_num = 0;
  int64_t first = 0, last = 0;
};

// /task/get's S from a task's latest record, row by row as the contract's table.
inline int ModelHelixStatus(int status, int pool_type, int action_type) {
  const bool waiting = status == 1 || status == 2;
  if ((status == 6 || status == 10) && pool_type == 0) return 0;
  if (pool_type == 0 || pool_type == 4) return 1;
  if (pool_type == 1 || pool_type == 6) {
    if (waiting) return 2;
    if (status == 4 || status == 9 || action_type == 7) return 4;
    return 3;
  }
  if (pool_type == 2) return waiting ? 5 : 6;
  if (pool_type == 3) {
    if (waiting) return 8;
    if (status == 9 || action_type == 9) return 10;
    return 9;
  }
  if (pool_type == 5) return 11;
  return 3;
}

struct ModelTask {
  Id task_id;
  std::pair<int64_t, Id> latest{};  // (createdTime ms, id) of the latest record
  int status = 0, pool_type = 0, action_type = 0;
  std::string campaign_id;
  std::optional<std::pair<std::pair<int64_t, Id>, Id>> project_id, pool_id;
  std::optional<std::pair<std::pair<int64_t, Id>, std::string>> pool_name, scene_id;
  std::map<std::string, uint64_t> instance_info;
  uint64_t instance_num = 0;
};

class ReferenceModel {
 public:
  // Delivers one event; returns false if it is a duplicate (of any earlier id).
  bool Deliver(const TaskAction& a) {
    auto [it, inserted] = records_.emplace(a.id, a);
    if (!inserted) {
      ++duplicates_;
      if (!(it->second == a)) ++conflicts_;
    }
    return inserted;
  }

  uint64_t duplicates() const { return duplicates_; }
  uint64_t conflicts() const { return conflicts_; }
  uint64_t distinct() const { return records_.size(); }

  // Every request id with at least one record.
  std::set<std::string> Requests() const {
    std::set<std::string> out;
    for (const auto& [id, r] : records_) out.insert(r.annotation_request_id);
    return out;
  }

  // The request's records in id order.
  std::vector<TaskAction> Records(const std::string& request) const {
    std::vector<TaskAction> out;
    for (const auto& [id, r] : records_) {
      if (r.annotation_request_id == request) out.push_back(r);
    }
    return out;  // records_ is ordered by id
  }

  // The request's tasks, by task id.
  std::map<Id, ModelTask> Tasks(const std::string& request) const {
    std::map<Id, ModelTask> tasks;
    for (const auto& [id, r] : records_) {
      if (r.annotation_request_id != request) continue;
      ModelTask& t = tasks[r.task_id];
      t.task_id = r.task_id;
      const std::pair<int64_t, Id> stamp{r.created_time.millis, r.id};
      if (t.campaign_id.empty() || t.latest < stamp) {
        t.latest = stamp;
        t.status = static_cast<int>(r.status);
        t.pool_type = static_cast<int>(r.pool_type);
        t.action_type = static_cast<int>(r.action_type);
        t.campaign_id = r.campaign_id;
      }
      auto later = [&](auto& field, const auto& value) {
        if (!field || field->first < stamp) field.emplace(stamp, value);
      };
      if (r.project_id) later(t.project_id, *r.project_id);
      if (r.pool_id) later(t.pool_id, *r.pool_id);
      if (r.pool_name) later(t.pool_name, *r.pool_name);
      if (!r.scene_id.empty()) later(t.scene_id, r.scene_id);
      for (const auto entry : r.instance_info) {
        t.instance_info[std::string(entry.key)] += entry.count;
        t.instance_num += entry.count;
      }
    }
    return tasks;
  }

  ModelSummary Summary(const std::string& request) const {
    ModelSummary out;
    for (const auto& [id, t] : Tasks(request)) {
      ++out.tasks;
      ++out.tasks_by_status[t.status];
      ++out.tasks_by_helix_status[ModelHelixStatus(t.status, t.pool_type, t.action_type)];
      for (const auto& [key, n] : t.instance_info) {
        if (n > 0) out.instance_info[key] += n;
      }
      out.instance_num += t.instance_num;
    }
    bool any = false;
    for (const TaskAction& r : Records(request)) {
      ++out.records;
      ++out.records_by_action_type[static_cast<int>(r.action_type)];
      const int64_t t = r.created_time.millis;
      out.first = any ? std::min(out.first, t) : t;
      out.last = any ? std::max(out.last, t) : t;
      any = true;
    }
    return out;
  }

  // The request's labelers by name: records with a non-empty aliceName.
  std::map<std::string, ModelLabeler> Labelers(const std::string& request) const {
    std::map<std::string, ModelLabeler> out;
    for (const TaskAction& r : Records(request)) {
      if (!r.alice_name || r.alice_name->empty()) continue;
      auto [it, fresh] = out.try_emplace(*r.alice_name);
      ModelLabeler& l = it->second;
      ++l.records;
      l.tasks.insert(r.task_id);
      ++l.records_by_action_type[static_cast<int>(r.action_type)];
      l.modify_instance_num += r.modify_instance_num.value_or(0);
      l.modify_attributes_num += r.modify_attributes_num.value_or(0);
      const int64_t t = r.created_time.millis;
      l.first = fresh ? t : std::min(l.first, t);
      l.last = fresh ? t : std::max(l.last, t);
    }
    return out;
  }

  // The task of the latest record carrying `scene` in `request`, if any.
  std::optional<Id> SceneTask(const std::string& request, const std::string& scene) const {
    std::optional<std::pair<std::pair<int64_t, Id>, Id>> best;
    for (const auto& [id, r] : records_) {
      if (r.annotation_request_id != request || r.scene_id != scene) continue;
      const std::pair<int64_t, Id> stamp{r.created_time.millis, r.id};
      if (!best || best->first < stamp) best.emplace(stamp, r.task_id);
    }
    if (!best) return std::nullopt;
    return best->second;
  }

  bool CampaignExists(const std::string& campaign) const {
    return std::any_of(records_.begin(), records_.end(),
                       [&](const auto& e) { return e.second.campaign_id == campaign; });
  }
  bool InCampaign(const std::string& request, const std::string& campaign) const {
    return std::any_of(records_.begin(), records_.end(), [&](const auto& e) {
      return e.second.campaign_id == campaign && e.second.annotation_request_id == request;
    });
  }

 private:
  std::map<Id, TaskAction> records_;
  uint64_t duplicates_ = 0;
  uint64_t conflicts_ = 0;
};

}  // namespace tally::testing
