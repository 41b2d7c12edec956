// Where `tally serve` settings come from: a flag beats the environment, which
// beats the config file, which beats the default; every bad value, from any
// source, is one InvalidArgument naming the setting as it was given.

#include "app/serve_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace tally {
namespace {

class ServeSettingsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& name : set_) unsetenv(name.c_str());
  }

  void Env(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    set_.push_back(name);
  }

  std::string ConfigFile(const std::string& text) {
    const std::string path = dir_ / "tally.toml";
    std::ofstream(path) << text;
    return path;
  }

  // Parses `args` as `serve`'s command line and resolves the settings.
  Result<ServeConfig> Resolve(std::vector<std::string> args) {
    CLI::App app;
    CLI::App* serve = app.add_subcommand("serve");
    ServeSettings settings(serve);
    args.insert(args.begin(), "serve");
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
    app.parse(args);
    return settings.Resolve();
  }

  std::string ErrorOf(std::vector<std::string> args) {
    Result<ServeConfig> r = Resolve(std::move(args));
    EXPECT_FALSE(r) << "accepted";
    return r ? "" : r.error().message();
  }

  testing::TempDir dir_;
  std::vector<std::string> set_;
};

TEST_F(ServeSettingsTest, FlagBeatsEnvironmentBeatsFileBeatsDefault) {
  const std::string file = ConfigFile(
      "topic = \"from-file\"\n"
      "group = \"file-group\"\n"
      "threads = 3\n"
      "view-url-base = \"https://file.example\"\n");
  Env("TALLY_TOPIC", "from-env");
  Env("TALLY_THREADS", "5");
  Result<ServeConfig> c = Resolve({"--config", file, "--topic", "from-flag"});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->topic, "from-flag");                        // flag over env and file
  EXPECT_EQ(c->threads, 5);                                 // env over file
  EXPECT_EQ(c->group, "file-group");                        // file over default
  EXPECT_EQ(c->view_url_base, "https://file.example");
  EXPECT_EQ(c->data_dir, "./tally-data");                   // default
  EXPECT_EQ(c->listen, "127.0.0.1:8080");
}

TEST_F(ServeSettingsTest, ListsComeWholeFromOneSource) {
  const std::string file = ConfigFile("api-key = [\"file-1\", \"file-2\"]\n");
  Result<ServeConfig> from_file = Resolve({"--config", file});
  ASSERT_TRUE(from_file) << from_file.error().message();
  EXPECT_EQ(from_file->api_keys, (std::vector<std::string>{"file-1", "file-2"}));
  Env("TALLY_API_KEYS", "env-1,env-2");
  Result<ServeConfig> from_env = Resolve({"--config", file});
  ASSERT_TRUE(from_env);
  EXPECT_EQ(from_env->api_keys, (std::vector<std::string>{"env-1", "env-2"}));
  Env("TALLY_API_KEYS", "alpha, beta ,\tgamma");  // spaces around items are not part of a key
  Result<ServeConfig> spaced = Resolve({});
  ASSERT_TRUE(spaced) << spaced.error().message();
  EXPECT_EQ(spaced->api_keys, (std::vector<std::string>{"alpha", "beta", "gamma"}));
  Env("TALLY_API_KEYS", "env-1,env-2");
  Result<ServeConfig> from_flags = Resolve({"--config", file, "--api-key", "flag-1", "--api-key", "flag-2"});
  ASSERT_TRUE(from_flags);
  EXPECT_EQ(from_flags->api_keys, (std::vector<std::string>{"flag-1", "flag-2"}));
}

TEST_F(ServeSettingsTest, ConfigFileMayUseAServeSectionAndIgnoresOtherCommands) {
  const std::string file = ConfigFile(
      "[serve]\n"
      "brokers = \"kafka:9092\"\n"
      "memory-mb = 64\n"
      "[produce]\n"
      "rate = 10\n");
  Result<ServeConfig> c = Resolve({"--config", file});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->brokers, "kafka:9092");
  EXPECT_EQ(c->memory_mb, 64u);
}

TEST_F(ServeSettingsTest, HttpOverloadLimitsComeFromFlagsAndFile) {
  Result<ServeConfig> defaults = Resolve({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->max_connections, 10000u);
  EXPECT_EQ(defaults->query_threads, 0);
  EXPECT_EQ(defaults->query_queue, 256u);
  const std::string file = ConfigFile("[serve]\nquery-queue = 0\nmax-connections = 50\n");
  Result<ServeConfig> c = Resolve({"--config", file, "--query-threads", "3", "--max-connections", "20"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->query_threads, 3);
  EXPECT_EQ(c->query_queue, 0u);
  EXPECT_EQ(c->max_connections, 20u);
  EXPECT_EQ(ErrorOf({"--max-connections", "0"}), "--max-connections: '0' is out of range 1..1000000");
  EXPECT_EQ(ErrorOf({"--query-threads", "0"}), "--query-threads: '0' is out of range 1..256");
}

TEST_F(ServeSettingsTest, IngestNiceDefaultsToKDefaultIngestNiceAndIsBounded) {
  Result<ServeConfig> defaults = Resolve({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->ingest_nice, kDefaultIngestNice);
  Result<ServeConfig> c = Resolve({"--ingest-nice", "10"});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->ingest_nice, 10);
  Result<ServeConfig> from_file = Resolve({"--config", ConfigFile("ingest-nice = 0\n")});
  ASSERT_TRUE(from_file) << from_file.error().message();
  EXPECT_EQ(from_file->ingest_nice, 0);
  EXPECT_EQ(ErrorOf({"--ingest-nice", "20"}), "--ingest-nice: '20' is out of range 0..19");
  EXPECT_EQ(ErrorOf({"--ingest-nice", "-1"}), "--ingest-nice: '-1' is out of range 0..19");
}

TEST_F(ServeSettingsTest, ResponseCacheEntriesDefaultsToTheCacheSizeAndZeroTurnsItOff) {
  Result<ServeConfig> defaults = Resolve({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->response_cache_entries, kDefaultResponseCacheEntries);
  Result<ServeConfig> off = Resolve({"--response-cache-entries", "0"});
  ASSERT_TRUE(off) << off.error().message();
  EXPECT_EQ(off->response_cache_entries, 0u);
  Result<ServeConfig> from_file = Resolve({"--config", ConfigFile("response-cache-entries = 100\n")});
  ASSERT_TRUE(from_file) << from_file.error().message();
  EXPECT_EQ(from_file->response_cache_entries, 100u);
  EXPECT_EQ(ErrorOf({"--response-cache-entries", "-1"}), "--response-cache-entries: '-1' is out of range 0..1000000");
  EXPECT_EQ(ErrorOf({"--response-cache-entries", "many"}), "--response-cache-entries: 'many' is not a whole number");
  EXPECT_EQ(ErrorOf({"--response-cache-entries", "1000001"}),
            "--response-cache-entries: '1000001' is out of range 0..1000000");
}

// CONTRACT 6.1: at least 10,000 long polls may be held at once (--max-waiters, default 10000).
TEST_F(ServeSettingsTest, MaxWaitersDefaultsTo10000) {
  Result<ServeConfig> defaults = Resolve({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->max_waiters, 10000u);
  Result<ServeConfig> set = Resolve({"--max-waiters", "20000"});
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->max_waiters, 20000u);
}

TEST_F(ServeSettingsTest, PositionWaitDefaultsTo2000MsAndRefusesBadValues) {
  Result<ServeConfig> defaults = Resolve({});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->position_wait, std::chrono::milliseconds(2000));
  Result<ServeConfig> none = Resolve({"--position-wait-ms", "0"});
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(none->position_wait, std::chrono::milliseconds(0));
  Result<ServeConfig> from_file = Resolve({"--config", ConfigFile("position-wait-ms = 500\n")});
  ASSERT_TRUE(from_file) << from_file.error().message();
  EXPECT_EQ(from_file->position_wait, std::chrono::milliseconds(500));
  EXPECT_EQ(ErrorOf({"--position-wait-ms", "-1"}), "--position-wait-ms: '-1' is out of range 0..60000");
  EXPECT_EQ(ErrorOf({"--position-wait-ms", "2s"}), "--position-wait-ms: '2s' is not a whole number");
  EXPECT_EQ(ErrorOf({"--position-wait-ms", "60001"}), "--position-wait-ms: '60001' is out of range 0..60000");
}

TEST_F(ServeSettingsTest, EmptyEnvironmentVariableIsUnset) {
  Env("TALLY_TOPIC", "");
  Result<ServeConfig> c = Resolve({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->topic, "task-actions");
}

TEST_F(ServeSettingsTest, BadValuesNameTheSettingAsGiven) {
  // Each kind of value, bad, from each kind of source.
  EXPECT_EQ(ErrorOf({"--threads", "lots"}), "--threads: 'lots' is not a whole number");
  EXPECT_EQ(ErrorOf({"--threads", "0"}), "--threads: '0' is out of range 1..256");
  EXPECT_EQ(ErrorOf({"--memory-mb", "1.5"}), "--memory-mb: '1.5' is not a whole number");
  EXPECT_EQ(ErrorOf({"--batch-wait-ms", "-1"}), "--batch-wait-ms: '-1' is out of range 1..60000");
  EXPECT_EQ(ErrorOf({"--topic", ""}), "--topic: must not be empty");
  EXPECT_EQ(ErrorOf({"--api-key", ""}), "--api-key: an API key must not be empty");
  EXPECT_EQ(ErrorOf({"--kafka", "linger.ms"}), "--kafka: 'linger.ms' is not PROP=VALUE");

  Env("TALLY_THREADS", "9999");
  EXPECT_EQ(ErrorOf({}), "TALLY_THREADS: '9999' is out of range 1..256");
  unsetenv("TALLY_THREADS");
  Env("TALLY_API_KEYS", "good,,also-good");
  EXPECT_EQ(ErrorOf({}), "TALLY_API_KEYS: an API key must not be empty");
  Env("TALLY_API_KEYS", "good, ");
  EXPECT_EQ(ErrorOf({}), "TALLY_API_KEYS: an API key must not be empty");
  unsetenv("TALLY_API_KEYS");
  EXPECT_EQ(ErrorOf({"--api-key", " alpha"}), "--api-key: ' alpha': an API key must not begin or end with whitespace");

  std::string file = ConfigFile("threads = \"x\"\n");
  EXPECT_EQ(ErrorOf({"--config", file}), file + ": threads: 'x' is not a whole number");
  file = ConfigFile("listen = [\"a:1\", \"b:2\"]\n");
  EXPECT_EQ(ErrorOf({"--config", file}), file + ": listen: expected one value");
  file = ConfigFile("no-such-setting = 1\n");
  EXPECT_EQ(ErrorOf({"--config", file}), file + ": unknown setting 'no-such-setting'");
  EXPECT_EQ(ErrorOf({"--config", dir_ / "missing.toml"}), "--config: cannot read " + (dir_ / "missing.toml"));
}

}  // namespace
}  // namespace tally
