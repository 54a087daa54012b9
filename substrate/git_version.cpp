#include "substrate/git_version.h"

#include <cstdio>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "substrate/process.h"

namespace fab {

Result<GitVersion> git_version() {
  static std::mutex mu;
  static std::optional<Result<GitVersion>> cached;
  std::lock_guard lock(mu);
  if (cached) return *cached;
  cached = []() -> Result<GitVersion> {
    GitVersion v;
    v.path = find_on_path("git");
    if (v.path.empty()) return fail("git was not found on PATH", "install git (Debian/Ubuntu: apt-get install git)");
    auto run = run_process({.argv = {v.path.string(), "--version"}, .timeout = std::chrono::seconds(20)});
    if (!run || !run->ok()) {
      return fail(Error(fmt::format("git at {} does not run", v.path.string()))
                      .caused_by(!run ? run.error().message : run->describe() + " " + run->err)
                      .with_hint("reinstall git"));
    }
    v.text = run->out.substr(0, run->out.find('\n'));
    // "git version 2.39.5" (some builds add " (Apple Git-143)" or ".windows.1")
    if (std::sscanf(v.text.c_str(), "git version %d.%d.%d", &v.major, &v.minor, &v.patch) < 2) {
      return fail(fmt::format("cannot read git's version from '{}'", v.text), "check `git --version`");
    }
    return v;
  }();
  return *cached;
}

bool git_supports_worktrees() {
  auto v = git_version();
  return v && v->at_least(2, 42);
}

}  // namespace fab
