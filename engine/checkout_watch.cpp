#include "engine/checkout_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>

namespace fab::engine {

namespace fs = std::filesystem;

namespace {

bool skipped(const std::string& rel) {
  const auto top = rel.substr(0, rel.find('/'));
  return top == ".git" || top == ".jj" || top == ".factory";
}

constexpr std::uint32_t kEvents = IN_CREATE | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB;

}  // namespace

CheckoutWatch::CheckoutWatch(fs::path root) : m_root(std::move(root)) {
  m_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (m_fd < 0) {
    m_limits = fmt::format("cannot watch the checkout: {}", std::strerror(errno));
    return;
  }
  add(m_root);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(m_root, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const auto rel = fs::relative(it->path(), m_root).string();
    if (skipped(rel)) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec) && !it->is_symlink(ec)) add(it->path());
  }
}

CheckoutWatch::~CheckoutWatch() {
  if (m_fd >= 0) ::close(m_fd);
}

void CheckoutWatch::add(const fs::path& dir) {
  const int wd = ::inotify_add_watch(m_fd, dir.c_str(), kEvents | IN_ONLYDIR);
  if (wd < 0) {
    if (m_limits.empty()) {
      m_limits = fmt::format("watching only part of the checkout ({}: {}); raise fs.inotify.max_user_watches",
                             dir.string(), std::strerror(errno));
    }
    return;
  }
  const auto rel = dir == m_root ? std::string{} : fs::relative(dir, m_root).string();
  m_dirs[wd] = rel;
}

std::vector<std::string> CheckoutWatch::changed() {
  std::set<std::string> paths;
  if (m_fd < 0) return {};
  alignas(inotify_event) char buf[16384];
  for (;;) {
    const ssize_t n = ::read(m_fd, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      auto dir = m_dirs.find(e->wd);
      if (dir == m_dirs.end() || e->len == 0) continue;
      const std::string rel = dir->second.empty() ? std::string(e->name) : dir->second + "/" + e->name;
      if (skipped(rel)) continue;
      paths.insert(rel);
      if ((e->mask & IN_ISDIR) && (e->mask & (IN_CREATE | IN_MOVED_TO))) add(m_root / rel);
    }
  }
  return {paths.begin(), paths.end()};
}

}  // namespace fab::engine
