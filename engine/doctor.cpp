#include "engine/doctor.h"

#include <fmt/format.h>

#include "plugins/host/plugin_call.h"
#include "plugins/host/plugin_trust.h"
#include "plugins/host/sandbox.h"
#include "substrate/git_version.h"
#include "substrate/jj_runner.h"
#include "substrate/process.h"

namespace fab::engine {
namespace {

namespace fs = std::filesystem;

std::string line_one(const std::string& s) { return s.substr(0, s.find('\n')); }

// An error in one line (its message and its first cause), and its hint.
MachineCheck from_error(std::string check, CheckStatus status, const Error& e) {
  std::string detail = e.message;
  if (!e.causes.empty()) detail += ": " + line_one(e.causes.front());
  return {std::move(check), status, std::move(detail), e.hint};
}

MachineCheck check_jj() {
  auto jj = JjRunner::locate();
  if (!jj) return from_error("jj", CheckStatus::fail, jj.error());
  return {"jj", CheckStatus::ok, fmt::format("{} ({})", jj->version(), jj->binary().string()), ""};
}

MachineCheck check_git() {
  auto git = git_version();
  if (!git) {
    auto c = from_error("git", CheckStatus::warn, git.error());
    c.detail += "; fab works without it, but agents in a workspace cannot use git";
    return c;
  }
  const std::string found =
      fmt::format("{} ({}{})", git->text, git->path.string(), git->from_env ? ", FAB_GIT" : "");
  const auto worktrees = git_worktrees();
  if (worktrees.yes) {
    return {"git", CheckStatus::ok,
            fmt::format("git {}: each workspace gets its own git worktree, so git works in it ({}; in a colocated "
                        "factory)",
                        git->short_version(), found),
            ""};
  }
  return {"git", CheckStatus::warn,
          fmt::format("{}: git run in a workspace says \"not a git repository\"; jj works there ({})", worktrees.why_not,
                      found),
          "agents should use jj in their workspace (fab folds what they do into their item's change); " + worktrees.hint};
}

MachineCheck check_bubblewrap() {
  const fs::path bwrap = plugins::find_bwrap();
  if (bwrap.empty()) {
    auto status = plugins::sandbox_available();
    MachineCheck c = from_error("bubblewrap", CheckStatus::warn, status.error());
    c.detail += "; a blueprint that asks for sandbox: true is refused";
    return c;
  }
  std::string version = bwrap.string();
  if (auto v = run_process({.argv = {bwrap.string(), "--version"}, .timeout = std::chrono::seconds(20)}); v && v->ok()) {
    version = fmt::format("{} ({})", line_one(v->out), bwrap.string());
  }
  if (auto status = plugins::sandbox_available(); !status) {
    MachineCheck c = from_error("bubblewrap", CheckStatus::warn, status.error());
    c.detail = version + ": " + c.detail + "; a blueprint that asks for sandbox: true is refused";
    return c;
  }
  return {"bubblewrap", CheckStatus::ok, version + ": sandbox: true works here", ""};
}

void check_plugins(const plugins::HostOptions& host, std::vector<MachineCheck>& out) {
  const auto builtin_count = search_dirs(host).size() - host.path_dirs.size();
  std::size_t i = 0;
  for (const auto& dir : search_dirs(host)) {
    const bool builtin = i++ < builtin_count;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      // A build tree has no <prefix>/lib/fab/plugins: only a FAB_PLUGIN_PATH entry is worth a word.
      if (!builtin) {
        out.push_back({"plugin dir", CheckStatus::warn, fmt::format("{} (in FAB_PLUGIN_PATH) does not exist", dir.string()),
                       "remove it from FAB_PLUGIN_PATH, or create it"});
      }
      continue;
    }
    if (auto trusted = plugins::check_plugin_trust(dir); !trusted) {
      out.push_back(from_error("plugin dir", CheckStatus::fail, trusted.error()));
      continue;
    }
    out.push_back({"plugin dir", CheckStatus::ok, fmt::format("{}{}", dir.string(), builtin ? " (built-in)" : ""), ""});
  }
  for (const auto& file : plugins::scan_plugin_files(host)) {
    const std::string label = "plugin " + file.name;
    if (!file.also_at.empty()) {
      out.push_back({label, CheckStatus::fail,
                     fmt::format("two plugins are named '{}': {} and {}", file.name, file.path.string(),
                                 file.also_at.string()),
                     "remove or rename one of them: a blueprint naming it is refused"});
      continue;
    }
    auto found = plugins::find_plugin(file.path.string(), plugins::PluginKind::agent, host);
    if (!found) {
      out.push_back(from_error(label, CheckStatus::fail, found.error()));
      continue;
    }
    auto info = plugins::probe_plugin(file.path, plugins::fab_exe_of(host));
    if (!info) {
      out.push_back(from_error(label, CheckStatus::fail, info.error()));
    } else if (info->name != file.name) {
      out.push_back({label, CheckStatus::fail,
                     fmt::format("{} holds plugin '{}', not '{}'", file.path.string(), info->name, file.name),
                     fmt::format("rename it to {}", plugins::plugin_file_name(info->name))});
    } else {
      out.push_back({label, CheckStatus::ok,
                     fmt::format("{} {} ({})", plugins::to_string(info->kind), info->version, file.path.string()), ""});
    }
  }
}

}  // namespace

std::string to_string(CheckStatus status) {
  switch (status) {
    case CheckStatus::ok: return "ok";
    case CheckStatus::warn: return "warn";
    case CheckStatus::fail: return "fail";
  }
  return "fail";
}

std::vector<MachineCheck> check_machine(const plugins::HostOptions& host) {
  std::vector<MachineCheck> out = {check_jj(), check_git(), check_bubblewrap()};
  check_plugins(host, out);
  return out;
}

}  // namespace fab::engine
