#pragma once
// Watching processes a test did not start itself (an agent's command, recorded in a pid file).
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/support/temp_dir.h"

namespace fab::test {

// The text of `file` once it exists and holds a whole line (agents write their pids into such files).
inline std::string wait_for_file(const std::filesystem::path& file,
                                 std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  std::string text;
  while (std::chrono::steady_clock::now() < until) {
    std::error_code ec;
    if (std::filesystem::exists(file, ec) && !(text = read_file(file)).empty() && text.back() == '\n') return text;
    ::usleep(20000);
  }
  FAIL("no " << file << " after " << limit.count() << " ms");
  return {};
}

// True when process `pid` runs nothing any more: gone, or a zombie nobody has reaped yet.
inline bool process_gone(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path stat = "/proc/" + std::to_string(pid) + "/stat";
  if (!std::filesystem::exists(stat, ec)) return true;
  const std::string text = read_file(stat);
  const auto close = text.rfind(')');  // "pid (comm) S ...": the state follows the last ')'
  return text.empty() || (close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z');
}

// Waits up to `limit` for `pid` to be gone. If it is not, kills it (a failing test leaves nothing
// running) and returns false.
inline bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!process_gone(pid)) {
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);
      return false;
    }
    ::usleep(20000);
  }
  return true;
}

}  // namespace fab::test
