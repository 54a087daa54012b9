#include "workgraph/factory.h"

#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdlib>
#include <random>

#include "workgraph/crc32.h"
#include "workgraph/durable_file.h"

namespace fab {
namespace {

namespace fs = std::filesystem;
constexpr const char* kNotAFactoryHint = "run `fab init` in your repository to make it a factory";

Result<FactoryConfig> read_config(const fs::path& factory_dir) {
  FactoryConfig config;
  auto file = factory_dir / "config.json";
  if (!fs::exists(file)) return config;
  FAB_TRY_ASSIGN(auto text, read_file_text(file));
  try {
    auto j = nlohmann::json::parse(text);
    config.trunk = j.value("trunk", config.trunk);
    if (auto u = j.find("user"); u != j.end() && u->is_object()) {
      JjIdentity id{u->value("name", std::string{}), u->value("email", std::string{})};
      // fab before 0.2 wrote its own default here for every factory: that is no choice of the user's.
      if (!(id == JjIdentity{}) && !id.name.empty() && !id.email.empty()) config.identity = id;
    }
    config.state_dir = j.value("state_dir", std::string{});
    config.seat_name = j.value("seat_name", std::string{});
    if (auto gc = j.find("gc"); gc != j.end()) {
      auto bad = [&](const char* what) {
        return fail(Error(fmt::format("{}: \"gc\" {}", file.string(), what))
                        .with_hint("e.g. \"gc\": {\"keep_operations\": 1000, \"every_merged\": 0}"));
      };
      if (!gc->is_object()) return bad("must be an object");
      for (auto [key, field, least] : {std::tuple{"keep_operations", &config.gc.keep_operations, 1ull},
                                       std::tuple{"every_merged", &config.gc.every_merged, 0ull}}) {
        auto it = gc->find(key);
        if (it == gc->end()) continue;
        if (!it->is_number_unsigned() || it->get<unsigned long long>() < least) {
          return bad(least ? "keep_operations must be a whole number >= 1" : "every_merged must be a whole number >= 0");
        }
        *field = it->get<std::size_t>();
      }
    }
    if (auto ops = j.find("init_ops"); ops != j.end() && ops->is_array()) {
      for (const auto& op : *ops) {
        if (op.is_string()) config.init_ops.push_back(op.get<std::string>());
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(Error(fmt::format("{} is not valid JSON", file.string())).caused_by(e.what()),
                "fix or delete it; `fab init` writes a fresh one");
  }
  return config;
}

// The branch checked out in the git repository at `dir` (`.git/HEAD` names it), if any: none when
// HEAD is detached or cannot be read.
std::optional<std::string> git_current_branch(const fs::path& dir) {
  auto git = dir / ".git";
  std::error_code ec;
  if (fs::is_regular_file(git, ec)) {  // a linked worktree or submodule: "gitdir: <path>"
    auto text = read_file_text(git);
    if (!text || !text->starts_with("gitdir: ")) return std::nullopt;
    fs::path target = text->substr(8, text->find_first_of("\r\n") - 8);
    git = target.is_absolute() ? target : dir / target;
  }
  auto head = read_file_text(git / "HEAD");
  constexpr std::string_view kRef = "ref: refs/heads/";
  if (!head || !head->starts_with(kRef)) return std::nullopt;
  auto branch = head->substr(kRef.size(), head->find_first_of("\r\n") - kRef.size());
  if (branch.empty()) return std::nullopt;
  return branch;
}

Status write_config(const fs::path& factory_dir, const FactoryConfig& config) {
  nlohmann::json j{{"trunk", config.trunk}};
  if (config.identity) j["user"] = {{"name", config.identity->name}, {"email", config.identity->email}};
  if (!config.init_ops.empty()) j["init_ops"] = config.init_ops;
  if (!config.state_dir.empty()) j["state_dir"] = config.state_dir.string();
  if (!config.seat_name.empty()) j["seat_name"] = config.seat_name;
  if (config.gc.keep_operations != GcSettings{}.keep_operations || config.gc.every_merged != GcSettings{}.every_merged) {
    j["gc"] = {{"keep_operations", config.gc.keep_operations}, {"every_merged", config.gc.every_merged}};
  }
  return write_file_atomic(factory_dir / "config.json", j.dump(2) + "\n");
}

// $XDG_STATE_HOME/fab/<name>-<hash of the root's path> (else ~/.local/state/fab/..., else
// /tmp/fab-<uid>/...): outside the user's tree, one per factory.
fs::path default_state_dir(const fs::path& root) {
  fs::path base;
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg == '/') {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home == '/') {
    base = fs::path(home) / ".local" / "state";
  } else {
    base = fs::temp_directory_path() / fmt::format("fab-{}", ::getuid());
  }
  return base / "fab" / fmt::format("{}-{:08x}", root.filename().string(), crc32(root.string()));
}

std::string random_token() {
  std::random_device rd;
  return fmt::format("{:08x}", rd());
}

// Opens (creating if needed) the seat and returns the repo bound to it. The seat's name is new
// each time one is made, so a seat whose directory was deleted is simply replaced (and the old
// name forgotten from the new seat, never from the user's workspace).
Result<Repo> seated_repo(const Repo& repo, const fs::path& factory_dir, FactoryConfig& config) {
  if (config.state_dir.empty()) config.state_dir = default_state_dir(repo.root());
  const auto dir = config.state_dir / "engineer";
  std::error_code ec;
  if (!config.seat_name.empty() && fs::exists(dir / ".jj" / "repo", ec)) return repo.at_seat(dir);
  const std::string old = config.seat_name;
  fs::remove_all(dir, ec);
  config.seat_name = "fab-engineer-" + random_token();
  FAB_TRY_ASSIGN(auto before, repo.current_operation());
  FAB_TRY(repo.with_cause("fab: its own workspace (seat)").create_seat(config.seat_name, dir));
  Repo seated = repo.at_seat(dir);
  // Made from the user's workspace (the seat did not exist yet): `fab oplog` knows them as fab's
  // by their IDs, like `jj git init`'s.
  FAB_TRY_ASSIGN(auto made, seated.operations_since(before));
  for (const auto& op : made) config.init_ops.push_back(op.id);
  if (!old.empty()) {
    (void)seated.with_cause("fab: forget its old seat").forget_workspace(old, {});
  }
  FAB_TRY(write_config(factory_dir, config));
  return seated;
}

}  // namespace

Result<Factory> Factory::init(const fs::path& dir, const std::optional<std::string>& trunk, bool change_trunk,
                              std::string* previous_trunk) {
  std::error_code ec;
  if (fs::is_directory(dir / ".jj", ec) && fs::exists(dir / ".factory" / "config.json", ec)) {
    FAB_TRY_ASSIGN(auto factory, open(dir));
    if (previous_trunk) *previous_trunk = factory.config().trunk;
    if (!trunk || *trunk == factory.config().trunk) return factory;
    if (!change_trunk) {
      return fail(fmt::format("'{}' is already a factory, whose trunk is '{}'", factory.root().string(),
                              factory.config().trunk),
                  fmt::format("to make '{}' its trunk (lines stamped before keep landing where they did), run "
                              "`fab init --trunk {} --change-trunk`",
                              *trunk, *trunk));
    }
    FactoryConfig config = factory.config();
    config.trunk = *trunk;
    FAB_TRY(write_config(factory.factory_dir(), config));
    Repo r = factory.repo().with_cause("fab init --change-trunk");
    FAB_TRY_ASSIGN(auto there, r.bookmark(config.trunk));
    if (!there) FAB_TRY(r.set_bookmark(config.trunk, "@-"));
    return open(dir);
  }
  FAB_TRY_ASSIGN(auto jj, JjRunner::locate_as_user(dir));
  fs::create_directories(dir, ec);
  if (ec) return fail(fmt::format("cannot create '{}': {}", dir.string(), ec.message()));
  const bool has_git = fs::exists(dir / ".git", ec);
  const bool new_repo = !fs::is_directory(dir / ".jj");
  bool has_files = false;  // files already here, in a directory no VCS knew
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end && !has_git; it.increment(ec)) {
    const auto name = it->path().filename().string();
    has_files = has_files || (name != ".jj" && name != ".factory");
  }
  Result<Repo> repo = fs::is_directory(dir / ".jj")
                          ? Repo::open(dir, jj)
                          : Repo::init(dir, jj, has_git ? Repo::Backing::existing_git : Repo::Backing::own_git);
  if (!repo) return fail(repo.error());

  const auto fdir = repo->root() / ".factory";
  fs::create_directories(fdir, ec);
  if (ec) return fail(fmt::format("cannot create '{}': {}", fdir.string(), ec.message()));
  // jj (and git) honour .gitignore files in any directory: this one keeps all of .factory/ (state,
  // journal, workspaces) out of every snapshot of the user's working copy.
  FAB_TRY(write_file_atomic(fdir / ".gitignore", "# fab's state: never snapshot it into a commit\n*\n"));

  // (A jj repo without fab's config: a new factory on an existing jj repo.)
  FactoryConfig config;
  config.trunk = trunk ? *trunk : has_git ? git_current_branch(repo->root()).value_or("main") : "main";
  if (new_repo) {
    // Every operation so far is `jj git init`'s (the root operation aside).
    FAB_TRY_ASSIGN(auto ops, repo->operations());
    config.init_ops.clear();
    for (const auto& op : ops) {
      if (op.id.find_first_not_of('0') != std::string::npos) config.init_ops.push_back(op.id);
    }
  }
  FAB_TRY(write_config(fdir, config));
  FAB_TRY_ASSIGN(auto store, Store::open(fdir));

  Repo r = repo->with_cause("fab init");
  if (new_repo && has_files) {
    // The project's files become trunk's first commit (so agents build on them), recorded now
    // that .factory/ is ignored; the working copy moves on to a new empty change on top.
    FAB_TRY_ASSIGN(auto before, r.current_operation());
    FAB_TRY(r.commit_working_copy("Files already here (recorded by fab init)"));
    FAB_TRY_ASSIGN(auto made, r.operations_since(before));
    for (const auto& op : made) config.init_ops.push_back(op.id);
    FAB_TRY(write_config(fdir, config));
  }
  // From here on every jj call runs from fab's seat, never in the user's checkout.
  FAB_TRY_ASSIGN(auto seated, seated_repo(*repo, fdir, config));
  FAB_TRY_ASSIGN(auto existing, seated.with_cause("fab init").bookmark(config.trunk));
  if (!existing) {
    // The trunk starts at the user's checkout's parent (what `@-` is in the default workspace).
    auto from_seat = seated.query("present(default@-)");
    FAB_TRY_ASSIGN(auto head, from_seat && !from_seat->empty() ? std::move(from_seat) : r.query("@-"));
    if (head.size() != 1) return fail(fmt::format("cannot tell where to create the trunk bookmark '{}'", config.trunk));
    FAB_TRY(seated.with_cause("fab init").set_bookmark(config.trunk, head.front().commit_id));
    if (seated.colocated()) FAB_TRY(seated.git_export());
  }
  return Factory(std::move(seated), std::move(store), std::move(config));
}

std::optional<fs::path> Factory::find_root(const fs::path& from) {
  std::error_code ec;
  auto dir = fs::canonical(from, ec);
  if (ec) return std::nullopt;
  for (auto d = dir;; d = d.parent_path()) {
    if (fs::is_directory(d / ".factory", ec) && fs::is_directory(d / ".jj", ec)) return d;
    if (d == d.parent_path()) return std::nullopt;
  }
}

Result<Factory> Factory::open(const fs::path& from) {
  std::error_code ec;
  auto dir = fs::canonical(from, ec);
  if (ec) return fail(fmt::format("'{}' does not exist", from.string()));
  const auto root = find_root(dir);
  if (!root) return fail(fmt::format("'{}' is not inside a fab factory", dir.string()), kNotAFactoryHint);
  FAB_TRY_ASSIGN(auto config, read_config(*root / ".factory"));
  FAB_TRY_ASSIGN(auto jj, config.identity ? JjRunner::locate(*config.identity) : JjRunner::locate_as_user(*root));
  FAB_TRY_ASSIGN(auto repo, Repo::open(*root, std::move(jj)));
  FAB_TRY_ASSIGN(auto store, Store::open(*root / ".factory"));
  FAB_TRY_ASSIGN(auto seated, seated_repo(repo, *root / ".factory", config));
  return Factory(std::move(seated), std::move(store), std::move(config));
}

}  // namespace fab
