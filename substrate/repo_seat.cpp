// Repo: the seat (fab's own workspace), git import/export, compare-and-swap bookmark moves, the
// operation log's details, and the snapshot that reports what jj refused to record.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "substrate/repo.h"

namespace fab {
namespace {

namespace fs = std::filesystem;

std::string read_small(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string chomp(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// jj's store's git repository: <root>/.jj/repo/store/git_target (relative to the store).
fs::path git_dir_of(const fs::path& root) {
  const auto store = root / ".jj" / "repo" / "store";
  fs::path target = chomp(read_small(store / "git_target"));
  if (target.empty()) return {};
  return fs::weakly_canonical(target.is_absolute() ? target : store / target);
}

// "commit_id change_id" lines, as kCommitSummary makes jj print them.
const std::string kCommitSummary =
    "templates.commit_summary=\"commit_id ++ \\\" \\\" ++ change_id\"";

}  // namespace

Repo Repo::at_seat(fs::path dir) const {
  Repo copy = *this;
  copy.m_seat = std::move(dir);
  return copy;
}

Status Repo::create_seat(const std::string& name, const fs::path& dir) const {
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  // With --ignore-working-copy jj registers the workspace and writes its .jj/ and then refuses to
  // check the working copy out ("This command must be able to update the working copy"): exactly
  // what a seat needs (an empty working copy on the root commit, never used), and the default
  // workspace — the user's checkout, index and HEAD — is not touched. The result is checked.
  auto o = m_jj.run({"workspace", "add", "--no-colocate", "--name", name, "-r", "root()", dir.string()},
                    {.repo = m_root, .snapshot = false, .cause = m_cause, .allow_failure = true});
  if (!o) return fail(o.error());
  if (!fs::exists(dir / ".jj" / "repo", ec)) {
    return fail(Error(fmt::format("cannot create fab's workspace '{}' in '{}'", name, dir.string())).caused_by(o->err));
  }
  // The seat's working-copy state must name the workspace's commit for later calls to load it.
  auto check = m_jj.run({"log", "--no-graph", "-r", "root()", "-T", "\"\""}, {.repo = dir});
  if (!check) return fail(check.error().context(fmt::format("fab's workspace in '{}' does not work", dir.string())));
  return {};
}

bool Repo::colocated() const {
  const auto git = git_dir_of(m_root);
  std::error_code ec;
  return !git.empty() && fs::equivalent(git, m_root / ".git", ec);
}

Status Repo::git_import() const { return run({"git", "import"}).map([](auto&&) {}); }

Status Repo::git_import_keeping_commits() const {
  return run({"git", "import"}, {.config = {"git.abandon-unreachable-commits=false"}}).map([](auto&&) {});
}

Result<std::vector<std::string>> Repo::git_export() const {
  FAB_TRY_ASSIGN(auto o, run({"git", "export"}));
  // "Warning: Failed to export some bookmarks:\n  main: ..." (one indented line per bookmark)
  std::vector<std::string> failed;
  bool in_list = false;
  for (const auto& line : split_lines(o.err)) {
    if (line.find("Failed to export") != std::string::npos) {
      in_list = true;
      continue;
    }
    if (in_list && line.rfind("  ", 0) == 0) {
      auto name = line.substr(2);
      name = name.substr(0, name.find_first_of(": "));
      if (!name.empty()) failed.push_back(name);
    } else {
      in_list = false;
    }
  }
  return failed;
}

std::optional<std::string> Repo::git_branch_commit(const std::string& branch) const {
  const auto git = git_dir_of(m_root);
  if (git.empty()) return std::nullopt;
  const std::string ref = "refs/heads/" + branch;
  std::error_code ec;
  if (fs::is_regular_file(git / ref, ec)) {
    auto id = chomp(read_small(git / ref));
    if (id.size() == 40) return id;
  }
  std::istringstream packed(read_small(git / "packed-refs"));
  for (std::string line; std::getline(packed, line);) {
    if (line.size() > 41 && line[40] == ' ' && line.compare(41, std::string::npos, ref) == 0) return line.substr(0, 40);
  }
  return std::nullopt;
}

Result<bool> Repo::move_bookmark_from(const std::string& name, const std::string& from, const std::string& to,
                                      bool allow_backwards) const {
  std::vector<std::string> args{"bookmark", "move", "exact:" + revset_string(name), "--from",
                                fmt::format("present({})", from), "--to", to};
  if (allow_backwards) args.push_back("--allow-backwards");
  auto ran = run(args);
  if (!ran) {
    // jj can fail after its operation is in (a full disk while it writes what follows): then the
    // bookmark did move, and saying it did not would make the caller act on a trunk that is not
    // there (an item treated as not landed while trunk holds it).
    auto now = query(fmt::format("bookmarks(exact:{})", revset_string(name)));
    if (now && now->size() == 1 && !to.empty() && now->front().commit_id.rfind(to, 0) == 0) return true;
    return fail(ran.error());
  }
  const auto& o = *ran;
  if (o.err.find("No bookmarks to update") != std::string::npos) return false;
  if (o.err.find("Moved 1 bookmarks") != std::string::npos || o.err.find("Moved 1 bookmark") != std::string::npos) {
    return true;
  }
  return fail_internal(fmt::format("cannot tell whether `jj bookmark move {}` moved it: {}", name, o.err));
}

Status Repo::delete_bookmark(const std::string& name) const {
  return run({"bookmark", "delete", "exact:" + revset_string(name)}).map([](auto&&) {});
}

Result<Repo::BookmarkRead> Repo::read_bookmark(const std::string& name, const std::string& seen) const {
  BookmarkRead read;
  if (seen.empty()) {
    FAB_TRY_ASSIGN(read.targets, query(fmt::format("bookmarks(exact:{})", revset_string(name))));
    return read;
  }
  // One read: the targets, each with whether it descends from / is an ancestor of `seen` (a hidden
  // `seen` is named by its commit ID, which jj resolves).
  const std::string set = fmt::format("bookmarks(exact:{})", revset_string(name));
  const std::string tmpl = fmt::format(
      R"(if(self.contained_in("{0}::"), "D", "-") ++ if(self.contained_in("::{0}"), "A", "-") ++ " ")", seen);
  FAB_TRY_ASSIGN(auto o, run({"log", "--no-graph", "-r", set, "-T", tmpl + " ++ commit_id ++ \"\\n\""}));
  std::vector<std::string> ids;
  bool desc = false, anc = false;
  for (const auto& line : split_lines(o.out)) {
    if (line.size() < 4) continue;
    desc = line[0] == 'D';
    anc = line[1] == 'A';
    ids.push_back(line.substr(3));
  }
  if (ids.empty()) return read;
  std::string revset;
  for (const auto& id : ids) revset += (revset.empty() ? "" : "|") + id;
  FAB_TRY_ASSIGN(read.targets, query(revset));
  if (read.targets.size() == 1) {
    read.descends_from_seen = desc;
    read.ancestor_of_seen = anc;
  }
  return read;
}

Result<std::vector<Operation>> Repo::operations_since(const std::string& op) const {
  // Usually a handful: read a few first, and all only when `op` is further back.
  for (std::size_t limit : {std::size_t{32}, std::size_t{0}}) {
    FAB_TRY_ASSIGN(auto ops, operations(limit));
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].id == op) {
        ops.resize(i);
        return ops;
      }
    }
    if (limit > 0 && ops.size() < limit) break;
  }
  return fail(fmt::format("operation {} is not in the operation log", op.substr(0, 12)),
              "it was abandoned (`jj op abandon`) or belongs to another repo");
}

Result<OperationChanges> Repo::operation_changes(const std::string& op) const {
  FAB_TRY_ASSIGN(auto o, run({"op", "show", op, "--no-graph", "-T", "\"\""}, {.config = {kCommitSummary}}));
  OperationChanges changes;
  enum class Section { none, commits, bookmarks, other } section = Section::none;
  OperationChanges::BookmarkChange* bookmark = nullptr;
  auto parse_commit = [](const std::string& text) -> std::optional<OperationChanges::CommitChange> {
    auto space = text.find(' ');
    if (space != 40) return std::nullopt;
    auto id = ChangeId::parse(text.substr(41));
    if (!id) return std::nullopt;
    return OperationChanges::CommitChange{text.substr(0, 40), *id};
  };
  for (const auto& line : split_lines(o.out)) {
    if (line.empty()) continue;
    if (line == "Changed commits:") {
      section = Section::commits;
      continue;
    }
    if (line == "Changed local bookmarks:") {
      section = Section::bookmarks;
      continue;
    }
    if (line.rfind("Changed ", 0) == 0 && line.back() == ':') {
      section = Section::other;
      continue;
    }
    const bool plus = line.rfind("+ ", 0) == 0;
    const bool minus = line.rfind("- ", 0) == 0;
    if (section == Section::commits && (plus || minus)) {
      if (auto c = parse_commit(line.substr(2))) (plus ? changes.added : changes.removed).push_back(*c);
    } else if (section == Section::bookmarks) {
      if (!plus && !minus && line.back() == ':') {
        changes.bookmarks.push_back({line.substr(0, line.size() - 1), {}, {}});
        bookmark = &changes.bookmarks.back();
      } else if (bookmark && (plus || minus)) {
        const auto text = line.substr(2);
        if (text == "(absent)") continue;
        auto& side = plus ? bookmark->now : bookmark->before;
        side.push_back(text.substr(0, text.find(' ')));
      }
    }
  }
  return changes;
}

Result<std::vector<std::string>> Repo::operation_ancestry(const std::string& op) const {
  FAB_TRY_ASSIGN(auto o, run({"op", "log", "--no-graph", "-T", "id ++ \"\\n\""}, {.at_operation = op}));
  std::vector<std::string> ids;
  for (auto& line : split_lines(o.out)) {
    if (!line.empty()) ids.push_back(std::move(line));
  }
  return ids;
}

Status Repo::revert_operation(const std::string& op) const {
  return run({"op", "revert", op}).map([](auto&&) {});
}

Status Repo::describe(const std::string& revision, const std::string& description) const {
  return run({"describe", "-r", revision, "-m", description}).map([](auto&&) {});
}

Status Repo::abandon_commits(const std::vector<std::string>& commit_ids) const {
  if (commit_ids.empty()) return {};
  std::string set;
  for (const auto& id : commit_ids) set += (set.empty() ? "" : "|") + id;
  return run({"abandon", set}).map([](auto&&) {});
}

Status Repo::restore_into(const std::string& from, const std::string& into) const {
  return run({"restore", "--from", from, "--into", into}).map([](auto&&) {});
}

Status Repo::rebase_revision(const std::string& revision, const std::string& destination) const {
  return run({"rebase", "-r", revision, "-o", destination}).map([](auto&&) {});
}

Status Repo::commit_working_copy(const std::string& message) const {
  return run({"commit", "-m", message}, {.repo = m_root, .snapshot = true}).map([](auto&&) {});
}

Status Repo::rebase_source(const std::string& source, const std::string& destination) const {
  return run({"rebase", "-s", source, "-o", destination}).map([](auto&&) {});
}

}  // namespace fab
