#include "workgraph/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "workgraph/durable_file.h"
#include "workgraph/file_lock.h"
#include "workgraph/ids.h"
#include "workgraph/line_file.h"
#include "workgraph/line_replay.h"
#include "workgraph/timestamp.h"

namespace fab {

// Which file a path names now, and its size and time: a different stamp means it was replaced
// or written since.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kLineFile = "line.json";
constexpr const char* kJournalFile = "journal.jsonl";
constexpr const char* kTempPrefix = ".tmp-";
// What write_file_atomic names its temporary file (durable_file.cpp) while it writes line.json.
constexpr const char* kCheckpointTempPrefix = ".line.json.tmp-";

Error no_such_line(const std::string& line_id) {
  return Error(fmt::format("there is no line \"{}\"", line_id))
      .with_hint("`fab status` lists the lines in this factory");
}

Error no_such_item(const std::string& item_id) {
  return Error(fmt::format("there is no item \"{}\"", item_id))
      .with_hint("`fab status` lists the items; an item id looks like k3x9qa.3");
}

// An Error on one line: its message and causes.
std::string one_line(const Error& e) {
  std::string out = e.message;
  for (const auto& c : e.causes) out += ": " + c;
  return out;
}

FileStamp stamp_of(const struct stat& st) {
  return {true, st.st_dev, st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

FileStamp stamp_of(const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0 ? stamp_of(st) : FileStamp{};
}

// The first text line of a file (through its '\n'), or all of it if it has none.
Result<std::string> read_first_line(const fs::path& file) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(fmt::format("cannot open {}: {}", file.string(), errno_text(errno)));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return fail(fmt::format("cannot read {}: {}", file.string(), errno_text(err)));
    }
    if (n == 0) break;
    const auto* nl = static_cast<const char*>(std::memchr(buf, '\n', static_cast<std::size_t>(n)));
    out.append(buf, nl ? static_cast<std::size_t>(nl - buf) + 1 : static_cast<std::size_t>(n));
    if (nl) break;
  }
  ::close(fd);
  return out;
}

// The item's stored form as a reader of the file gets it back (extras that clash with a field
// are dropped by to_json, ...), so the cache never differs from the disk.
Result<Item> as_stored(const Item& item) { return item_from_json(to_json(item), "item " + item.id); }

// A caller's extra fields for a transition record: an object (or `{}`, which arrives as null) with
// none of the record's own fields.
Status check_extra_fields(const json& extra) {
  if (!extra.is_object() && !extra.is_null()) {
    return fail_internal("journal extra fields must be a JSON object");
  }
  for (const char* key : {"item", "from", "to", "reason", "kind", "time", "set", "unset", "contents"}) {
    if (extra.contains(key)) {
      return fail_internal(fmt::format("journal extra field \"{}\" clashes with a built-in one", key));
    }
  }
  return {};
}

LineSummary summarize(const LineRecord& record) {
  LineSummary s;
  s.line = record.line;
  for (const auto& item : record.items) ++s.counts[static_cast<std::size_t>(item.state)];
  return s;
}

}  // namespace

// A line as this Store last read or wrote it.
struct Store::CachedLine {
  LineRecord record;
  std::uint64_t journal_end = 0;      // the journal bytes (and records) `record` includes
  std::uint64_t journal_records = 0;
  JournalMark checkpoint;             // what line.json includes
  std::uint64_t checkpoint_size = 0;  // line.json's size
  FileStamp line_file;                // line.json when it was read or written
  std::string damage;                 // why line.json could not be used; it is rewritten at the next change
  bool upgrade = false;               // line.json is format 1: rewritten before the next change
  std::uint64_t digest_scanned = 0;   // how far stamped_blueprint_digest has read the journal
  std::string stamped_digest;
};

struct Store::Cache {
  std::mutex mutex;
  std::map<std::string, CachedLine> lines;
};

Store::Store(fs::path dir, StoreOptions options)
    : m_dir(std::move(dir)), m_options(options), m_cache(std::make_shared<Cache>()), m_rng(std::random_device{}()) {
  m_rng.seed(m_rng() ^ static_cast<std::uint64_t>(::getpid()) ^
             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
}

Result<Store> Store::open(const fs::path& factory_dir, StoreOptions options) {
  std::error_code ec;
  fs::create_directories(factory_dir / "lines", ec);
  if (ec) {
    return fail(Error(fmt::format("cannot create the factory directory {}: {}",
                                  (factory_dir / "lines").string(), ec.message()))
                    .with_hint("check that the repository is writable"));
  }
  if (!fs::is_directory(factory_dir / "lines", ec)) {
    return fail(Error(fmt::format("{} is not a directory", (factory_dir / "lines").string()))
                    .with_hint("move it out of the way; fab keeps its lines there"));
  }
  return Store(factory_dir, options);
}

fs::path Store::line_dir(const std::string& line_id) const { return lines_dir() / line_id; }

bool Store::has_line(const std::string& line_id) const {
  std::error_code ec;
  return is_line_id(line_id) && fs::is_directory(line_dir(line_id), ec);
}

Result<std::vector<std::string>> Store::line_ids() const {
  std::vector<std::string> ids;
  std::error_code ec;
  for (fs::directory_iterator it(lines_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (is_line_id(name) && it->is_directory(ec)) {
      ids.push_back(std::move(name));
    }
  }
  if (ec) {
    return fail(fmt::format("cannot list {}: {}", lines_dir().string(), ec.message()));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// --- reading ---------------------------------------------------------------------------------------

Status Store::catch_up(CachedLine& line) const {
  const auto file = line_dir(line.record.line.id) / kJournalFile;
  FAB_TRY_ASSIGN(JournalSlice slice, Journal(file).read_from(line.journal_end, line.journal_records));
  for (std::size_t i = 0; i < slice.records.size(); ++i) {
    FAB_TRY(apply_change(line.record, slice.records[i],
                         fmt::format("{}:{}", file.string(), line.journal_records + i + 1)));
  }
  line.journal_end = slice.end;
  line.journal_records = slice.count;
  return {};
}

namespace {

// Whether the first `bytes` bytes of `journal` end with a whole record (a newline).
bool ends_a_record(const fs::path& journal, std::uint64_t bytes) {
  if (bytes == 0) return true;
  int fd = ::open(journal.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char byte = 0;
  const bool ok = ::pread(fd, &byte, 1, static_cast<off_t>(bytes - 1)) == 1 && byte == '\n';
  ::close(fd);
  return ok;
}

}  // namespace

Result<Store::CachedLine> Store::read_line(const std::string& line_id) const {
  const auto file = line_dir(line_id) / kLineFile;
  const Journal journal(line_dir(line_id) / kJournalFile);
  const auto cannot_read = fmt::format("cannot read line {}", line_id);
  CachedLine c;
  c.line_file = stamp_of(file);
  std::string text;
  if (c.line_file.exists) {
    FAB_TRY_ASSIGN(text, read_file_text(file));
  }
  if (is_newer_line_file(text)) {
    // Not damage: a newer fab's. Rebuilding it in this fab's format would undo that fab's work.
    FAB_TRY(decode_line_file(text, file));
  }
  // line.json, and whether the journal holds what it says it includes.
  auto checkpoint = [&]() -> Result<LineFile> {
    if (!c.line_file.exists) return fail(fmt::format("{} is missing", file.string()));
    FAB_TRY_ASSIGN(LineFile decoded, decode_line_file(text, file));
    if (!decoded.journal) {  // format 1: it includes every record
      FAB_TRY_ASSIGN(JournalSlice all, journal.read_from(0, 0));
      decoded.journal = JournalMark{all.end, all.count};
      c.upgrade = true;
    } else if (!ends_a_record(journal.file(), decoded.journal->bytes)) {
      return fail(fmt::format("{} says it includes the first {} bytes of {}, which do not end with a record",
                              file.string(), decoded.journal->bytes, journal.file().string()));
    }
    return decoded;
  }();
  if (checkpoint && checkpoint->record.line.id != line_id) {
    return fail(Error(cannot_read)
                    .caused_by(fmt::format("{} holds line \"{}\"", file.string(), checkpoint->record.line.id))
                    .with_hint("a line directory was renamed by hand; rename it back"));
  }
  if (checkpoint) {
    c.record = std::move(checkpoint->record);
    c.checkpoint = *checkpoint->journal;
    c.checkpoint_size = text.size();
    c.journal_end = c.checkpoint.bytes;
    c.journal_records = c.checkpoint.records;
    if (auto ok = catch_up(c); !ok) return fail(ok.error().context(cannot_read));
    return c;
  }
  // line.json cannot be used: the journal alone says what the line is.
  c.damage = one_line(checkpoint.error());
  auto rebuilt = [&]() -> Status {
    FAB_TRY_ASSIGN(JournalSlice all, journal.read_from(0, 0));
    if (all.records.empty()) return fail(fmt::format("{} holds no records", journal.file().string()));
    FAB_TRY_ASSIGN(c.record, line_as_created(all.records.front(), journal.file().string() + ":1"));
    if (c.record.line.id != line_id) return fail(fmt::format("its first record creates line {}", c.record.line.id));
    for (std::size_t i = 1; i < all.records.size(); ++i) {
      FAB_TRY(apply_change(c.record, all.records[i], fmt::format("{}:{}", journal.file().string(), i + 1)));
    }
    c.journal_end = all.end;
    c.journal_records = all.count;
    return {};
  }();
  if (!rebuilt) {
    return fail(Error(cannot_read)
                    .caused_by(c.damage)
                    .caused_by("and its journal cannot rebuild it: " + one_line(rebuilt.error()))
                    .with_hint(rebuilt.error().hint.empty() ? checkpoint.error().hint : rebuilt.error().hint));
  }
  spdlog::warn("line {}: {}; read from its journal instead (the next change, or `fab recover`, rewrites it)",
               line_id, c.damage);
  return c;
}

Result<Store::CachedLine*> Store::current(const std::string& line_id) const {
  if (!has_line(line_id)) return fail(no_such_line(line_id));
  auto& lines = m_cache->lines;
  if (auto it = lines.find(line_id); it != lines.end()) {
    // Still the line.json this Store read or wrote (or the damaged one it read around): only the
    // records since are new.
    if (it->second.line_file == stamp_of(line_dir(line_id) / kLineFile)) {
      if (auto ok = catch_up(it->second); !ok) {
        lines.erase(it);
        return fail(ok.error().context(fmt::format("cannot read line {}", line_id)));
      }
      return &it->second;
    }
    lines.erase(it);
  }
  FAB_TRY_ASSIGN(CachedLine fresh, read_line(line_id));
  return &lines.emplace(line_id, std::move(fresh)).first->second;
}

Result<LineSummary> Store::summary_of(const std::string& line_id) const {
  {
    std::lock_guard lock(m_cache->mutex);
    if (m_cache->lines.count(line_id)) {
      FAB_TRY_ASSIGN(CachedLine * c, current(line_id));
      return summarize(c->record);
    }
  }
  // Not read yet: the header of line.json and the records after it are enough, without the items
  // (what keeps `fab status` fast). Anything unexpected: the whole line, which says what is wrong.
  const auto file = line_dir(line_id) / kLineFile;
  auto quick = [&]() -> std::optional<LineSummary> {
    auto header = read_first_line(file);
    if (!header) return std::nullopt;
    auto summary = summarize_line_file(*header, file);
    if (!summary || !summary->journal || summary->summary.line.id != line_id) return std::nullopt;
    const auto journal = line_dir(line_id) / kJournalFile;
    if (!ends_a_record(journal, summary->journal->bytes)) return std::nullopt;
    auto tail = Journal(journal).read_from(summary->journal->bytes, summary->journal->records);
    if (!tail) return std::nullopt;
    for (const auto& record : tail->records) {
      if (!apply_change(summary->summary, record)) return std::nullopt;
    }
    return std::move(summary->summary);
  }();
  if (quick) return std::move(*quick);
  std::lock_guard lock(m_cache->mutex);
  FAB_TRY_ASSIGN(CachedLine * c, current(line_id));
  return summarize(c->record);
}

Result<LineListing> Store::list_lines() const {
  FAB_TRY_ASSIGN(auto ids, line_ids());
  LineListing out;
  out.lines.reserve(ids.size());
  for (const auto& id : ids) {
    auto summary = summary_of(id);
    if (summary) {
      out.lines.push_back(std::move(*summary));
    } else {
      out.damaged.push_back({id, std::move(summary.error())});
    }
  }
  std::sort(out.lines.begin(), out.lines.end(), [](const LineSummary& a, const LineSummary& b) {
    return a.line.created != b.line.created ? a.line.created < b.line.created : a.line.id < b.line.id;
  });
  return out;
}

Result<std::vector<LineSummary>> Store::summaries() const {
  FAB_TRY_ASSIGN(auto listing, list_lines());
  if (!listing.damaged.empty()) return fail(listing.damaged.front().error);
  return std::move(listing.lines);
}

Result<std::vector<Line>> Store::lines() const {
  FAB_TRY_ASSIGN(auto summaries, this->summaries());
  std::vector<Line> out;
  out.reserve(summaries.size());
  for (auto& s : summaries) {
    out.push_back(std::move(s.line));
  }
  return out;
}

Result<LineRecord> Store::load_line(const std::string& line_id) const {
  std::lock_guard lock(m_cache->mutex);
  FAB_TRY_ASSIGN(CachedLine * c, current(line_id));
  return c->record;
}

Result<Item> Store::find_item(const std::string& query) const {
  if (query.empty()) {
    return fail(Error("an empty item name matches nothing")
                    .with_hint("give an item id like k3x9qa.3, a jj change id, or a prefix of either"));
  }
  if (auto parts = split_item_id(query); parts && has_line(parts->line_id)) {
    std::lock_guard lock(m_cache->mutex);
    FAB_TRY_ASSIGN(CachedLine * c, current(parts->line_id));
    if (const Item* item = c->record.find(query)) {
      return *item;
    }
  }
  FAB_TRY_ASSIGN(auto ids, line_ids());
  std::vector<Item> exact_change;
  std::vector<Item> prefixed;
  std::vector<std::string> unreadable;
  {
    std::lock_guard lock(m_cache->mutex);
    for (const auto& id : ids) {
      auto c = current(id);
      if (!c) {
        unreadable.push_back(fmt::format("{} ({})", id, one_line(c.error())));
        continue;
      }
      for (const auto& item : (*c)->record.items) {
        const std::string change = item.change ? item.change->str() : std::string{};
        if (!change.empty() && change == query) {
          exact_change.push_back(item);
        } else if (item.id.rfind(query, 0) == 0 || (!change.empty() && change.rfind(query, 0) == 0)) {
          prefixed.push_back(item);
        }
      }
    }
  }
  auto& matches = exact_change.empty() ? prefixed : exact_change;
  if (matches.size() == 1) {
    for (const auto& u : unreadable) spdlog::warn("line {} was not searched: it cannot be read", u);
    return matches.front();
  }
  const std::string skipped =
      unreadable.empty() ? "" : fmt::format(" (line {} cannot be read)", fmt::join(unreadable, ", "));
  if (matches.empty()) {
    return fail(Error(fmt::format("no item matches \"{}\"{}", query, skipped))
                    .with_hint("give an item id like k3x9qa.3, a jj change id, or a unique prefix "
                               "of either; `fab status` lists the items"));
  }
  std::string listed;
  for (std::size_t i = 0; i < matches.size() && i < 5; ++i) {
    listed += fmt::format("{}{}{}", listed.empty() ? "" : ", ", matches[i].id,
                          matches[i].change ? " (change " + matches[i].change->str() + ")" : "");
  }
  if (matches.size() > 5) {
    listed += fmt::format(" and {} more", matches.size() - 5);
  }
  return fail(Error(fmt::format("\"{}\" matches {} items: {}{}", query, matches.size(), listed, skipped))
                  .with_hint("give more characters, or the full item id"));
}

Result<std::string> Store::stamped_blueprint_digest(const std::string& line_id) const {
  std::lock_guard lock(m_cache->mutex);
  FAB_TRY_ASSIGN(CachedLine * c, current(line_id));
  const auto file = line_dir(line_id) / kJournalFile;
  FAB_TRY_ASSIGN(std::string text, read_file_text(file));
  if (text.size() < c->digest_scanned) return fail(fmt::format("{} was cut behind fab's back", file.string()));
  // Only "line_created" (the first record) and "reblueprint" records say it; those are found by
  // their text (a record is compact JSON, in which `"kind":"reblueprint"` can only be its kind)
  // and checked like any record.
  auto take = [&](std::size_t begin, std::size_t end, const char* kind) -> Status {
    auto record = Journal::decode(std::string_view(text).substr(begin, end - begin));
    if (!record) return fail(Error(fmt::format("{}: bad journal record at byte {}", file.string(), begin)).caused_by(record.error().message));
    if (record->kind == kind) c->stamped_digest = record->str("blueprint_digest");
    return {};
  };
  const auto complete = text.rfind('\n');
  if (complete == std::string::npos) return fail(fmt::format("{} holds no records", file.string()));
  std::size_t pos = c->digest_scanned;
  if (pos == 0) {
    FAB_TRY(take(0, text.find('\n'), "line_created"));
  }
  for (std::size_t at; (at = text.find("\"kind\":\"reblueprint\"", pos)) != std::string::npos && at < complete;) {
    const std::size_t begin = text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at) + 1;
    const std::size_t end = text.find('\n', at);
    FAB_TRY(take(begin, end, "reblueprint"));
    pos = end + 1;
  }
  c->digest_scanned = complete + 1;
  return c->stamped_digest;
}

// --- writing ---------------------------------------------------------------------------------------

Result<std::string> Store::new_line_id() {
  FAB_TRY_ASSIGN(auto ids, line_ids());
  std::set<std::string> taken(ids.begin(), ids.end());
  std::lock_guard lock(m_cache->mutex);  // (for m_rng)
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto id = random_line_id(m_rng);
    if (taken.count(id) == 0) {
      return id;
    }
  }
  return fail_internal("could not find an unused line id in 1000 tries");
}

Status Store::create_line(Line line, std::vector<Item> items) {
  if (line.created.empty()) {
    line.created = iso_utc_now();
  }
  if (line.items.empty()) {
    for (const auto& item : items) {
      line.items.push_back(item.id);
    }
  }
  LineRecord record{std::move(line), std::move(items)};
  if (auto ok = validate_line_record(record); !ok) {
    return tl::unexpected(ok.error().context("cannot create line " + record.line.id));
  }
  const auto& id = record.line.id;

  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::error_code ec;
  // Under the lock, a temporary line directory can only be left over from a crashed create.
  for (fs::directory_iterator it(lines_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(kTempPrefix, 0) == 0) {
      spdlog::warn("removing {}, left over from an interrupted line creation", it->path().string());
      std::error_code rm_ec;
      fs::remove_all(it->path(), rm_ec);
    }
  }
  if (fs::exists(line_dir(id), ec)) {
    return fail(Error(fmt::format("line {} already exists", id))
                    .with_hint("pick a fresh id with Store::new_line_id()"));
  }
  auto tmp = lines_dir() / fmt::format("{}{}-{}", kTempPrefix, id, ::getpid());
  auto undo = [&](Error e) {
    std::error_code rm_ec;
    fs::remove_all(tmp, rm_ec);
    return tl::unexpected(e.context("cannot create line " + id));
  };
  if (!fs::create_directory(tmp, ec)) {
    return undo(Error(fmt::format("cannot create {}: {}", tmp.string(), ec.message())));
  }
  // The journal first: its "line_created" record holds the whole line, and line.json says it
  // includes that record.
  auto end = Journal(tmp / kJournalFile).append(line_created_record(record));
  if (!end) {
    return undo(end.error());
  }
  if (auto w = write_file_atomic(tmp / kLineFile, encode_line_file(record, {*end, 1})); !w) {
    return undo(w.error());
  }
  if (auto s = fsync_directory(tmp); !s) {
    return undo(s.error());
  }
  fs::rename(tmp, line_dir(id), ec);
  if (ec) {
    return undo(Error(fmt::format("cannot rename {} to {}: {}", tmp.string(),
                                  line_dir(id).string(), ec.message())));
  }
  return fsync_directory(lines_dir());
}

Status Store::write_checkpoint(CachedLine& line) const {
  const auto dir = line_dir(line.record.line.id);
  const auto file = dir / kLineFile;
  std::error_code ec;
  // Under the lock, a temporary line.json can only be what a process killed while writing one left.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(kCheckpointTempPrefix, 0) == 0) {
      std::error_code rm_ec;
      fs::remove(it->path(), rm_ec);
    }
  }
  std::string kept;
  if (!line.damage.empty() && fs::exists(file, ec)) {
    // Nothing is lost: the file the journal replaces stays beside it.
    auto stamp = iso_utc_now();
    std::replace(stamp.begin(), stamp.end(), ':', '-');
    const auto aside = dir / fmt::format("{}.damaged-{}", kLineFile, stamp);
    fs::rename(file, aside, ec);
    if (ec) return fail(fmt::format("cannot move {} aside to {}: {}", file.string(), aside.string(), ec.message()));
    kept = aside.filename().string();
  }
  const JournalMark mark{line.journal_end, line.journal_records};
  const std::string text = encode_line_file(line.record, mark);
  FAB_TRY(write_file_atomic(file, text));
  line.checkpoint = mark;
  line.checkpoint_size = text.size();
  line.line_file = stamp_of(file);
  if (!line.damage.empty()) {
    spdlog::warn("line {}: rewrote {} from its journal ({}){}", line.record.line.id, file.string(), line.damage,
                 kept.empty() ? "" : "; the old file is kept as " + kept);
  }
  line.damage.clear();
  line.upgrade = false;
  return {};
}

Status Store::commit(CachedLine& line, JournalRecord record) const {
  // A line.json that cannot be used, or one that says nothing of the journal (format 1), is
  // rewritten before the journal moves past it.
  if (!line.damage.empty() || line.upgrade) FAB_TRY(write_checkpoint(line));
  if (record.time.empty()) record.time = iso_utc_now();
  const auto size = Journal::encode(record).size();
  FAB_TRY_ASSIGN(auto end, Journal(line_dir(line.record.line.id) / kJournalFile).append(record));
  // The change is made. The cache follows it (the apply cannot fail: the record was made from it).
  if (auto ok = apply_change(line.record, record, "the new record"); !ok) {
    return fail_internal(one_line(ok.error()));
  }
  if (end != line.journal_end + size) {
    // Someone appended without the lock: read the line again next time.
    line.line_file = {};
  }
  line.journal_end = end;
  ++line.journal_records;
  if (line.journal_end - line.checkpoint.bytes > m_options.checkpoint_bound(line.checkpoint_size)) {
    // The change is already durable: a checkpoint that fails only costs time, and the next change
    // tries again.
    if (auto ok = write_checkpoint(line); !ok) {
      spdlog::warn("line {}: could not rewrite line.json: {}", line.record.line.id, one_line(ok.error()));
    }
  }
  return {};
}

Result<Item> Store::modify_item(const std::string& item_id, const std::optional<ItemState>& to,
                                TransitionKind kind, const std::string& reason,
                                const json& extra, const ItemMutator& mutate) {
  auto parts = split_item_id(item_id);
  if (!parts) {
    return fail(no_such_item(item_id));
  }
  FAB_TRY(check_extra_fields(extra));

  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::lock_guard cache_lock(m_cache->mutex);
  if (!has_line(parts->line_id)) {
    return fail(no_such_item(item_id));
  }
  FAB_TRY_ASSIGN(CachedLine * line, current(parts->line_id));
  const Item* item = line->record.find(item_id);
  if (item == nullptr) {
    return fail(no_such_item(item_id));
  }
  const ItemState from = item->state;
  if (to) {
    if (auto ok = check_transition(from, *to, kind); !ok) {
      return tl::unexpected(ok.error().context(fmt::format("cannot move item {}", item_id)));
    }
  }
  Item edited = *item;
  if (mutate) {
    mutate(edited);
    if (edited.id != item->id || edited.line != item->line || edited.state != item->state) {
      return fail_internal(fmt::format(
          "an item edit tried to change the id, line or state of {}; use transition()", item_id));
    }
  }
  if (to) {
    edited.state = *to;
  }
  if (auto ok = validate_item(line->record.line.id, line->record.items.size(), edited); !ok) {
    return tl::unexpected(ok.error().context(fmt::format("refusing to save item {}", item_id)));
  }
  FAB_TRY_ASSIGN(Item stored, as_stored(edited));

  JournalRecord entry;
  entry.kind = to ? "transition" : "update";
  entry.fields = extra.is_null() ? json::object() : extra;
  entry.fields["item"] = item_id;
  if (to) {
    entry.fields["from"] = std::string(to_string(from));
    entry.fields["to"] = std::string(to_string(*to));
    entry.fields["reason"] = reason;
  }
  if (!describe_change(to_json(*item), to_json(stored), entry) && !to) {
    return stored;  // nothing to record
  }
  if (auto ok = commit(*line, std::move(entry)); !ok) {
    return tl::unexpected(ok.error().context(
        to ? fmt::format("item {} was not moved from {} to {}", item_id, to_string(from), to_string(*to))
           : fmt::format("item {} was not changed", item_id)));
  }
  return stored;
}

Result<Item> Store::transition(const std::string& item_id, ItemState to, const std::string& reason,
                               const json& extra, const ItemMutator& mutate, TransitionKind kind) {
  return modify_item(item_id, to, kind, reason, extra, mutate);
}

Result<Item> Store::rollback(const std::string& item_id, const std::string& reason,
                             const json& extra, const ItemMutator& mutate) {
  return modify_item(item_id, ItemState::queued, TransitionKind::recovery, reason, extra, mutate);
}

Result<Item> Store::update_item(const std::string& item_id, const ItemMutator& mutate) {
  return modify_item(item_id, std::nullopt, TransitionKind::normal, {}, json::object(), mutate);
}

Result<Line> Store::update_line(const std::string& line_id, const std::function<void(Line&)>& mutate,
                                JournalRecord record) {
  if (record.kind.empty()) return fail_internal("a journal record needs a kind");
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::lock_guard cache_lock(m_cache->mutex);
  FAB_TRY_ASSIGN(CachedLine * line, current(line_id));
  Line edited = line->record.line;
  mutate(edited);
  if (edited.id != line->record.line.id || edited.items != line->record.line.items ||
      edited.created != line->record.line.created) {
    return fail_internal(fmt::format("a line edit tried to change the id, items or creation time of {}", line_id));
  }
  if (record.fields.is_null()) record.fields = json::object();
  if (!describe_change(to_json(line->record.line), to_json(edited), record)) record.fields["set"] = json::object();
  FAB_TRY(commit(*line, std::move(record)));
  return line->record.line;
}

Result<Line> Store::replace_blueprint(const std::string& line_id, const std::string& yaml, const std::string& file) {
  const std::string digest = blueprint_digest(yaml);
  JournalRecord entry;
  entry.kind = "reblueprint";
  entry.fields = {{"blueprint_digest", digest}, {"blueprint_file", file}};
  return update_line(
      line_id,
      [&](Line& l) {
        l.blueprint_yaml = yaml;
        l.blueprint_digest = digest;
        l.blueprint_file = file;
      },
      std::move(entry));
}

Result<std::optional<std::string>> Store::repair_line(const std::string& line_id) {
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::lock_guard cache_lock(m_cache->mutex);
  m_cache->lines.erase(line_id);  // read it from the disk, not from memory
  FAB_TRY_ASSIGN(CachedLine * line, current(line_id));
  const auto journal_file = line_dir(line_id) / kJournalFile;
  FAB_TRY_ASSIGN(auto records, Journal(journal_file).read());  // every record checked (a torn tail is cut)
  std::optional<std::string> what;
  const std::string damage = line->damage;
  // The whole journal replayed must give what line.json and the records after it give (it does,
  // unless line.json was edited behind fab's back). A line stamped by an older fab has no
  // "line_created" record to start from: then only line.json itself can be checked.
  Result<LineRecord> replayed = fail("no records");
  if (!records.empty()) replayed = line_as_created(records.front(), journal_file.string() + ":1");
  if (replayed) {
    for (std::size_t i = 1; i < records.size(); ++i) {
      FAB_TRY(apply_change(*replayed, records[i], fmt::format("{}:{}", journal_file.string(), i + 1)));
    }
    std::vector<std::string> differ;
    for (std::size_t i = 0; i < replayed->items.size() && i < line->record.items.size(); ++i) {
      if (to_json(replayed->items[i]) != to_json(line->record.items[i])) differ.push_back(replayed->items[i].id);
    }
    if (to_json(replayed->line) != to_json(line->record.line)) differ.insert(differ.begin(), "the line itself");
    if (damage.empty() && !differ.empty()) {
      line->record = std::move(*replayed);
      line->damage = fmt::format("it disagreed with its journal about {}{}",
                                 fmt::join(differ.begin(), differ.begin() + std::min<std::size_t>(differ.size(), 5), ", "),
                                 differ.size() > 5 ? fmt::format(" and {} more", differ.size() - 5) : "");
    }
  }
  if (!line->damage.empty()) {
    const std::string why = line->damage;
    FAB_TRY(write_checkpoint(*line));
    what = fmt::format("rebuilt line.json from its journal ({} records): {}", records.size(), why);
  } else if (line->upgrade) {
    FAB_TRY(write_checkpoint(*line));
  }
  return what;
}

Result<std::vector<std::string>> Store::journal_lost_transitions(const std::string& line_id,
                                                                 const std::string& reason, const json& extra) {
  FAB_TRY(check_extra_fields(extra));
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::lock_guard cache_lock(m_cache->mutex);
  FAB_TRY_ASSIGN(CachedLine * line, current(line_id));
  FAB_TRY_ASSIGN(auto records, Journal(line_dir(line_id) / kJournalFile).read());
  std::map<std::string, std::string> journaled;  // item -> the state its last transition record gave it
  for (const auto& r : records) {
    if (r.kind == "transition") journaled[r.str("item")] = r.str("to");
  }
  std::vector<std::string> restored;
  for (std::size_t i = 0; i < line->record.items.size(); ++i) {
    const Item& item = line->record.items[i];
    auto it = journaled.find(item.id);
    // Items are created queued (the line_created record), before any transition.
    const std::string from = it == journaled.end() ? std::string(to_string(ItemState::queued)) : it->second;
    const std::string to(to_string(item.state));
    if (from == to) continue;
    JournalRecord entry;
    entry.kind = "transition";
    entry.fields = extra.is_object() ? extra : json::object();
    entry.fields["item"] = item.id;
    entry.fields["from"] = from;
    entry.fields["to"] = to;
    entry.fields["reason"] = reason;
    if (!entry.fields.contains("attempts")) entry.fields["attempts"] = item.attempts;  // as transitions record it
    restored.push_back(fmt::format("{} {} -> {}", item.id, from, to));
    FAB_TRY(commit(*line, std::move(entry)));  // (history only: no "set", the state already is so)
  }
  return restored;
}

Status Store::append_journal(const std::string& line_id, JournalRecord record) {
  if (record.kind.empty()) {
    return fail_internal("a journal record needs a kind");
  }
  for (const char* key : kChangeKeys) {
    if (record.fields.contains(key)) {
      return fail_internal(fmt::format("journal field \"{}\" is the store's own (it would change the line)", key));
    }
  }
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::lock_guard cache_lock(m_cache->mutex);
  FAB_TRY_ASSIGN(CachedLine * line, current(line_id));
  return commit(*line, std::move(record));  // (it counts towards the next checkpoint like any record)
}

Result<std::vector<JournalRecord>> Store::journal(const std::string& line_id) {
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  if (!has_line(line_id)) {
    return fail(no_such_line(line_id));
  }
  return Journal(line_dir(line_id) / kJournalFile).read();
}

}  // namespace fab
