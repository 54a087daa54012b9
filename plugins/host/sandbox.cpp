#include "plugins/host/sandbox.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "substrate/process.h"

namespace fab::plugins {
namespace {

namespace fs = std::filesystem;

// A path as bwrap must see it: absolute, without symlinks (a mount point is made at the real place).
std::string mount_point(const fs::path& p) {
  std::error_code ec;
  auto c = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return (ec ? p : c).string();
}

}  // namespace

fs::path find_bwrap() {
  if (const char* env = std::getenv("FAB_BWRAP"); env != nullptr) {
    std::error_code ec;
    return *env != '\0' && fs::exists(env, ec) ? fs::path(env) : fs::path{};
  }
  return find_on_path("bwrap");
}

std::vector<std::string> sandbox_argv(const fs::path& bwrap, const SandboxSpec& spec, const fs::path& cwd,
                                      const std::vector<fs::path>& visible) {
  std::vector<std::string> argv = {bwrap.string(), "--die-with-parent", "--new-session", "--unshare-pid",
                                   "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                                   "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"};
  // Later mounts win: what must be seen read-only first (it may live under the private /tmp), then
  // the writable dirs (a workspace may live under a protected dir).
  auto bind = [&](const char* how, const fs::path& p) {
    std::error_code ec;
    if (p.empty() || !fs::exists(p, ec)) return;
    const std::string at = mount_point(p);
    argv.insert(argv.end(), {how, at, at});
  };
  for (const auto& p : visible) bind("--ro-bind", p);
  for (const auto& p : spec.read_only) bind("--ro-bind", p);
  for (const auto& p : spec.writable) bind("--bind", p);
  if (!cwd.empty()) argv.insert(argv.end(), {"--chdir", mount_point(cwd)});
  argv.push_back("--");
  return argv;
}

namespace {

Status check_sandbox(const fs::path& bwrap) {
  if (bwrap.empty()) {
    const char* env = std::getenv("FAB_BWRAP");
    return fail(Error(env != nullptr ? fmt::format("bubblewrap was not found: FAB_BWRAP is '{}'", env)
                                     : std::string("bubblewrap (bwrap) was not found on PATH"))
                    .with_hint("install it (Debian/Ubuntu: apt-get install bubblewrap; scripts/bootstrap does), "
                               "or set sandbox: false"));
  }
  auto argv = sandbox_argv(bwrap, {}, "/", {});
  argv.push_back("true");
  auto run = run_process({.argv = argv, .timeout = std::chrono::seconds(20)});
  if (run && run->ok()) return {};
  Error e(fmt::format("bubblewrap ({}) cannot run a sandbox here", bwrap.string()));
  e.caused_by(!run ? run.error().message : run->describe() + (run->err.empty() ? "" : ": " + run->err));
  e.hint = "bwrap needs user namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces "
           "> 0) or, run as root in a container, CAP_SYS_ADMIN; or set sandbox: false";
  return fail(std::move(e));
}

}  // namespace

Status sandbox_available() {
  static std::mutex mu;
  static std::map<std::string, Status> cache;  // by FAB_BWRAP and the binary found
  const fs::path bwrap = find_bwrap();
  const char* env = std::getenv("FAB_BWRAP");
  const std::string key = (env != nullptr ? env : "") + std::string("\n") + bwrap.string();
  std::lock_guard lock(mu);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, check_sandbox(bwrap)).first;
  return it->second;
}

}  // namespace fab::plugins
