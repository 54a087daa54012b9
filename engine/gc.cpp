#include "engine/gc.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>

#include "engine/op_retention.h"
#include "workgraph/durable_file.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;

void add_size(const fs::path& dir, StorageSize& size) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) {
      ++size.files;
      size.bytes += it->file_size(fec);
    }
  }
}

std::string megabytes(std::uint64_t bytes) { return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6); }

}  // namespace

StorageSize storage_size(const Factory& factory) {
  StorageSize size;
  add_size(factory.root() / ".jj", size);
  std::error_code ec;
  if (fs::is_directory(factory.root() / ".git", ec)) add_size(factory.root() / ".git", size);
  return size;
}

Result<GcReport> collect_garbage(Factory& factory, std::size_t keep_operations) {
  GcReport report;
  report.before = storage_size(factory);
  keep_operations = std::max<std::size_t>(keep_operations, 1);
  const Repo& repo = factory.repo();
  // The git worktrees of pool workspaces whose directories are gone (colocated, git >= 2.54): git
  // would keep them in .git/worktrees/ until its own `git worktree prune`.
  // What git cannot remove is said, not a reason to keep the op log from being trimmed.
  if (auto removed = repo.remove_git_worktrees(factory.workspaces_dir()); !removed) {
    report.warnings.push_back("left git worktrees of workspaces that are gone: " + removed.error().render());
  }
  FAB_TRY_ASSIGN(auto ops, repo.operations());  // newest first; the root operation last
  report.operations_before = ops.size();
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < ops.size(); ++i) index[ops[i].id] = i;

  // The oldest operation kept (`keep`, an index): the newest keep_operations, and what an item in
  // flight needs.
  std::size_t keep = std::min(keep_operations, ops.size()) - 1;
  report.why = fmt::format("the newest {} operations are kept", keep_operations);
  // An item in flight (building, inspecting, refining: a run that died may have left work of it
  // in jj after its last record) keeps the operation of its newest record and everything after
  // it. Nothing else of a line is needed: a queued or reworked item starts from its change as it
  // is, a finished one is done, and `fab recover --to` places every operation gc trims by the
  // journal's notes. (Until this, a line kept every operation since its stamp while any of its
  // items was unfinished: a long line, collected as it runs (gc.every_merged), kept them all.)
  FAB_TRY_ASSIGN(auto lines, factory.store().lines());
  std::map<std::string, std::vector<JournalRecord>> journals;
  for (const auto& line : lines) {
    FAB_TRY_ASSIGN(auto record, factory.store().load_line(line.id));
    FAB_TRY_ASSIGN(journals[line.id], factory.store().journal(line.id));
    std::set<std::string> in_flight;
    for (const auto& item : record.items) {
      if (item.state == ItemState::building || item.state == ItemState::inspecting || item.state == ItemState::refining) {
        in_flight.insert(item.id);
      }
    }
    if (in_flight.empty()) continue;
    std::map<std::string, std::string> newest_op;
    for (const auto& rec : journals[line.id]) {
      if (!rec.str("op").empty() && in_flight.count(rec.str("item"))) newest_op[rec.str("item")] = rec.str("op");
    }
    for (const auto& [item, op] : newest_op) {
      auto it = index.find(op);
      if (it == index.end() || it->second <= keep || it->second + 1 >= ops.size()) continue;
      keep = it->second;
      report.why = fmt::format("item {} of line {} is in flight, and its newest record names this operation", item, line.id);
    }
  }
  // What can go is between the newest operation a working copy was last updated at (`base`: it
  // and everything before it keep their IDs, so no working copy goes stale) and the oldest kept.
  std::size_t base = ops.size() - 1;  // (jj's root operation, never abandoned)
  std::string base_why;
  FAB_TRY_ASSIGN(auto workspaces, repo.workspaces());
  for (const auto& ws : workspaces) {
    // fab's own workspace (the seat) is never checked out: every call there ignores its working copy.
    if (ws.name == factory.config().seat_name) continue;
    FAB_TRY_ASSIGN(auto op, repo.working_copy_operation(ws.root));
    auto it = index.find(op);
    if (it == index.end() || it->second >= base) continue;  // (already stale: nothing to keep for it)
    base = it->second;
    base_why = fmt::format("the working copy of workspace '{}' was last updated at operation {}; it and the "
                           "operations before it are kept so that it stays usable",
                           ws.name, op.substr(0, 12));
  }
  if (base <= keep + 1) {
    report.operations_kept = ops.size();
    if (base <= keep && !base_why.empty()) report.why = base_why;
    FAB_TRY(repo.collect_garbage());
    report.after = storage_size(factory);
    return report;
  }
  const std::size_t abandoned = base - keep - 1;  // ops[keep + 1 .. base - 1]
  FAB_TRY(repo.abandon_operations(base + 1 == ops.size() ? std::string{} : ops[base].id, ops[keep + 1].id));
  // The seat's working copy (never checked out, always on the root commit) was last updated at an
  // operation that may be gone now: brought up to date, or jj refuses the seat's next `workspace add`.
  if (!factory.config().seat_name.empty()) FAB_TRY(repo.update_stale_workspace(factory.seat_dir()));
  // jj gave each kept operation after the gap a new ID: the same operations, in the same order.
  FAB_TRY_ASSIGN(auto now, repo.operations());
  if (now.size() != ops.size() - abandoned) {
    return fail(fmt::format("after abandoning {} operations the log holds {}, not {}", abandoned, now.size(),
                            ops.size() - abandoned));
  }
  std::map<std::string, std::string> renamed;
  for (std::size_t i = 0; i < now.size(); ++i) {
    const auto& was = i <= keep ? ops[i] : ops[i + abandoned];
    if (now[i].description != was.description || now[i].time_start != was.time_start ||
        (i > keep && now[i].id != was.id)) {
      return fail(Error(fmt::format("the operation log after abandoning {} operations is not what was kept "
                                    "(operation {} is {}, expected {})",
                                    abandoned, i, now[i].id.substr(0, 12), was.id.substr(0, 12)))
                      .with_hint("another jj command ran at the same time; run `fab gc` again"));
    }
    if (i <= keep) renamed[was.id] = now[i].id;
  }
  // The list of fab's operations in pool workspaces (`fab oplog` tells fab's from an agent's by
  // it) follows the new IDs.
  {
    const auto file = factory.factory_dir() / "pool-ops";
    std::map<std::string, std::string> by_prefix;
    for (const auto& [was, is] : renamed) by_prefix[was.substr(0, 32)] = is.substr(0, 32);
    std::ifstream in(file);
    std::string text;
    for (std::string l; std::getline(in, l);) {
      auto it = by_prefix.find(l);
      if (it != by_prefix.end()) {
        text += it->second + "\n";
      } else if (std::any_of(now.begin() + static_cast<std::ptrdiff_t>(keep) + 1, now.end(),
                             [&](const Operation& o) { return o.id.rfind(l, 0) == 0; })) {
        text += l + "\n";  // (older than the gap: its ID is kept)
      }
    }
    FAB_TRY(write_file_atomic(file, text));
  }
  report.operations_kept = now.size();
  report.oldest_kept = now[keep].id;
  if (!base_why.empty()) report.why += "; and " + base_why;
  // Each journal notes which of the operations it names were trimmed and which renamed
  // (engine/op_retention.h).
  for (const auto& line : lines) {
    nlohmann::json trimmed = nlohmann::json::array();
    nlohmann::json kept = nlohmann::json::object();
    std::set<std::string> seen;
    for (const auto& rec : journals[line.id]) {
      const auto op = rec.str("op");
      auto it = index.find(op);
      if (it == index.end() || !seen.insert(op).second) continue;
      if (it->second <= keep) {
        kept[op] = renamed[op];
      } else if (it->second < base) {
        trimmed.push_back(op.substr(0, kTrimmedOpPrefix));
      }
    }
    JournalRecord note;
    note.kind = kOpLogTrimmedKind;
    note.fields = {{"oldest_kept", report.oldest_kept}, {"abandoned", abandoned}, {"renamed", std::move(kept)},
                   {"trimmed", std::move(trimmed)}};
    FAB_TRY(factory.store().append_journal(line.id, note));
  }
  FAB_TRY(repo.collect_garbage());
  report.after = storage_size(factory);
  return report;
}

std::vector<std::string> describe(const GcReport& r) {
  std::vector<std::string> out;
  if (r.oldest_kept.empty()) {
    out.push_back(fmt::format("kept all {} operations: {}", r.operations_before, r.why));
  } else {
    out.push_back(fmt::format("kept {} of {} operations, from {} on: {}", r.operations_kept, r.operations_before,
                              r.oldest_kept.substr(0, 12), r.why));
  }
  out.push_back(fmt::format("repo storage: {} in {} files before, {} in {} files after", megabytes(r.before.bytes),
                            r.before.files, megabytes(r.after.bytes), r.after.files));
  for (const auto& w : r.warnings) out.push_back("warning: " + w);
  return out;
}

}  // namespace fab::engine
