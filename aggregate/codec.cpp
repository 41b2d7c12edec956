#include "aggregate/codec.h"

#include "aggregate/bytes.h"

namespace tally {
namespace {

// Presence bits of a record's optional fields.
constexpr uint32_t kProject = 1u << 0;
constexpr uint32_t kPool = 1u << 1;
constexpr uint32_t kFolder = 1u << 2;
constexpr uint32_t kPoolName = 1u << 3;
constexpr uint32_t kAlice = 1u << 4;
constexpr uint32_t kModifyInstances = 1u << 5;
constexpr uint32_t kModifyAttributes = 1u << 6;
constexpr uint32_t kInstanceSum = 1u << 7;
constexpr uint32_t kAttributeSum = 1u << 8;

// Presence bits of a task view's optional fields.
constexpr uint32_t kViewProject = 1u << 0;
constexpr uint32_t kViewPool = 1u << 1;
constexpr uint32_t kViewPoolName = 1u << 2;
constexpr uint32_t kViewScene = 1u << 3;
constexpr uint32_t kViewInstancesApart = 1u << 4;  // format 2
constexpr uint32_t kViewLabelerNames = 1u << 5;    // format 3: the task's labelers by name follow
constexpr uint32_t kViewLabelersApart = 1u << 6;   // format 3 on: the task's labelers are in labeler_tasks
// format 4: the task's labelers by number follow (none: no section). A view
// with labelers takes a second byte of presence bits.
constexpr uint32_t kViewLabelers = 1u << 7;

void PutStamp(const Stamp& s, std::string* out) {
  PutZigZag(s.time.millis, out);
  s.id.AppendKey(out);
}

bool ReadStamp(ByteReader& r, Stamp* s) { return r.ZigZag(&s->time.millis) && r.Id(&s->id); }

template <class Enum>
bool ReadEnum(ByteReader& r, Enum* e) {
  uint32_t v;
  if (!r.Varint32(&v)) return false;
  *e = static_cast<Enum>(v);
  return true;
}

bool ReadOwned(ByteReader& r, std::string* s) {
  std::string_view view;
  if (!r.String(&view)) return false;
  s->assign(view);
  return true;
}

void PutCounts(const CountMap& counts, std::string* out) {
  PutVarint(counts.entries().size(), out);
  for (const auto& [key, count] : counts.entries()) {
    PutZigZag(key, out);
    PutVarint(count, out);
  }
}

// Keys strictly ascending, counts non-zero: what PutCounts writes.
bool ReadCounts(ByteReader& r, CountMap* counts) {
  uint64_t n = 0;
  if (!r.Varint(&n) || n > r.rest().size()) return false;
  auto& entries = counts->mutable_entries();
  entries.clear();
  for (uint64_t i = 0; i < n; ++i) {
    int64_t key = 0;
    uint64_t count = 0;
    if (!r.ZigZag(&key) || !r.Varint(&count) || key < INT32_MIN || key > INT32_MAX || count == 0) return false;
    if (!entries.empty() && entries.back().first >= key) return false;
    entries.emplace_back(static_cast<int32_t>(key), count);
  }
  return true;
}

// A time range: a presence byte, then first and last.
void PutTimes(const TimeRange& t, std::string* out) {
  out->push_back(t.first && t.last ? 1 : 0);
  if (t.first && t.last) {
    PutZigZag(t.first->millis, out);
    PutZigZag(t.last->millis, out);
  }
}

bool ReadTimes(ByteReader& r, TimeRange* t) {
  uint64_t present = 0;
  if (!r.Varint(&present) || present > 1) return false;
  *t = TimeRange{};
  if (present == 0) return true;
  int64_t first = 0, last = 0;
  if (!r.ZigZag(&first) || !r.ZigZag(&last)) return false;
  t->first = Timestamp{first};
  t->last = Timestamp{last};
  return true;
}

}  // namespace

void EncodeRequestSummary(const RequestSummary& s, std::string* out) {
  PutCounts(s.tasks_by_status, out);
  PutCounts(s.tasks_by_helix_status, out);
  PutCounts(s.records_by_action_type, out);
  PutVarint(s.instance_num, out);
  PutVarint(s.labelers, out);
  PutTimes(s.times, out);
}

bool DecodeRequestSummary(std::string_view in, RequestSummary* s) {
  ByteReader r(in);
  return ReadCounts(r, &s->tasks_by_status) && ReadCounts(r, &s->tasks_by_helix_status) &&
         ReadCounts(r, &s->records_by_action_type) && r.Varint(&s->instance_num) && r.Varint(&s->labelers) &&
         ReadTimes(r, &s->times) && r.empty();
}

void EncodeLabelerStats(const LabelerStats& s, uint64_t number, std::string* out) {
  PutVarint(s.records, out);
  PutVarint(s.tasks, out);
  PutCounts(s.records_by_action_type, out);
  PutVarint(s.modify_instance_num, out);
  PutVarint(s.modify_attributes_num, out);
  PutTimes(s.times, out);
  PutVarint(number, out);
}

bool DecodeLabelerStats(std::string_view in, LabelerStats* s, uint64_t* number) {
  ByteReader r(in);
  uint64_t n;
  if (!r.Varint(&s->records) || !r.Varint(&s->tasks) || !ReadCounts(r, &s->records_by_action_type) ||
      !r.Varint(&s->modify_instance_num) || !r.Varint(&s->modify_attributes_num) || !ReadTimes(r, &s->times) ||
      !r.Varint(&n) || !r.empty()) {
    return false;
  }
  if (number) *number = n;
  return true;
}

void EncodeRecord(const TaskAction& a, std::string* out) {
  uint32_t present = 0;
  if (a.project_id) present |= kProject;
  if (a.pool_id) present |= kPool;
  if (a.folder_id) present |= kFolder;
  if (a.pool_name) present |= kPoolName;
  if (a.alice_name) present |= kAlice;
  if (a.modify_instance_num) present |= kModifyInstances;
  if (a.modify_attributes_num) present |= kModifyAttributes;
  if (a.instance_sum) present |= kInstanceSum;
  if (a.attributes_sum) present |= kAttributeSum;
  PutVarint(present, out);
  PutString(a.campaign_id, out);
  PutString(a.scene_id, out);
  a.task_id.AppendKey(out);
  if (a.project_id) a.project_id->AppendKey(out);
  if (a.pool_id) a.pool_id->AppendKey(out);
  if (a.folder_id) a.folder_id->AppendKey(out);
  if (a.pool_name) PutString(*a.pool_name, out);
  if (a.alice_name) PutString(*a.alice_name, out);
  PutVarint(static_cast<uint32_t>(a.pool_type), out);
  PutVarint(static_cast<uint32_t>(a.status), out);
  PutVarint(static_cast<uint32_t>(a.action_type), out);
  PutZigZag(a.created_time.millis, out);
  PutVarint(a.instance_info.size(), out);
  for (const InstanceInfo::Entry e : a.instance_info) {
    PutString(e.key, out);
    PutVarint(e.count, out);
  }
  for (const auto* count : {&a.modify_instance_num, &a.modify_attributes_num, &a.instance_sum,
                            &a.attributes_sum}) {
    if (*count) PutVarint(**count, out);
  }
}

bool DecodeRecord(std::string_view in, RecordFields* a) {
  ByteReader r(in);
  uint32_t present;
  if (!r.Varint32(&present) || !r.String(&a->campaign_id) || !r.String(&a->scene_id) || !r.Id(&a->task_id)) {
    return false;
  }
  auto optional_id = [&](uint32_t bit, std::optional<Id>* out) {
    out->reset();
    if (!(present & bit)) return true;
    Id id;
    if (!r.Id(&id)) return false;
    *out = id;
    return true;
  };
  auto optional_string = [&](uint32_t bit, std::optional<std::string_view>* out) {
    out->reset();
    if (!(present & bit)) return true;
    return r.String(&out->emplace());
  };
  auto optional_count = [&](uint32_t bit, std::optional<uint32_t>* out) {
    out->reset();
    if (!(present & bit)) return true;
    uint32_t v;
    if (!r.Varint32(&v)) return false;
    *out = v;
    return true;
  };
  uint64_t keys;
  if (!optional_id(kProject, &a->project_id) || !optional_id(kPool, &a->pool_id) ||
      !optional_id(kFolder, &a->folder_id) || !optional_string(kPoolName, &a->pool_name) ||
      !optional_string(kAlice, &a->alice_name) || !ReadEnum(r, &a->pool_type) ||
      !ReadEnum(r, &a->status) || !ReadEnum(r, &a->action_type) ||
      !r.ZigZag(&a->created_time.millis) || !r.Varint(&keys) || keys > in.size()) {
    return false;
  }
  // The entries are checked here once, so that visiting them needs no checks.
  const std::string_view entries = r.rest();
  for (uint64_t i = 0; i < keys; ++i) {
    std::string_view key;
    uint32_t count;
    if (!r.String(&key) || !r.Varint32(&count)) return false;
  }
  a->instance_info = RecordInstances::Stored(entries.substr(0, entries.size() - r.rest().size()), keys);
  return optional_count(kModifyInstances, &a->modify_instance_num) &&
         optional_count(kModifyAttributes, &a->modify_attributes_num) &&
         optional_count(kInstanceSum, &a->instance_sum) &&
         optional_count(kAttributeSum, &a->attributes_sum) && r.empty();
}

RecordInstances::Entry RecordInstances::NextStored(std::string_view* rest) {
  ByteReader r(*rest);
  Entry e{};
  // Checked by DecodeRecord: neither read fails.
  r.String(&e.key);
  r.Varint32(&e.count);
  *rest = r.rest();
  return e;
}

bool DecodeRecord(std::string_view in, TaskAction* a) {
  RecordFields f;
  if (!DecodeRecord(in, &f)) return false;
  a->campaign_id.assign(f.campaign_id);
  a->scene_id.assign(f.scene_id);
  a->task_id = f.task_id;
  a->project_id = f.project_id;
  a->pool_id = f.pool_id;
  a->folder_id = f.folder_id;
  auto owned = [](const std::optional<std::string_view>& from, std::optional<std::string>* to) {
    if (from) {
      to->emplace().assign(*from);
    } else {
      to->reset();
    }
  };
  owned(f.pool_name, &a->pool_name);
  owned(f.alice_name, &a->alice_name);
  a->pool_type = f.pool_type;
  a->status = f.status;
  a->action_type = f.action_type;
  a->created_time = f.created_time;
  a->instance_info.clear();
  f.instance_info.ForEach([&](RecordInstances::Entry e) { a->instance_info.Add(e.key, e.count); });
  a->modify_instance_num = f.modify_instance_num;
  a->modify_attributes_num = f.modify_attributes_num;
  a->instance_sum = f.instance_sum;
  a->attributes_sum = f.attributes_sum;
  return true;
}

void EncodeTaskView(const TaskView& v, std::string* out, const TaskLabelers* labelers) {
  v.task_id.AppendKey(out);
  PutStamp(v.latest, out);
  PutVarint(static_cast<uint32_t>(v.status), out);
  PutVarint(static_cast<uint32_t>(v.pool_type), out);
  PutVarint(static_cast<uint32_t>(v.action_type), out);
  PutString(v.campaign_id, out);
  const uint32_t present = (v.project_id ? kViewProject : 0u) | (v.pool_id ? kViewPool : 0u) |
                           (v.pool_name ? kViewPoolName : 0u) | (v.scene_id ? kViewScene : 0u) |
                           (v.instances_apart ? kViewInstancesApart : 0u) |
                           (labelers && !labelers->apart && labelers->count > 0 ? kViewLabelers : 0u) |
                           (labelers && labelers->apart ? kViewLabelersApart : 0u);
  PutVarint(present, out);
  if (v.project_id) {
    PutStamp(v.project_id->stamp, out);
    v.project_id->value.AppendKey(out);
  }
  if (v.pool_id) {
    PutStamp(v.pool_id->stamp, out);
    v.pool_id->value.AppendKey(out);
  }
  if (v.pool_name) {
    PutStamp(v.pool_name->stamp, out);
    PutString(v.pool_name->value, out);
  }
  if (v.scene_id) {
    PutStamp(v.scene_id->stamp, out);
    PutString(v.scene_id->value, out);
  }
  PutVarint(v.instance_info.size(), out);
  for (const InstanceSum& s : v.instance_info) {
    PutString(s.key, out);
    PutVarint(s.sum, out);
  }
  PutVarint(v.instance_num, out);
  PutVarint(v.records, out);
  if (labelers && !labelers->apart && labelers->count > 0) {
    PutVarint(labelers->count, out);
    out->append(labelers->numbers);
  }
}

bool TaskLabelers::Has(uint64_t number) const {
  ByteReader r(numbers);  // well formed (ForEach)
  uint64_t n;
  while (r.Varint(&n)) {
    if (n == number) return true;
  }
  return false;
}

void TaskLabelers::Add(uint64_t number) {
  PutVarint(number, &numbers);
  ++count;
}

bool DecodeTaskView(std::string_view in, TaskView* v, TaskLabelers* labelers) {
  ByteReader r(in);
  uint32_t present;
  if (!r.Id(&v->task_id) || !ReadStamp(r, &v->latest) || !ReadEnum(r, &v->status) ||
      !ReadEnum(r, &v->pool_type) || !ReadEnum(r, &v->action_type) ||
      !ReadOwned(r, &v->campaign_id) || !r.Varint32(&present)) {
    return false;
  }
  auto stamped_id = [&](uint32_t bit, std::optional<Stamped<Id>>* out) {
    out->reset();
    if (!(present & bit)) return true;
    auto& f = out->emplace();
    return ReadStamp(r, &f.stamp) && r.Id(&f.value);
  };
  auto stamped_string = [&](uint32_t bit, std::optional<Stamped<std::string>>* out) {
    if (!(present & bit)) {
      out->reset();
      return true;
    }
    // A view decoded into again (a page's reader reuses one) keeps its string's room.
    auto& f = out->has_value() ? **out : out->emplace();
    return ReadStamp(r, &f.stamp) && ReadOwned(r, &f.value);
  };
  uint64_t keys;
  if (!stamped_id(kViewProject, &v->project_id) || !stamped_id(kViewPool, &v->pool_id) ||
      !stamped_string(kViewPoolName, &v->pool_name) || !stamped_string(kViewScene, &v->scene_id) ||
      !r.Varint(&keys) || keys > in.size()) {
    return false;
  }
  v->instances_apart = (present & kViewInstancesApart) != 0;
  v->instance_info.resize(keys);
  for (InstanceSum& s : v->instance_info) {
    if (!ReadOwned(r, &s.key) || !r.Varint(&s.sum)) return false;
  }
  if (!r.Varint(&v->instance_num) || !r.Varint(&v->records)) return false;
  if (labelers) {
    labelers->numbers.clear();
    labelers->count = 0;
    labelers->apart = (present & kViewLabelersApart) != 0;
  }
  if (present & kViewLabelerNames) {
    uint64_t n = 0;
    if (!r.Varint(&n) || n > in.size()) return false;
    // Names mean nothing to a format 4 store's applier: such a view is only
    // read for its fields (its store's views are rebuilt at open).
    if (labelers && n > 0) return false;
    for (uint64_t i = 0; i < n; ++i) {
      std::string_view name;
      if (!r.String(&name)) return false;
    }
  }
  if (present & kViewLabelers) {
    uint64_t n = 0;
    if (!r.Varint(&n) || n > in.size()) return false;
    const std::string_view numbers = r.rest();
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t number;
      if (!r.Varint(&number)) return false;
    }
    if (labelers) {
      labelers->numbers.assign(numbers.substr(0, numbers.size() - r.rest().size()));
      labelers->count = static_cast<uint32_t>(n);
    }
  }
  return r.empty();
}

bool DecodeTaskFields(std::string_view in, TaskFields* t) {
  ByteReader r(in);
  uint32_t present, action;
  int64_t millis;
  std::string_view skipped;
  // A stamp is stepped over: ReadStamp would build its id for nothing.
  auto skip_stamp = [&] { return r.ZigZag(&millis) && r.SkipId(); };
  if (!r.Id(&t->task_id) || !skip_stamp() || !ReadEnum(r, &t->status) || !ReadEnum(r, &t->pool_type) ||
      !r.Varint32(&action) || !r.String(&skipped) || !r.Varint32(&present)) {
    return false;
  }
  auto stamped_id = [&](uint32_t bit, std::optional<Id>* out) {
    out->reset();
    if (!(present & bit)) return true;
    return skip_stamp() && r.Id(&out->emplace());
  };
  auto stamped_string = [&](uint32_t bit) { return !(present & bit) || (skip_stamp() && r.String(&skipped)); };
  uint64_t keys;
  if (!stamped_id(kViewProject, &t->project_id) || !stamped_id(kViewPool, &t->pool_id) ||
      !stamped_string(kViewPoolName) || !stamped_string(kViewScene) || !r.Varint(&keys) || keys > in.size()) {
    return false;
  }
  t->instances_apart = (present & kViewInstancesApart) != 0;
  // The entries are checked here once, so that visiting them needs no checks.
  const std::string_view entries = r.rest();
  for (uint64_t i = 0; i < keys; ++i) {
    uint64_t sum;
    if (!r.String(&skipped) || !r.Varint(&sum)) return false;
  }
  t->instance_info = InstanceSums::Stored(entries.substr(0, entries.size() - r.rest().size()), keys);
  uint64_t records;
  // What follows (the labelers) is the applier's: DecodeTaskView checks it.
  return r.Varint(&t->instance_num) && r.Varint(&records);
}

uint64_t InstanceSums::NextStored(std::string_view* rest, std::string_view* key) {
  ByteReader r(*rest);
  uint64_t sum = 0;
  // Checked by DecodeTaskFields: neither read fails.
  r.String(key);
  r.Varint(&sum);
  *rest = r.rest();
  return sum;
}

void EncodeInstanceCount(uint64_t count, std::string* out) { PutVarint(count, out); }

bool DecodeInstanceCount(std::string_view in, uint64_t* count) {
  ByteReader r(in);
  return r.Varint(count) && r.empty();
}

void EncodeRequestMeta(const RequestMeta& m, std::string* out) {
  PutFixed32BE(static_cast<uint32_t>(m.no), out);
  PutVarint(m.records, out);
  PutVarint(m.tasks, out);
}

bool DecodeRequestMeta(std::string_view in, RequestMeta* m) {
  ByteReader r(in);
  uint32_t no;
  if (!r.Fixed32BE(&no) || !r.Varint(&m->records) || !r.Varint(&m->tasks) || !r.empty()) return false;
  m->no = RequestNo{no};
  return true;
}

void EncodeStamp(const Stamp& stamp, std::string* out) { PutStamp(stamp, out); }

bool DecodeStamp(std::string_view in, Stamp* stamp) {
  ByteReader r(in);
  return ReadStamp(r, stamp) && r.empty();
}

void EncodeRejection(const Rejection& x, std::string* out) {
  out->push_back(static_cast<char>(x.reason));
  PutString(x.field, out);
  PutString(x.message, out);
  PutString(x.excerpt, out);
}

bool DecodeRejection(std::string_view in, Rejection* x) {
  if (in.empty()) return false;
  x->reason = static_cast<RejectReason>(in[0]);
  ByteReader r(in.substr(1));
  return ReadOwned(r, &x->field) && ReadOwned(r, &x->message) && ReadOwned(r, &x->excerpt) && r.empty();
}

void EncodeRejectTally(const RejectTally& x, std::string* out) {
  PutString(x.mark, out);
  PutVarint(x.counts.size(), out);
  for (uint64_t n : x.counts) PutVarint(n, out);
}

bool DecodeRejectTally(std::string_view in, RejectTally* x) {
  ByteReader r(in);
  std::string_view mark;
  uint64_t reasons;
  if (!r.String(&mark) || !r.Varint(&reasons) || reasons > x->counts.size()) return false;
  x->mark.assign(mark);
  x->counts.fill(0);
  for (uint64_t i = 0; i < reasons; ++i) {
    uint64_t n;
    if (!r.Varint(&n)) return false;
    x->counts[i] = n;
  }
  return r.empty();
}

}  // namespace tally
