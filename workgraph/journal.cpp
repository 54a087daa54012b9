#include "workgraph/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "workgraph/crc32.h"
#include "workgraph/durable_file.h"
#include "workgraph/timestamp.h"

namespace fab {

namespace {

using nlohmann::json;

const char* kBadRecordHint =
    "the journal is append-only, so a damaged record before the end means the file was edited or "
    "the disk is failing; restore it from a backup, or move the bad line out by hand";

Error io_error(const char* what, const std::filesystem::path& p, int err) {
  return Error(fmt::format("cannot {} {}: {}", what, p.string(), errno_text(err)));
}

// A descriptor that closes itself.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

Status truncate_to(int fd, off_t length, const std::filesystem::path& file) {
  if (::ftruncate(fd, length) != 0) {
    return fail(io_error("truncate", file, errno));
  }
  if (::fsync(fd) != 0) {
    return fail(io_error("fsync", file, errno));
  }
  return {};
}

Result<std::string> pread_exact(int fd, off_t offset, std::size_t length, const std::filesystem::path& file) {
  std::string buf(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, buf.data() + done, length - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(io_error("read", file, errno));
    }
    if (n == 0) {
      buf.resize(done);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return buf;
}

// Where the journal's last records are, found by reading backwards only as far as needed.
struct Tail {
  off_t complete_end = 0;     // just past the last '\n' (0: no complete record)
  off_t last_line_start = 0;  // start of the last complete record
  std::string last_line;      // that record, without its newline
};

Result<Tail> scan_tail(int fd, off_t size, const std::filesystem::path& file) {
  off_t want = std::min<off_t>(size, 64 * 1024);
  for (;;) {
    off_t start = size - want;
    FAB_TRY_ASSIGN(std::string buf, pread_exact(fd, start, static_cast<std::size_t>(want), file));
    Tail tail;
    auto last_nl = buf.rfind('\n');
    if (last_nl == std::string::npos) {
      if (start == 0) {
        return tail;  // no complete record at all
      }
    } else {
      tail.complete_end = start + static_cast<off_t>(last_nl) + 1;
      auto prev_nl = last_nl == 0 ? std::string::npos : buf.rfind('\n', last_nl - 1);
      if (prev_nl != std::string::npos || start == 0) {
        std::size_t line_start = prev_nl == std::string::npos ? 0 : prev_nl + 1;
        tail.last_line_start = start + static_cast<off_t>(line_start);
        tail.last_line = buf.substr(line_start, last_nl - line_start);
        return tail;
      }
    }
    want = std::min<off_t>(size, want * 2);
  }
}

}  // namespace

std::string JournalRecord::str(std::string_view key) const {
  auto it = fields.find(key);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json JournalRecord::to_json() const {
  json j = fields.is_object() ? fields : json::object();
  j["time"] = time;
  j["kind"] = kind;
  return j;
}

std::string Journal::encode(const JournalRecord& record) {
  std::string body = record.to_json().dump(-1, ' ', false, json::error_handler_t::replace);
  return fmt::format("{:08x} {}\n", crc32(body), body);
}

Result<JournalRecord> Journal::decode(std::string_view line) {
  if (line.size() < 10 || line[8] != ' ') {
    return fail("not a journal record (expected \"<crc32-hex8> <json>\")");
  }
  std::uint32_t stored = 0;
  auto hex = line.substr(0, 8);
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), stored, 16);
  if (ec != std::errc() || end != hex.data() + hex.size()) {
    return fail("the checksum is not 8 hex digits");
  }
  auto body = line.substr(9);
  if (crc32(body) != stored) {
    return fail(fmt::format("checksum mismatch (stored {}, computed {:08x})", hex, crc32(body)));
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return fail("the record is not a JSON object");
  }
  auto kind = j.find("kind");
  auto time = j.find("time");
  if (kind == j.end() || !kind->is_string() || time == j.end() || !time->is_string()) {
    return fail("the record lacks \"kind\" or \"time\"");
  }
  JournalRecord record;
  record.kind = kind->get<std::string>();
  record.time = time->get<std::string>();
  j.erase("kind");
  j.erase("time");
  record.fields = std::move(j);
  return record;
}

Result<std::vector<JournalRecord>> Journal::read() {
  std::vector<JournalRecord> records;
  std::error_code ec;
  if (!std::filesystem::exists(m_file, ec)) {
    return records;
  }
  FAB_TRY_ASSIGN(std::string text, read_file_text(m_file));
  std::size_t pos = 0;
  std::size_t line_no = 0;
  std::size_t cut_at = std::string::npos;
  std::string cut_why;
  while (pos < text.size()) {
    ++line_no;
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      cut_at = pos;  // no newline: the last record was torn mid-write
      cut_why = "it has no trailing newline";
      break;
    }
    std::string_view line(text.data() + pos, nl - pos);
    auto record = decode(line);
    if (!record) {
      if (nl + 1 == text.size()) {
        cut_at = pos;  // the last record is bad: a torn write
        cut_why = record.error().message;
        break;
      }
      return fail(Error(fmt::format("{}:{}:1: bad journal record", m_file.string(), line_no))
                      .caused_by(record.error().message)
                      .with_hint(kBadRecordHint));
    }
    records.push_back(std::move(*record));
    pos = nl + 1;
  }
  if (cut_at != std::string::npos) {
    Fd f{::open(m_file.c_str(), O_WRONLY | O_CLOEXEC)};
    if (f.fd < 0) {
      return fail(io_error("open", m_file, errno));
    }
    FAB_TRY(truncate_to(f.fd, static_cast<off_t>(cut_at), m_file));
    spdlog::warn("{}:{}: cut a torn last journal record ({} bytes; {}); the {} records before it are intact",
                 m_file.string(), line_no, text.size() - cut_at, cut_why, records.size());
  }
  return records;
}

Status Journal::append(JournalRecord record) {
  if (record.time.empty()) {
    record.time = iso_utc_now();
  }
  Fd f{::open(m_file.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644)};
  if (f.fd < 0) {
    return fail(io_error("open", m_file, errno));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    return fail(io_error("stat", m_file, errno));
  }
  off_t size = st.st_size;
  bool created = size == 0;
  if (size > 0) {
    FAB_TRY_ASSIGN(Tail tail, scan_tail(f.fd, size, m_file));
    bool partial = tail.complete_end < size;
    off_t cut = size;
    std::string why;
    if (tail.complete_end > 0) {
      auto last = decode(tail.last_line);
      if (!last && partial) {
        return fail(Error(fmt::format("{}: bad journal record at byte {}", m_file.string(),
                                      tail.last_line_start))
                        .caused_by(last.error().message)
                        .with_hint(kBadRecordHint));
      }
      if (!last) {
        cut = tail.last_line_start;
        why = last.error().message;
      }
    }
    if (partial) {
      cut = tail.complete_end;
      why = "it has no trailing newline";
    }
    if (cut < size) {
      FAB_TRY(truncate_to(f.fd, cut, m_file));
      spdlog::warn("{}: cut a torn last journal record at byte {} ({} bytes; {})", m_file.string(),
                   cut, size - cut, why);
    }
  }
  std::string line = encode(record);
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(f.fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(io_error("append to", m_file, errno));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(f.fd) != 0) {
    return fail(io_error("fsync", m_file, errno));
  }
  if (created) {
    FAB_TRY(fsync_directory(m_file.parent_path()));
  }
  return {};
}

}  // namespace fab
