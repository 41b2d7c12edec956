#pragma once

// OrderByTime puts the messages of one poll in the order they were produced, as
// far as their timestamps tell, while keeping each partition's own order (which
// the offsets stored with a batch depend on). Why: a consumer reading a backlog
// gets it partition by partition, about a fetch (1 MiB) of each in turn, so a
// batch taken in that order spans a stretch of the topic's history many times
// longer than the same number of events in produced order, and touches more
// distinct tasks, each of whose views it then rewrites. Sorting a poll (up to
// 1,000 messages, of up to as many partitions' fetches) brings a batch's events
// back close together in time. Messages of one partition and millisecond (a
// burst) are taken as spread evenly over it, so partitions interleave in
// proportion. A message without a timestamp (or one earlier than a message
// before it in its partition) goes with the one before it.
// Pure and allocation-light (scratch is reused); any thread, no shared state.

#include <algorithm>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace tally {

struct PollOrderScratch {
  struct Entry {
    int64_t time;     // the message's timestamp, raised to the latest before it in its partition
    double share;     // where it lies among its partition's messages of the same time, in [0, 1)
    int32_t partition;
    uint32_t index;   // its place in the poll
  };
  std::vector<Entry> entries;
};

// `partition_of(item)` and `time_of(item)` (ms since the epoch; negative when
// unknown) say where an item came from and when it was produced.
template <class Item, class PartitionOf, class TimeOf>
void OrderByTime(std::span<Item> items, PartitionOf partition_of, TimeOf time_of, PollOrderScratch& scratch) {
  if (items.size() < 2) return;
  // One partition (a poll of small messages usually is): already in order.
  const int32_t first = partition_of(items[0]);
  if (std::all_of(items.begin() + 1, items.end(), [&](const Item& i) { return partition_of(i) == first; })) return;
  auto& entries = scratch.entries;
  entries.clear();
  for (uint32_t i = 0; i < items.size(); ++i) entries.push_back({time_of(items[i]), 0, partition_of(items[i]), i});
  // Within a partition times never go back: each is raised to the latest before
  // it, so the sort by time (then place in the poll) below cannot swap two messages of one partition.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.partition < b.partition; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].partition == entries[i - 1].partition) {
      entries[i].time = std::max(entries[i].time, entries[i - 1].time);
    }
  }
  // Messages of one millisecond (a burst) are taken as spread evenly over it:
  // the k-th of a partition's n goes at (k + 0.5) / n, so partitions interleave
  // in proportion, as a producer spreading keys over them wrote them.
  for (size_t run = 0; run < entries.size();) {
    size_t end = run + 1;
    while (end < entries.size() && entries[end].partition == entries[run].partition &&
           entries[end].time == entries[run].time) {
      ++end;
    }
    for (size_t k = run; k < end; ++k) {
      entries[k].share = (static_cast<double>(k - run) + 0.5) / static_cast<double>(end - run);
    }
    run = end;
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    if (a.time != b.time) return a.time < b.time;
    return a.share != b.share ? a.share < b.share : a.index < b.index;
  });
  // Permute in place along the cycles of entries[k].index (the item that goes to k).
  for (size_t start = 0; start < entries.size(); ++start) {
    if (entries[start].index == start || entries[start].index == UINT32_MAX) continue;
    Item held = std::move(items[start]);
    size_t k = start;
    while (entries[k].index != start) {
      const size_t from = entries[k].index;
      items[k] = std::move(items[from]);
      entries[k].index = UINT32_MAX;
      k = from;
    }
    items[k] = std::move(held);
    entries[k].index = UINT32_MAX;
  }
}

}  // namespace tally
