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
  std::string cause;        // what the command passed as fab.cause (anyone can pass one: see engine/oplog.h)
  std::string claimed_cause;  // (engine/oplog) a cause an operation that is not fab's passed
  bool is_snapshot = false;
  std::string workspace;    // the workspace the command ran in ("default", "fab-engineer", "fab-pool-1", ...)
  std::vector<std::string> parents;  // operation IDs
};

// What one operation changed, compared to its parent(s) (`jj op show`).
struct OperationChanges {
  struct CommitChange {
    std::string commit_id;
    ChangeId change_id;
  };
  std::vector<CommitChange> added;    // commits that became visible (new or rewritten)
  std::vector<CommitChange> removed;  // commits that were hidden (abandoned, or the old side of a rewrite)
  struct BookmarkChange {
    std::string name;
    std::vector<std::string> now;     // commit IDs it points to after (empty: deleted; 2+: conflicted)
    std::vector<std::string> before;  // ... and before (empty: created)
  };
  std::vector<BookmarkChange> bookmarks;  // local bookmarks only
};

// A file a snapshot did not record, and why ("1.5MiB (1600000 bytes); the maximum size allowed is
// 1.0MiB (1048576 bytes)", "not valid UTF-8").
struct RefusedFile {
  std::string path;
  std::string why;
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
