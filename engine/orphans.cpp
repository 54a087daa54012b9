#include "engine/orphans.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace fab::engine {
namespace {

namespace fs = std::filesystem;

bool names_repo(const std::vector<std::string>& argv, const std::string& root) {
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    // The repo itself or a directory inside it (a workspace under .factory/): not /tmp/ab for /tmp/a.
    const auto& r = argv[i + 1];
    if (argv[i] == "-R" && r.compare(0, root.size(), root) == 0 && (r.size() == root.size() || r[root.size()] == '/')) {
      return true;
    }
  }
  return false;
}

// A process's /proc/<pid>/cmdline; empty when it cannot be read. Plain read(2): the process may end
// mid-read (ESRCH), which std::ifstream reports by throwing from its buffer.
std::string read_cmdline(const fs::path& file) {
  std::string all;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return all;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return all;
}

int count_jj_on(const std::string& root) {
  int n = 0;
  std::error_code ec;
  const auto self = std::to_string(::getpid());
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos || name == self) continue;
    const std::string all = read_cmdline(it->path() / "cmdline");
    std::vector<std::string> argv;
    for (std::size_t start = 0; start < all.size();) {
      auto nul = all.find('\0', start);
      if (nul == std::string::npos) nul = all.size();
      argv.push_back(all.substr(start, nul - start));
      start = nul + 1;
    }
    // (argv[0] may be a loader running jj, as with the bootstrap wrapper.)
    bool is_jj = false;
    for (std::size_t i = 0; i < argv.size() && i < 4; ++i) is_jj = is_jj || fs::path(argv[i]).filename() == "jj";
    if (is_jj && names_repo(argv, root)) ++n;
  }
  return n;
}

}  // namespace

int wait_for_orphaned_jj(const fs::path& root, std::chrono::milliseconds limit) {
  const auto r = root.string();
  const int first = count_jj_on(r);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (int n = first; n > 0 && std::chrono::steady_clock::now() < deadline; n = count_jj_on(r)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return first;
}

}  // namespace fab::engine
