#pragma once
// A jj repository as fab uses it. Every method is one (or a few, batched) jj calls through the
// JjRunner; nothing else in fab runs jj. Reads use --ignore-working-copy; mutations record
// `cause` (see with_cause) in the operation log so `fab oplog` can say why each operation happened.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "substrate/commit.h"
#include "substrate/error.h"
#include "substrate/jj_runner.h"

namespace fab {

class Repo {
 public:
  // What Repo::init builds the jj repo on.
  enum class Backing {
    own_git,       // a new git store hidden in .jj/ (non-colocated)
    existing_git,  // the git repository already in `dir` (.git): colocated, so its commits and
                   // branches become jj commits and bookmarks, and jj keeps git's refs up to date
  };
  // Creates a jj repo in `dir` (created if missing).
  static Result<Repo> init(const std::filesystem::path& dir, JjRunner jj, Backing backing = Backing::own_git);
  // Opens the repo whose root is `dir`.
  static Result<Repo> open(const std::filesystem::path& dir, JjRunner jj);
  // The root of the jj repo (or workspace) containing `from`.
  static Result<std::filesystem::path> find_root(const std::filesystem::path& from);

  const std::filesystem::path& root() const { return m_root; }
  const JjRunner& jj() const { return m_jj; }
  // A copy whose mutations record `cause` in the operation log.
  Repo with_cause(std::string cause) const;

  // --- reads ---
  Result<std::vector<Commit>> query(const std::string& revset,
                                    const std::optional<std::string>& at_operation = std::nullopt) const;
  // The same, and for the commits also in `diff_revset` their diff (Commit::diff), in the same call.
  Result<std::vector<Commit>> query_with_diffs(const std::string& revset, const std::string& diff_revset) const;
  Result<Commit> commit(const ChangeId& id) const;
  Result<ChangeId> resolve_change(std::string_view prefix) const;
  Result<std::string> current_operation() const;  // its full hex ID
  // Each change's diff against its parent in git's format (as `jj diff --git -r <id>` prints it),
  // keyed by full change id; one jj call for all of them.
  Result<std::map<std::string, std::string>> git_diffs(const std::vector<ChangeId>& ids) const;
  // The bytes of `path` in the commit `revision` names (a revset of one commit), binary files
  // too; nothing when that commit has no such file.
  Result<std::optional<std::string>> file_content(const std::string& revision, const std::string& path) const;

  // --- changes ---
  // Creates one empty change per description, all children of `parent` (a revset naming exactly
  // one commit); returns their IDs in the order of `descriptions`. A description shows in jj as jj
  // itself stores `-m` text: with a final newline added when it lacks one. All or nothing.
  //
  // In a git-backed repo with `git` on PATH (the usual case), whatever n is: one `jj log` resolves
  // `parent`; ONE `git fast-import` writes all n commits, each on a temporary ref
  // `refs/heads/fab-import/<token>/<i>`; one `jj git import` makes them changes (jj derives an
  // imported commit's change ID from its commit ID); one `jj log` maps the temporary bookmarks to
  // the change IDs; `jj bookmark delete` + `jj git export` remove the bookmarks and refs. Three jj
  // operations in all (two in a colocated repo, where jj exports by itself), each with the cause. Calls are serialized across threads and processes
  // by an flock on .jj/fab-import.lock, which also holds the last committer timestamp a batch
  // used: every batch starts past it and repeats of a description within a batch get a second
  // more each, so no two commits are byte-identical (equal commits would be one change). Under the
  // lock, temporary bookmarks and refs a crashed call left are removed first (one `git
  // for-each-ref` when there are none); the changes such a call made stay. A failure after the
  // import abandons the new changes.
  //
  // Otherwise (another backend, no git, a conflicted parent, or FAB_BATCH=duplicate in the
  // environment) it falls back to jj alone: one `jj new`, then `jj duplicate` doubling what
  // exists: O(log n) operations, but jj writes every commit separately (for 1000 changes, several
  // times slower than the import).
  // FAB_BATCH accepts `duplicate` or `auto` (the default, also when unset or empty).
  Result<std::vector<ChangeId>> create_changes(const std::string& parent,
                                               const std::vector<std::string>& descriptions) const;
  Result<ChangeId> create_change(const std::string& parent, const std::string& description) const;
  Status describe(const ChangeId& id, const std::string& description) const;
  Status abandon(const std::vector<ChangeId>& ids) const;
  // Rebases each change (alone, not its descendants) onto `destination`, in one operation (edges
  // among them are kept; jj leaves a change already there alone). Reads nothing back.
  Status rebase_revisions(const std::vector<ChangeId>& ids, const std::string& destination) const;
  // The same, then one read: the ones jj recorded a conflict in.
  Result<std::vector<ChangeId>> rebase(const std::vector<ChangeId>& ids, const std::string& destination) const;

  // --- bookmarks ---
  Result<std::optional<Commit>> bookmark(const std::string& name) const;
  Status set_bookmark(const std::string& name, const std::string& revision, bool allow_backwards = false) const;

  // --- conflicts ---
  Result<std::vector<std::string>> conflicted_paths(const ChangeId& id) const;
  Result<ConflictSides> conflict_sides(const ChangeId& id, const std::string& path) const;
  Status write_resolution(const ChangeId& id, const std::string& path, const std::string& content) const;

  // --- workspaces ---
  // Adds a workspace in `dir` whose working copy is the change `at` itself (so edits land in it).
  // Serialized across threads and processes (concurrent `jj workspace add` breaks, jj #9314).
  Status add_workspace(const std::string& name, const std::filesystem::path& dir, const ChangeId& at) const;
  Result<std::vector<Workspace>> workspaces() const;
  Status forget_workspace(const std::string& name, const std::filesystem::path& dir) const;
  // Makes `id` the working copy of the workspace in `dir` (one operation). A stale workspace (its
  // working-copy commit was rewritten from elsewhere) is brought up to date first; edits made in it
  // since its last snapshot are not kept.
  Status edit_in_workspace(const std::filesystem::path& dir, const ChangeId& id) const;
  // Snapshots the workspace's files into its working-copy change and returns that change; with
  // `git_diff`, also that change's diff against its parent (as git_diffs gives it), in the same call.
  Result<Commit> snapshot_workspace(const std::filesystem::path& dir, std::string* git_diff = nullptr) const;
  // Brings a stale workspace up to date (its files become the rewritten commit's). Edits made after
  // its last snapshot are not lost, but jj records them on top of the change as it was, next to the
  // rewritten commit: the change becomes divergent. So snapshot a workspace before rewriting its
  // change from outside (the floor always does).
  Status update_stale_workspace(const std::filesystem::path& dir) const;
  // Puts the workspace's files and its working-copy change back to `commit_id`'s tree: whatever was
  // written since (an inspector's build output, say) is dropped from both. jj snapshots those edits
  // first, so the change's evolution log still shows them.
  Status restore_workspace(const std::filesystem::path& dir, const std::string& commit_id) const;

  // --- operation log ---
  Result<std::vector<Operation>> operations(std::size_t limit = 0) const;  // newest first; 0: all
  Status restore_operation(const std::string& op) const;

  // Runs jj on this repo with the given call settings (repo and cause filled in).
  Result<JjOutput> run(const std::vector<std::string>& args, JjCall call = {}) const;

 private:
  Repo(std::filesystem::path root, JjRunner jj) : m_root(std::move(root)), m_jj(std::move(jj)) {}

  // create_changes' two ways (see there); `parent` is resolved to one commit first for the import.
  Result<std::vector<ChangeId>> create_changes_by_duplicate(const std::string& parent,
                                                            const std::vector<std::string>& descriptions) const;
  Result<std::vector<ChangeId>> create_changes_by_import(const std::filesystem::path& git,
                                                         const std::filesystem::path& git_dir,
                                                         const std::filesystem::path& lock_file,
                                                         const std::string& parent_commit,
                                                         const std::vector<std::string>& descriptions) const;
  // Removes temporary fab-import/* bookmarks and refs a crashed create_changes left (under its lock).
  Status clean_import_leftovers(const std::filesystem::path& git, const std::filesystem::path& git_dir) const;

  std::filesystem::path m_root;
  JjRunner m_jj;
  std::string m_cause;
};

// A jj revset string literal: "..." with escapes.
std::string revset_string(std::string_view s);
// `change_id | change_id | ...`
std::string revset_of(const std::vector<ChangeId>& ids);

}  // namespace fab
