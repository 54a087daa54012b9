#pragma once
// The one runner for every jj call fab makes. It finds jj (FAB_JJ, then the bootstrap prefix, then
// PATH), checks its version once (a bootstrap wrapper is run through its `# fab-exec:` loader line
// directly, saving a shell per call), and runs it with fixed flags: --no-pager --color=never, the
// author identity (JJ_USER/JJ_EMAIL) on every call that can write a commit, -R <repo>, and
// --ignore-working-copy unless the call asks for a snapshot.
// stdout, stderr, exit status and duration are captured; each call logs one debug line. A failing
// call becomes an Error that names the command and carries jj's own message.
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "substrate/error.h"

namespace fab {

struct JjIdentity {
  std::string name = "fab";
  std::string email = "fab@localhost";
  bool operator==(const JjIdentity&) const = default;
};

// The user's own identity for commits in `repo`: jj's user.name and user.email (its config, with
// JJ_USER/JJ_EMAIL), else git's (`git config` there), else fab's default (fab <fab@localhost>).
// Each of name and email is taken from the first source that has both.
JjIdentity user_identity(const std::vector<std::string>& jj_exec, const std::filesystem::path& repo);

struct JjCall {
  std::filesystem::path repo;                 // -R; a repo root or a workspace directory
  bool snapshot = false;                      // false: --ignore-working-copy
  std::optional<std::string> at_operation;    // --at-op: read the repo as of an operation
  std::vector<std::string> config;            // extra --config KEY=VALUE (TOML values)
  std::string cause;                          // recorded in the operation's args as fab.cause
  std::optional<std::string> stdin_data;
  bool allow_failure = false;                 // return a non-zero exit as a result, not an Error
};

struct JjOutput {
  int exit_code = 0;
  std::string out;
  std::string err;
  std::chrono::microseconds duration{0};
};

class JjRunner {
 public:
  // Locates jj and checks it is >= 0.46 (once per process and path). Commits are by `identity`.
  static Result<JjRunner> locate(JjIdentity identity = {});
  // The same, with commits by the user's own identity in `repo` (user_identity), looked up the
  // first time a call may write a commit (reads never pay for it).
  static Result<JjRunner> locate_as_user(const std::filesystem::path& repo);
  // Uses this jj binary (checked the same way).
  static Result<JjRunner> with_binary(std::filesystem::path jj, JjIdentity identity = {});

  Result<JjOutput> run(const std::vector<std::string>& args, const JjCall& call) const;

  const std::filesystem::path& binary() const { return m_jj; }
  const std::string& version() const { return m_version; }
  // The author and committer of every commit this runner's jj calls write.
  const JjIdentity& identity() const;
  // The full argv run() would use (for the benchmark and for error messages).
  std::vector<std::string> argv_for(const std::vector<std::string>& args, const JjCall& call) const;

 private:
  // The identity, fixed or looked up once (copies of a runner share it).
  struct Identity {
    std::filesystem::path user_repo;  // non-empty: the user's identity in this repo (looked up once, lazily)
    std::once_flag once;
    JjIdentity id;
  };
  JjRunner(std::filesystem::path jj, std::vector<std::string> exec, std::string version, std::shared_ptr<Identity> id)
      : m_jj(std::move(jj)), m_exec(std::move(exec)), m_version(std::move(version)), m_identity(std::move(id)) {}
  std::filesystem::path m_jj;
  std::vector<std::string> m_exec;  // what actually runs: m_jj, or the loader line of its bootstrap wrapper
  std::string m_version;
  std::shared_ptr<Identity> m_identity;
};

// What quoted_string does with control characters other than \n, \t and \r.
enum class OtherControls { unicode_escape, drop };
// "..." with \" \\ \n \t \r escaped: the syntax TOML basic strings and jj's template string
// literals share. TOML also takes \uXXXX for other control characters; jj's literals do not, so
// for them those are dropped.
std::string quoted_string(std::string_view s, OtherControls others);
// A TOML basic string, for --config values.
inline std::string toml_string(std::string_view s) { return quoted_string(s, OtherControls::unicode_escape); }

}  // namespace fab
