// Format 2 (or 3) -> 4 at open: the summary and labeler views of a store written
// before they existed (or with StoreOptions::summary_views off), or before they
// named labelers by number (format 3 named them), are built from its task views and
// records, once. The format stays as it was until the whole build is
// written, and a build starts by clearing whatever an interrupted one left, so
// a crash in the middle only means it runs again at the next open. Memory: one
// request's labelers, and one task's, at a time.

#include <chrono>
#include <cstdio>
#include <map>

#include "aggregate/bytes.h"
#include "aggregate/codec.h"
#include "aggregate/keys.h"
#include "aggregate/store_impl.h"

namespace tally {
namespace {

using keys::Family;

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

constexpr keys::Family kSummaryFamilies[] = {Family::kSummaries, Family::kSummaryInstances, Family::kLabelers,
                                             Family::kLabelerTasks};

// Writes `batch` when it has grown past a few MiB (and at the end), so that a
// large request does not build one huge WriteBatch.
class BatchedWrites {
 public:
  explicit BatchedWrites(rocksdb::DB* db) : db_(db) {}
  rocksdb::WriteBatch& batch() { return batch_; }
  Status Maybe() { return batch_.GetDataSize() > (4u << 20) ? Write() : Status::OK(); }
  Status Write() {
    if (batch_.Count() == 0) return Status::OK();
    Status s = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch_), "building the summary views");
    batch_.Clear();
    return s;
  }

 private:
  rocksdb::DB* db_;
  rocksdb::WriteBatch batch_;
};

Status ClearFamily(Store::Impl& store, Family family, BatchedWrites& out) {
  std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(rocksdb::ReadOptions(), store.Cf(family)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.batch().Delete(store.Cf(family), it->key()).PermitUncheckedError();
    if (Status s = out.Maybe(); !s.ok()) return s;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "clearing a summary family");
  return out.Write();
}

// One request: buckets and instance sums from its task views, the rest from its records.
Status BuildRequest(Store::Impl& store, RequestNo no, BatchedWrites& out) {
  RequestSummary summary;
  const std::string prefix = keys::RequestPrefix(no);
  const std::string end = keys::RequestEnd(no);
  const rocksdb::Slice end_slice(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &end_slice;
  std::string key, value;
  {
    std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(ro, store.Cf(Family::kTasks)));
    TaskView view;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      if (!DecodeTaskView(View(it->value()), &view)) return Status::Corruption("unreadable task view");
      MoveTask(std::nullopt, BucketOf(view), &summary);
      summary.instance_num += view.instance_num;
      for (const InstanceSum& s : view.instance_info) {
        if (s.sum == 0) continue;
        value.clear();
        EncodeInstanceCount(s.sum, &value);
        out.batch().Merge(store.Cf(Family::kSummaryInstances), keys::SummaryInstance(no, s.key), value)
            .PermitUncheckedError();
        if (Status st = out.Maybe(); !st.ok()) return st;
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading task views");
  }
  {
    // The counts of views that keep them apart.
    std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(ro, store.Cf(Family::kInstances)));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      std::string_view k = View(it->key()).substr(keys::kRequestPrefixBytes);
      if (!Id::ConsumeKey(&k)) return Status::Corruption("unreadable instance key");
      uint64_t count = 0;
      if (!DecodeInstanceCount(View(it->value()), &count)) return Status::Corruption("unreadable instance count");
      if (count == 0) continue;
      value.clear();
      EncodeInstanceCount(count, &value);
      out.batch().Merge(store.Cf(Family::kSummaryInstances), keys::SummaryInstance(no, k), value)
          .PermitUncheckedError();
      if (Status st = out.Maybe(); !st.ok()) return st;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading instance counts");
  }
  // Labelers are numbered in order of first appearance in the records' key
  // order: a build interrupted and run again numbers them alike.
  struct Labeler {
    LabelerStats stats;
    uint64_t number = 0;
  };
  std::map<std::string, Labeler, std::less<>> labelers;
  std::vector<LabelerStats*> by_number;
  {
    std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(ro, store.Cf(Family::kRecords)));
    TaskAction record;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      if (!DecodeRecord(View(it->value()), &record)) return Status::Corruption("unreadable record");
      FoldSummaryRecord(record, &summary);
      const std::string* name = LabelerOf(record);
      if (name == nullptr) continue;
      auto [labeler, added] = labelers.try_emplace(*name);
      if (added) {
        labeler->second.number = by_number.size();
        by_number.push_back(&labeler->second.stats);
      }
      // Distinct tasks are counted from the markers below.
      FoldLabeler(record, /*new_task=*/false, &labeler->second.stats);
      out.batch()
          .Put(store.Cf(Family::kLabelerTasks), keys::LabelerTask(no, record.task_id, labeler->second.number), "")
          .PermitUncheckedError();
      if (Status st = out.Maybe(); !st.ok()) return st;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading records");
  }
  if (Status s = out.Write(); !s.ok()) return s;  // the markers, to count them
  {
    // Per task its labelers: each counts the task once; a task of at most
    // kInlineLabelers keeps them in its view's value (its markers go), others
    // keep their markers and say so.
    std::optional<Id> task;
    std::vector<uint64_t> numbers;
    auto finish = [&]() -> Status {
      if (!task) return Status::OK();
      const std::string task_key = keys::RequestItem(no, *task);
      std::string stored;
      const rocksdb::Status got = store.db->Get(rocksdb::ReadOptions(), store.Cf(Family::kTasks), task_key, &stored);
      if (!got.ok()) return FromRocks(got, "reading the task view of a labeler");
      TaskView view;
      if (!DecodeTaskView(stored, &view)) return Status::Corruption("unreadable task view");
      TaskLabelers inline_numbers;
      inline_numbers.apart = numbers.size() > kInlineLabelers;
      for (const uint64_t number : numbers) {
        if (number >= by_number.size()) return Status::Corruption("a labeler task marker without its labeler");
        ++by_number[number]->tasks;
        if (!inline_numbers.apart) {
          out.batch().Delete(store.Cf(Family::kLabelerTasks), keys::LabelerTask(no, *task, number)).PermitUncheckedError();
          inline_numbers.Add(number);
        }
      }
      value.clear();
      EncodeTaskView(view, &value, &inline_numbers);
      out.batch().Put(store.Cf(Family::kTasks), task_key, value).PermitUncheckedError();
      numbers.clear();
      return out.Maybe();
    };
    std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(ro, store.Cf(Family::kLabelerTasks)));
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      std::string_view k = View(it->key()).substr(keys::kRequestPrefixBytes);
      const std::optional<Id> id = Id::ConsumeKey(&k);
      ByteReader number(k);
      uint64_t n = 0;
      if (!id || !number.Varint(&n) || !number.empty()) return Status::Corruption("unreadable labeler task key");
      if (task != id) {
        if (Status s = finish(); !s.ok()) return s;
        task = id;
      }
      numbers.push_back(n);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading labeler tasks");
    if (Status s = finish(); !s.ok()) return s;
  }
  summary.labelers = labelers.size();
  for (const auto& [name, labeler] : labelers) {
    value.clear();
    EncodeLabelerStats(labeler.stats, labeler.number, &value);
    out.batch().Put(store.Cf(Family::kLabelers), keys::Labeler(no, name), value).PermitUncheckedError();
    if (Status st = out.Maybe(); !st.ok()) return st;
  }
  value.clear();
  EncodeRequestSummary(summary, &value);
  out.batch().Put(store.Cf(Family::kSummaries), keys::Summary(no), value).PermitUncheckedError();
  return out.Maybe();
}

}  // namespace

Status BuildSummaries(Store::Impl& store) {
  const auto start = std::chrono::steady_clock::now();
  std::fprintf(stderr, "tally: store: building the summary and labeler views of %s from its records (once)\n",
               store.options.path.c_str());
  BatchedWrites out(store.db.get());
  for (Family family : kSummaryFamilies) {
    if (Status s = ClearFamily(store, family, out); !s.ok()) return s;
  }
  uint64_t requests = 0;
  std::unique_ptr<rocksdb::Iterator> it(store.db->NewIterator(rocksdb::ReadOptions(), store.Cf(Family::kRequests)));
  RequestMeta meta;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!DecodeRequestMeta(View(it->value()), &meta)) return Status::Corruption("unreadable request meta");
    if (Status s = BuildRequest(store, meta.no, out); !s.ok()) return s;
    ++requests;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading requests");
  if (Status s = out.Write(); !s.ok()) return s;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "tally: store: built the summary views in %.1f s (requests: %llu)\n",
               seconds, static_cast<unsigned long long>(requests));
  return Status::OK();
}

}  // namespace tally
