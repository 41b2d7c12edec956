#pragma once

// The nice values of a process's threads, by thread name (/proc/PID/task/*/comm),
// for tests of thread priorities.

#include <sys/types.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tally::testing {

// The highest nice value among the threads of `pid` named `name`; -100 if none.
// (pid 0: this process.)
inline int NiceOfThread(const std::string& name, pid_t pid = 0) {
  const std::filesystem::path tasks =
      pid == 0 ? std::filesystem::path("/proc/self/task") : std::filesystem::path("/proc") / std::to_string(pid) / "task";
  int nice = -100;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm != name) continue;
    std::string stat;
    std::getline(std::ifstream(task.path() / "stat"), stat);
    if (stat.empty()) continue;  // the thread ended meanwhile
    // Fields after the ")" that ends comm: state is field 3, nice field 19.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i) {
    }
    nice = std::max(nice, std::stoi(field));
  }
  return nice;
}

}  // namespace tally::testing
