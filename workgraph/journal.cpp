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

namespace {

// The records in `text`, which starts at record number `records_before` + 1 of `file`.
struct Parsed {
  std::vector<JournalRecord> records;
  std::size_t good_end = 0;  // just past the last good record
  std::string torn_why;      // set when a torn last record follows good_end
};

Result<Parsed> parse_records(std::string_view text, std::uint64_t records_before, const std::filesystem::path& file) {
  Parsed parsed;
  std::size_t pos = 0;
  std::uint64_t line_no = records_before;
  while (pos < text.size()) {
    ++line_no;
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      parsed.torn_why = "it has no trailing newline";  // the last record was torn mid-write
      break;
    }
    auto record = Journal::decode(text.substr(pos, nl - pos));
    if (!record) {
      if (nl + 1 == text.size()) {
        parsed.torn_why = record.error().message;  // the last record is bad: a torn write
        break;
      }
      return fail(Error(fmt::format("{}:{}:1: bad journal record", file.string(), line_no))
                      .caused_by(record.error().message)
                      .with_hint(kBadRecordHint));
    }
    parsed.records.push_back(std::move(*record));
    pos = nl + 1;
    parsed.good_end = pos;
  }
  return parsed;
}

}  // namespace

Result<std::vector<JournalRecord>> Journal::read() {
  std::error_code ec;
  if (!std::filesystem::exists(m_file, ec)) {
    return std::vector<JournalRecord>{};
  }
  FAB_TRY_ASSIGN(std::string text, read_file_text(m_file));
  FAB_TRY_ASSIGN(Parsed parsed, parse_records(text, 0, m_file));
  if (!parsed.torn_why.empty()) {
    Fd f{::open(m_file.c_str(), O_WRONLY | O_CLOEXEC)};
    if (f.fd < 0) {
      return fail(io_error("open", m_file, errno));
    }
    FAB_TRY(truncate_to(f.fd, static_cast<off_t>(parsed.good_end), m_file));
    spdlog::warn("{}:{}: cut a torn last journal record ({} bytes; {}); the {} records before it are intact",
                 m_file.string(), parsed.records.size() + 1, text.size() - parsed.good_end, parsed.torn_why,
                 parsed.records.size());
  }
  return std::move(parsed.records);
}

Result<JournalSlice> Journal::read_from(std::uint64_t offset, std::uint64_t records_before) const {
  Fd f{::open(m_file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    return fail(io_error("open", m_file, errno));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    return fail(io_error("stat", m_file, errno));
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (offset > size) {
    return fail(Error(fmt::format("{}: is {} bytes long, but {} bytes of it were read before", m_file.string(),
                                  size, offset))
                    .with_hint("the journal is append-only: it was cut or replaced behind fab's back; restore it "
                               "from a backup"));
  }
  FAB_TRY_ASSIGN(std::string text, pread_exact(f.fd, static_cast<off_t>(offset), size - offset, m_file));
  FAB_TRY_ASSIGN(Parsed parsed, parse_records(text, records_before, m_file));
  JournalSlice slice;
  slice.end = offset + parsed.good_end;
  slice.count = records_before + parsed.records.size();
  slice.records = std::move(parsed.records);
  return slice;
}

Result<std::uint64_t> Journal::append(JournalRecord record) {
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
      size = cut;
    }
  }
  // A failed write or fsync cuts the file back: what did not surely reach the disk must not be
  // read back as written (a complete line in the page cache would be).
  auto undo = [&](Error e) -> Result<std::uint64_t> {
    if (::ftruncate(f.fd, size) != 0) {
      e.caused_by(fmt::format("and cutting the partial record off failed too: {}", errno_text(errno)));
    }
    return fail(std::move(e));
  };
  std::string line = encode(record);
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(f.fd, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return undo(io_error("append to", m_file, errno));
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(f.fd) != 0) {
    return undo(io_error("fsync", m_file, errno));
  }
  if (created) {
    FAB_TRY(fsync_directory(m_file.parent_path()));
  }
  return static_cast<std::uint64_t>(size) + line.size();
}

}  // namespace fab
