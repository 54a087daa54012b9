#include "substrate/jj_runner.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "substrate/git_version.h"
#include "substrate/process.h"

#ifndef FAB_BOOTSTRAP_JJ
#define FAB_BOOTSTRAP_JJ ""
#endif

namespace fab {
namespace {

constexpr int kMinMajor = 0;
constexpr int kMinMinor = 46;
constexpr const char* kBootstrapHint =
    "run scripts/bootstrap (it installs jj >= 0.46 into .deps/), or set FAB_JJ to a jj binary";

struct Version {
  int major = 0, minor = 0;
};

std::optional<Version> parse_version(const std::string& text) {  // "jj 0.46.0" / "jj 0.46.0-abc"
  auto space = text.find(' ');
  if (space == std::string::npos) return std::nullopt;
  Version v;
  if (std::sscanf(text.c_str() + space + 1, "%d.%d", &v.major, &v.minor) != 2) return std::nullopt;
  return v;
}

// scripts/bootstrap's wrapper runs jj through its prefix's own glibc loader, and says so in its
// `# fab-exec:` line (exec_argv_of). Running that argv directly saves starting a shell for every jj
// call (~2 ms of ~15). Anything else (a real jj binary, another script) runs as is.
std::vector<std::string> exec_argv(const std::filesystem::path& jj) { return exec_argv_of(jj); }

// Version checks are cached per binary: one `jj --version` per process.
Result<std::string> checked_version(const std::filesystem::path& jj, const std::vector<std::string>& exec) {
  static std::mutex mu;
  static std::map<std::string, std::string> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(jj.string()); it != cache.end()) return it->second;
  std::vector<std::string> argv = exec;
  argv.push_back("--version");
  auto r = run_process({.argv = argv, .timeout = std::chrono::seconds(30)});
  if (!r) return fail(r.error().context(fmt::format("cannot run jj at '{}'", jj.string())).with_hint(kBootstrapHint));
  if (!r->ok()) {
    return fail(Error(fmt::format("jj at '{}' does not run: {}", jj.string(), r->describe()))
                    .caused_by(r->err.empty() ? r->out : r->err)
                    .with_hint(kBootstrapHint));
  }
  auto line = r->out.substr(0, r->out.find('\n'));
  auto v = parse_version(line);
  if (!v) return fail(fmt::format("cannot read jj's version from '{}'", line), kBootstrapHint);
  if (v->major < kMinMajor || (v->major == kMinMajor && v->minor < kMinMinor)) {
    return fail(fmt::format("jj at '{}' is {}; fab needs jj >= {}.{}", jj.string(), line, kMinMajor, kMinMinor),
                kBootstrapHint);
  }
  cache[jj.string()] = line;
  return line;
}

// jj's stderr, trimmed to its message: "Error: x\nCaused by: y\nHint: z" -> causes + hint.
Error jj_failure(const std::vector<std::string>& args, const JjOutput& o) {
  std::string cmd = "jj";
  for (const auto& a : args) cmd += " " + (a.size() > 80 ? a.substr(0, 77) + "..." : a);
  Error e(fmt::format("`{}` failed (exit status {})", cmd, o.exit_code));
  std::istringstream in(o.err);
  std::string line, hint;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("Hint: ", 0) == 0) {
      hint += (hint.empty() ? "" : " ") + line.substr(6);
    } else if (line.rfind("Error: ", 0) == 0) {
      e.causes.push_back(line.substr(7));
    } else if (line.rfind("Caused by: ", 0) == 0) {
      e.causes.push_back(line.substr(11));
    } else if (!e.causes.empty()) {
      e.causes.back() += "\n" + line;
    } else {
      e.causes.push_back(line);
    }
  }
  if (!hint.empty()) e.hint = "jj says: " + hint;
  return e;
}

}  // namespace

std::string quoted_string(std::string_view s, OtherControls others) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) {
          out += c;
        } else if (others == OtherControls::unicode_escape) {
          out += fmt::format("\\u{:04x}", c);
        }
    }
  }
  return out + "\"";
}

JjIdentity user_identity(const std::vector<std::string>& jj_exec, const std::filesystem::path& repo) {
  // jj: one call for both keys, each value as JSON ("No matching config key" when neither is set).
  std::map<std::string, std::string> jj;
  std::vector<std::string> argv = jj_exec;
  argv.insert(argv.end(), {"--no-pager", "--color=never", "--ignore-working-copy"});
  std::error_code ec;
  const bool is_repo = std::filesystem::is_directory(repo / ".jj", ec);  // not yet, while `jj git init` runs
  if (is_repo) argv.insert(argv.end(), {"-R", repo.string()});
  argv.insert(argv.end(), {"config", "list", "user", "-T", "name ++ \"\\t\" ++ json(value) ++ \"\\n\""});
  if (auto r = run_process({.argv = argv, .cwd = is_repo ? repo : std::filesystem::path{}, .timeout = std::chrono::seconds(30)});
      r && r->ok()) {
    std::istringstream in(r->out);
    for (std::string line; std::getline(in, line);) {
      auto tab = line.find('\t');
      if (tab == std::string::npos) continue;
      try {
        auto v = nlohmann::json::parse(line.substr(tab + 1));
        if (v.is_string()) jj[line.substr(0, tab)] = v.get<std::string>();
      } catch (const nlohmann::json::exception&) {
      }
    }
  }
  if (!jj["user.name"].empty() && !jj["user.email"].empty()) return {jj["user.name"], jj["user.email"]};
  if (auto git = git_version()) {
    const bool dir = std::filesystem::is_directory(repo, ec);
    auto get = [&](const char* key) {
      std::vector<std::string> args = git->exec;
      if (dir) args.insert(args.end(), {"-C", repo.string()});
      args.insert(args.end(), {"config", "--get", key});
      auto r = run_process({.argv = args, .timeout = std::chrono::seconds(30)});
      std::string v = r && r->ok() ? r->out : std::string{};
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
      return v;
    };
    JjIdentity id{get("user.name"), get("user.email")};
    if (!id.name.empty() && !id.email.empty()) return id;
  }
  return {};
}

Result<JjRunner> JjRunner::with_binary(std::filesystem::path jj, JjIdentity identity) {
  auto exec = exec_argv(jj);
  FAB_TRY_ASSIGN(auto version, checked_version(jj, exec));
  auto id = std::make_shared<Identity>();
  id->id = std::move(identity);
  return JjRunner(std::move(jj), std::move(exec), std::move(version), std::move(id));
}

Result<JjRunner> JjRunner::locate_as_user(const std::filesystem::path& repo) {
  FAB_TRY_ASSIGN(auto runner, locate());
  auto id = std::make_shared<Identity>();
  id->user_repo = std::filesystem::absolute(repo);
  runner.m_identity = std::move(id);
  return runner;
}

const JjIdentity& JjRunner::identity() const {
  Identity& id = *m_identity;
  std::call_once(id.once, [&] {
    if (!id.user_repo.empty()) id.id = user_identity(m_exec, id.user_repo);
  });
  return id.id;
}

Result<JjRunner> JjRunner::locate(JjIdentity identity) {
  if (const char* env = std::getenv("FAB_JJ"); env != nullptr && *env != '\0') {
    std::filesystem::path p = env;
    if (!std::filesystem::exists(p)) {
      return fail(fmt::format("FAB_JJ is set to '{}', which does not exist", env), kBootstrapHint);
    }
    return with_binary(p, std::move(identity));
  }
  if (std::string boot = FAB_BOOTSTRAP_JJ; !boot.empty() && std::filesystem::exists(boot)) {
    return with_binary(boot, std::move(identity));
  }
  auto on_path = find_on_path("jj");
  if (on_path.empty()) return fail("jj was not found (FAB_JJ is unset, no bootstrap prefix, none on PATH)", kBootstrapHint);
  return with_binary(on_path, std::move(identity));
}

std::vector<std::string> JjRunner::argv_for(const std::vector<std::string>& args, const JjCall& call) const {
  std::vector<std::string> argv = m_exec;
  argv.insert(argv.end(), {"--no-pager", "--color=never"});
  if (!call.repo.empty()) {
    argv.push_back("-R");
    argv.push_back(call.repo.string());
  }
  if (!call.snapshot) argv.push_back("--ignore-working-copy");
  if (call.at_operation) {
    argv.push_back("--at-op");
    argv.push_back(*call.at_operation);
  }
  for (const auto& c : call.config) {
    argv.push_back("--config");
    argv.push_back(c);
  }
  if (!call.cause.empty()) {
    argv.push_back("--config");
    argv.push_back("fab.cause=" + toml_string(call.cause));
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Result<JjOutput> JjRunner::run(const std::vector<std::string>& args, const JjCall& call) const {
  // jj prints paths relative to its working directory: run it at the repo so they are repo paths.
  ProcessSpec spec{.argv = argv_for(args, call),
                   .cwd = call.repo,
                   .env_remove = {"JJ_EDITOR", "JJ_PAGER"},
                   .stdin_data = call.stdin_data};
  // A fixed identity goes with every call. The user's goes with each call that may write a commit (a
  // mutation names its cause; a snapshot commits the working copy): reads never look it up.
  if (call.snapshot || !call.cause.empty() || m_identity->user_repo.empty()) {
    const JjIdentity& id = identity();
    spec.env = {{"JJ_USER", id.name}, {"JJ_EMAIL", id.email}};
  }
  auto r = run_process(spec);
  if (!r) {
    // jj was found and checked when this runner was made: E2BIG is fab's own command line.
    if (r.error().os_error == E2BIG) {
      std::size_t bytes = 0;
      for (const auto& a : spec.argv) bytes += a.size() + 1;
      return fail_internal(fmt::format("cannot run jj {}: its command line ({} bytes) is too long for the system",
                                       args.empty() ? "" : args[0], bytes));
    }
    return fail(r.error().context("cannot run jj").with_hint(kBootstrapHint));
  }
  JjOutput o{r->exit_code, std::move(r->out), std::move(r->err), r->duration};
  spdlog::debug("jj {} -> {} in {:.1f} ms", fmt::join(args, " "), r->signal ? -r->signal : o.exit_code,
                static_cast<double>(o.duration.count()) / 1000.0);
  if (r->signal != 0) {
    return fail(Error(fmt::format("jj {} was {}", args.empty() ? "" : args[0], r->describe())).caused_by(o.err));
  }
  if (o.exit_code != 0 && !call.allow_failure) return fail(jj_failure(args, o));
  return o;
}

}  // namespace fab
