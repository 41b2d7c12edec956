// The status page in a real browser: `tally demo` (serve on its embedded
// broker, a generated workload) plus two events it rejects, then headless
// Chromium loads `/`: no console message, the figures in its DOM are those
// /metrics shows at that moment, and a screenshot goes to build/status-page.png
// for people to look at.

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "tests/ingest/kafka_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/http_get.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

const char* const kChromium = "/usr/bin/chromium";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs Chromium headless on `url` with `flags`, its stdout to `out` and its
// log (console messages included) to `log`, bounded in time and killed by PID.
// A profile of its own, removed after. True if it exited 0 in time.
bool RunChromium(const std::string& url, const std::vector<std::string>& flags, const std::filesystem::path& out,
                 const std::filesystem::path& log, const std::filesystem::path& scratch) {
  const std::filesystem::path profile = scratch / "chromium-profile";
  std::string command = "exec " + std::string(kChromium) +
                        " --headless=new --no-sandbox --disable-gpu --no-first-run --disable-extensions"
                        " --user-data-dir=" + profile.string() + " --enable-logging=stderr --v=0";
  for (const std::string& f : flags) command += " '" + f + "'";
  command += " '" + url + "' 2>" + log.string();
  // sh execs Chromium: the child's PID is Chromium's.
  ChildProcess chromium({"/bin/sh", "-c", command}, out.string());
  const auto status = chromium.Wait(30s);
  if (!status) chromium.Signal(SIGKILL);
  std::error_code ignored;
  std::filesystem::remove_all(profile, ignored);
  return testing::ExitedWith(status, 0);
}

// Console messages in Chromium's log: `[...:INFO:CONSOLE:1] "text", source: ...`.
std::vector<std::string> ConsoleLines(const std::string& log) {
  std::vector<std::string> lines;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

// The samples of /metrics: "name{labels}" → value.
std::map<std::string, double> ParseMetrics(const std::string& page) {
  std::map<std::string, double> samples;
  std::istringstream in(page);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// A number as the page shows it ("1,234") as a double; NaN for text that is none.
double Number(std::string text) {
  std::erase(text, ',');
  if (text.empty() || text.find_first_not_of("-0123456789.") != std::string::npos) return std::nan("");
  return std::stod(text);
}

// The text of the DOM element with `id`.
std::string TextOf(const std::string& dom, const std::string& id) {
  std::smatch m;
  return std::regex_search(dom, m, std::regex("id=\"" + id + "\">([^<]*)<")) ? m[1].str() : "(no " + id + ")";
}

// Table rows `<tr ATTRIBUTE="key" ...><td>...</td><td class="n">N</td>`: key → N.
std::map<std::string, double> Rows(const std::string& dom, const std::string& attribute) {
  std::map<std::string, double> rows;
  const std::regex row("<tr " + attribute + "=\"([^\"]*)\"[^>]*><td>[^<]*</td><td class=\"n\">([^<]*)</td>");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator(); ++it) {
    rows[(*it)[1]] = Number((*it)[2]);
  }
  return rows;
}

TEST(StatusPageBrowserTest, ShowsWhatMetricsShowsWithNoConsoleErrors) {
  if (access(kChromium, X_OK) != 0) {
    GTEST_SKIP() << kChromium << " is not installed (Debian package chromium; scripts/setup installs it)";
  }
  testing::TempDir dir;
  ChildProcess demo({TALLY_BINARY, "demo", "--listen", "127.0.0.1:0", "--events", "3000", "--seed", "5",
                     "--data-dir", dir / "data"},
                    dir / "demo.log");
  const auto port_text = demo.WaitForOutput("serving http://127\\.0\\.0\\.1:([0-9]+)", 30s);
  ASSERT_TRUE(port_text) << demo.Output();
  const uint16_t port = static_cast<uint16_t>(std::stoi(*port_text));
  const auto broker = demo.WaitForOutput("EMBEDDED DEVELOPMENT BROKER at ([^ ]+) ", 5s);
  ASSERT_TRUE(broker) << demo.Output();
  ASSERT_TRUE(demo.WaitForOutput("(Serving until Ctrl-C)", 50s)) << demo.Output();

  // Two events it rejects (their content must not show), and a few answers per route.
  {
    testing::TestProducer producer(*broker);
    producer.Send("task-actions", {0, "k", "<b>not JSON</b> & 'payload-7f3a'"});
    producer.Send("task-actions", {1, "k", R"({"id":"1"})"});
  }
  std::map<std::string, double> metrics;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        metrics = ParseMetrics(testing::HttpGet(port, "/metrics").body);
        double rejected = 0;
        for (const auto& [name, value] : metrics) {
          if (name.starts_with("tally_events_rejected_total{")) rejected += value;
        }
        return rejected == 2 && metrics["tally_consumer_lag"] == 0;
      },
      20s))
      << testing::HttpGet(port, "/metrics").body;
  EXPECT_EQ(testing::HttpGet(port, "/statistics?annotationRequestId=none").status, 404);
  EXPECT_EQ(testing::HttpGet(port, "/readyz").status, 200);

  // The console is captured: a page that logs an error is seen doing so.
  const std::filesystem::path probe_log = dir / "probe.log";
  ASSERT_TRUE(RunChromium("data:text/html,<script>console.error('probe')</script>", {"--dump-dom"},
                          dir / "probe.html", probe_log, dir.path()))
      << ReadFile(probe_log);
  ASSERT_EQ(ConsoleLines(ReadFile(probe_log)).size(), 1u) << ReadFile(probe_log);

  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const std::filesystem::path dom_file = dir / "dom.html", log_file = dir / "chromium.log";
  // Less virtual time than the page's 5 s refresh: one load.
  ASSERT_TRUE(RunChromium(url, {"--virtual-time-budget=2000", "--dump-dom"}, dom_file, log_file, dir.path()))
      << ReadFile(log_file);
  const std::string dom = ReadFile(dom_file);
  metrics = ParseMetrics(testing::HttpGet(port, "/metrics").body);
  EXPECT_EQ(ConsoleLines(ReadFile(log_file)), std::vector<std::string>{});

  ASSERT_NE(dom.find("id=\"readiness\">ready<"), std::string::npos) << dom;
  EXPECT_EQ(Number(TextOf(dom, "events-applied")), metrics["tally_events_applied_total"]);
  EXPECT_EQ(Number(TextOf(dom, "events-consumed")), metrics["tally_events_consumed_total"]);
  EXPECT_EQ(Number(TextOf(dom, "events-duplicate")), metrics["tally_events_duplicate_total"]);
  EXPECT_GT(metrics["tally_events_applied_total"], 0);
  EXPECT_EQ(Number(TextOf(dom, "consumer-lag")), metrics["tally_consumer_lag"]);
  EXPECT_EQ(Number(TextOf(dom, "store-records")), metrics["tally_store_records"]);
  EXPECT_EQ(Number(TextOf(dom, "store-tasks")), metrics["tally_store_tasks"]);
  // Rejected events by reason: every reason of /metrics, the same count.
  const std::map<std::string, double> reasons = Rows(dom, "data-reason");
  size_t listed = 0;
  for (const auto& [name, value] : metrics) {
    std::smatch m;
    if (!std::regex_match(name, m, std::regex("tally_events_rejected_total\\{reason=\"([a-z_]+)\"\\}"))) continue;
    ++listed;
    ASSERT_TRUE(reasons.contains(m[1])) << m[1];
    EXPECT_EQ(reasons.at(m[1]), value) << m[1];
  }
  EXPECT_EQ(listed, reasons.size());
  EXPECT_EQ(reasons.at("invalid_json"), 1);
  EXPECT_EQ(reasons.at("missing_field"), 1);
  // Lag per partition: the same partitions and figures.
  const std::map<std::string, double> lags = Rows(dom, "data-partition");
  size_t partitions = 0;
  for (const auto& [name, value] : metrics) {
    std::smatch m;
    if (!std::regex_match(name, m, std::regex("tally_consumer_partition_lag\\{partition=\"([0-9]+)\"\\}"))) continue;
    ++partitions;
    ASSERT_TRUE(lags.contains(m[1])) << m[1];
    EXPECT_EQ(lags.at(m[1]), value);
  }
  EXPECT_GT(partitions, 0u);
  EXPECT_EQ(partitions, lags.size());
  // The two rejected events: where they were, never what they held.
  EXPECT_NE(dom.find("id=\"recent-rejections\""), std::string::npos);
  EXPECT_NE(dom.find("<td>invalid_json</td>"), std::string::npos);
  EXPECT_EQ(dom.find("payload-7f3a"), std::string::npos);
  EXPECT_EQ(dom.find("{\"id\""), std::string::npos);
  // HTTP by route, with its count (the page's own request is counted after it is answered).
  const std::map<std::string, double> routes = Rows(dom, "data-route");
  ASSERT_TRUE(routes.contains("/statistics")) << dom;
  EXPECT_EQ(routes.at("/statistics"), metrics["tally_http_requests_total{route=\"/statistics\",code=\"404\"}"]);

  // The screenshot, for people to look at.
  const std::filesystem::path png = std::filesystem::path(TALLY_BUILD_DIR) / "status-page.png";
  std::filesystem::remove(png);
  ASSERT_TRUE(RunChromium(url, {"--virtual-time-budget=2000", "--screenshot=" + png.string(), "--window-size=1280,1600",
                                "--hide-scrollbars"},
                          dir / "screenshot.out", dir / "screenshot.log", dir.path()))
      << ReadFile(dir / "screenshot.log");
  const std::string image = ReadFile(png);
  ASSERT_GT(image.size(), 20'000u) << png;  // a page of text and tables, not a blank
  EXPECT_EQ(image.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(ConsoleLines(ReadFile(dir / "screenshot.log")), std::vector<std::string>{});

  demo.Signal(SIGTERM);
  EXPECT_TRUE(testing::ExitedWith(demo.Wait(20s), 0)) << demo.Output();
}

}  // namespace
}  // namespace tally
