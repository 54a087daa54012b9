#include "workgraph/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace fab {

namespace {

Error io_error(std::string what, const std::filesystem::path& p, int err) {
  return Error(fmt::format("{} {}: {}", what, p.string(), errno_text(err)));
}

Status write_all(int fd, std::string_view data, const std::filesystem::path& p) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(io_error("cannot write", p, errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

std::filesystem::path temp_name_for(const std::filesystem::path& file) {
  static std::atomic<unsigned> counter{0};
  return file.parent_path() /
         fmt::format(".{}.tmp-{}-{}", file.filename().string(), ::getpid(), counter++);
}

}  // namespace

std::string errno_text(int err) { return fmt::format("{} (errno {})", std::strerror(err), err); }

Status fsync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail(io_error("cannot open directory", dir, errno));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return fail(io_error("cannot fsync directory", dir, err));
  }
  return {};
}

Status write_file_atomic(const std::filesystem::path& file, std::string_view content) {
  auto tmp = temp_name_for(file);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail(io_error("cannot create", tmp, errno)
                    .with_hint("check that the directory exists and is writable"));
  }
  auto cleanup = [&](Error e) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(std::move(e).context(fmt::format("cannot save {}", file.string())));
  };
  if (auto w = write_all(fd, content, tmp); !w) {
    return cleanup(w.error());
  }
  if (::fsync(fd) != 0) {
    return cleanup(io_error("cannot fsync", tmp, errno));
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(io_error("cannot close", tmp, err));
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(io_error("cannot rename into place", file, err));
  }
  return fsync_directory(file.parent_path().empty() ? "." : file.parent_path());
}

Result<std::string> read_file_text(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(io_error("cannot open", file, errno));
  }
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    out.reserve(static_cast<std::size_t>(st.st_size));
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      ::close(fd);
      return fail(io_error("cannot read", file, err));
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace fab
