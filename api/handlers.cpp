#include "api/handlers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "aggregate/json_writer.h"
#include "aggregate/task_view.h"
#include "aggregate/timestamp.h"

namespace tally {

// A store failure is the server's problem, not the caller's, whatever its kind.
Outcome Outcome::StoreFailure(const Status& status) {
  spdlog::error("api: store query failed: {}", status.ToString());
  const ContractError error = ContractErrorOf(status, Fault::kServer);
  return Error(error.code, std::string(error.message));
}

namespace {

void AppendUint(uint64_t n, std::string* out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
  (void)ec;  // 24 bytes always hold a uint64_t
  out->append(digits, end);
}

// One instance_info member, after a comma unless it is the first.
void AppendInstance(std::string_view key, uint64_t count, bool first, std::string* out) {
  if (!first) out->push_back(',');
  AppendJsonString(key, out);
  out->push_back(':');
  AppendUint(count, out);
}

// Appends instance_info members from `cursor` until it ends or `out` reaches
// `limit`; `resume` (empty before the first member) becomes the key to resume
// after. True while members remain, for the next piece.
Result<bool> AppendInstances(Result<InstanceCursor> cursor, size_t limit, std::string* resume, std::string* out) {
  if (!cursor) return cursor.error();
  for (; cursor->Valid() && out->size() < limit; cursor->Next()) {
    AppendInstance(cursor->key(), cursor->count(), resume->empty(), out);
    resume->assign(cursor->key());
    resume->push_back('\0');  // the next key after it
  }
  if (Status s = cursor->status(); !s.ok()) return s;
  return cursor->Valid();
}

}  // namespace

namespace {

// Room in a string written through a raw pointer: a page of records is the
// largest answer, and appending each of a record's ~40 pieces to a std::string
// (a capacity check and a call each) cost more than reading the record.
class Room {
 public:
  explicit Room(std::string* out) : out_(out), used_(out->size()) {}
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;
  ~Room() { out_->resize(used_); }  // what was written stays; the spare room goes

  // Where to write next, with room for `n` bytes. Done(end) says where it ended.
  char* Reserve(size_t n) {
    if (out_->size() < used_ + n) out_->resize(used_ + n);  // grows the capacity geometrically
    return out_->data() + used_;
  }
  void Done(const char* end) { used_ = static_cast<size_t>(end - out_->data()); }

 private:
  std::string* out_;
  size_t used_;
};

template <size_t N>
char* Put(char* p, const char (&text)[N]) {
  std::memcpy(p, text, N - 1);
  return p + N - 1;
}

char* PutInt(char* p, int64_t n) { return std::to_chars(p, p + 20, n).ptr; }

char* PutOptionalId(char* p, const std::optional<Id>& id) { return id ? id->WriteDecimal(p) : Put(p, "null"); }

char* PutOptionalString(char* p, const std::optional<std::string_view>& text) {
  return text ? WriteJsonString(*text, p) : Put(p, "null");
}

char* PutOptionalCount(char* p, const std::optional<uint32_t>& n) { return n ? PutInt(p, *n) : Put(p, "null"); }

size_t OptionalStringBound(const std::optional<std::string_view>& text) {
  return text ? JsonStringBound(text->size()) : 4;
}

// Names and punctuation of a record (~215 bytes), three ids (Id::kMaxDecimalBytes
// each), three enums and four counts (20 bytes each at most), the timestamp and
// its quotes: everything but its strings and instance counts.
constexpr size_t kRecordFixedBytes = 512;
static_assert(kRecordFixedBytes >= 215 + 3 * Id::kMaxDecimalBytes + 7 * 20 + kTimestampChars + 2);

}  // namespace

void AppendRecordJson(Id id, const RecordFields& r, std::string* out) {
  Room room(out);
  char* p = room.Reserve(kRecordFixedBytes + JsonStringBound(r.campaign_id.size()) + OptionalStringBound(r.pool_name) +
                         OptionalStringBound(r.alice_name));
  p = Put(p, "{\"id\":");
  p = id.WriteDecimal(p);
  p = Put(p, ",\"status\":");
  p = PutInt(p, static_cast<int32_t>(r.status));
  p = Put(p, ",\"campaignId\":");
  p = WriteJsonString(r.campaign_id, p);
  p = Put(p, ",\"taskId\":");
  p = r.task_id.WriteDecimal(p);
  p = Put(p, ",\"poolName\":");
  p = PutOptionalString(p, r.pool_name);
  p = Put(p, ",\"poolType\":");
  p = PutInt(p, static_cast<int32_t>(r.pool_type));
  p = Put(p, ",\"folderId\":");
  p = PutOptionalId(p, r.folder_id);
  p = Put(p, ",\"aliceName\":");
  p = PutOptionalString(p, r.alice_name);
  p = Put(p, ",\"createdTime\":\"");
  p = WriteTimestamp(r.created_time, p);
  p = Put(p, "\",\"actionType\":");
  p = PutInt(p, static_cast<int32_t>(r.action_type));
  p = Put(p, ",\"instanceInfo\":{");
  room.Done(p);
  bool first = true;
  r.instance_info.ForEach([&](RecordInstances::Entry e) {
    char* q = room.Reserve(JsonStringBound(e.key.size()) + 12);  // ',' ':' and up to 10 digits
    if (!first) *q++ = ',';
    first = false;
    q = WriteJsonString(e.key, q);
    *q++ = ':';
    q = PutInt(q, e.count);
    room.Done(q);
  });
  p = room.Reserve(kRecordFixedBytes);
  p = Put(p, "},\"modifyInstanceNum\":");
  p = PutOptionalCount(p, r.modify_instance_num);
  p = Put(p, ",\"modifyAttributesNum\":");
  p = PutOptionalCount(p, r.modify_attributes_num);
  p = Put(p, ",\"instanceSum\":");
  p = PutOptionalCount(p, r.instance_sum);
  p = Put(p, ",\"attributesSum\":");
  p = PutOptionalCount(p, r.attributes_sum);
  *p++ = '}';
  room.Done(p);
}

namespace {

// Names and punctuation of a task (90 bytes), three ids (Id::kMaxDecimalBytes
// each), two enums and a count (20 bytes each at most): all but its instance counts.
constexpr size_t kTaskFixedBytes = 320;
static_assert(kTaskFixedBytes >= 90 + 3 * Id::kMaxDecimalBytes + 3 * 20);

// A task object up to the opening of its instance_info: `{"id":…,"instance_info":{`.
char* PutTaskHead(char* p, const TaskFields& task) {
  p = Put(p, "{\"id\":");
  p = task.task_id.WriteDecimal(p);
  p = Put(p, ",\"status\":");
  p = PutInt(p, static_cast<int32_t>(task.status));
  p = Put(p, ",\"project_id\":");
  p = PutOptionalId(p, task.project_id);
  p = Put(p, ",\"pool_id\":");
  p = PutOptionalId(p, task.pool_id);
  p = Put(p, ",\"pool_type\":");
  p = PutInt(p, static_cast<int32_t>(task.pool_type));
  return Put(p, ",\"instance_info\":{");
}

// The rest of a task object after its instance_info members.
char* PutTaskTail(char* p, const TaskFields& task) {
  p = Put(p, "},\"instance_num\":");
  p = std::to_chars(p, p + 20, task.instance_num).ptr;
  *p++ = '}';
  return p;
}

void AppendTaskHead(const TaskFields& task, std::string* out) {
  Room room(out);
  room.Done(PutTaskHead(room.Reserve(kTaskFixedBytes), task));
}

void AppendTaskTail(const TaskFields& task, std::string* out) {
  Room room(out);
  room.Done(PutTaskTail(room.Reserve(kTaskFixedBytes), task));
}

}  // namespace

void AppendTaskJson(const TaskFields& task, std::string* out) {
  Room room(out);
  // Each count: its key escaped and quoted, ',' ':' and up to 20 digits.
  char* p = room.Reserve(kTaskFixedBytes + JsonStringBound(task.instance_info.key_bytes_bound()) +
                         task.instance_info.size() * (JsonStringBound(0) + 22));
  p = PutTaskHead(p, task);
  bool first = true;
  task.instance_info.ForEach([&](std::string_view key, uint64_t sum) {
    if (!first) *p++ = ',';
    first = false;
    p = WriteJsonString(key, p);
    *p++ = ':';
    p = std::to_chars(p, p + 20, sum).ptr;
  });
  room.Done(PutTaskTail(p, task));
}

namespace {

// The `data` of /statistics from its page of views, instance counts kept apart
// read from the snapshot as it goes (TaskView::instances_apart).
class TasksBody final : public BodyStream {
 public:
  TasksBody(const Store& store, ReadView view, std::string request, TaskPage page)
      : store_(store), view_(std::move(view)), request_(std::move(request)), page_(std::move(page)) {}

  Result<bool> Next(std::string* out) override { return Fill(out, out->size() + kBodyPieceBytes); }

  // Appends until *out reaches `limit` bytes (at an item boundary) or the end;
  // true while there is more.
  Result<bool> Fill(std::string* out, size_t limit) {
    if (!opened_) {
      out->push_back('[');
      opened_ = true;
    }
    while (next_ < page_.size()) {
      if (out->size() >= limit) return true;
      const TaskFields& task = task_;
      if (!in_counts_) {
        if (Status s = page_.Fields(next_, &task_); !s.ok()) return s;
        if (next_ > 0) out->push_back(',');
        if (!task.instances_apart) {
          AppendTaskJson(task, out);
          ++next_;
          continue;
        }
        AppendTaskHead(task, out);
        in_counts_ = true;
        resume_.clear();
      }
      // A fresh cursor per piece: one kept while the client reads the piece
      // would pin RocksDB's memtables for as long as the client takes.
      Result<bool> more =
          AppendInstances(store_.Instances(view_, request_, task.task_id, resume_), limit, &resume_, out);
      if (!more) return more.error();
      if (*more) return true;
      AppendTaskTail(task, out);
      in_counts_ = false;
      ++next_;
    }
    out->push_back(']');
    return false;
  }

 private:
  const Store& store_;
  ReadView view_;
  std::string request_;
  TaskPage page_;
  TaskFields task_;  // page_'s view next_, read in place
  size_t next_ = 0;  // the task being written
  bool opened_ = false;
  bool in_counts_ = false;  // within tasks_[next_]'s counts
  std::string resume_;      // where they go on: after the last key written ("" before the first)
};

// The `data` of /statistics/record: the records Records() read, each read in
// place from the page's bytes, then those it left as references.
class RecordsBody final : public BodyStream {
 public:
  RecordsBody(const Store& store, ReadView view, std::vector<std::string> requests, RecordPage page)
      : store_(store), view_(std::move(view)), requests_(std::move(requests)), page_(std::move(page)) {}

  Result<bool> Next(std::string* out) override { return Fill(out, out->size() + kBodyPieceBytes); }

  Result<bool> Fill(std::string* out, size_t limit) {
    if (next_ == 0) {
      // Records come out about 3 times their stored size: growing the answer by
      // doubling would copy it over and over.
      out->reserve(std::min(limit, out->size() + 3 * page_.stored.size() + 512));
      out->append("{\"count\":");
      AppendUint(page_.total, out);
      out->append(",\"data\":[");
    }
    const size_t total = page_.read.size() + page_.later.size();
    for (; next_ < total; ++next_) {
      if (out->size() >= limit) return true;
      if (next_ > 0) out->push_back(',');
      if (next_ < page_.read.size()) {
        if (Status s = page_.Fields(next_, &record_); !s.ok()) return s;
        AppendRecordJson(page_.read[next_].ref.id, record_, out);
        if (next_ + 1 == page_.read.size()) page_.stored = std::string();  // all written: the bytes go
        continue;
      }
      Result<TaskAction> record = store_.Record(view_, requests_, page_.later[next_ - page_.read.size()]);
      if (!record) return record.error();
      AppendRecordJson(record->id, RecordFields::Of(*record), out);
    }
    out->append("]}");
    return false;
  }

 private:
  const Store& store_;
  ReadView view_;
  std::vector<std::string> requests_;
  RecordPage page_;
  RecordFields record_;  // the one being written: views into page_.stored
  size_t next_ = 0;    // the record being written
};

// A map of counts by an integer key: {"7":60,"13":60}, keys ascending.
void AppendCounts(JsonWriter& w, const CountMap& counts) {
  w.BeginObject();
  char digits[16];
  for (const auto& [key, count] : counts.entries()) {
    const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), key);
    (void)ec;  // 16 bytes always hold an int32_t
    w.DataKey(std::string_view(digits, static_cast<size_t>(end - digits)));
    w.Uint(count);
  }
  w.EndObject();
}

// firstRecordTime / lastRecordTime: "YYYY-MM-DD HH:MM:SS", null if none.
void AppendTimeValue(const std::optional<Timestamp>& t, std::string* out) {
  if (!t) {
    out->append("null");
    return;
  }
  out->push_back('"');
  AppendTimestamp(*t, out);
  out->push_back('"');
}
// The same as the value after a writer's Key (out is the writer's buffer).
void AppendTime(JsonWriter& w, const std::optional<Timestamp>& t, std::string* out) {
  w.Raw("");
  AppendTimeValue(t, out);
}

// The `data` of /statistics/summary: its fixed part, then the request's instance
// sums read from the snapshot a piece at a time (a request may have millions of
// keys), then the rest.
class SummaryBody final : public BodyStream {
 public:
  SummaryBody(const Store& store, ReadView view, std::string request, SummaryView summary)
      : store_(store), view_(std::move(view)), request_(std::move(request)), summary_(std::move(summary)) {}

  Result<bool> Next(std::string* out) override { return Fill(out, out->size() + kBodyPieceBytes); }

  Result<bool> Fill(std::string* out, size_t limit) {
    if (!opened_) {
      JsonWriter w(out);
      w.BeginObject();
      w.Key("annotationRequestId");
      w.String(request_);
      w.Key("tasks");
      w.Uint(summary_.tasks);
      w.Key("records");
      w.Uint(summary_.records);
      w.Key("tasksByStatus");
      AppendCounts(w, summary_.summary.tasks_by_status);
      w.Key("tasksByHelixStatus");
      AppendCounts(w, summary_.summary.tasks_by_helix_status);
      w.Key("recordsByActionType");
      AppendCounts(w, summary_.summary.records_by_action_type);
      w.Key("instanceInfo");
      w.BeginObject();  // left open: the writer ends here
      opened_ = true;
    }
    // A fresh cursor per piece, as for a task's counts (TasksBody).
    Result<bool> more = AppendInstances(store_.SummaryInstances(view_, request_, resume_), limit, &resume_, out);
    if (!more) return more.error();
    if (*more) return true;
    out->append("},\"instanceNum\":");
    AppendUint(summary_.summary.instance_num, out);
    out->append(",\"firstRecordTime\":");
    AppendTimeValue(summary_.summary.times.first, out);
    out->append(",\"lastRecordTime\":");
    AppendTimeValue(summary_.summary.times.last, out);
    out->push_back('}');
    return false;
  }

 private:
  const Store& store_;
  ReadView view_;
  std::string request_;
  SummaryView summary_;
  bool opened_ = false;
  std::string resume_;  // after the last instance key written ("" before the first)
};

// Fills *data with the body's start: all of it when `rest` is null, else up to
// kInlineBodyBytes with the remainder handed over as *rest.
template <class Body>
Status Produce(std::unique_ptr<Body> body, std::string* data, std::unique_ptr<BodyStream>* rest) {
  Result<bool> more = body->Fill(data, rest ? kInlineBodyBytes : SIZE_MAX);
  if (!more) return more.error();
  if (*more) *rest = std::move(body);
  return Status::OK();
}

}  // namespace

Outcome HandleStatistics(const StatisticsParams& params, HandlerInput input, std::string* data,
                         std::unique_ptr<BodyStream>* rest) {
  const Store& store = input.store;
  auto page = store.Tasks(input.view, params.annotation_request_id, params.page);
  if (!page) return Outcome::StoreFailure(page.error());
  if (!*page) {
    return Outcome::Error(ApiCode::kRequestNotFound,
                          std::string(kRequestNotFoundMessage) + " (" + params.annotation_request_id + ")");
  }
  Outcome ok;
  ok.total_count = (*page)->total;
  // A view's JSON is about twice its encoding: the body grows once, not a dozen times.
  data->reserve(std::min(2 * (*page)->bytes.size() + 64, kInlineBodyBytes));
  Status s = Produce(std::make_unique<TasksBody>(store, std::move(input.view), params.annotation_request_id,
                                                 std::move(**page)),
                     data, rest);
  if (!s.ok()) return Outcome::StoreFailure(s);
  return ok;
}

Outcome HandleStatisticsRecord(const RecordParams& params, HandlerInput input, std::string* data,
                               std::unique_ptr<BodyStream>* rest) {
  const Store& store = input.store;
  auto page = store.Records(input.view, params.annotation_request_ids, params.page, kInlineBodyBytes);
  if (!page) return Outcome::StoreFailure(page.error());
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
  Status s = Produce(std::make_unique<RecordsBody>(store, std::move(input.view), params.annotation_request_ids,
                                                   std::move(*page)),
                     data, rest);
  if (!s.ok()) return Outcome::StoreFailure(s);
  return Outcome();
}

Outcome HandleSummary(const SummaryParams& params, HandlerInput input, std::string* data,
                      std::unique_ptr<BodyStream>* rest) {
  const Store& store = input.store;
  auto summary = store.Summary(input.view, params.annotation_request_id);
  if (!summary) return Outcome::StoreFailure(summary.error());
  if (!*summary) {
    return Outcome::Error(ApiCode::kRequestNotFound,
                          std::string(kRequestNotFoundMessage) + " (" + params.annotation_request_id + ")");
  }
  Status s = Produce(std::make_unique<SummaryBody>(store, std::move(input.view), params.annotation_request_id,
                                                   std::move(**summary)),
                     data, rest);
  if (!s.ok()) return Outcome::StoreFailure(s);
  return Outcome();
}

Outcome HandleLabelers(const LabelersParams& params, HandlerInput input, std::string* data,
                       std::unique_ptr<BodyStream>*) {
  auto page = input.store.Labelers(input.view, params.annotation_request_id, params.page);
  if (!page) return Outcome::StoreFailure(page.error());
  if (!*page) {
    return Outcome::Error(ApiCode::kRequestNotFound,
                          std::string(kRequestNotFoundMessage) + " (" + params.annotation_request_id + ")");
  }
  JsonWriter w(data);
  w.BeginArray();
  for (const auto& [name, stats] : (*page)->labelers) {
    w.BeginObject();
    w.Key("aliceName");
    w.String(name);
    w.Key("records");
    w.Uint(stats.records);
    w.Key("tasks");
    w.Uint(stats.tasks);
    w.Key("recordsByActionType");
    AppendCounts(w, stats.records_by_action_type);
    w.Key("modifyInstanceNum");
    w.Uint(stats.modify_instance_num);
    w.Key("modifyAttributesNum");
    w.Uint(stats.modify_attributes_num);
    w.Key("firstRecordTime");
    AppendTime(w, stats.times.first, data);
    w.Key("lastRecordTime");
    AppendTime(w, stats.times.last, data);
    w.EndObject();
  }
  w.EndArray();
  Outcome ok;
  ok.total_count = (*page)->total;
  return ok;
}

Outcome HandleTaskGet(const TaskGetParams& params, HandlerInput input, std::string* data,
                      std::unique_ptr<BodyStream>*) {
  auto found = input.store.FindTask(input.view, params.campaign_id, params.annotation_request_id, params.scene_id);
  if (!found) return Outcome::StoreFailure(found.error());
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
    std::string url(input.view_url_base);
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
