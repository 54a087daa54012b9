#include "substrate/repo.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "substrate/git_version.h"
#include "substrate/process.h"

namespace fab {
namespace {

namespace fs = std::filesystem;

// One JSON object per commit, one jj call per query.
constexpr const char* kCommitTemplate =
    R"("{\"change_id\":" ++ json(change_id) ++ ",\"commit_id\":" ++ json(commit_id)
    ++ ",\"parents\":" ++ json(parents.map(|c| c.commit_id())) ++ ",\"description\":" ++ json(description)
    ++ ",\"empty\":" ++ json(empty) ++ ",\"conflict\":" ++ json(conflict)
    ++ ",\"bookmarks\":" ++ json(local_bookmarks.map(|b| b.name())) ++ "}\n")";

// The same object with a "diff" member for the commits in `diff_revset` (null for the others).
std::string commit_template_with_diffs(const std::string& diff_revset) {
  std::string t = kCommitTemplate;
  const std::string end = R"("}\n")";
  t.resize(t.size() - end.size());
  return t + fmt::format(R"(",\"diff\":" ++ if(self.contained_in({}), json(stringify(self.diff().git())), "null") ++ "}}\n")",
                         quoted_string(diff_revset, OtherControls::drop));
}

Result<Commit> commit_from_json(const nlohmann::json& j) {
  FAB_TRY_ASSIGN(auto change, ChangeId::parse(j.at("change_id").get<std::string>()));
  Commit c{change, j.at("commit_id").get<std::string>(), j.at("parents").get<std::vector<std::string>>(),
           j.at("description").get<std::string>(), j.at("empty").get<bool>(), j.at("conflict").get<bool>(),
           j.at("bookmarks").get<std::vector<std::string>>(), std::nullopt};
  if (auto d = j.find("diff"); d != j.end() && d->is_string()) c.diff = d->get<std::string>();
  return c;
}

// One commit per line of `out`. jj cannot write a diff that is not UTF-8 (an agent wrote a Latin-1
// file) as JSON: its json() gives `<Error: invalid utf-8 sequence ...>` instead, as the object's last
// member. Such a commit is read with no diff and its index is put in `raw_diffs` (when given), for
// parse_commits_with_diffs. (`,"diff":<` cannot occur inside a JSON string: its quote would be escaped.)
Result<std::vector<Commit>> parse_commits(const std::string& out, std::vector<std::size_t>* raw_diffs = nullptr) {
  constexpr std::string_view kNotJson = R"(,"diff":<Error: )";
  std::vector<Commit> commits;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto at = raw_diffs ? line.rfind(kNotJson) : std::string::npos;
    const bool raw = at != std::string::npos && line.ends_with(">}");
    if (raw) line = line.substr(0, at) + R"(,"diff":null})";
    try {
      FAB_TRY_ASSIGN(auto c, commit_from_json(nlohmann::json::parse(line)));
      commits.push_back(std::move(c));
    } catch (const nlohmann::json::exception& e) {
      return fail_internal(fmt::format("cannot read jj's commit JSON: {} in '{}'", e.what(), line));
    }
    if (raw) raw_diffs->push_back(commits.size() - 1);
  }
  return commits;
}

// parse_commits for a template with diffs: the diffs it could not read from jj's JSON are read as
// bytes, `jj diff --git` writing the same text as the template's `diff().git()` unencoded (one jj
// call each, only for those).
Result<std::vector<Commit>> parse_commits_with_diffs(const Repo& repo, const std::string& out) {
  std::vector<std::size_t> raw;
  FAB_TRY_ASSIGN(auto commits, parse_commits(out, &raw));
  for (const auto i : raw) {
    FAB_TRY_ASSIGN(auto o, repo.run({"diff", "--git", "-r", commits.at(i).commit_id}));
    commits[i].diff = std::move(o.out);
  }
  return commits;
}


// A private temporary directory, removed on destruction.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "fab-jj-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

Status write_text(const fs::path& p, const std::string& content) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) return fail_internal(fmt::format("cannot write '{}'", p.string()));
  return {};
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// flock(LOCK_EX), again after a signal interrupted it (fab's stop signals are installed without
// SA_RESTART).
void lock_exclusive(int fd) {
  while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
}

// A fileset naming exactly one file relative to the repo root.
std::string root_file(const std::string& path) { return "root-file:" + revset_string(path); }

}  // namespace

std::string revset_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string revset_of(const std::vector<ChangeId>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : "|") + id.str();
  return out.empty() ? "none()" : out;
}

std::vector<std::string> revset_unions(const std::vector<std::string>& terms, std::size_t max_bytes) {
  std::vector<std::string> out;
  std::string piece;
  for (const auto& t : terms) {
    if (!piece.empty() && piece.size() + 1 + t.size() > max_bytes) out.push_back(std::exchange(piece, {}));
    piece += (piece.empty() ? "" : "|") + t;
  }
  if (!piece.empty()) out.push_back(std::move(piece));
  return out;
}

std::vector<std::string> revset_unions(const std::vector<ChangeId>& ids, std::size_t max_bytes) {
  std::vector<std::string> terms;
  terms.reserve(ids.size());
  for (const auto& id : ids) terms.push_back(id.str());
  return revset_unions(terms, max_bytes);
}

std::string present_union(const std::vector<std::string>& revisions) {
  std::string out;
  for (const auto& r : revisions) out += (out.empty() ? "present(" : "|present(") + r + ")";
  return out.empty() ? "none()" : out;
}

std::vector<std::string> present_unions(const std::vector<std::string>& revisions, std::size_t max_bytes) {
  std::vector<std::string> terms;
  terms.reserve(revisions.size());
  for (const auto& r : revisions) terms.push_back("present(" + r + ")");
  return revset_unions(terms, max_bytes);
}

Result<Repo> Repo::init(const fs::path& dir, JjRunner jj, Backing backing) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(fmt::format("cannot create '{}': {}", dir.string(), ec.message()));
  auto root = fs::canonical(dir);
  const char* mode = backing == Backing::existing_git ? "--colocate" : "--no-colocate";
  auto r = jj.run({"git", "init", mode, root.string()}, JjCall{.repo = {}, .snapshot = true});
  if (!r) return fail(r.error().context(fmt::format("cannot create a jj repo in '{}'", root.string())));
  return Repo(root, std::move(jj));
}

Result<Repo> Repo::open(const fs::path& dir, JjRunner jj) {
  std::error_code ec;
  auto root = fs::canonical(dir, ec);
  if (ec || !fs::is_directory(root / ".jj")) {
    return fail(fmt::format("'{}' is not a jj repository (no .jj directory)", dir.string()),
                "run `fab init` there to make it a factory");
  }
  return Repo(root, std::move(jj));
}

Result<fs::path> Repo::find_root(const fs::path& from) {
  std::error_code ec;
  auto dir = fs::canonical(from, ec);
  if (ec) return fail(fmt::format("'{}' does not exist", from.string()));
  for (auto d = dir;; d = d.parent_path()) {
    if (fs::is_directory(d / ".jj")) return d;
    if (d == d.parent_path()) break;
  }
  return fail(fmt::format("'{}' is not inside a jj repository", dir.string()), "run `fab init` to create a factory");
}

Repo Repo::with_cause(std::string cause) const {
  Repo copy = *this;
  copy.m_cause = std::move(cause);
  return copy;
}

Result<JjOutput> Repo::run(const std::vector<std::string>& args, JjCall call) const {
  if (call.repo.empty()) call.repo = call_dir();
  if (call.cause.empty()) call.cause = m_cause;
  return m_jj.run(args, call);
}

// --- reads ---------------------------------------------------------------------------------------

Result<std::vector<Commit>> Repo::query(const std::string& revset, const std::optional<std::string>& at_op) const {
  FAB_TRY_ASSIGN(auto o, run({"log", "--no-graph", "-r", revset, "-T", kCommitTemplate}, {.at_operation = at_op}));
  return parse_commits(o.out);
}

Result<std::vector<Commit>> Repo::query_with_diffs(const std::string& revset, const std::string& diff_revset) const {
  FAB_TRY_ASSIGN(auto o, run({"log", "--no-graph", "-r", revset, "-T", commit_template_with_diffs(diff_revset)}));
  return parse_commits_with_diffs(*this, o.out);
}

Result<std::optional<std::string>> Repo::file_content(const std::string& revision, const std::string& path) const {
  FAB_TRY_ASSIGN(auto o, run({"file", "show", "-r", revision, root_file(path)}, {.allow_failure = true}));
  if (o.exit_code == 0) return std::optional<std::string>(std::move(o.out));
  if (o.err.find("No such path") != std::string::npos) return std::optional<std::string>();
  return fail(Error(fmt::format("cannot read '{}' at {}", path, revision)).caused_by(o.err));
}

Result<Commit> Repo::commit(const ChangeId& id) const {
  FAB_TRY_ASSIGN(auto commits, query(id.str()));
  if (commits.size() != 1) {
    return fail(fmt::format("change {} is {}", id.short_id(), commits.empty() ? "not in the repo" : "divergent"),
                "look at it with `jj log -r " + id.short_id() + "`");
  }
  return commits.front();
}

Result<ChangeId> Repo::resolve_change(std::string_view prefix) const {
  if (!ChangeId::is_prefix_shaped(prefix)) {
    return fail(fmt::format("'{}' is not a change ID or prefix (change IDs use the letters k-z)", prefix));
  }
  auto o = run({"log", "--no-graph", "-r", fmt::format("change_id({})", prefix), "-T", "change_id ++ \"\\n\""},
               {.allow_failure = true});
  if (!o) return fail(o.error());
  if (o->exit_code != 0) {
    return fail(Error(fmt::format("change ID prefix '{}' does not name one change", prefix))
                    .caused_by(o->err.substr(0, o->err.find('\n'))));
  }
  std::istringstream in(o->out);
  std::vector<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ids.push_back(line);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() != 1) {
    return fail(fmt::format("change ID prefix '{}' {}", prefix, ids.empty() ? "matches no change" : "is ambiguous"),
                "give more characters of the change ID");
  }
  return ChangeId::parse(ids.front());
}

Result<std::string> Repo::current_operation() const {
  // jj keeps the current operation as the one file in .jj/repo/op_heads/heads/ (several while
  // concurrent operations await a merge). Reading it saves a jj process per transition; anything
  // unexpected falls back to asking jj.
  std::error_code ec;
  std::string head;
  int heads = 0;
  for (fs::directory_iterator it(m_root / ".jj" / "repo" / "op_heads" / "heads", ec), end; !ec && it != end;
       it.increment(ec)) {
    head = it->path().filename().string();
    ++heads;
  }
  const bool hex = !head.empty() && head.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (!ec && heads == 1 && hex) return head;
  FAB_TRY_ASSIGN(auto o, run({"op", "log", "--no-graph", "-n", "1", "-T", "id"}));
  return trimmed(o.out);
}

Result<std::map<std::string, std::string>> Repo::git_diffs(const std::vector<ChangeId>& ids) const {
  std::map<std::string, std::string> diffs;
  if (ids.empty()) return diffs;
  for (const auto& set : revset_unions(ids)) {
    FAB_TRY_ASSIGN(auto commits, query_with_diffs(set, set));
    for (auto& c : commits) diffs[c.change_id.str()] = std::move(c.diff).value_or("");
  }
  return diffs;
}

// --- changes -------------------------------------------------------------------------------------

Result<ChangeId> Repo::create_change(const std::string& parent, const std::string& description) const {
  FAB_TRY_ASSIGN(auto ids, create_changes(parent, {description}));
  return ids.front();
}

namespace {

// Makes jj report new commits as "<commit id> <change id>", in full, so nothing has to be re-read.
const std::string kFullSummary = "templates.commit_summary=" + toml_string(R"(commit_id ++ " " ++ change_id)");

// A jj template string literal.
std::string template_string(std::string_view s) { return quoted_string(s, OtherControls::drop); }

struct NewCommit {
  std::string commit_id;
  std::string change_id;
};

// A line of jj's stderr under kFullSummary: "<words> <40 hex commit id> <32 k-z change id>".
std::optional<NewCommit> parse_summary(std::string_view line) {
  auto space = line.rfind(' ');
  if (space == std::string_view::npos || space < 41) return std::nullopt;
  NewCommit c{std::string(line.substr(space - 40, 40)), std::string(line.substr(space + 1))};
  if (!ChangeId::parse(c.change_id)) return std::nullopt;
  return c;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A template that maps a commit ID to a description: a trie over the IDs' hex digits, so each
// commit jj duplicates checks about 16 conditions per level instead of one per entry (which made a
// 500-commit batch quadratic). `plan` is sorted; [begin, end) share their first `depth` digits.
std::string description_by_commit(const std::vector<std::pair<std::string, std::string>>& plan, std::size_t begin,
                                  std::size_t end, std::size_t depth) {
  std::string out;
  auto append = [&](std::string term) { out += (out.empty() ? "" : " ++ ") + term; };
  if (end - begin <= 8 || depth >= 39) {
    for (auto i = begin; i < end; ++i) {
      append(fmt::format(R"(if(commit_id.short(40) == "{}", {}))", plan[i].first, template_string(plan[i].second)));
    }
    return out;
  }
  for (auto i = begin; i < end;) {
    auto j = i;
    while (j < end && plan[j].first[depth] == plan[i].first[depth]) ++j;
    append(fmt::format(R"(if(commit_id.short({}) == "{}", {}))", depth + 1, plan[i].first.substr(0, depth + 1),
                       description_by_commit(plan, i, j, depth + 1)));
    i = j;
  }
  return out;
}

// Keeps the template (one argument of one `jj duplicate`) under Linux's 128 KiB argument limit.
constexpr std::size_t kMaxTemplateBytes = 96 * 1024;

}  // namespace

Result<std::vector<ChangeId>> Repo::create_changes_by_duplicate(const std::string& parent,
                                                                const std::vector<std::string>& descriptions) const {
  if (descriptions.empty()) return std::vector<ChangeId>{};
  // One `jj new` for the first change, then `jj duplicate` doubles what exists until there are
  // enough: O(log n) operations. A duplicate_description template keyed by the source's commit ID
  // gives every copy its own final description as it is made, so each commit is written once.
  std::vector<NewCommit> made;
  FAB_TRY_ASSIGN(auto first, run({"new", "--no-edit", "-m", descriptions[0], parent}, {.config = {kFullSummary}}));
  for (const auto& line : lines_of(first.err)) {
    if (line.rfind("Created new commit ", 0) == 0) {
      if (auto c = parse_summary(line)) made.push_back(*c);
    }
  }
  if (made.size() != 1) return fail_internal("cannot read the new commit from jj's output: " + first.err);

  while (made.size() < descriptions.size()) {
    const std::size_t have = made.size();
    std::vector<std::string> args{"duplicate"};
    std::vector<std::pair<std::string, std::string>> plan;  // source commit id -> copy's description
    std::size_t take = 0, bytes = 0;
    while (take < have && have + take < descriptions.size()) {
      bytes += descriptions[have + take].size() + 120;
      if (take > 0 && bytes > kMaxTemplateBytes) break;
      plan.emplace_back(made[take].commit_id, descriptions[have + take]);
      args.push_back(made[take].commit_id);
      ++take;
    }
    std::sort(plan.begin(), plan.end());
    const auto tmpl = description_by_commit(plan, 0, plan.size(), 0);
    FAB_TRY_ASSIGN(auto o, run(args, {.config = {kFullSummary, "templates.duplicate_description=" + toml_string(tmpl)}}));
    std::vector<std::optional<NewCommit>> copies(take);
    for (const auto& line : lines_of(o.err)) {
      // "Duplicated <source's short commit id> as <commit id> <change id>"
      if (line.rfind("Duplicated ", 0) != 0) continue;
      const auto source = line.substr(11, line.find(' ', 11) - 11);
      const auto copy = parse_summary(line);
      for (std::size_t j = 0; j < take && copy; ++j) {
        if (made[j].commit_id.rfind(source, 0) == 0) copies[j] = copy;
      }
    }
    for (std::size_t j = 0; j < take; ++j) {
      if (!copies[j]) return fail_internal("cannot read the duplicated commits from jj's output: " + o.err);
      made.push_back(*copies[j]);
    }
  }
  std::vector<ChangeId> ids;
  for (const auto& c : made) {
    FAB_TRY_ASSIGN(auto id, ChangeId::parse(c.change_id));
    ids.push_back(id);
  }
  return ids;
}

// --- batch creation through git fast-import --------------------------------------------------------

namespace {

constexpr const char* kRootCommit = "0000000000000000000000000000000000000000";
const std::string kImportRefs = "refs/heads/fab-import/";  // and the bookmarks jj makes of them: fab-import/...

// The jj repo directory: .jj/repo, or where a secondary workspace's .jj/repo file points.
fs::path jj_repo_dir(const fs::path& root) {
  const auto p = root / ".jj" / "repo";
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return p;
  fs::path target = trimmed(read_text(p));
  return (target.is_absolute() ? target : root / ".jj" / target).lexically_normal();
}

// The git repo behind a git-backed jj store (store/git_target is relative to the store), or empty.
fs::path backing_git_dir(const fs::path& repo_dir) {
  const auto store = repo_dir / "store";
  std::error_code ec;
  if (trimmed(read_text(store / "type")) != "git") return {};
  fs::path target = trimmed(read_text(store / "git_target"));
  if (target.empty()) return {};
  auto dir = (target.is_absolute() ? target : store / target).lexically_normal();
  return fs::is_directory(dir, ec) ? dir : fs::path{};
}

// A failing git call, like jj_failure: the command, then git's stderr as causes.
Error git_failure(const std::vector<std::string>& argv, const ProcessResult& r) {
  std::string cmd = "git";
  for (std::size_t i = 1; i < argv.size(); ++i) cmd += " " + argv[i];
  Error e(fmt::format("`{}` failed ({})", cmd, r.describe()));
  std::istringstream in(r.err.empty() ? r.out : r.err);
  std::size_t more = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (e.causes.size() < 10) {
      e.causes.push_back(line);
    } else {
      ++more;
    }
  }
  if (more > 0) e.causes.push_back(fmt::format("(and {} more lines)", more));
  e.hint = "fab writes new changes in batches with git fast-import; FAB_BATCH=duplicate makes it use jj alone";
  return e;
}

Result<ProcessResult> run_git(const fs::path& git, const fs::path& git_dir, const std::vector<std::string>& args,
                              std::optional<std::string> stdin_data = std::nullopt) {
  std::vector<std::string> argv = exec_argv_of(git);
  argv.push_back("--git-dir=" + git_dir.string());
  argv.insert(argv.end(), args.begin(), args.end());
  // Nothing from a surrounding git invocation (a hook, say) may redirect this one.
  auto r = run_process({.argv = argv,
                        .env_remove = {"GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE",
                                       "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE"},
                        .stdin_data = std::move(stdin_data)});
  if (!r) return fail(r.error().context("cannot run git"));
  spdlog::debug("git {} -> {} in {:.1f} ms", fmt::join(args, " "), r->signal ? -r->signal : r->exit_code,
                static_cast<double>(r->duration.count()) / 1000.0);
  if (!r->ok()) {
    std::vector<std::string> shown{"git", "--git-dir=" + git_dir.string()};
    shown.insert(shown.end(), args.begin(), args.end());
    return fail(git_failure(shown, *r));
  }
  return *r;
}

// The refs under refs/heads/fab-import/ (full names).
Result<std::vector<std::string>> import_refs(const fs::path& git, const fs::path& git_dir) {
  FAB_TRY_ASSIGN(auto r, run_git(git, git_dir, {"for-each-ref", "--format=%(refname)", kImportRefs}));
  std::vector<std::string> refs;
  for (auto& line : lines_of(r.out)) {
    if (!line.empty()) refs.push_back(std::move(line));
  }
  return refs;
}

// Unique per call, across threads and processes.
std::string import_token() {
  static std::atomic<unsigned> counter{0};
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  return fmt::format("{}-{}-{}", ::getpid(), ns, counter++);
}

// A description as jj stores what `jj new -m` is given: a final newline added if missing.
std::string jj_description(const std::string& d) { return d.empty() || d.back() == '\n' ? d : d + "\n"; }

// "Name <email> <seconds> <+hhmm>" (in the local time zone, as jj writes its own commits).
std::string git_signature(const JjIdentity& id, std::int64_t when) {
  auto clean = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c != '<' && c != '>' && c != '\n' && c != '\0') out += c;
    }
    return trimmed(out);
  };
  std::time_t t = static_cast<std::time_t>(when);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  const long minutes = tm.tm_gmtoff / 60;
  const auto name = clean(id.name);
  return fmt::format("{}<{}> {} {}{:02}{:02}", name.empty() ? "" : name + " ", clean(id.email), when,
                     minutes < 0 ? '-' : '+', std::abs(minutes) / 60, std::abs(minutes) % 60);
}

// The import lock file holds the last committer timestamp a batch used.
std::int64_t read_clock(int fd) {
  char buf[32] = {};
  const auto n = ::pread(fd, buf, sizeof buf - 1, 0);
  return n > 0 ? std::strtoll(buf, nullptr, 10) : 0;
}

void write_clock(int fd, std::int64_t t) {
  const auto text = std::to_string(t) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    spdlog::warn("cannot record the last import timestamp in the import lock file");
  }
}

}  // namespace

Result<std::vector<ChangeId>> Repo::create_changes(const std::string& parent,
                                                   const std::vector<std::string>& descriptions) const {
  return create_changes_shaped(parent, descriptions, false);
}

Result<std::vector<ChangeId>> Repo::create_stack(const std::string& parent,
                                                 const std::vector<std::string>& descriptions) const {
  return create_changes_shaped(parent, descriptions, true);
}

Result<std::vector<ChangeId>> Repo::create_changes_shaped(const std::string& parent,
                                                          const std::vector<std::string>& descriptions,
                                                          bool stacked) const {
  if (descriptions.empty()) return std::vector<ChangeId>{};
  const char* env = std::getenv("FAB_BATCH");
  const std::string method = env ? env : "";
  if (method == "duplicate") return create_changes_by_duplicate(parent, descriptions);
  if (!method.empty() && method != "auto") {
    return fail(fmt::format("FAB_BATCH is '{}', which fab does not know", method),
                "set FAB_BATCH to `duplicate` (create changes with jj alone) or `auto`, or unset it");
  }
  const auto repo_dir = jj_repo_dir(m_root);
  const auto git_dir = backing_git_dir(repo_dir);
  fs::path git;
  if (!git_dir.empty()) {
    if (auto v = git_version()) git = v->path;
  }
  if (git.empty()) return create_changes_by_duplicate(parent, descriptions);

  // `parent` as exactly one commit (jj new's rule for a single revision).
  FAB_TRY_ASSIGN(auto o, run({"log", "--no-graph", "-r", parent, "-T", R"(commit_id ++ " " ++ conflict ++ "\n")"}));
  std::vector<std::string> parents;
  for (auto& line : lines_of(o.out)) {
    if (!line.empty()) parents.push_back(std::move(line));
  }
  if (parents.size() != 1) {
    return fail(fmt::format("the parent '{}' of the new changes names {} commits, not one", parent, parents.size()),
                "give a revision that names exactly one commit (a change ID, a bookmark, a commit ID)");
  }
  const auto space = parents[0].find(' ');
  const auto commit_id = parents[0].substr(0, space);
  // A fast-import child keeps its parent's git tree, which for a conflicted jj commit is jj's
  // encoding of the conflict, not the conflict: only jj can make children of those.
  if (space == std::string::npos || parents[0].substr(space + 1) != "false") {
    return create_changes_by_duplicate(commit_id, descriptions);
  }
  return create_changes_by_import(git, git_dir, repo_dir.parent_path() / "fab-import.lock", commit_id, descriptions,
                                  stacked);
}

Status Repo::clean_import_leftovers(const fs::path& git, const fs::path& git_dir) const {
  // A crashed call leaves its refs in git: unknown to jj (before its `jj git import`), or known as
  // bookmarks (before its `jj bookmark delete` + `jj git export`). No refs: nothing to clean.
  FAB_TRY_ASSIGN(auto refs, import_refs(git, git_dir));
  if (refs.empty()) return {};
  spdlog::warn("removing {} temporary ref(s) under {} in {}, left by an interrupted or failed batch creation",
               refs.size(), kImportRefs, git_dir.string());
  const std::string glob = "glob:" + revset_string(kImportRefs.substr(11) + "*");
  FAB_TRY_ASSIGN(auto listed, run({"bookmark", "list", "--all-remotes", "-T", R"(name ++ "\n")", glob}));
  std::set<std::string> known;
  for (auto& line : lines_of(listed.out)) {
    if (!line.empty()) known.insert("refs/heads/" + line);
  }
  if (!known.empty()) {
    // Through jj, so that it stops recording them: a ref that vanished behind its back would make
    // the next `jj git import` abandon the commits only it reached.
    FAB_TRY(run({"bookmark", "delete", glob}));
    FAB_TRY(run({"git", "export"}));
    FAB_TRY_ASSIGN(refs, import_refs(git, git_dir));
  }
  std::string deletes;
  for (const auto& ref : refs) {
    if (known.count(ref) == 0) deletes += "delete " + ref + "\n";
  }
  if (!deletes.empty()) FAB_TRY(run_git(git, git_dir, {"update-ref", "--stdin"}, deletes));
  return {};
}

Result<std::vector<ChangeId>> Repo::create_changes_by_import(const fs::path& git, const fs::path& git_dir,
                                                             const fs::path& lock_file, const std::string& parent_commit,
                                                             const std::vector<std::string>& descriptions,
                                                             bool stacked) const {
  static std::mutex in_process;
  std::lock_guard guard(in_process);
  // And across processes: an flock on a file inside .jj/.
  int fd = ::open(lock_file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return fail_internal(fmt::format("cannot open the import lock '{}'", lock_file.string()));
  lock_exclusive(fd);
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{fd};

  FAB_TRY(clean_import_leftovers(git, git_dir));

  // One commit per description, each on its own temporary ref, all in one fast-import. Committer
  // times start now or just past the previous batch's, and repeats of a description within the
  // batch get a second more each: equal commits would be one commit, so one change, not two.
  const auto token = import_token();
  const std::string bookmark_prefix = kImportRefs.substr(11) + token + "/";
  const std::int64_t base = std::max<std::int64_t>(std::time(nullptr), read_clock(fd) + 1);
  std::int64_t last = base;
  std::unordered_map<std::string, std::int64_t> repeats;
  // A stack is written from its bottom (the last description) up, each commit marked :<i+1> so
  // that the one above can name it as its parent.
  std::string stream;
  const std::size_t n = descriptions.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = stacked ? n - 1 - k : k;
    const auto text = jj_description(descriptions[i]);
    const auto when = base + repeats[text]++;
    last = std::max(last, when);
    const auto who = git_signature(m_jj.identity(), when);
    stream += fmt::format("commit refs/heads/{}{}\nmark :{}\nauthor {}\ncommitter {}\ndata {}\n", bookmark_prefix, i,
                          i + 1, who, who, text.size());
    stream += text;
    stream += '\n';
    if (stacked && k > 0) {
      stream += fmt::format("from :{}\n", i + 2);
    } else if (parent_commit != kRootCommit) {
      // jj's root commit is not a git commit: its children have no parent in git.
      stream += fmt::format("from {}\n", parent_commit);
    }
  }
  stream += "done\n";  // with --done, a cut-off stream writes nothing
  write_clock(fd, last);
  if (auto written = run_git(git, git_dir, {"fast-import", "--quiet", "--done"}, stream); !written) {
    (void)clean_import_leftovers(git, git_dir);
    return fail(written.error().context("cannot write the new changes' commits"));
  }

  // From here on jj may know the commits: a failure abandons them (all or nothing).
  const std::string ours = fmt::format("bookmarks(glob:{})", revset_string(bookmark_prefix + "*"));
  auto undo = [&](Error e, const std::vector<ChangeId>& ids) -> tl::unexpected<Error> {
    auto abandoned = ids.empty() ? run({"abandon", ours}).map([](auto&&) {}) : abandon(ids);
    if (!abandoned) return fail(e.caused_by("and abandoning its new changes failed too: " + abandoned.error().message));
    if (auto cleaned = clean_import_leftovers(git, git_dir); !cleaned) {
      e.caused_by("its new changes were abandoned, but removing its temporary bookmarks failed: " +
                  cleaned.error().message);
    }
    return fail(std::move(e));
  };
  if (auto imported = run({"git", "import"}); !imported) {
    return undo(imported.error().context("cannot import the new changes' commits into jj"), {});
  }
  auto mapped = run({"log", "--no-graph", "-r", ours, "-T",
                     R"(change_id ++ " " ++ local_bookmarks.map(|b| b.name()).join(" ") ++ "\n")"});
  if (!mapped) return undo(mapped.error().context("cannot read the new changes' IDs"), {});
  std::vector<std::optional<ChangeId>> slots(descriptions.size());
  std::size_t filled = 0;
  for (const auto& line : lines_of(mapped->out)) {
    std::istringstream words(line);
    std::string change, name;
    words >> change;
    auto id = ChangeId::parse(change);
    while (id && words >> name) {
      if (name.rfind(bookmark_prefix, 0) != 0) continue;
      const auto index = name.substr(bookmark_prefix.size());
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos) continue;
      const auto i = std::stoul(index);
      if (i < slots.size() && !slots[i]) {
        slots[i] = *id;
        ++filled;
      }
    }
  }
  std::vector<ChangeId> ids;
  for (auto& slot : slots) {
    if (slot) ids.push_back(*slot);
  }
  const std::size_t distinct = std::set<ChangeId>(ids.begin(), ids.end()).size();
  if (filled != descriptions.size() || distinct != ids.size()) {
    return undo(Error(fmt::format("jj made {} distinct changes of {} imported commits", distinct, descriptions.size()),
                      ErrorKind::internal)
                    .caused_by(mapped->out.substr(0, 2000)),
                {});
  }
  if (auto removed = run({"bookmark", "delete", "glob:" + revset_string(bookmark_prefix + "*")}); !removed) {
    return undo(removed.error().context("cannot remove the new changes' temporary bookmarks"), ids);
  }
  // A non-colocated repo does not export by itself; without it the refs would stay in git.
  if (auto exported = run({"git", "export"}); !exported) {
    return undo(exported.error().context("cannot remove the new changes' temporary refs"), ids);
  }
  return ids;
}

Status Repo::abandon(const std::vector<ChangeId>& ids) const {
  // A line of thousands of items takes one operation per piece of the revset.
  for (const auto& set : revset_unions(ids)) FAB_TRY(run({"abandon", set}));
  return {};
}

Status Repo::rebase_revisions(const std::vector<ChangeId>& ids, const std::string& destination,
                              bool separately) const {
  if (ids.empty()) return {};
  std::vector<std::string> args{"rebase"};
  for (const auto& id : ids) {
    args.push_back("-r");
    args.push_back(id.str());
  }
  args.push_back("-o");
  args.push_back(destination);
  FAB_TRY(run(args));
  if (!separately || ids.size() == 1) return {};
  // jj kept the edges among them: those still on another one go again, until none is (k of them
  // next to each other in a stack take k operations in all; one change, or none adjacent, one).
  for (std::size_t round = 1; round < ids.size(); ++round) {
    const auto set = revset_of(ids);
    FAB_TRY_ASSIGN(auto stacked, query(fmt::format("({}) & children({})", set, set)));
    if (stacked.empty()) return {};
    std::vector<std::string> again{"rebase"};
    for (const auto& c : stacked) {
      again.push_back("-r");
      again.push_back(c.commit_id);
    }
    again.push_back("-o");
    again.push_back(destination);
    FAB_TRY(run(again));
  }
  return {};
}

Result<std::vector<ChangeId>> Repo::rebase(const std::vector<ChangeId>& ids, const std::string& destination) const {
  if (ids.empty()) return std::vector<ChangeId>{};
  FAB_TRY(rebase_revisions(ids, destination));
  std::vector<ChangeId> conflicted;
  for (const auto& set : revset_unions(ids)) {
    FAB_TRY_ASSIGN(auto commits, query(fmt::format("({}) & conflicts()", set)));
    for (auto& c : commits) conflicted.push_back(c.change_id);
  }
  return conflicted;
}

// --- bookmarks -----------------------------------------------------------------------------------

Result<std::optional<Commit>> Repo::bookmark(const std::string& name) const {
  FAB_TRY_ASSIGN(auto commits, query(fmt::format("bookmarks(exact:{})", revset_string(name))));
  if (commits.empty()) return std::optional<Commit>{};
  if (commits.size() > 1) return fail(fmt::format("bookmark '{}' is conflicted", name), "run `jj bookmark list`");
  return std::optional<Commit>{commits.front()};
}

Status Repo::set_bookmark(const std::string& name, const std::string& revision, bool allow_backwards) const {
  std::vector<std::string> args{"bookmark", "set", name, "-r", revision};
  if (allow_backwards) args.push_back("--allow-backwards");
  return run(args).map([](auto&&) {});
}

// --- conflicts -----------------------------------------------------------------------------------

Result<std::vector<std::string>> Repo::conflicted_paths(const ChangeId& id) const {
  FAB_TRY_ASSIGN(auto o, run({"resolve", "--list", "-r", id.str()}, {.allow_failure = true}));
  std::vector<std::string> paths;
  if (o.exit_code != 0) {
    if (o.err.find("No conflicts") != std::string::npos) return paths;
    return fail(Error(fmt::format("cannot list the conflicts of {}", id.short_id())).caused_by(o.err));
  }
  static const std::regex line_re(R"(^(.*?)\s+\d+-sided conflict.*$)");
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, line_re)) paths.push_back(m[1]);
  }
  return paths;
}

Result<ConflictSides> Repo::conflict_sides(const ChangeId& id, const std::string& path) const {
  // jj hands the sides to a merge tool as files; this "tool" copies them out and exits non-zero,
  // so jj records no operation and changes nothing.
  ScratchDir scratch;
  if (scratch.path.empty()) return fail_internal("cannot create a temporary directory");
  const auto d = scratch.path.string();
  std::string script = fmt::format(R"(cp "$1" '{0}/base' && cp "$2" '{0}/ours' && cp "$3" '{0}/theirs'; exit 7)", d);
  std::string args_toml = fmt::format("merge-tools.fab-sides.merge-args=[\"-c\", {}, \"sh\", \"$base\", \"$left\", \"$right\", \"$output\"]",
                                      toml_string(script));
  auto o = run({"resolve", "--tool", "fab-sides", "-r", id.str(), root_file(path)},
               {.config = {"merge-tools.fab-sides.program=\"sh\"", args_toml}, .allow_failure = true});
  if (!o) return fail(o.error());
  if (!fs::exists(scratch.path / "theirs")) {
    return fail(Error(fmt::format("cannot read the sides of '{}' in change {}", path, id.short_id()))
                    .caused_by(o->err)
                    .with_hint("jj's merge tools only take 2-sided conflicts; look with `jj resolve --list`"));
  }
  return ConflictSides{read_text(scratch.path / "base"), read_text(scratch.path / "ours"),
                       read_text(scratch.path / "theirs")};
}

Status Repo::write_resolution(const ChangeId& id, const std::string& path, const std::string& content) const {
  ScratchDir scratch;
  if (scratch.path.empty()) return fail_internal("cannot create a temporary directory");
  auto resolved = scratch.path / "resolved";
  FAB_TRY(write_text(resolved, content));
  std::string args_toml = fmt::format("merge-tools.fab-write.merge-args=[{}, \"$output\"]", toml_string(resolved.string()));
  auto o = run({"resolve", "--tool", "fab-write", "-r", id.str(), root_file(path)},
               {.config = {"merge-tools.fab-write.program=\"cp\"", args_toml}});
  if (!o) return fail(o.error().context(fmt::format("cannot write the resolution of '{}'", path)));
  return {};
}

// --- workspaces ----------------------------------------------------------------------------------

Result<std::string> Repo::add_workspace(const std::string& name, const fs::path& dir, const ChangeId& at) const {
  static std::mutex in_process;
  std::lock_guard guard(in_process);
  // And across processes: an flock on a file inside .jj/.
  int fd = ::open((m_root / ".jj" / "fab-workspace-add.lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return fail_internal("cannot open the workspace lock in .jj/");
  lock_exclusive(fd);
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{fd};

  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  // (jj must update the new working copy, so this call cannot use --ignore-working-copy.) A git
  // worktree only where git allows one (`git worktree list` then lists it while the run lasts).
  const bool worktree = workspaces_get_git();
  // git's ref transactions are not atomic against another git in the same repository: an agent's
  // `git commit` in its own worktree while jj makes this one's can fail jj's with "Could not
  // delete empty packed refs". That is the machine's fault, not the item's: what the failed call
  // left is forgotten and the call tried again, twice, and what the last one left is forgotten
  // too before the failure is the caller's. (Only a directory this call makes is ever removed.)
  const bool made_here = !fs::exists(dir, ec);
  Result<JjOutput> added;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt * attempt));
    added = run({"workspace", "add", worktree ? "--colocate" : "--no-colocate", "--name", name, "-r", at.str(), dir.string()},
                {.snapshot = true, .config = git_config()});
    if (added || !made_here) break;
    spdlog::debug("jj workspace add {} failed (try {} of 3): {}", name, attempt + 1, added.error().message);
    // A workspace of that name somewhere else is not this call's to forget, nor a passing fault.
    auto list = workspaces();
    if (!list) break;
    const auto other = std::find_if(list->begin(), list->end(), [&](const Workspace& w) {
      return w.name == name && !w.root.empty() && fs::weakly_canonical(w.root, ec) != fs::weakly_canonical(dir, ec);
    });
    if (other != list->end()) break;
    (void)forget_workspace(name, dir);
  }
  if (!added) return fail(added.error());
  // `workspace add` puts a new empty change on top of `at`; editing `at` itself makes the agent's
  // edits land in the item's change (jj abandons the empty one).
  return edit_in_workspace(dir, at);
}

Result<std::vector<Workspace>> Repo::workspaces() const {
  FAB_TRY_ASSIGN(auto o, run({"workspace", "list", "-T",
                               "name ++ \"\\t\" ++ target.change_id() ++ \"\\t\" ++ self.root() ++ \"\\n\""}));
  std::vector<Workspace> list;
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) {
    auto tab = line.find('\t');
    auto tab2 = tab == std::string::npos ? tab : line.find('\t', tab + 1);
    if (tab2 == std::string::npos) continue;
    Workspace w{line.substr(0, tab), std::nullopt, line.substr(tab2 + 1)};
    if (auto id = ChangeId::parse(line.substr(tab + 1, tab2 - tab - 1))) w.target = *id;
    list.push_back(std::move(w));
  }
  return list;
}

bool Repo::workspaces_get_git() const { return colocated() && git_supports_worktrees(); }

std::vector<std::string> Repo::git_config() const {
  // The git jj runs to make and remove worktrees: fab's (FAB_GIT, else PATH's).
  if (!colocated()) return {};
  auto git = git_version();
  if (!git) return {};
  return {"git.executable-path=" + toml_string(git->path.string())};
}

Status Repo::forget_workspace(const std::string& name, const fs::path& dir) const {
  // The directory goes first: what it holds may be what keeps jj from writing the operation (a
  // full disk), and jj forgets a workspace whose directory is gone all the same.
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
  auto o = run({"workspace", "forget", name}, {.config = git_config(), .allow_failure = true});
  if (!o) return fail(o.error());
  if (o->exit_code != 0 && o->err.find("No such workspace") == std::string::npos) {
    return fail(Error(fmt::format("cannot forget workspace '{}'", name)).caused_by(o->err));
  }
  if (ec) return fail(fmt::format("cannot remove '{}': {}", dir.string(), ec.message()));
  if (dir.empty()) return {};
  return remove_git_worktrees(dir);
}

fs::path Repo::worktree_git_dir(const fs::path& workspace) const {
  std::error_code ec;
  if (!fs::is_regular_file(workspace / ".git", ec)) return {};
  const auto text = trimmed(read_text(workspace / ".git"));
  if (text.rfind("gitdir: ", 0) != 0) return {};
  fs::path dir = text.substr(8);
  if (dir.is_relative()) dir = workspace / dir;
  dir = dir.lexically_normal();
  return fs::is_directory(dir, ec) ? dir : fs::path{};
}

std::map<std::string, std::string> Repo::git_ref_log_env(const fs::path& workspace, int first_index) const {
  const auto admin = worktree_git_dir(workspace);
  auto git = git_version();
  if (admin.empty() || !git || !git->at_least(2, 54)) return {};
  // git runs `sh -c '<command> "$@"'` with the hook's arguments: the transaction's state, and its
  // updates ("<old> <new> <ref>") on stdin. The old value is the one the caller asked git to check,
  // all zeros when it asked for none (`git stash`, `git update-ref` without one), not what the ref
  // held: so while the transaction is "prepared" (the refs locked, not yet moved) the hook reads
  // each such ref's value itself, and keeps the lines aside until it is "committed" (an aborted
  // one moved nothing). It always succeeds: a failing hook would abort the agent's git command.
  const std::string log = (admin / "fab-refs").string();
  std::string quoted = "'";
  for (char ch : log) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  quoted += "'";
  const std::string command =
      "fab_refs() { log=" + quoted +
      "; case \"$1\" in "
      "prepared) while read -r old new ref; do "
      "case \"$old\" in *[!0]*) ;; *) now=$(git rev-parse -q --verify \"$ref\" 2>/dev/null) && old=$now ;; esac; "
      "printf '%s %s %s\\n' \"$old\" \"$new\" \"$ref\"; done > \"$log.pending\" ;; "
      "committed) cat > /dev/null; [ -f \"$log.pending\" ] && cat \"$log.pending\" >> \"$log\"; rm -f \"$log.pending\" ;; "
      "*) cat > /dev/null; rm -f \"$log.pending\" ;; "
      "esac; return 0; }; fab_refs";
  const int n = std::max(first_index, 0);
  return {{"GIT_CONFIG_COUNT", std::to_string(n + 2)},
          {fmt::format("GIT_CONFIG_KEY_{}", n), "hook.fab-refs.event"},
          {fmt::format("GIT_CONFIG_VALUE_{}", n), "reference-transaction"},
          {fmt::format("GIT_CONFIG_KEY_{}", n + 1), "hook.fab-refs.command"},
          {fmt::format("GIT_CONFIG_VALUE_{}", n + 1), command}};
}

namespace {

// One line of what git_ref_log_env's hook writes: "<old> <new> <ref>".
struct RefUpdate {
  std::string old_value, new_value, name;
};

std::vector<RefUpdate> read_ref_log(const fs::path& file) {
  std::vector<RefUpdate> out;
  for (const auto& line : lines_of(read_text(file))) {
    std::istringstream fields(line);
    RefUpdate u;
    if (fields >> u.old_value >> u.new_value >> u.name) out.push_back(std::move(u));
  }
  return out;
}

// `git stash drop` of the entries above the one that names `want` (what the user's stash was
// before the call), so that the list is as it was, not the user's entry repeated on top of the
// call's. False (nothing dropped) when `want` is no longer in the stash's reflog (the call dropped
// or popped the user's own stash): then the ref is set back directly.
bool drop_stashes_above(const fs::path& git, const fs::path& git_dir, const std::string& want) {
  auto listed = run_git(git, git_dir, {"reflog", "show", "--format=%H", "refs/stash", "--"});
  if (!listed) return false;
  const auto entries = lines_of(listed->out);
  const auto at = std::find(entries.begin(), entries.end(), want);
  if (at == entries.end() || at == entries.begin()) return false;
  const auto above = static_cast<std::size_t>(at - entries.begin());
  for (std::size_t i = 0; i < above; ++i) {
    if (!run_git(git, git_dir, {"reflog", "delete", "--updateref", "--rewrite", "refs/stash@{0}"})) return false;
  }
  auto now = run_git(git, git_dir, {"rev-parse", "-q", "--verify", "refs/stash"});
  return now && trimmed(now->out) == want;
}

}  // namespace

bool Repo::git_ref_log_moved(const fs::path& admin, const std::string& ref, const std::string& value) const {
  if (admin.empty()) return false;
  for (const char* file : {"fab-refs", "fab-refs.pending"}) {
    for (const auto& u : read_ref_log(admin / file)) {
      if (u.name == ref && u.new_value == value) return true;
    }
  }
  return false;
}

Result<bool> Repo::git_move_branch_from(const std::string& branch, const std::string& from,
                                        const std::string& to) const {
  auto git = git_version();
  if (!git) return fail(git.error().context("cannot move git's branch " + branch));
  auto moved = run_git(git->path, m_root / ".git", {"update-ref", "refs/heads/" + branch, to, from});
  if (moved) return true;
  if (git_branch_commit(branch).value_or("") != from) return false;
  return fail(moved.error());
}

Result<std::vector<std::string>> Repo::restore_git_refs_of(const fs::path& admin) const {
  std::vector<std::string> undone;
  if (admin.empty()) return undone;
  const auto log_file = admin / "fab-refs";
  std::error_code ec;
  fs::remove(admin / "fab-refs.pending", ec);  // a transaction its killed git never finished
  if (!fs::exists(log_file, ec)) return undone;
  const auto updates = read_ref_log(log_file);
  fs::remove(log_file, ec);
  auto git = git_version();
  if (!git) return fail(git.error().context("cannot put back the refs git changed in " + admin.string()));
  const fs::path git_dir = m_root / ".git";
  // Per ref: its value before the first change, and after the last.
  struct Change {
    std::string first_old, last_new;
  };
  std::map<std::string, Change> refs;
  std::vector<std::string> order;
  for (const auto& [old_value, new_value, name] : updates) {
    // Only what the worktree shares with the user's repository (not HEAD, refs/bisect/, refs/worktree/, ...).
    const bool shared = name.rfind("refs/heads/", 0) == 0 || name.rfind("refs/tags/", 0) == 0 || name == "refs/stash" ||
                        name.rfind("refs/notes/", 0) == 0 || name.rfind("refs/remotes/", 0) == 0;
    if (!shared) continue;
    auto [it, fresh] = refs.try_emplace(name);
    if (fresh) {
      it->second.first_old = old_value;
      order.push_back(name);
    }
    it->second.last_new = new_value;
  }
  const auto zero = [](const std::string& v) { return v.find_first_not_of('0') == std::string::npos; };
  // A HEAD left on a branch (`git checkout -b`) is detached where it is first, so that no ref put
  // back leaves the worktree on a branch that is gone (jj would read that as a new HEAD).
  if (!order.empty() && trimmed(read_text(admin / "HEAD")).rfind("ref: ", 0) == 0) {
    if (auto head = run_git(git->path, admin, {"rev-parse", "-q", "--verify", "HEAD"})) {
      FAB_TRY(run_git(git->path, admin, {"update-ref", "--no-deref", "HEAD", trimmed(head->out)}));
    }
  }
  for (const auto& name : order) {
    const auto& c = refs[name];
    auto now = run_git(git->path, git_dir, {"rev-parse", "-q", "--verify", name});
    const std::string current = now ? trimmed(now->out) : std::string{};
    const std::string want = zero(c.first_old) ? std::string{} : c.first_old;
    const std::string shown = name.rfind("refs/heads/", 0) == 0 ? "branch " + name.substr(11)
                              : name.rfind("refs/tags/", 0) == 0 ? "tag " + name.substr(10)
                                                                 : name;
    if (current == want) continue;  // (jj removed it already, with the commits it was on)
    const std::string after = zero(c.last_new) ? std::string{} : c.last_new;
    if (current != after) {
      undone.push_back(fmt::format("left git's {} as it is: it moved again after the call changed it", shown));
      continue;
    }
    if (name == "refs/stash" && !want.empty() && drop_stashes_above(git->path, git_dir, want)) {
      undone.push_back(fmt::format("dropped the stash entries the call pushed (your stash is back at {})", want.substr(0, 12)));
      continue;
    }
    Result<ProcessResult> put = want.empty() ? run_git(git->path, git_dir, {"update-ref", "-d", name, current})
                                : current.empty()
                                    ? run_git(git->path, git_dir, {"update-ref", name, want, std::string(40, '0')})
                                    : run_git(git->path, git_dir, {"update-ref", name, want, current});
    if (!put) {
      undone.push_back(fmt::format("could not put back git's {}: {}", shown, put.error().render()));
    } else if (want.empty()) {
      undone.push_back(fmt::format("deleted git's {}, which the call created", shown));
    } else {
      undone.push_back(fmt::format("moved git's {} back to {}", shown, want.substr(0, 12)));
    }
  }
  return undone;
}

Status Repo::remove_git_worktrees(const fs::path& under) const {
  if (!colocated()) return {};
  const fs::path git_dir = m_root / ".git";
  std::error_code ec;
  if (!fs::is_directory(git_dir / "worktrees", ec)) return {};
  auto git = git_version();
  if (!git) return {};
  FAB_TRY_ASSIGN(auto listed, run_git(git->path, git_dir, {"worktree", "list", "--porcelain", "-z"}));
  const auto prefix = fs::weakly_canonical(under, ec).lexically_normal();
  std::size_t at = 0;
  const std::string& out = listed.out;
  while (at < out.size()) {
    auto end = out.find('\0', at);
    if (end == std::string::npos) end = out.size();
    const std::string field = out.substr(at, end - at);
    at = end + 1;
    if (field.rfind("worktree ", 0) != 0) continue;
    const fs::path path = fs::path(field.substr(9)).lexically_normal();
    auto rel = path.lexically_relative(prefix);
    if (rel.empty() || *rel.begin() == ".." || fs::exists(path, ec)) continue;
    // (Twice --force: also when it is locked, or holds changes nothing will ever look at again.)
    FAB_TRY(run_git(git->path, git_dir, {"worktree", "remove", "--force", "--force", path.string()}));
  }
  return {};
}

Status Repo::forget_workspaces(const std::vector<std::string>& names) const {
  if (names.empty()) return {};
  std::vector<std::string> args{"workspace", "forget"};
  args.insert(args.end(), names.begin(), names.end());
  FAB_TRY_ASSIGN(auto o, run(args, {.config = git_config(), .allow_failure = true}));
  if (o.exit_code == 0) return {};
  // jj refuses the whole call when one name is unknown: forget them one at a time.
  for (const auto& name : names) FAB_TRY(forget_workspace(name, {}));
  return {};
}

Result<std::string> Repo::edit_in_workspace(const fs::path& dir, const ChangeId& id) const {
  return edit_commit_in_workspace(dir, id.str());
}

Result<std::string> Repo::edit_commit_in_workspace(const fs::path& dir, const std::string& revision) const {
  FAB_TRY_ASSIGN(auto o, run({"edit", revision},
                             {.repo = dir, .snapshot = true, .config = {"snapshot.auto-update-stale=true", kFullSummary}}));
  // "Working copy  (@) now at: <commit id> <change id>": the last such line. (A workspace made stale
  // by another process's operation meanwhile is brought up to date first, and jj says where that
  // left it before it says where the edit did.)
  std::string at;
  for (const auto& line : lines_of(o.err)) {
    if (line.find("(@) now at: ") == std::string::npos) continue;
    if (auto c = parse_summary(line)) at = c->commit_id;
  }
  return at;
}

Result<Commit> Repo::snapshot_workspace(const fs::path& dir, std::string* git_diff) const {
  const std::string tmpl = git_diff ? commit_template_with_diffs("@") : std::string(kCommitTemplate);
  FAB_TRY_ASSIGN(auto o, run({"log", "--no-graph", "-r", "@", "-T", tmpl}, {.repo = dir, .snapshot = true}));
  FAB_TRY_ASSIGN(auto commits, parse_commits_with_diffs(*this, o.out));
  if (commits.size() != 1) return fail_internal("snapshot: expected one working-copy commit");
  if (git_diff) *git_diff = commits.front().diff.value_or("");
  return commits.front();
}

namespace {

// The files jj's snapshot warnings say it did not record:
//   Warning: Refused to snapshot some files:
//     big.bin: 1.5MiB (1600000 bytes); the maximum size allowed is 1.0MiB (1048576 bytes)
//   Warning: Skipped some paths because they are not valid UTF-8:
//     .: "bad\xFFname"
std::vector<RefusedFile> refused_files(const std::string& err) {
  std::vector<RefusedFile> out;
  enum { none, size, utf8 } list = none;
  for (const auto& line : lines_of(err)) {
    if (line.find("Refused to snapshot") != std::string::npos) {
      list = size;
    } else if (line.find("not valid UTF-8") != std::string::npos) {
      list = utf8;
    } else if (list != none && line.rfind("  ", 0) == 0) {
      const auto text = line.substr(2);
      const auto colon = text.find(": ");
      if (colon == std::string::npos) continue;
      if (list == size) {
        out.push_back({text.substr(0, colon), text.substr(colon + 2)});
      } else {
        const auto dir = text.substr(0, colon);
        const auto name = text.substr(colon + 2);
        out.push_back({(dir == "." ? "" : dir + "/") + name, "its name is not valid UTF-8"});
      }
    } else {
      list = none;
    }
  }
  return out;
}

}  // namespace

Result<Repo::Snapshot> Repo::snapshot_and_read(const fs::path& dir, std::uint64_t max_new_file_size,
                                               const std::string& revset, bool with_diffs,
                                               const std::string& protect) const {
  std::vector<std::string> config;
  if (max_new_file_size > 0) config.push_back(fmt::format("snapshot.max-new-file-size={}", max_new_file_size));
  if (!protect.empty()) {
    config.push_back(fmt::format("revset-aliases.\"immutable_heads()\"={}",
                                 toml_string("builtin_immutable_heads() | " + protect)));
  }
  const std::string tmpl = with_diffs ? commit_template_with_diffs("@") : std::string(kCommitTemplate);
  // `@` first: jj lists a revset in its own order, so the working copy is read on its own line.
  std::string set = "@";
  if (!revset.empty()) set = fmt::format("@ | ({})", revset);
  const std::string t = fmt::format("if(self.current_working_copy(), \"@\", \" \") ++ {}", tmpl);
  FAB_TRY_ASSIGN(auto o, run({"log", "--no-graph", "-r", set, "-T", t}, {.repo = dir, .snapshot = true, .config = config}));
  Snapshot snap;
  std::string wc_line, rest;
  for (const auto& line : lines_of(o.out)) {
    if (line.empty()) continue;
    if (line[0] == '@') {
      wc_line = line.substr(1);
    } else {
      rest += line.substr(1) + "\n";
    }
  }
  FAB_TRY_ASSIGN(auto wc, parse_commits_with_diffs(*this, wc_line));
  if (wc.size() != 1) return fail_internal("snapshot: expected one working-copy commit");
  FAB_TRY_ASSIGN(auto others, parse_commits_with_diffs(*this, rest));
  snap.commits = std::move(wc);
  snap.commits.insert(snap.commits.end(), others.begin(), others.end());
  snap.refused = refused_files(o.err);
  return snap;
}

Status Repo::update_stale_workspace(const fs::path& dir) const {
  return run({"workspace", "update-stale"}, {.repo = dir, .snapshot = true}).map([](auto&&) {});
}

Result<std::string> Repo::restore_workspace(const fs::path& dir, const std::string& commit_id) const {
  FAB_TRY_ASSIGN(auto o, run({"restore", "--from", commit_id}, {.repo = dir, .snapshot = true, .config = {kFullSummary}}));
  // "Working copy  (@) now at: <commit id> <change id>" (nothing when there was nothing to restore)
  for (const auto& line : lines_of(o.err)) {
    if (line.find("(@) now at: ") == std::string::npos) continue;
    if (auto c = parse_summary(line)) return c->commit_id;
  }
  return std::string{};
}

// --- operation log -------------------------------------------------------------------------------

Result<std::vector<Operation>> Repo::operations(std::size_t limit) const {
  std::vector<std::string> args{"op", "log", "--no-graph", "-T", "json(self) ++ \"\\n\""};
  if (limit > 0) {
    args.push_back("-n");
    args.push_back(std::to_string(limit));
  }
  FAB_TRY_ASSIGN(auto o, run(args));
  std::vector<Operation> ops;
  static const std::regex cause_re(R"(fab\.cause=\"((?:[^"\\]|\\.)*)\")");
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      Operation op;
      op.id = j.at("id").get<std::string>();
      op.time_start = j.at("time").at("start").get<std::string>();
      op.time_end = j.at("time").at("end").get<std::string>();
      op.description = j.at("description").get<std::string>();
      op.is_snapshot = j.value("is_snapshot", false);
      if (auto w = j.find("workspace_name"); w != j.end() && w->is_string()) op.workspace = w->get<std::string>();
      if (auto p = j.find("parents"); p != j.end() && p->is_array()) op.parents = p->get<std::vector<std::string>>();
      if (auto a = j.find("attributes"); a != j.end() && a->is_object()) {
        op.command = a->value("args", "");
      }
      std::smatch m;
      if (std::regex_search(op.command, m, cause_re)) {
        // Undo the TOML string escapes (and the shell quoting jj shows around the argument).
        std::string raw = m[1];
        for (std::size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\' && i + 1 < raw.size()) ++i;
          op.cause += raw[i];
        }
      }
      ops.push_back(std::move(op));
    } catch (const nlohmann::json::exception& e) {
      return fail_internal(fmt::format("cannot read jj's operation JSON: {}", e.what()));
    }
  }
  return ops;
}

Status Repo::restore_operation(const std::string& op) const {
  return run({"op", "restore", op}).map([](auto&&) {});
}

Status Repo::abandon_operations(const std::string& after, const std::string& through) const {
  return run({"op", "abandon", after + ".." + through}).map([](auto&&) {});
}

Result<std::string> Repo::working_copy_operation(const fs::path& workspace_root) const {
  // jj has no template for it; `jj debug working-copy` reads the working copy's state file (it
  // does not snapshot) and prints `Current operation: OperationId("<hex>")`.
  FAB_TRY_ASSIGN(auto o, run({"debug", "working-copy"}, {.repo = workspace_root}));
  static const std::regex op_re(R"re(Current operation: OperationId\("([0-9a-f]+)"\))re");
  std::smatch m;
  if (!std::regex_search(o.out, m, op_re)) {
    return fail(Error(fmt::format("cannot tell which operation the working copy in {} was last updated at",
                                  workspace_root.string()))
                    .caused_by("`jj debug working-copy` printed: " + trimmed(o.out))
                    .with_hint("this jj's output differs from what fab knows (jj 0.46)"));
  }
  return std::string(m[1]);
}

Status Repo::collect_garbage() const {
  // (jj's gc of a git store also runs `git gc`, which packs the loose objects and refs.)
  FAB_TRY(run({"util", "gc", "--expire=now"}));
  // jj's gc leaves its index alone: a segment file and a link file for (nearly) every operation
  // ever made, most of the files in .jj. Rebuilt for the current operation, it is one of each (jj
  // builds the index of an older operation again when something loads one).
  FAB_TRY(run({"debug", "reindex"}));
  return {};
}

}  // namespace fab
