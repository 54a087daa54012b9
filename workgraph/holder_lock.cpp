#include "workgraph/holder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "workgraph/durable_file.h"
#include "workgraph/timestamp.h"

namespace fab {

namespace {

std::string this_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) {
    return "unknown-host";
  }
  return buf;
}

LockHolder parse_holder(const std::string& text) {
  LockHolder h;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return h;
  }
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer()) {
    h.pid = it->get<long>();
  }
  if (auto it = j.find("hostname"); it != j.end() && it->is_string()) {
    h.hostname = it->get<std::string>();
  }
  if (auto it = j.find("since"); it != j.end() && it->is_string()) {
    h.since = it->get<std::string>();
  }
  return h;
}

Result<int> open_lock_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail(Error(fmt::format("cannot open lock file {}: {}", file.string(), errno_text(errno)))
                    .with_hint("check that the factory directory exists and is writable"));
  }
  return fd;
}

// Ok(true): locked; Ok(false): someone else holds it.
Result<bool> try_flock(int fd, const std::filesystem::path& file) {
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      return true;
    }
    if (errno == EWOULDBLOCK) {
      return false;
    }
    if (errno != EINTR) {
      return fail(fmt::format("cannot lock {}: {}", file.string(), errno_text(errno)));
    }
  }
}

// The holder record, written in place (the file itself is the lock, so it is never replaced).
Status write_record(int fd, const std::filesystem::path& file, const std::string& text) {
  if (::ftruncate(fd, 0) != 0) {
    return fail(fmt::format("cannot truncate {}: {}", file.string(), errno_text(errno)));
  }
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::pwrite(fd, text.data() + done, text.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(fmt::format("cannot write {}: {}", file.string(), errno_text(errno)));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  return {};
}

}  // namespace

std::string LockHolder::describe() const {
  if (pid == 0) {
    return "another process (it has not recorded itself yet)";
  }
  return fmt::format("pid {} on {} since {}", pid, hostname.empty() ? "an unknown host" : hostname,
                     since.empty() ? "an unknown time" : since);
}

Result<LockAttempt> HolderLock::try_acquire(const std::filesystem::path& file) {
  FAB_TRY_ASSIGN(int fd, open_lock_file(file));
  auto locked = try_flock(fd, file);
  if (!locked) {
    ::close(fd);
    return tl::unexpected(locked.error());
  }
  LockAttempt attempt;
  if (!*locked) {
    auto text = read_file_text(file);
    ::close(fd);
    attempt.holder = text ? parse_holder(*text) : LockHolder{};
    return attempt;
  }
  LockHolder me{static_cast<long>(::getpid()), this_hostname(), iso_utc_now()};
  nlohmann::json record = {{"pid", me.pid}, {"hostname", me.hostname}, {"since", me.since}};
  if (auto w = write_record(fd, file, record.dump() + "\n"); !w) {
    ::close(fd);
    return tl::unexpected(w.error());
  }
  attempt.holder = me;
  attempt.lock.emplace(HolderLock(fd, file, std::move(me)));
  return attempt;
}

HolderLock::HolderLock(HolderLock&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)),
      m_file(std::move(other.m_file)),
      m_info(std::move(other.m_info)) {}

HolderLock& HolderLock::operator=(HolderLock&& other) noexcept {
  if (this != &other) {
    release();
    m_fd = std::exchange(other.m_fd, -1);
    m_file = std::move(other.m_file);
    m_info = std::move(other.m_info);
  }
  return *this;
}

HolderLock::~HolderLock() { release(); }

void HolderLock::release() {
  if (m_fd < 0) {
    return;
  }
  (void)::ftruncate(m_fd, 0);
  ::close(m_fd);
  m_fd = -1;
}

}  // namespace fab
