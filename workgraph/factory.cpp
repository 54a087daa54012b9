#include "workgraph/factory.h"

#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
    if (auto u = j.find("user"); u != j.end()) {
      config.identity.name = u->value("name", config.identity.name);
      config.identity.email = u->value("email", config.identity.email);
    }
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
  nlohmann::json j{{"trunk", config.trunk},
                   {"user", {{"name", config.identity.name}, {"email", config.identity.email}}}};
  if (!config.init_ops.empty()) j["init_ops"] = config.init_ops;
  if (config.gc.keep_operations != GcSettings{}.keep_operations || config.gc.every_merged != GcSettings{}.every_merged) {
    j["gc"] = {{"keep_operations", config.gc.keep_operations}, {"every_merged", config.gc.every_merged}};
  }
  return write_file_atomic(factory_dir / "config.json", j.dump(2) + "\n");
}

}  // namespace

Result<Factory> Factory::init(const fs::path& dir, const std::optional<std::string>& trunk) {
  FAB_TRY_ASSIGN(auto jj, JjRunner::locate());
  std::error_code ec;
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
  fs::create_directories(fdir / "workspaces", ec);
  if (ec) return fail(fmt::format("cannot create '{}': {}", fdir.string(), ec.message()));
  // jj (and git) honour .gitignore files in any directory: this one keeps all of .factory/ (state,
  // journal, workspaces) out of every snapshot of the user's working copy.
  FAB_TRY(write_file_atomic(fdir / ".gitignore", "# fab's state: never snapshot it into a commit\n*\n"));

  // A second init keeps the factory's trunk unless --trunk asks for another.
  const bool configured = fs::exists(fdir / "config.json", ec);
  FAB_TRY_ASSIGN(auto config, read_config(fdir));
  const std::string before = config.trunk;
  if (trunk) {
    config.trunk = *trunk;
  } else if (!configured) {
    config.trunk = has_git ? git_current_branch(repo->root()).value_or("main") : "main";
  }
  bool changed = !configured || config.trunk != before;
  if (new_repo) {
    // Every operation so far is `jj git init`'s (the root operation aside).
    FAB_TRY_ASSIGN(auto ops, repo->operations());
    config.init_ops.clear();
    for (const auto& op : ops) {
      if (op.id.find_first_not_of('0') != std::string::npos) config.init_ops.push_back(op.id);
    }
    changed = true;
  }
  if (changed) FAB_TRY(write_config(fdir, config));
  FAB_TRY_ASSIGN(auto store, Store::open(fdir));

  Repo r = repo->with_cause("fab init");
  if (new_repo && has_files) {
    // The project's files become trunk's first commit (so agents build on them), recorded now
    // that .factory/ is ignored; the working copy moves on to a new empty change on top.
    FAB_TRY(r.run({"commit", "-m", "Files already here (recorded by fab init)"}, {.snapshot = true}));
  }
  FAB_TRY_ASSIGN(auto existing, r.bookmark(config.trunk));
  if (!existing) FAB_TRY(r.set_bookmark(config.trunk, "@-"));
  return Factory(std::move(*repo), std::move(store), std::move(config));
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
  FAB_TRY_ASSIGN(auto jj, JjRunner::locate(config.identity));
  FAB_TRY_ASSIGN(auto repo, Repo::open(*root, std::move(jj)));
  FAB_TRY_ASSIGN(auto store, Store::open(*root / ".factory"));
  return Factory(std::move(repo), std::move(store), std::move(config));
}

}  // namespace fab
