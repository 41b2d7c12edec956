#include "app/serve_config.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>

#include <boost/algorithm/string/split.hpp>
#include <boost/algorithm/string/trim.hpp>

#include "api/listen_address.h"

namespace tally {
namespace {

// Parses a whole decimal number within [min, max]; "" if it is one, else what is wrong.
template <class T>
std::string Number(const std::string& raw, T min, T max, T* out) {
  long long v = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
  if (raw.empty() || ec != std::errc() || end != raw.data() + raw.size()) {
    return "'" + raw + "' is not a whole number";
  }
  if (v < static_cast<long long>(min) || v > static_cast<long long>(max)) {
    return "'" + raw + "' is out of range " + std::to_string(min) + ".." + std::to_string(max);
  }
  *out = static_cast<T>(v);
  return "";
}

std::string NonEmpty(const std::string& raw, std::string* out) {
  if (raw.empty()) return "must not be empty";
  *out = raw;
  return "";
}

// One setting: its flag (which also names it in config files), its environment
// variable (if any), and how a raw value applies to the configuration ("" when
// it does, else what is wrong). A list setting applies each of its values.
struct Setting {
  std::string name;  // the long flag without "--"
  std::string env;
  bool list = false;
  std::string help;
  std::string default_text;
  std::function<std::string(const std::string&, ServeConfig*)> apply;
};

std::vector<Setting> Settings() {
  const ServeConfig defaults;  // what --help shows as each default
  return {
      {"brokers", "TALLY_BROKERS", false, "Kafka bootstrap servers HOST:PORT,...; none: an embedded development broker",
       "(embedded)", [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->brokers); }},
      {"topic", "TALLY_TOPIC", false, "Topic of TaskAction messages", defaults.topic,
       [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->topic); }},
      {"group", "TALLY_GROUP", false, "Consumer group", defaults.group,
       [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->group); }},
      {"data-dir", "TALLY_DATA_DIR", false, "Store directory (created if missing)", defaults.data_dir,
       [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->data_dir); }},
      {"listen", "TALLY_LISTEN", false, "HTTP address HOST:PORT", defaults.listen,
       [](const std::string& v, ServeConfig* c) {
         if (Result<ListenAddress> parsed = ParseListenAddress(v); !parsed) return parsed.error().message();
         c->listen = v;
         return std::string();
       }},
      {"threads", "TALLY_THREADS", false, "HTTP threads", "the core count",
       [](const std::string& v, ServeConfig* c) { return Number(v, 1, 256, &c->threads); }},
      {"api-key", "TALLY_API_KEYS", true,
       "An API key the business endpoints require (repeatable; the variable is comma-separated); none: open",
       "(none)",
       [](const std::string& v, ServeConfig* c) {
         if (v.empty()) return std::string("an API key must not be empty");
         // HTTP drops the spaces around a header value, so such a key could never match.
         if (boost::algorithm::trim_copy(v) != v) {
           return "'" + v + "': an API key must not begin or end with whitespace";
         }
         c->api_keys.push_back(v);
         return std::string();
       }},
      {"view-url-base", "TALLY_VIEW_URL_BASE", false, "Base of viewUrl in /task/get", defaults.view_url_base,
       [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->view_url_base); }},
      {"dead-letter-topic", "TALLY_DEAD_LETTER_TOPIC", false, "Also produce rejected events to this topic",
       "(none)", [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->dead_letter_topic); }},
      {"kafka", "", true, "A librdkafka property PROP=VALUE (repeatable): SASL, TLS, fetch sizes...", "(none)",
       [](const std::string& v, ServeConfig* c) {
         if (v.find('=') == std::string::npos || v.front() == '=') return "'" + v + "' is not PROP=VALUE";
         c->kafka.push_back(v);
         return std::string();
       }},
      {"memory-mb", "", false, "Memory budget of the store, MiB", std::to_string(defaults.memory_mb),
       [](const std::string& v, ServeConfig* c) { return Number(v, kMinMemoryMb, kMaxMemoryMb, &c->memory_mb); }},
      {"partitions", "", false, "Partitions of the topic the embedded broker creates",
       std::to_string(defaults.partitions),
       [](const std::string& v, ServeConfig* c) { return Number(v, 1, 1000, &c->partitions); }},
      {"batch-events", "", false, "Events per applied batch, at most", std::to_string(defaults.batch_events),
       [](const std::string& v, ServeConfig* c) { return Number(v, size_t{1}, kMaxBatchEvents, &c->batch_events); }},
      {"batch-wait-ms", "", false, "Longest a batch may stay open while the writer is busy, ms",
       std::to_string(defaults.batch_wait.count()),
       [](const std::string& v, ServeConfig* c) {
         int ms = 0;
         std::string error = Number(v, 1, 60'000, &ms);
         c->batch_wait = std::chrono::milliseconds(ms);
         return error;
       }},
      {"idle-timeout-s", "", false, "HTTP connections idle or slow this long are closed, s",
       std::to_string(defaults.idle_timeout.count()),
       [](const std::string& v, ServeConfig* c) {
         int s = 0;
         std::string error = Number(v, 1, 3600, &s);
         c->idle_timeout = std::chrono::seconds(s);
         return error;
       }},
      {"max-connections", "", false, "HTTP connections open at once; at the cap the longest-idle one is closed",
       std::to_string(defaults.max_connections),
       [](const std::string& v, ServeConfig* c) {
         return Number(v, size_t{1}, size_t{1'000'000}, &c->max_connections);
       }},
      {"query-threads", "", false, "Threads running the store queries of business requests", "the core count",
       [](const std::string& v, ServeConfig* c) { return Number(v, 1, 256, &c->query_threads); }},
      {"query-queue", "", false, "Business requests waiting for a query thread, at most; past it: 503",
       std::to_string(defaults.query_queue),
       [](const std::string& v, ServeConfig* c) { return Number(v, size_t{0}, size_t{100'000}, &c->query_queue); }},
      {"ingest-nice", "", false,
       "Nice steps (0..19) below the process's CPU priority for the threads that apply and write events; HTTP "
       "threads keep it, so queries are answered first when the cores are busy",
       std::to_string(defaults.ingest_nice),
       [](const std::string& v, ServeConfig* c) { return Number(v, 0, 19, &c->ingest_nice); }},
      {"response-cache-entries", "", false,
       "Business answers kept while the store is unchanged (also bounded to 64 MiB); 0: no response cache",
       std::to_string(kDefaultResponseCacheEntries),
       [](const std::string& v, ServeConfig* c) {
         return Number(v, size_t{0}, size_t{1'000'000}, &c->response_cache_entries);
       }},
      {"max-waiters", "", false,
       "Long polls (Prefer: wait) held at once; past it they are answered at once. Each holds a connection, "
       "counted here and not against --max-connections",
       std::to_string(kDefaultMaxWaiters),
       [](const std::string& v, ServeConfig* c) { return Number(v, size_t{0}, size_t{1'000'000}, &c->max_waiters); }},
      {"position-wait-ms", "", false,
       "How long a request behind its X-Tally-Min-Position waits for ingestion before its 503, ms (0: none)",
       std::to_string(defaults.position_wait.count()),
       [](const std::string& v, ServeConfig* c) {
         int ms = 0;
         std::string error = Number(v, 0, 60'000, &ms);
         c->position_wait = std::chrono::milliseconds(ms);
         return error;
       }},
      {"backup-dir", "TALLY_BACKUP_DIR", false,
       "Directory of the store's backups (RocksDB BackupEngine: incremental, checksummed); enables POST "
       "/admin/backup and --backup-every-s",
       "(none: no backups)", [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->backup_dir); }},
      {"backup-every-s", "", false, "Take a backup every N seconds (0: only on demand, POST /admin/backup)",
       std::to_string(defaults.backup_every.count()),
       [](const std::string& v, ServeConfig* c) {
         int s = 0;
         std::string error = Number(v, 0, 31'536'000, &s);
         c->backup_every = std::chrono::seconds(s);
         return error;
       }},
      {"backup-keep", "", false, "Backups kept in --backup-dir: the latest K (0: all)",
       std::to_string(defaults.backup_keep),
       [](const std::string& v, ServeConfig* c) { return Number(v, 0u, 1'000'000u, &c->backup_keep); }},
      {"backup-rate-mb", "", false, "MiB/s a backup writes at most, leaving the disk to the live store (0: no cap)",
       std::to_string(defaults.backup_rate_mb),
       [](const std::string& v, ServeConfig* c) { return Number(v, 0u, 1'000'000u, &c->backup_rate_mb); }},
      {"restore-from", "", false,
       "A backup dir: restore its latest backup into --data-dir (which must be missing or empty) before "
       "serving; ingestion resumes from the backup's offsets",
       "(none)", [](const std::string& v, ServeConfig* c) { return NonEmpty(v, &c->restore_from); }},
  };
}

// The items of a comma-separated variable, each without the spaces around it
// ("alpha, beta" is two keys, not "alpha" and " beta").
std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  boost::algorithm::split(out, text, [](char c) { return c == ','; });
  for (std::string& item : out) boost::algorithm::trim(item);
  return out;
}

}  // namespace

struct ServeSettings::Impl {
  std::vector<Setting> settings = Settings();
  std::vector<std::vector<std::string>> flags;  // raw values per setting, from the command line
  std::vector<CLI::Option*> options;
  std::string config_file;
};

ServeSettings::ServeSettings(CLI::App* command) : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.flags.resize(impl.settings.size());
  for (size_t i = 0; i < impl.settings.size(); ++i) {
    const Setting& s = impl.settings[i];
    std::string help = s.help + " [default: " + s.default_text + "]";
    if (!s.env.empty()) help += " (env " + s.env + ")";
    CLI::Option* option = command->add_option("--" + s.name, impl.flags[i], help);
    if (!s.list) option->expected(1);
    impl.options.push_back(option);
  }
  command->add_option("--config", impl.config_file,
                      "Config file: `key = value` lines named like the long flags, optional [serve] section");
}

ServeSettings::~ServeSettings() = default;

Result<ServeConfig> ServeSettings::Resolve() const {
  const Impl& impl = *impl_;
  // The config file's values, by setting name.
  std::map<std::string, std::vector<std::string>> file;
  if (!impl.config_file.empty()) {
    std::ifstream in(impl.config_file);
    if (!in) return Status::InvalidArgument("--config: cannot read " + impl.config_file);
    std::vector<CLI::ConfigItem> items;
    try {
      items = CLI::ConfigTOML().from_config(in);
    } catch (const CLI::Error& e) {
      return Status::InvalidArgument("--config " + impl.config_file + ": " + e.what());
    }
    for (const CLI::ConfigItem& item : items) {
      const bool ours = item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == "serve");
      // "++" and "--" are CLI11's markers of a section's start and end.
      if (!ours || item.name == "++" || item.name == "--") continue;  // or another command's section
      const bool known = std::any_of(impl.settings.begin(), impl.settings.end(),
                                     [&](const Setting& s) { return s.name == item.name; });
      if (!known) {
        return Status::InvalidArgument(impl.config_file + ": unknown setting '" + item.name + "'");
      }
      file[item.name] = item.inputs;
    }
  }
  ServeConfig config;
  for (size_t i = 0; i < impl.settings.size(); ++i) {
    const Setting& s = impl.settings[i];
    std::vector<std::string> values;
    std::string source;
    if (!impl.flags[i].empty()) {
      values = impl.flags[i];
      source = "--" + s.name;
    } else if (const char* env = s.env.empty() ? nullptr : std::getenv(s.env.c_str()); env && *env) {
      values = s.list ? SplitCommas(env) : std::vector<std::string>{env};
      source = s.env;
    } else if (auto it = file.find(s.name); it != file.end()) {
      values = it->second;
      source = impl.config_file + ": " + s.name;
      if (!s.list && values.size() != 1) return Status::InvalidArgument(source + ": expected one value");
    } else {
      continue;  // the default stands
    }
    for (const std::string& v : values) {
      if (std::string error = s.apply(v, &config); !error.empty()) {
        return Status::InvalidArgument(source + ": " + error);
      }
    }
  }
  return config;
}

}  // namespace tally
