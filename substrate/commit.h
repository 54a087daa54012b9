#pragma once
// What fab reads about a commit, a jj operation and a workspace. Filled from jj's templates, one jj
// call per query.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "substrate/change_id.h"

namespace fab {

struct Commit {
  ChangeId change_id;
  std::string commit_id;             // 40 hex
  std::vector<std::string> parents;  // commit IDs
  std::string description;
  bool empty = false;
  bool conflict = false;
  std::vector<std::string> bookmarks;  // local bookmarks pointing here
  std::optional<std::string> diff;     // its diff against its parent in git's format, when asked for
};

struct Operation {
  std::string id;           // full hex operation ID
  std::string time_start;   // ISO-8601 UTC
  std::string time_end;
  std::string description;  // jj's own ("rebase commit ...", "snapshot working copy")
  std::string command;      // the command line jj recorded ("jj rebase -r ..."), may be empty
  std::string cause;        // what fab recorded as fab.cause for this operation, empty if not fab's
  bool is_snapshot = false;
};

struct Workspace {
  std::string name;
  std::optional<ChangeId> target;  // the workspace's working-copy change
  std::filesystem::path root;      // its directory
};

// The three sides of one conflicted file, as jj's merge-tool protocol hands them out.
struct ConflictSides {
  std::string base;
  std::string ours;    // the destination side ($left): trunk when an item is rebased onto trunk
  std::string theirs;  // the rebased change's side ($right): the item's own work
};

}  // namespace fab
