// The child process of StoreCrashTest: applies the crash stream to the store in
// DATA_DIR in small multi-partition batches, resuming from the stored offsets,
// like a consumer would, with batches pipelined (Submit). With DIE_AT = n it
// kills itself (SIGKILL) after building its n-th batch and before writing it.
//
// Usage: store_crash_child DATA_DIR [DIE_AT]

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "aggregate/store.h"
#include "tests/aggregate/crash_stream.h"

int main(int argc, char** argv) {
  using namespace tally;
  if (argc < 2) return 2;
  const long die_at = argc > 2 ? std::atol(argv[2]) : -1;
  long batches = 0;
  StoreOptions options;
  options.path = argv[1];
  options.memory_bytes = size_t{32} << 20;
  options.batch_sink = [&](std::string_view) {
    if (++batches == die_at) std::raise(SIGKILL);  // built, not yet written
  };
  auto store = Store::Open(options);
  if (!store) {
    std::fprintf(stderr, "store_crash_child: %s\n", store.error().ToString().c_str());
    return 1;
  }
  // A kill leaves at most an incomplete last write in the WAL, never damage.
  if ((*store)->recovery().damaged) {
    std::fprintf(stderr, "store_crash_child: %s\n", (*store)->recovery().ToString().c_str());
    return 3;
  }
  const std::vector<testing::CrashMessage> stream = testing::CrashStream();
  auto stored = (*store)->Offsets(testing::kCrashTopic);
  if (!stored) return 1;
  std::map<int32_t, int64_t> next;
  for (const PartitionOffset& o : *stored) next[Raw(o.partition)] = Raw(o.next);
  Batch batch;  // filled again after each Submit, which takes its contents
  for (;;) {
    batch.topic = testing::kCrashTopic;
    for (int32_t p = 0; p < testing::kCrashPartitions; ++p) {
      int64_t& offset = next[p];
      for (int k = 0; k < 40; ++k) {
        const size_t i = static_cast<size_t>(offset) * testing::kCrashPartitions + static_cast<size_t>(p);
        if (i >= stream.size()) break;
        if (stream[i].action) batch.events.NewAction() = *stream[i].action;
        if (stream[i].rejection) batch.events.AddRejection(*stream[i].rejection);
        ++offset;
      }
      batch.next_offsets.push_back({Partition{p}, Offset{offset}});
    }
    if (batch.events.size() == 0) break;
    auto r = (*store)->Submit(&batch);
    if (!r) {
      std::fprintf(stderr, "store_crash_child: %s\n", r.error().ToString().c_str());
      return 1;
    }
  }
  return (*store)->Flush() ? 0 : 1;
}
