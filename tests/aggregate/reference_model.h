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
