#pragma once
// An exclusive inter-process lock on a file (flock), held for the lifetime of the object. fab takes
// it on `.factory/lock` around every read-modify-write of the work graph. Locks taken through
// separate FileLock objects exclude each other even inside one process; the descriptor is
// close-on-exec, so child processes never inherit the lock.
#include <filesystem>

#include "substrate/error.h"

namespace fab {

class FileLock {
 public:
  // Waits until the lock on `file` (created if missing) is ours.
  static Result<FileLock> acquire(const std::filesystem::path& file);

  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : m_fd(fd) {}
  int m_fd = -1;
};

}  // namespace fab
