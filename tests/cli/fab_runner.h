#pragma once
// Runs the real fab binary (built next to the tests) in a directory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "substrate/process.h"
#include "tests/support/catch_fab.h"
#include "tests/support/temp_dir.h"

namespace fab::test {

struct FabRun {
  int exit_code;
  std::string out;
  std::string err;
};

inline FabRun run_fab(const std::filesystem::path& cwd, std::vector<std::string> args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(120),
                      std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), (bin_dir() / "fab").string());
  auto r = run_process({.argv = args, .cwd = cwd, .env = std::move(env), .timeout = timeout});
  REQUIRE(r);
  INFO(r->err);
  REQUIRE_FALSE(r->timed_out);
  REQUIRE(r->signal == 0);
  return {r->exit_code, r->out, r->err};
}

// jj on a repo, as the user would run it (reads only).
inline std::string jj_read(const std::filesystem::path& repo, std::vector<std::string> args) {
  args.insert(args.begin(), {jj_for_tests().string(), "--no-pager", "--color=never", "--ignore-working-copy", "-R", repo.string()});
  auto r = run_process({.argv = args, .cwd = repo});
  REQUIRE(r);
  INFO(r->err);
  REQUIRE(r->ok());
  return r->out;
}

// How many operations the repo's jj op log holds (a command that changed nothing adds none).
inline std::size_t op_count(const std::filesystem::path& repo) {
  auto out = jj_read(repo, {"op", "log", "--no-graph", "-T", "id ++ \"\\n\""});
  return static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n'));
}

// The non-empty lines of `text` (for JSON Lines output).
inline std::vector<std::string> text_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) lines.push_back(l);
  }
  return lines;
}

}  // namespace fab::test
