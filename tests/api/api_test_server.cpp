// api_test_server: the API over the store of test_data.h, for scripts (curl
// end-to-end, promtool). Opens a fresh store in DIR (removed at exit), starts
// ApiServer, prints "port N" on a line of its own, and serves until SIGTERM or
// SIGINT, then stops the server cleanly and exits 0.
//
// Usage: api_test_server DIR [--listen HOST:PORT] [--api-key KEY]... [--idle-timeout S]
//                            [--lag N] [--ready] [--max-fds N]
// --max-fds lowers the open-file limit (soft and hard) to N before anything
// opens, to flood the server past it.

#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "aggregate/store.h"
#include "api/server.h"
#include "tests/api/test_data.h"

int main(int argc, char** argv) {
  using namespace tally;
  if (argc < 2) {
    std::fprintf(stderr, "usage: api_test_server DIR [--listen A] [--api-key K]... [--idle-timeout S] [--lag N] [--ready]\n");
    return 2;
  }
  const std::string dir = argv[1];
  ApiOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  IngestStatus status;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--listen" && has_value) {
      options.listen = argv[++i];
    } else if (flag == "--api-key" && has_value) {
      options.api_keys.emplace_back(argv[++i]);
    } else if (flag == "--idle-timeout" && has_value) {
      options.idle_timeout = std::chrono::seconds(std::atoi(argv[++i]));
    } else if (flag == "--lag" && has_value) {
      status.lag = std::atoll(argv[++i]);
    } else if (flag == "--max-fds" && has_value) {
      const rlim_t n = std::strtoull(argv[++i], nullptr, 10);
      const rlimit limit{n, n};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        std::perror("api_test_server: setrlimit");
        return 1;
      }
    } else if (flag == "--ready") {
      status.ready = true;
    } else {
      std::fprintf(stderr, "api_test_server: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  // Signals are taken by sigwait below, not by a handler: block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  std::filesystem::remove_all(dir);
  auto store = Store::Open(StoreOptions{dir, size_t{64} << 20, false, {}});
  if (!store) {
    std::fprintf(stderr, "api_test_server: %s\n", store.error().ToString().c_str());
    return 1;
  }
  if (!testing::FillTestStore(store->get())) return 1;
  status.applied = (*store)->totals().records;
  auto server =
      ApiServer::Start(options, store->get(), IngestSource{[&status] { return status.lag; }, [&status] { return status; }});
  if (!server) {
    std::fprintf(stderr, "api_test_server: %s\n", server.error().ToString().c_str());
    return 1;
  }
  std::printf("port %u\n", (*server)->port());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop, &signal);
  (*server)->Stop();
  server->reset();
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}
