#pragma once
// A non-blocking, named inter-process lock that says who holds it: the holder writes its pid,
// hostname and start time into the lock file, so a second `fab run` can report "held by pid 1234
// on host since ...". Used for `.factory/run.lock`. Released when the object dies (or the process
// does: flock locks vanish with their process, so a crash never leaves a stale lock).
#include <filesystem>
#include <optional>
#include <string>

#include "substrate/error.h"

namespace fab {

struct LockHolder {
  long pid = 0;          // 0: the holder has not recorded itself yet
  std::string hostname;
  std::string since;     // ISO-8601 UTC
  // "pid 1234 on build-host since 2025-03-01T12:34:56.789Z"
  std::string describe() const;
};

struct LockAttempt;

class HolderLock {
 public:
  // Tries once to take the lock on `file` (created if missing); never waits. Fails only on I/O
  // errors; a lock held by someone else is a normal outcome (see LockAttempt).
  static Result<LockAttempt> try_acquire(const std::filesystem::path& file);

  HolderLock(HolderLock&& other) noexcept;
  HolderLock& operator=(HolderLock&& other) noexcept;
  HolderLock(const HolderLock&) = delete;
  HolderLock& operator=(const HolderLock&) = delete;
  ~HolderLock();

  const LockHolder& info() const { return m_info; }
  // Clears the holder record and lets the lock go (also done by the destructor).
  void release();

 private:
  HolderLock(int fd, std::filesystem::path file, LockHolder info)
      : m_fd(fd), m_file(std::move(file)), m_info(std::move(info)) {}
  int m_fd = -1;
  std::filesystem::path m_file;
  LockHolder m_info;
};

struct LockAttempt {
  std::optional<HolderLock> lock;  // set when the lock is now ours
  LockHolder holder;               // who holds it (us, when `lock` is set)
};

}  // namespace fab
