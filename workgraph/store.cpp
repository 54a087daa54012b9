#include "workgraph/store.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "workgraph/durable_file.h"
#include "workgraph/file_lock.h"
#include "workgraph/ids.h"
#include "workgraph/line_file.h"
#include "workgraph/timestamp.h"

namespace fab {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kLineFile = "line.json";
constexpr const char* kJournalFile = "journal.jsonl";
constexpr const char* kTempPrefix = ".tmp-";

Error no_such_line(const std::string& line_id) {
  return Error(fmt::format("there is no line \"{}\"", line_id))
      .with_hint("`fab status` lists the lines in this factory");
}

Error no_such_item(const std::string& item_id) {
  return Error(fmt::format("there is no item \"{}\"", item_id))
      .with_hint("`fab status` lists the items; an item id looks like k3x9qa.3");
}

template <class T>
void sort_by_created(std::vector<T>& v, const Line& (*line_of)(const T&)) {
  std::sort(v.begin(), v.end(), [&](const T& a, const T& b) {
    const Line& la = line_of(a);
    const Line& lb = line_of(b);
    return la.created != lb.created ? la.created < lb.created : la.id < lb.id;
  });
}

}  // namespace

Store::Store(fs::path dir) : m_dir(std::move(dir)), m_rng(std::random_device{}()) {
  m_rng.seed(m_rng() ^ static_cast<std::uint64_t>(::getpid()) ^
             static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
}

Result<Store> Store::open(const fs::path& factory_dir) {
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
  return Store(factory_dir);
}

fs::path Store::line_dir(const std::string& line_id) const { return lines_dir() / line_id; }

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

Result<std::vector<LineSummary>> Store::summaries() const {
  FAB_TRY_ASSIGN(auto ids, line_ids());
  std::vector<LineSummary> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    auto file = line_dir(id) / kLineFile;
    FAB_TRY_ASSIGN(std::string text, read_file_text(file));
    FAB_TRY_ASSIGN(LineSummary summary, summarize_line_file(text, file));
    out.push_back(std::move(summary));
  }
  sort_by_created<LineSummary>(out, [](const LineSummary& s) -> const Line& { return s.line; });
  return out;
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
  std::error_code ec;
  if (!is_line_id(line_id) || !fs::exists(line_dir(line_id) / kLineFile, ec)) {
    return fail(no_such_line(line_id));
  }
  auto file = line_dir(line_id) / kLineFile;
  FAB_TRY_ASSIGN(std::string text, read_file_text(file));
  FAB_TRY_ASSIGN(LineRecord record, decode_line_file(text, file));
  if (record.line.id != line_id) {
    return fail(Error(fmt::format("{}: holds line \"{}\", expected \"{}\"", file.string(),
                                  record.line.id, line_id))
                    .with_hint("a line directory was renamed by hand; rename it back"));
  }
  return record;
}

Result<Item> Store::find_item(const std::string& query) const {
  if (query.empty()) {
    return fail(Error("an empty item name matches nothing")
                    .with_hint("give an item id like k3x9qa.3, a jj change id, or a prefix of either"));
  }
  if (auto parts = split_item_id(query)) {
    std::error_code ec;
    if (fs::exists(line_dir(parts->line_id) / kLineFile, ec)) {
      FAB_TRY_ASSIGN(LineRecord record, load_line(parts->line_id));
      if (const Item* item = record.find(query)) {
        return *item;
      }
    }
  }
  FAB_TRY_ASSIGN(auto ids, line_ids());
  std::vector<Item> exact_change;
  std::vector<Item> prefixed;
  for (const auto& id : ids) {
    FAB_TRY_ASSIGN(LineRecord record, load_line(id));
    for (auto& item : record.items) {
      const std::string change = item.change ? item.change->str() : std::string{};
      if (!change.empty() && change == query) {
        exact_change.push_back(item);
      } else if (item.id.rfind(query, 0) == 0 || (!change.empty() && change.rfind(query, 0) == 0)) {
        prefixed.push_back(item);
      }
    }
  }
  auto& matches = exact_change.empty() ? prefixed : exact_change;
  if (matches.size() == 1) {
    return matches.front();
  }
  if (matches.empty()) {
    return fail(Error(fmt::format("no item matches \"{}\"", query))
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
  return fail(Error(fmt::format("\"{}\" matches {} items: {}", query, matches.size(), listed))
                  .with_hint("give more characters, or the full item id"));
}

Result<std::string> Store::new_line_id() {
  FAB_TRY_ASSIGN(auto ids, line_ids());
  std::set<std::string> taken(ids.begin(), ids.end());
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
  if (auto w = write_file_atomic(tmp / kLineFile, encode_line_file(record)); !w) {
    return undo(w.error());
  }
  JournalRecord created;
  created.time = record.line.created;
  created.kind = "line_created";
  created.fields = {{"line", id},
                    {"blueprint", record.line.blueprint},
                    {"blueprint_digest", record.line.blueprint_digest},
                    {"items", record.items.size()}};
  if (auto a = Journal(tmp / kJournalFile).append(std::move(created)); !a) {
    return undo(a.error());
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

Status Store::save_line(const LineRecord& record) const {
  return write_file_atomic(line_dir(record.line.id) / kLineFile, encode_line_file(record));
}

Result<Item> Store::modify_item(const std::string& item_id, const std::optional<ItemState>& to,
                                TransitionKind kind, const std::string& reason,
                                const json& extra, const ItemMutator& mutate) {
  auto parts = split_item_id(item_id);
  if (!parts) {
    return fail(no_such_item(item_id));
  }
  if (!extra.is_object() && !extra.is_null()) {  // `{}` from a caller arrives as null
    return fail_internal("journal extra fields must be a JSON object");
  }
  for (const char* key : {"item", "from", "to", "reason", "kind", "time"}) {
    if (extra.contains(key)) {
      return fail_internal(fmt::format("journal extra field \"{}\" clashes with a built-in one", key));
    }
  }

  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  FAB_TRY_ASSIGN(LineRecord record, load_line(parts->line_id));
  Item* item = record.find(item_id);
  if (item == nullptr) {
    return fail(no_such_item(item_id));
  }
  ItemState from = item->state;
  if (to) {
    if (auto ok = check_transition(from, *to, kind); !ok) {
      return tl::unexpected(ok.error().context(fmt::format("cannot move item {}", item_id)));
    }
  }
  if (mutate) {
    Item edited = *item;
    mutate(edited);
    if (edited.id != item->id || edited.line != item->line || edited.state != item->state) {
      return fail_internal(fmt::format(
          "an item edit tried to change the id, line or state of {}; use transition()", item_id));
    }
    *item = std::move(edited);
  }
  if (to) {
    item->state = *to;
  }
  if (auto ok = validate_line_record(record); !ok) {
    return tl::unexpected(ok.error().context(fmt::format("refusing to save item {}", item_id)));
  }
  FAB_TRY(save_line(record));
  Item result = *item;
  if (to) {
    JournalRecord entry;
    entry.kind = "transition";
    entry.fields = extra.is_null() ? json::object() : extra;
    entry.fields["item"] = item_id;
    entry.fields["from"] = std::string(to_string(from));
    entry.fields["to"] = std::string(to_string(*to));
    entry.fields["reason"] = reason;
    if (auto a = Journal(line_dir(parts->line_id) / kJournalFile).append(std::move(entry)); !a) {
      return tl::unexpected(a.error().context(fmt::format(
          "item {} moved from {} to {}, but its journal record was not written", item_id,
          to_string(from), to_string(*to))));
    }
  }
  return result;
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
  FAB_TRY_ASSIGN(LineRecord line, load_line(line_id));
  Line edited = line.line;
  mutate(edited);
  if (edited.id != line.line.id || edited.items != line.line.items || edited.created != line.line.created) {
    return fail_internal(fmt::format("a line edit tried to change the id, items or creation time of {}", line_id));
  }
  line.line = std::move(edited);
  FAB_TRY(save_line(line));
  if (auto a = Journal(line_dir(line_id) / kJournalFile).append(std::move(record)); !a) {
    return tl::unexpected(a.error().context(fmt::format("line {} was saved, but its journal record was not written", line_id)));
  }
  return line.line;
}

Result<std::vector<std::string>> Store::journal_lost_transitions(const std::string& line_id,
                                                                 const std::string& reason, const json& extra) {
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  FAB_TRY_ASSIGN(LineRecord record, load_line(line_id));
  Journal journal(line_dir(line_id) / kJournalFile);
  FAB_TRY_ASSIGN(auto records, journal.read());
  std::map<std::string, std::string> journaled;  // item -> the state its last transition record gave it
  for (const auto& r : records) {
    if (r.kind == "transition") journaled[r.str("item")] = r.str("to");
  }
  std::vector<std::string> restored;
  for (const auto& item : record.items) {
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
    FAB_TRY(journal.append(std::move(entry)));
    restored.push_back(fmt::format("{} {} -> {}", item.id, from, to));
  }
  return restored;
}

Status Store::append_journal(const std::string& line_id, JournalRecord record) {
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::error_code ec;
  if (!is_line_id(line_id) || !fs::exists(line_dir(line_id) / kLineFile, ec)) {
    return fail(no_such_line(line_id));
  }
  if (record.kind.empty()) {
    return fail_internal("a journal record needs a kind");
  }
  return Journal(line_dir(line_id) / kJournalFile).append(std::move(record));
}

Result<std::vector<JournalRecord>> Store::journal(const std::string& line_id) {
  FAB_TRY_ASSIGN(FileLock lock, FileLock::acquire(lock_file()));
  std::error_code ec;
  if (!is_line_id(line_id) || !fs::exists(line_dir(line_id) / kLineFile, ec)) {
    return fail(no_such_line(line_id));
  }
  return Journal(line_dir(line_id) / kJournalFile).read();
}

}  // namespace fab
