// The read side of the store: every query reads one snapshot (the ReadView).

#include <algorithm>
#include <functional>
#include <queue>

#include "aggregate/codec.h"
#include "aggregate/keys.h"
#include "aggregate/rank_index.h"
#include "aggregate/store_impl.h"

namespace tally {
namespace {

using keys::Family;

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// The offset of a page's first item, or nullopt if it lies past `total`.
std::optional<uint64_t> FirstOf(Page page, uint64_t total) {
  if (page.number == 0 || page.size == 0) return std::nullopt;
  if (page.number - 1 > total / page.size) return std::nullopt;  // no overflow below
  const uint64_t first = (page.number - 1) * page.size;
  return first < total ? std::optional<uint64_t>(first) : std::nullopt;
}

// One request's items (records or tasks) from a starting id on, in id order.
// Skipping more than this many of a page's items is done in memory, over the
// ids of the rank index's segments (SegmentCache), rather than in RocksDB.
constexpr uint64_t kSkipInMemoryFrom = 16;

// The current key is kept as a view (RocksDB keeps it valid until the iterator
// moves), so the merge compares keys without a virtual call per comparison.
class ItemCursor {
 public:
  // Stands nowhere (not Valid) until Seek.
  ItemCursor(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family, const rocksdb::ReadOptions& base, RequestNo no)
      : no_(no), upper_(keys::RequestEnd(no)), upper_slice_(upper_) {
    rocksdb::ReadOptions ro = base;
    ro.iterate_upper_bound = &upper_slice_;
    // The request is known (its meta was read), so its prefix is there: the
    // prefix bloom check a Seek makes could only say yes, for ~2k instructions.
    ro.total_order_seek = true;
    it_.reset(db->NewIterator(ro, family));
  }
  // To the request's first item >= start.
  void Seek(Id start) {
    it_->Seek(keys::RequestItem(no_, start));
    Load();
  }
  bool Valid() const { return valid_; }
  void Next() {
    it_->Next();
    Load();
  }
  std::string_view key() const { return key_; }
  // The id part of the key: it orders like the id, so it is compared as bytes.
  std::string_view id_part() const { return key_.substr(keys::kRequestPrefixBytes); }
  std::string_view value() const { return View(it_->value()); }
  // OK while Valid(): RocksDB reports an error by ending the iteration, so it is
  // asked only then (asking after every step cost more than the step itself).
  Status status() const { return valid_ ? Status::OK() : FromRocks(it_->status(), "reading a page"); }

 private:
  void Load() {
    valid_ = it_->Valid();
    if (valid_) key_ = View(it_->key());
  }

  RequestNo no_;
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool valid_ = false;
  std::string_view key_;
};

}  // namespace

Result<MetaRead> ReadMeta(const Store::Impl& store, const rocksdb::ReadOptions& options,
                          std::optional<uint64_t> sequence, std::string_view request) {
  if (sequence) {
    if (std::optional<MetaRead> kept = store.request_memo.FindMeta(*sequence, request)) return *kept;
  }
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = store.db->Get(options, store.Cf(Family::kRequests), request, &value);
  Result<MetaRead> read = MetaReadOf(s, std::string_view(value.data(), value.size()));
  if (read && sequence) store.request_memo.PutMeta(*sequence, request, *read);
  return read;
}

Result<MetaRead> MetaReadOf(const rocksdb::Status& s, std::string_view value) {
  if (s.IsIncomplete()) return Status::Unavailable("a request's meta is not in memory");
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a request");
  MetaRead read;
  read.found = s.ok();
  if (read.found && !DecodeRequestMeta(value, &read.meta)) return Status::Corruption("unreadable request meta");
  return read;
}

class StoreReader {
 public:
  StoreReader(const Store::Impl& store, const rocksdb::Snapshot* snapshot)
      : store_(store),
        read_options_(ReadOptionsOf(snapshot)),
        sequence_(snapshot ? std::optional<uint64_t>(snapshot->GetSequenceNumber()) : std::nullopt) {}

  // The request's meta; nullopt if unknown.
  Result<std::optional<RequestMeta>> Meta(std::string_view request) const {
    Result<MetaRead> read = ReadMeta(store_, read_options_, sequence_, request);
    if (!read) return read.error();
    return read->found ? std::optional<RequestMeta>(read->meta) : std::nullopt;
  }

  Result<RequestMemo::Ranks> Ranks(RequestNo no, keys::RankKind kind) const {
    const std::string key = keys::Rank(no, kind);
    if (sequence_) {
      if (RequestMemo::Ranks kept = store_.request_memo.FindRanks(*sequence_, key)) return kept;
    }
    rocksdb::PinnableSlice value;
    auto index = std::make_shared<RankIndex>();
    const rocksdb::Status s = store_.db->Get(read_options_, store_.Cf(Family::kRanks), key, &value);
    if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a rank index");
    if (s.ok() && !index->DecodeFrom(std::string_view(value.data(), value.size()))) {
      return Status::Corruption("unreadable rank index");
    }
    RequestMemo::Ranks shared = std::move(index);
    if (sequence_) store_.request_memo.PutRanks(*sequence_, key, shared);
    return shared;
  }

  // Calls visit(request index, key, value) for the items at ranks [first,
  // first + count) of the union of the requests' items, in id order.
  template <class Visit>
  Status Page(Family family, std::span<const RequestNo> requests, std::span<const RequestMemo::Ranks> indexes,
              uint64_t first, uint32_t count, Visit visit) const {
    // Sweep the segment starts of all requests in id order. At each point every
    // request stands on its segment holding the point; `base` ids certainly lie
    // before those segments, and `upper` bounds the ids below the point. The
    // sweep moves to the next start only while it cannot pass rank `first`, so
    // the item at `first` is at or after the final point and is the
    // (first - base)-th of the merge of the requests from their segments on.
    struct Start {
      Id id;
      size_t request;
      size_t segment;
    };
    std::vector<Start> starts;
    for (size_t r = 0; r < indexes.size(); ++r) {
      const auto& segments = indexes[r]->segments();
      for (size_t i = 1; i < segments.size(); ++i) starts.push_back({segments[i].start, r, i});
    }
    std::sort(starts.begin(), starts.end(), [](const Start& a, const Start& b) { return a.id < b.id; });
    std::vector<size_t> at(indexes.size(), 0);  // each request's current segment
    uint64_t base = 0, upper = 0;
    for (const RequestMemo::Ranks& index : indexes) {
      if (!index->segments().empty()) upper += index->segments()[0].count;
    }
    for (const Start& s : starts) {
      if (upper > first) break;
      const auto& segments = indexes[s.request]->segments();
      base += segments[s.segment - 1].count;
      upper += segments[s.segment].count;
      at[s.request] = s.segment;
    }

    // Where each request's merge starts: its segment at[r], and `skip` items
    // later the item at `first`. Counting those in memory over the segments'
    // ids leaves nothing to skip in RocksDB.
    std::vector<std::optional<Id>> from(indexes.size(), Id(0));  // nullopt: nothing left
    for (size_t r = 0; r < indexes.size(); ++r) {
      if (!indexes[r]->segments().empty()) from[r] = indexes[r]->segments()[at[r]].start;
    }
    uint64_t skip = first - base;
    if (skip >= kSkipInMemoryFrom) {
      Result<bool> skipped = SkipInMemory(family, requests, indexes, at, skip, &from);
      if (!skipped) return skipped.error();
      if (*skipped) skip = 0;
    }
    std::vector<std::unique_ptr<ItemCursor>> cursors;
    for (size_t r = 0; r < indexes.size(); ++r) {
      cursors.push_back(
          std::make_unique<ItemCursor>(store_.db.get(), store_.Cf(family), read_options_, requests[r]));
      if (from[r]) cursors.back()->Seek(*from[r]);
    }
    // Merge by id. The cursor standing on the smallest id stays out of the heap
    // and steps on while it is still below the heap's least: requests' ids come
    // in runs, and a step within a run costs no heap operation.
    auto later = [&](size_t a, size_t b) { return cursors[a]->id_part() > cursors[b]->id_part(); };
    std::vector<size_t> heap;
    heap.reserve(cursors.size());
    for (size_t r = 0; r < cursors.size(); ++r) {
      if (Status st = cursors[r]->status(); !st.ok()) return st;
      if (cursors[r]->Valid()) heap.push_back(r);
    }
    std::make_heap(heap.begin(), heap.end(), later);
    if (heap.empty()) return Status::OK();
    std::pop_heap(heap.begin(), heap.end(), later);
    size_t r = heap.back();
    heap.pop_back();
    uint32_t taken = 0;
    while (taken < count) {
      ItemCursor& cursor = *cursors[r];
      if (skip > 0) {
        --skip;
      } else {
        if (Status st = visit(r, cursor.key(), cursor.value()); !st.ok()) return st;
        if (++taken == count) break;  // a step past the page's last item costs as much as one within it
      }
      cursor.Next();
      if (!cursor.Valid()) {
        if (Status st = cursor.status(); !st.ok()) return st;
        if (heap.empty()) break;
        std::pop_heap(heap.begin(), heap.end(), later);
        r = heap.back();
        heap.pop_back();
      } else if (!heap.empty() && later(r, heap.front())) {
        // Another request's id comes first: swap it with this cursor.
        std::pop_heap(heap.begin(), heap.end(), later);
        std::swap(r, heap.back());
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
    return Status::OK();
  }

  // Counts `skip` items of the merge of the requests from their segments at[r]
  // on over the segments' ids, and sets each request's `from` to its first item
  // after them (nullopt if none is left). False, with nothing changed, if a
  // segment's ids disagree with its index: then RocksDB's walk skips them.
  Result<bool> SkipInMemory(Family family, std::span<const RequestNo> requests, std::span<const RequestMemo::Ranks> indexes,
                            std::span<const size_t> at, uint64_t skip, std::vector<std::optional<Id>>* from) const {
    struct Position {
      SegmentCache::Ids ids;  // null: past the request's last segment
      size_t segment = 0;
      size_t i = 0;
    };
    std::vector<Position> at_id(indexes.size());
    // Moves p onto an id, into the following segments if need be; false if one is unavailable.
    auto settle = [&](size_t r, Position& p) -> Result<bool> {
      while (p.ids && p.i >= p.ids->size()) {
        if (p.segment + 1 >= indexes[r]->segments().size()) {
          p.ids = nullptr;
          break;
        }
        ++p.segment;
        p.i = 0;
        Result<SegmentCache::Ids> ids = SegmentIds(family, requests[r], *indexes[r], p.segment);
        if (!ids) return ids.error();
        if (!*ids) return false;
        p.ids = std::move(*ids);
      }
      return true;
    };
    if (indexes.size() == 1) {
      // One request: the item is the skip-th from its segment on, found by the
      // segments' counts and one segment's ids, without a merge.
      const auto& segments = indexes[0]->segments();
      size_t segment = at[0];
      for (; segment < segments.size() && skip >= segments[segment].count; ++segment) skip -= segments[segment].count;
      if (segment == segments.size()) {
        (*from)[0] = std::nullopt;
        return true;
      }
      Result<SegmentCache::Ids> ids = SegmentIds(family, requests[0], *indexes[0], segment);
      if (!ids) return ids.error();
      if (!*ids) return false;
      (*from)[0] = (**ids)[skip];
      return true;
    }
    using Entry = std::pair<Id, size_t>;  // an id and its request
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
    for (size_t r = 0; r < indexes.size(); ++r) {
      if (indexes[r]->segments().empty()) continue;
      Position& p = at_id[r];
      p.segment = at[r];
      Result<SegmentCache::Ids> ids = SegmentIds(family, requests[r], *indexes[r], p.segment);
      if (!ids) return ids.error();
      if (!*ids) return false;
      p.ids = std::move(*ids);
      Result<bool> settled = settle(r, p);
      if (!settled || !*settled) return settled;
      if (p.ids) heap.emplace((*p.ids)[p.i], r);
    }
    for (; skip > 0 && !heap.empty(); --skip) {
      const size_t r = heap.top().second;
      heap.pop();
      Position& p = at_id[r];
      ++p.i;
      Result<bool> settled = settle(r, p);
      if (!settled || !*settled) return settled;
      if (p.ids) heap.emplace((*p.ids)[p.i], r);
    }
    for (size_t r = 0; r < indexes.size(); ++r) {
      (*from)[r] = at_id[r].ids ? std::optional<Id>((*at_id[r].ids)[at_id[r].i]) : std::nullopt;
    }
    return true;
  }

  // The ids of a request's segment, from the cache or read from the snapshot
  // (and then cached); null if the snapshot does not hold as many as the index
  // counts (no index ever disagrees with its data, but a query need not fail on it).
  Result<SegmentCache::Ids> SegmentIds(Family family, RequestNo no, const RankIndex& index, size_t segment) const {
    const RankIndex::Segment& s = index.segments()[segment];
    const std::optional<Id> end = index.End(segment);
    std::string key = SegmentCache::Key(family, no, s.start, end, s.count);
    if (SegmentCache::Ids ids = store_.segments->Find(key)) return ids;
    auto ids = std::make_shared<std::vector<Id>>();
    ids->reserve(s.count);
    const std::string upper = end ? keys::RequestItem(no, *end) : keys::RequestEnd(no);
    const rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions ro = read_options_;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(store_.db->NewIterator(ro, store_.Cf(family)));
    for (it->Seek(keys::RequestItem(no, s.start)); it->Valid() && ids->size() <= s.count; it->Next()) {
      const std::optional<Id> id = keys::ItemOf(View(it->key()));
      if (!id) return Status::Corruption("unreadable item key");
      ids->push_back(*id);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading a segment of a page");
    if (ids->size() != s.count) return SegmentCache::Ids();
    SegmentCache::Ids shared = std::move(ids);
    store_.segments->Insert(std::move(key), shared);
    return shared;
  }

  // The snapshot's read options, for the store's own lookups beside the reader's.
  const rocksdb::ReadOptions& read_options() const { return read_options_; }

 private:
  const Store::Impl& store_;
  rocksdb::ReadOptions read_options_;
  // The snapshot's, which the request memo keeps reads under; none without a
  // snapshot (the latest state, whatever it is when read: not remembered).
  std::optional<uint64_t> sequence_;
};

Result<std::optional<TaskPage>> Store::Tasks(const ReadView& view, std::string_view request, Page page) const {
  StoreReader reader(*impl_, view.snapshot_);
  Result<std::optional<RequestMeta>> meta = reader.Meta(request);
  if (!meta) return meta.error();
  if (!*meta) return std::optional<TaskPage>();
  TaskPage out;
  out.total = (*meta)->tasks;
  const std::optional<uint64_t> first = FirstOf(page, out.total);
  if (!first) return std::optional<TaskPage>(std::move(out));
  Result<RequestMemo::Ranks> index = reader.Ranks((*meta)->no, keys::RankKind::kTasks);
  if (!index) return index.error();
  out.ends.reserve(page.size);
  const RequestNo no = (*meta)->no;
  Status s = reader.Page(Family::kTasks, std::span(&no, 1), std::span(&*index, 1), *first, page.size,
                         [&](size_t, std::string_view, std::string_view value) {
                           // Views of a request are alike in size: room for the page at once.
                           if (out.bytes.empty()) out.bytes.reserve(value.size() * 5 / 4 * page.size);
                           out.bytes.append(value);
                           out.ends.push_back(out.bytes.size());
                           return Status::OK();
                         });
  if (!s.ok()) return s;
  return std::optional<TaskPage>(std::move(out));
}

Status TaskPage::Decode(size_t i, TaskView* view) const {
  if (!DecodeTaskView(Encoded(i), view)) {
    return Status::Corruption("unreadable task view");
  }
  return Status::OK();
}

Status TaskPage::Fields(size_t i, TaskFields* fields) const {
  if (!DecodeTaskFields(Encoded(i), fields)) {
    return Status::Corruption("unreadable task view");
  }
  return Status::OK();
}

Result<std::vector<TaskView>> TaskPage::DecodeAll() const {
  std::vector<TaskView> views(size());
  for (size_t i = 0; i < size(); ++i) {
    if (Status s = Decode(i, &views[i]); !s.ok()) return s;
  }
  return views;
}

struct InstanceCursor::Impl {
  std::string prefix;  // request_no · task id
  std::string upper;   // the request's end: RocksDB need not look further
  rocksdb::Slice upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;  // null: no entries
  uint64_t count = 0;
  Status status;

  bool Valid() const { return it && status.ok() && it->Valid() && View(it->key()).starts_with(prefix); }
  // Decodes the entry the iterator stands on, if any.
  void Load() {
    if (Valid()) {
      if (!DecodeInstanceCount(View(it->value()), &count)) status = Status::Corruption("unreadable instance count");
    } else if (it && status.ok() && !it->status().ok()) {
      status = FromRocks(it->status(), "reading instance counts");
    }
  }
};

InstanceCursor::InstanceCursor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InstanceCursor::InstanceCursor(InstanceCursor&&) noexcept = default;
InstanceCursor& InstanceCursor::operator=(InstanceCursor&&) noexcept = default;
InstanceCursor::~InstanceCursor() = default;

bool InstanceCursor::Valid() const { return impl_->Valid(); }
std::string_view InstanceCursor::key() const { return keys::InstanceKeyOf(View(impl_->it->key()), impl_->prefix); }
uint64_t InstanceCursor::count() const { return impl_->count; }
void InstanceCursor::Next() {
  impl_->it->Next();
  impl_->Load();
}
Status InstanceCursor::status() const { return impl_->status; }

Result<InstanceCursor> Store::Instances(const ReadView& view, std::string_view request, Id task_id,
                                       std::string_view from) const {
  StoreReader reader(*impl_, view.snapshot_);
  auto impl = std::make_unique<InstanceCursor::Impl>();
  Result<std::optional<RequestMeta>> meta = reader.Meta(request);
  if (!meta) return meta.error();
  if (*meta) {
    impl->prefix = keys::InstancePrefix((*meta)->no, task_id);
    impl->upper = keys::RequestEnd((*meta)->no);
    impl->upper_slice = rocksdb::Slice(impl->upper);
    rocksdb::ReadOptions ro = reader.read_options();
    ro.iterate_upper_bound = &impl->upper_slice;
    impl->it.reset(impl_->db->NewIterator(ro, impl_->Cf(Family::kInstances)));
    impl->it->Seek(impl->prefix + std::string(from));
    impl->Load();
  }
  return InstanceCursor(std::move(impl));
}

// The summary views exist only in a store that keeps them (StoreOptions::summary_views).
Status SummariesKept(const Store::Impl& store) {
  if (store.options.summary_views) return Status::OK();
  return Status::Unavailable("the store was opened without its summary views");
}

Result<std::optional<SummaryView>> Store::Summary(const ReadView& view, std::string_view request) const {
  if (Status s = SummariesKept(*impl_); !s.ok()) return s;
  StoreReader reader(*impl_, view.snapshot_);
  Result<std::optional<RequestMeta>> meta = reader.Meta(request);
  if (!meta) return meta.error();
  if (!*meta) return std::optional<SummaryView>();
  SummaryView out;
  out.tasks = (*meta)->tasks;
  out.records = (*meta)->records;
  std::string value;
  const rocksdb::Status s =
      impl_->db->Get(reader.read_options(), impl_->Cf(Family::kSummaries), keys::Summary((*meta)->no), &value);
  if (!s.ok()) return FromRocks(s, "reading a request summary");
  if (!DecodeRequestSummary(value, &out.summary)) return Status::Corruption("unreadable request summary");
  return std::optional<SummaryView>(std::move(out));
}

Result<InstanceCursor> Store::SummaryInstances(const ReadView& view, std::string_view request,
                                              std::string_view from) const {
  if (Status s = SummariesKept(*impl_); !s.ok()) return s;
  StoreReader reader(*impl_, view.snapshot_);
  auto impl = std::make_unique<InstanceCursor::Impl>();
  Result<std::optional<RequestMeta>> meta = reader.Meta(request);
  if (!meta) return meta.error();
  if (*meta) {
    impl->prefix = keys::Summary((*meta)->no);
    impl->upper = keys::LabelerEnd((*meta)->no);  // instance keys may begin with any byte
    impl->upper_slice = rocksdb::Slice(impl->upper);
    rocksdb::ReadOptions ro = reader.read_options();
    ro.iterate_upper_bound = &impl->upper_slice;
    impl->it.reset(impl_->db->NewIterator(ro, impl_->Cf(Family::kSummaryInstances)));
    impl->it->Seek(impl->prefix + std::string(from));
    impl->Load();
  }
  return InstanceCursor(std::move(impl));
}

Result<std::optional<LabelerPage>> Store::Labelers(const ReadView& view, std::string_view request, Page page) const {
  Result<std::optional<SummaryView>> summary = Summary(view, request);
  if (!summary) return summary.error();
  if (!*summary) return std::optional<LabelerPage>();
  LabelerPage out;
  out.total = (*summary)->summary.labelers;
  const std::optional<uint64_t> first = FirstOf(page, out.total);
  if (!first) return std::optional<LabelerPage>(std::move(out));
  Result<std::optional<RequestMeta>> meta = StoreReader(*impl_, view.snapshot_).Meta(request);
  if (!meta || !*meta) return meta ? Status::Corruption("a request vanished from its snapshot") : meta.error();
  const std::string prefix = keys::Summary((*meta)->no);
  const std::string upper = keys::LabelerEnd((*meta)->no);  // names may begin with any byte
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro = ReadOptionsOf(view.snapshot_);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro, impl_->Cf(Family::kLabelers)));
  uint64_t skip = *first;
  for (it->Seek(prefix); it->Valid() && View(it->key()).starts_with(prefix) && out.labelers.size() < page.size;
       it->Next()) {
    if (skip > 0) {
      --skip;
      continue;
    }
    auto& [name, stats] = out.labelers.emplace_back();
    name.assign(keys::LabelerNameOf(View(it->key())));
    if (!DecodeLabelerStats(View(it->value()), &stats)) return Status::Corruption("unreadable labeler stats");
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading labelers");
  return std::optional<LabelerPage>(std::move(out));
}

Status Store::ReadInstances(const ReadView& view, std::string_view request, TaskView* task) const {
  if (!task->instances_apart) return Status::OK();
  Result<InstanceCursor> cursor = Instances(view, request, task->task_id);
  if (!cursor) return cursor.error();
  task->instance_info.clear();
  for (; cursor->Valid(); cursor->Next()) task->instance_info.push_back({std::string(cursor->key()), cursor->count()});
  return cursor->status();
}

Result<RecordPage> Store::Records(const ReadView& view, std::span<const std::string> requests,
                                  Page page, size_t max_bytes) const {
  StoreReader reader(*impl_, view.snapshot_);
  RecordPage out;
  std::vector<RequestNo> numbers;
  for (const std::string& request : requests) {
    Result<std::optional<RequestMeta>> meta = reader.Meta(request);
    if (!meta) return meta.error();
    if (!*meta) {
      out.unknown.push_back(request);
      continue;
    }
    out.total += (*meta)->records;
    numbers.push_back((*meta)->no);
  }
  if (!out.unknown.empty()) {
    out.total = 0;
    return out;
  }
  const std::optional<uint64_t> first = FirstOf(page, out.total);
  if (!first) return out;
  std::vector<RequestMemo::Ranks> indexes;
  for (RequestNo no : numbers) {
    Result<RequestMemo::Ranks> index = reader.Ranks(no, keys::RankKind::kRecords);
    if (!index) return index.error();
    indexes.push_back(std::move(*index));
  }
  size_t bytes = 0;
  Status s = reader.Page(Family::kRecords, numbers, indexes, *first, page.size,
                         [&](size_t r, std::string_view key, std::string_view value) {
                           const std::optional<Id> id = keys::ItemOf(key);
                           if (!id) return Status::Corruption("unreadable record key");
                           bytes += value.size();
                           const RecordRef ref{static_cast<uint32_t>(r), static_cast<uint32_t>(numbers[r]), *id};
                           // Offsets into `stored` are 32-bit: past that a record is a reference too.
                           if (bytes > max_bytes || out.stored.size() + value.size() > UINT32_MAX ||
                               !out.later.empty()) {
                             out.later.push_back(ref);
                             return Status::OK();
                           }
                           out.read.push_back({ref, static_cast<uint32_t>(out.stored.size()),
                                               static_cast<uint32_t>(value.size())});
                           out.stored.append(value);
                           return Status::OK();
                         });
  if (!s.ok()) return s;
  return out;  // `later` indexes the listed requests: a page is read only when all are known
}

Status RecordPage::Decode(size_t i, std::span<const std::string> requests, TaskAction* out) const {
  const Stored& record = read[i];
  if (record.ref.request >= requests.size()) {
    return Status::InvalidArgument("a record reference past the listed requests");
  }
  if (!DecodeRecord(std::string_view(stored).substr(record.offset, record.size), out)) {
    return Status::Corruption("unreadable record");
  }
  out->id = record.ref.id;
  out->annotation_request_id = requests[record.ref.request];
  return Status::OK();
}

Status RecordPage::Fields(size_t i, RecordFields* out) const {
  const Stored& record = read[i];
  if (!DecodeRecord(std::string_view(stored).substr(record.offset, record.size), out)) {
    return Status::Corruption("unreadable record");
  }
  return Status::OK();
}

Result<TaskAction> Store::Record(const ReadView& view, std::span<const std::string> requests,
                                 const RecordRef& ref) const {
  if (ref.request >= requests.size()) return Status::InvalidArgument("a record reference past the listed requests");
  std::string value;
  const rocksdb::Status s = impl_->db->Get(ReadOptionsOf(view.snapshot_), impl_->Cf(Family::kRecords),
                                           keys::RequestItem(RequestNo{ref.store_no}, ref.id), &value);
  if (!s.ok()) return FromRocks(s, "reading a record");
  TaskAction record;
  if (!DecodeRecord(value, &record)) return Status::Corruption("unreadable record");
  record.id = ref.id;
  record.annotation_request_id = requests[ref.request];
  return record;
}

Result<TaskLookup> Store::FindTask(const ReadView& view, std::string_view campaign, std::string_view request,
                                   std::string_view scene) const {
  StoreReader reader(*impl_, view.snapshot_);
  TaskLookup out;
  // The request's membership is read first: a point read, which the bloom
  // filters answer without most table files. Only when it is missing is the
  // campaign itself looked for, to tell an unknown campaign (checked first by
  // the contract) from a request outside it: that prefix seek goes through
  // every file of level 0 (campaigns has no prefix filter), the larger part of
  // a found task's cost while compactions lag behind (bench/http/README.md).
  Result<std::optional<RequestMeta>> meta = reader.Meta(request);
  if (!meta) return meta.error();
  std::string value;
  rocksdb::Status s = rocksdb::Status::NotFound();
  if (*meta) s = impl_->db->Get(reader.read_options(), impl_->Cf(Family::kCampaigns), keys::Campaign(campaign, (*meta)->no), &value);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a campaign");
  if (s.IsNotFound()) {
    const std::string prefix = keys::CampaignPrefix(campaign);
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(reader.read_options(), impl_->Cf(Family::kCampaigns)));
    it->Seek(prefix);
    if (!it->status().ok()) return FromRocks(it->status(), "reading campaigns");
    const bool campaign_known = it->Valid() && View(it->key()).starts_with(prefix);
    out.missing = campaign_known ? TaskLookup::Missing::kRequest : TaskLookup::Missing::kCampaign;
    return out;
  }
  const RequestNo no = (*meta)->no;
  // The scene's entries, one per task that carried it: the latest record wins.
  std::optional<std::pair<Stamp, Id>> best;
  {
    const std::string prefix = keys::ScenePrefix(no, scene);
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(reader.read_options(), impl_->Cf(Family::kScenes)));
    for (it->Seek(prefix); it->Valid() && View(it->key()).starts_with(prefix); it->Next()) {
      const std::optional<Id> task = keys::SceneTaskOf(View(it->key()), prefix);
      Stamp stamp;
      if (!task || !DecodeStamp(View(it->value()), &stamp)) {
        return Status::Corruption("unreadable scene entry");
      }
      if (!best || best->first < stamp) best.emplace(stamp, *task);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading a scene");
  }
  if (!best) {
    out.missing = TaskLookup::Missing::kScene;
    return out;
  }
  s = impl_->db->Get(reader.read_options(), impl_->Cf(Family::kTasks), keys::RequestItem(no, best->second), &value);
  if (!s.ok()) return FromRocks(s, "reading the task of a scene");
  if (!DecodeTaskView(value, &out.task)) return Status::Corruption("unreadable task view");
  return out;
}

Result<std::vector<Rejection>> Store::Rejections(const ReadView& view, size_t limit) const {
  std::vector<Rejection> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ReadOptionsOf(view.snapshot_), impl_->Cf(Family::kRejected)));
  for (it->SeekToFirst(); it->Valid() && out.size() < limit; it->Next()) {
    Rejection& r = out.emplace_back();
    if (!DecodeRejection(View(it->value()), &r) || !keys::ParseRejected(View(it->key()), &r.origin, &r.element)) {
      return Status::Corruption("unreadable rejection");
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading rejections");
  return out;
}

Result<std::vector<PartitionRejections>> Store::RejectionCounts(const ReadView& view) const {
  std::vector<PartitionRejections> out;
  const std::string_view prefix = keys::kRejectsPrefix;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ReadOptionsOf(view.snapshot_), impl_->Cf(Family::kMeta)));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid() && View(it->key()).starts_with(prefix);
       it->Next()) {
    const std::optional<Partition> partition = keys::RejectsPartitionOf(View(it->key()));
    RejectTally tally;
    if (!partition || !DecodeRejectTally(View(it->value()), &tally)) {
      return Status::Corruption("unreadable rejection counts");
    }
    out.push_back({*partition, tally.counts});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading rejection counts");
  return out;
}

}  // namespace tally
