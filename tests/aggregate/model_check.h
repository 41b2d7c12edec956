#pragma once

// Compares every answer of a Store with a ReferenceModel: totals, every page of
// every request's tasks and records, merged record pages over several requests,
// and task lookups by (campaign, request, scene), including unknown ones.
// Returns "" when all agree, or a description of the first difference.

#include <sstream>
#include <string>
#include <vector>

#include "aggregate/store.h"
#include "tests/aggregate/reference_model.h"

namespace tally::testing {

inline std::string Describe(const TaskView& v) {
  std::ostringstream o;
  o << "task " << v.task_id.ToString() << " status " << static_cast<int>(v.status) << " pool "
    << static_cast<int>(v.pool_type) << " action " << static_cast<int>(v.action_type) << " campaign "
    << v.campaign_id << " project " << (v.project_id ? v.project_id->value.ToString() : "-") << " pool_id "
    << (v.pool_id ? v.pool_id->value.ToString() : "-") << " pool_name "
    << (v.pool_name ? v.pool_name->value : "-") << " scene " << (v.scene_id ? v.scene_id->value : "-")
    << " instances " << v.instance_num << " {";
  for (const auto& s : v.instance_info) o << s.key << ":" << s.sum << ",";
  o << "}";
  return o.str();
}

inline std::string Describe(const ModelTask& t) {
  TaskView v;
  v.task_id = t.task_id;
  v.status = static_cast<TaskStatus>(t.status);
  v.pool_type = static_cast<PoolType>(t.pool_type);
  v.action_type = static_cast<ActionType>(t.action_type);
  v.campaign_id = t.campaign_id;
  if (t.project_id) v.project_id = Stamped<Id>{{}, t.project_id->second};
  if (t.pool_id) v.pool_id = Stamped<Id>{{}, t.pool_id->second};
  if (t.pool_name) v.pool_name = Stamped<std::string>{{}, t.pool_name->second};
  if (t.scene_id) v.scene_id = Stamped<std::string>{{}, t.scene_id->second};
  v.instance_num = t.instance_num;
  for (const auto& [k, n] : t.instance_info) v.instance_info.push_back({k, n});
  return Describe(v);
}

inline bool Same(const TaskView& v, const ModelTask& t) {
  return Describe(v) == Describe(t);
}

inline std::string Describe(const CountMap& counts) {
  std::ostringstream o;
  for (const auto& [k, n] : counts.entries()) o << k << ":" << n << ",";
  return o.str();
}
inline std::string Describe(const std::map<int, uint64_t>& counts) {
  std::ostringstream o;
  for (const auto& [k, n] : counts) o << k << ":" << n << ",";
  return o.str();
}
inline std::string Times(const TimeRange& t) {
  if (!t.first || !t.last) return "-";
  return std::to_string(t.first->millis) + ".." + std::to_string(t.last->millis);
}

inline std::string Describe(const SummaryView& s, const std::map<std::string, uint64_t>& instances) {
  std::ostringstream o;
  o << "tasks " << s.tasks << " records " << s.records << " by status {" << Describe(s.summary.tasks_by_status)
    << "} helix {" << Describe(s.summary.tasks_by_helix_status) << "} actions {"
    << Describe(s.summary.records_by_action_type) << "} instances " << s.summary.instance_num << " {";
  for (const auto& [k, n] : instances) o << k << ":" << n << ",";
  o << "} times " << Times(s.summary.times);
  return o.str();
}
inline std::string Describe(const ModelSummary& m, uint64_t labelers) {
  SummaryView s;
  s.tasks = m.tasks;
  s.records = m.records;
  for (const auto& [k, n] : m.tasks_by_status) s.summary.tasks_by_status.Add(k, static_cast<int64_t>(n));
  for (const auto& [k, n] : m.tasks_by_helix_status) s.summary.tasks_by_helix_status.Add(k, static_cast<int64_t>(n));
  for (const auto& [k, n] : m.records_by_action_type) s.summary.records_by_action_type.Add(k, static_cast<int64_t>(n));
  s.summary.instance_num = m.instance_num;
  s.summary.labelers = labelers;
  if (m.records > 0) s.summary.times = TimeRange{Timestamp{m.first}, Timestamp{m.last}};
  return Describe(s, m.instance_info);
}
inline std::string Describe(const std::string& name, const LabelerStats& l) {
  std::ostringstream o;
  o << name << ": records " << l.records << " tasks " << l.tasks << " actions {"
    << Describe(l.records_by_action_type) << "} modified " << l.modify_instance_num << "/"
    << l.modify_attributes_num << " times " << Times(l.times);
  return o.str();
}
inline std::string Describe(const std::string& name, const ModelLabeler& m) {
  LabelerStats l;
  l.records = m.records;
  l.tasks = m.tasks.size();
  for (const auto& [k, n] : m.records_by_action_type) l.records_by_action_type.Add(k, static_cast<int64_t>(n));
  l.modify_instance_num = m.modify_instance_num;
  l.modify_attributes_num = m.modify_attributes_num;
  l.times = TimeRange{Timestamp{m.first}, Timestamp{m.last}};
  return Describe(name, l);
}

// The summary and every page of the labelers of `request`, against the model.
inline std::string CheckSummaryMatches(const Store& store, const ReadView& view, const ReferenceModel& model,
                                       const std::string& request, const std::vector<uint32_t>& page_sizes) {
  const auto labelers = model.Labelers(request);
  auto got = store.Summary(view, request);
  if (!got || !*got) return "summary of " + request + ": " + (got ? "unknown request" : got.error().ToString());
  std::map<std::string, uint64_t> instances;
  auto cursor = store.SummaryInstances(view, request);
  if (!cursor) return cursor.error().ToString();
  std::string previous;
  for (; cursor->Valid(); cursor->Next()) {
    if (!instances.empty() && !(previous < cursor->key())) return "summary instance keys out of order";
    previous.assign(cursor->key());
    instances[previous] = cursor->count();
  }
  if (!cursor->status().ok()) return cursor->status().ToString();
  const std::string want = Describe(model.Summary(request), labelers.size());
  const std::string have = Describe(**got, instances);
  if (have != want || (*got)->summary.labelers != labelers.size()) {
    return "summary of " + request + ": store " + have + " labelers " + std::to_string((*got)->summary.labelers) +
           "\n  model " + want + " labelers " + std::to_string(labelers.size());
  }
  std::vector<std::pair<std::string, const ModelLabeler*>> ordered;
  for (const auto& [name, l] : labelers) ordered.emplace_back(name, &l);  // std::string orders bytewise
  for (uint32_t size : page_sizes) {
    for (uint64_t page = 1; page <= ordered.size() / size + 2; ++page) {
      auto got_page = store.Labelers(view, request, Page{page, size});
      if (!got_page || !*got_page) return "labelers of " + request;
      if ((*got_page)->total != ordered.size()) return "labeler count of " + request;
      const size_t from = std::min<size_t>((page - 1) * size, ordered.size());
      const size_t to = std::min<size_t>(from + size, ordered.size());
      if ((*got_page)->labelers.size() != to - from) return "labeler page size of " + request;
      for (size_t i = from; i < to; ++i) {
        const auto& [name, stats] = (*got_page)->labelers[i - from];
        if (Describe(name, stats) != Describe(ordered[i].first, *ordered[i].second)) {
          return "labeler " + std::to_string(i) + " of " + request + ": store " + Describe(name, stats) +
                 "\n  model " + Describe(ordered[i].first, *ordered[i].second);
        }
      }
    }
  }
  return "";
}

inline std::string CheckStoreMatches(const Store& store, const ReferenceModel& model,
                                     const std::vector<uint32_t>& page_sizes) {
  const ReadView view = store.Snapshot();
  std::ostringstream error;
  const StoreTotals totals = store.totals();
  const std::set<std::string> requests = model.Requests();
  uint64_t tasks_total = 0;
  for (const auto& r : requests) tasks_total += model.Tasks(r).size();
  if (totals.records != model.distinct() || totals.tasks != tasks_total || totals.requests != requests.size()) {
    error << "totals: store " << totals.records << "/" << totals.tasks << "/" << totals.requests << ", model "
          << model.distinct() << "/" << tasks_total << "/" << requests.size();
    return error.str();
  }
  for (const std::string& request : requests) {
    // Tasks, every page of every size.
    const auto tasks = model.Tasks(request);
    std::vector<const ModelTask*> ordered;
    for (const auto& [id, t] : tasks) ordered.push_back(&t);
    for (uint32_t size : page_sizes) {
      for (uint64_t page = 1; page <= ordered.size() / size + 2; ++page) {
        auto got = store.Tasks(view, request, Page{page, size});
        if (!got || !*got) return "tasks of " + request + ": " + (got ? "unknown request" : got.error().ToString());
        if ((*got)->total != ordered.size()) return "task count of " + request;
        const size_t from = std::min<size_t>((page - 1) * size, ordered.size());
        const size_t to = std::min<size_t>(from + size, ordered.size());
        if ((*got)->size() != to - from) return "task page size of " + request;
        TaskView task;  // reused, as the HTTP writer reuses one
        for (size_t i = from; i < to; ++i) {
          if (Status s = (*got)->Decode(i - from, &task); !s.ok()) return s.ToString();
          if (task.instances_apart && !task.instance_info.empty()) return "a view apart with counts inside";
          if (Status s = store.ReadInstances(view, request, &task); !s.ok()) return s.ToString();
          if (!Same(task, *ordered[i])) {
            return "task " + std::to_string(i) + " of " + request + ": store " + Describe(task) +
                   "\n  model " + Describe(*ordered[i]);
          }
        }
      }
    }
    if (std::string e = CheckSummaryMatches(store, view, model, request, page_sizes); !e.empty()) return e;
    // Scene lookups for every scene of the request, and an unknown one.
    std::set<std::string> scenes = {"no-such-scene"};
    for (const TaskAction& r : model.Records(request)) {
      if (!r.scene_id.empty()) scenes.insert(r.scene_id);
    }
    std::set<std::string> campaigns = {"no-such-campaign"};
    for (const TaskAction& r : model.Records(request)) campaigns.insert(r.campaign_id);
    for (const std::string& campaign : campaigns) {
      for (const std::string& scene : scenes) {
        auto got = store.FindTask(view, campaign, request, scene);
        if (!got) return got.error().ToString();
        TaskLookup::Missing want = TaskLookup::Missing::kNone;
        std::optional<Id> task;
        if (!model.CampaignExists(campaign)) {
          want = TaskLookup::Missing::kCampaign;
        } else if (!model.InCampaign(request, campaign)) {
          want = TaskLookup::Missing::kRequest;
        } else if (!(task = model.SceneTask(request, scene))) {
          want = TaskLookup::Missing::kScene;
        }
        if (got->missing != want) return "lookup " + campaign + "/" + request + "/" + scene + ": wrong outcome";
        if (Status s = store.ReadInstances(view, request, &got->task); !s.ok()) return s.ToString();
        if (want == TaskLookup::Missing::kNone && !Same(got->task, tasks.at(*task))) {
          return "lookup " + campaign + "/" + request + "/" + scene + ": wrong task " + Describe(got->task);
        }
      }
    }
  }
  // Record pages of each request alone, of all requests together, and of pairs.
  std::vector<std::vector<std::string>> lists;
  for (const auto& r : requests) lists.push_back({r});
  if (requests.size() > 1 && requests.size() <= 100) lists.emplace_back(requests.begin(), requests.end());
  for (auto it = requests.begin(); it != requests.end() && std::next(it) != requests.end(); ++it) {
    lists.push_back({*it, *std::next(it)});
  }
  for (const auto& list : lists) {
    std::vector<TaskAction> merged;
    for (const auto& r : list) {
      auto part = model.Records(r);
      merged.insert(merged.end(), part.begin(), part.end());
    }
    std::sort(merged.begin(), merged.end(), [](const TaskAction& a, const TaskAction& b) { return a.id < b.id; });
    for (uint32_t size : page_sizes) {
      for (uint64_t page = 1; page <= merged.size() / size + 2; ++page) {
        auto got = store.Records(view, list, Page{page, size});
        if (!got) return got.error().ToString();
        if (got->total != merged.size() || !got->unknown.empty()) return "record count of " + list[0];
        const size_t from = std::min<size_t>((page - 1) * size, merged.size());
        const size_t to = std::min<size_t>(from + size, merged.size());
        if (got->read.size() != to - from) {
          return "record page " + std::to_string(page) + "x" + std::to_string(size) + " of " + list[0] + " (+" +
                 std::to_string(list.size() - 1) + "): " + std::to_string(got->read.size()) + " records, want " +
                 std::to_string(to - from);
        }
        TaskAction record;  // one for the page, as the API decodes: nothing of a record may stay for the next
        for (size_t i = from; i < to; ++i) {
          if (Status s = got->Decode(i - from, list, &record); !s.ok()) return s.ToString();
          if (!(record == merged[i])) {
            return "record " + std::to_string(i) + " of " + list[0] + ": store id " + record.id.ToString() +
                   ", model id " + merged[i].id.ToString();
          }
        }
      }
    }
  }
  auto unknown = store.Records(view, std::vector<std::string>{*requests.begin(), "no-such-request"}, Page{1, 10});
  if (!unknown || unknown->unknown != std::vector<std::string>{"no-such-request"}) return "unknown request listing";
  auto no_tasks = store.Tasks(view, "no-such-request", Page{1, 10});
  if (!no_tasks || *no_tasks) return "an unknown request has tasks";
  auto no_summary = store.Summary(view, "no-such-request");
  if (!no_summary || *no_summary) return "an unknown request has a summary";
  auto no_labelers = store.Labelers(view, "no-such-request", Page{1, 10});
  if (!no_labelers || *no_labelers) return "an unknown request has labelers";
  return "";
}

}  // namespace tally::testing
