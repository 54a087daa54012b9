#pragma once
// A fresh jj repo in a temporary directory, driven by the real jj the bootstrap installed.
#include <catch2/catch.hpp>

#include "substrate/repo.h"
#include "tests/support/catch_fab.h"
#include "tests/support/temp_dir.h"

namespace fab::test {

inline Repo make_repo(const TempDir& dir, const std::string& name = "repo") {
  auto jj = JjRunner::with_binary(jj_for_tests());
  REQUIRE(jj);
  auto repo = Repo::init(dir / name, *jj);
  REQUIRE(repo);
  return *repo;
}

// Writes files into the default workspace and commits them; returns the committed change.
inline ChangeId commit_files(const Repo& repo, const std::map<std::string, std::string>& files, const std::string& msg) {
  for (const auto& [path, content] : files) write_file(repo.root() / path, content);
  auto r = repo.run({"commit", "-m", msg}, {.snapshot = true});
  REQUIRE(r);
  auto c = repo.query("@-");
  REQUIRE(c);
  REQUIRE(c->size() == 1);
  return c->front().change_id;
}

}  // namespace fab::test
