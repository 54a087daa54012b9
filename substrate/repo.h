#pragma once
// A jj repository as fab uses it. Every method is one (or a few, batched) jj calls through the
// JjRunner; nothing else in fab runs jj. Reads use --ignore-working-copy; mutations record
// `cause` (see with_cause) in the operation log so `fab oplog` can say why each operation happened.
#include <filesystem>
#include <cstdint>
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

  // --- the seat ---
  // In a repo colocated with the user's git, any jj command run in the default workspace (the
  // user's checkout) resets git's index to jj's idea of it and may move HEAD, even with
  // --ignore-working-copy. So fab runs every call from a workspace of its own, the seat, outside the
  // user's tree (never snapshotted: its working copy is an empty change on the root commit); the
  // user's checkout, index and HEAD are never touched, and jj's automatic git import/export does
  // not happen there (git_import / git_export do it explicitly).
  // A copy whose calls run from the seat workspace in `dir` (repo-wide calls only; calls that name
  // a workspace directory still run there).
  Repo at_seat(std::filesystem::path dir) const;
  const std::filesystem::path& seat() const { return m_seat; }
  // Adds the seat workspace `name` in `dir` without running jj in the default workspace's working
  // copy (so the user's index and HEAD stay as they are).
  Status create_seat(const std::string& name, const std::filesystem::path& dir) const;
  // True when jj's store is the git repository of the user's checkout (<root>/.git).
  bool colocated() const;

  // --- git (a colocated repo) ---
  // Imports what git's refs say (a user's `git commit` on a branch) into jj.
  Status git_import() const;
  // The same, abandoning no commit whose refs went (`git.abandon-unreachable-commits=false`): after
  // restore_git_refs_of, whose commits the working copy is still built on until they are folded.
  Status git_import_keeping_commits() const;
  // Exports jj's bookmarks to git's refs; returns the bookmarks jj could not export (a ref git moved
  // meanwhile), empty when all went out.
  Result<std::vector<std::string>> git_export() const;
  // The commit git's refs/heads/<branch> names (loose or packed ref; no process), if any.
  std::optional<std::string> git_branch_commit(const std::string& branch) const;
  // Moves git's refs/heads/<branch> from `from` to `to` (`git update-ref`, compare-and-swap) in a
  // colocated repo, jj not told; false when it was no longer at `from`.
  Result<bool> git_move_branch_from(const std::string& branch, const std::string& from, const std::string& to) const;

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
  // The same, but as a stack rather than siblings (through git fast-import): the last change is a
  // child of `parent`, each other one a child of the next, so the first is the stack's only head.
  // A queue of thousands of changes is then one head in every jj view, not thousands (each jj
  // operation writes and reads the view's head list: at 10,000 sibling heads a `jj describe` took
  // 60-70 ms instead of 10). Taking a change out of the stack (`rebase_revisions`) rebases the ones
  // above it; they are empty, so that cannot conflict. Without git (the `jj duplicate` fallback)
  // the changes are siblings, as create_changes makes them.
  Result<std::vector<ChangeId>> create_stack(const std::string& parent,
                                             const std::vector<std::string>& descriptions) const;
  Result<ChangeId> create_change(const std::string& parent, const std::string& description) const;
  // (`revision`: a change ID, or a commit ID — a hidden commit named by its ID becomes visible.)
  Status describe(const std::string& revision, const std::string& description) const;
  Status describe(const ChangeId& id, const std::string& description) const { return describe(id.str(), description); }
  // Records the working copy's files as a commit (`jj commit -m`): `fab init` in a directory of files.
  Status commit_working_copy(const std::string& message) const;
  Status abandon(const std::vector<ChangeId>& ids) const;
  // Abandons the commits named by their commit IDs (a divergent change's extra copies, say).
  Status abandon_commits(const std::vector<std::string>& commit_ids) const;
  // Makes `into`'s tree exactly `from`'s (`jj restore --from --into`); both are revisions.
  Status restore_into(const std::string& from, const std::string& into) const;
  // Rebases one revision (a change or commit ID) alone onto `destination`.
  Status rebase_revision(const std::string& revision, const std::string& destination) const;
  // Rebases `source` (a revset naming one commit) and its descendants onto `destination`.
  Status rebase_source(const std::string& source, const std::string& destination) const;
  // Rebases each change (alone, not its descendants) onto `destination`, in one operation (edges
  // among them are kept; jj leaves a change already there alone). Reads nothing back.
  // `separately`: each of them directly onto `destination`, edges among them not kept (one more
  // operation per change still stacked on another of them, as in a stack from create_stack).
  Status rebase_revisions(const std::vector<ChangeId>& ids, const std::string& destination,
                          bool separately = false) const;
  // The same, then one read: the ones jj recorded a conflict in.
  Result<std::vector<ChangeId>> rebase(const std::vector<ChangeId>& ids, const std::string& destination) const;

  // --- bookmarks ---
  Result<std::optional<Commit>> bookmark(const std::string& name) const;
  Status set_bookmark(const std::string& name, const std::string& revision, bool allow_backwards = false) const;
  // Compare-and-swap: moves bookmark `name` to `to` only if it points at commit `from` now (one jj
  // call: `jj bookmark move --from`). True if it moved; false if it was elsewhere (nothing changed).
  Result<bool> move_bookmark_from(const std::string& name, const std::string& from, const std::string& to,
                                  bool allow_backwards = false) const;
  Status delete_bookmark(const std::string& name) const;
  // Where a bookmark points, seen from `seen` (a commit someone last saw it at), in one read.
  struct BookmarkRead {
    std::vector<Commit> targets;  // empty: no such bookmark; 2+: conflicted
    bool descends_from_seen = false;  // (one target) it is `seen` or a descendant of it
    bool ancestor_of_seen = false;    // (one target) it is `seen` or an ancestor of it
  };
  Result<BookmarkRead> read_bookmark(const std::string& name, const std::string& seen) const;

  // --- conflicts ---
  Result<std::vector<std::string>> conflicted_paths(const ChangeId& id) const;
  Result<ConflictSides> conflict_sides(const ChangeId& id, const std::string& path) const;
  Status write_resolution(const ChangeId& id, const std::string& path, const std::string& content) const;

  // --- workspaces ---
  // Adds a workspace in `dir` whose working copy is the change `at` itself (so edits land in it).
  // Serialized across threads and processes (concurrent `jj workspace add` breaks, jj #9314).
  // Returns the working copy's commit ID (as edit_in_workspace does). In a colocated repo whose
  // git allows it (workspaces_get_git()), the workspace is a git worktree of the user's repository
  // too (`jj workspace add --colocate`), so git works inside it; else it has no git of its own.
  Result<std::string> add_workspace(const std::string& name, const std::filesystem::path& dir, const ChangeId& at) const;
  Result<std::vector<Workspace>> workspaces() const;
  // Whether add_workspace gives a workspace its own git worktree: the repo is colocated and its
  // git (git_worktrees(): >= 2.54) allows it.
  bool workspaces_get_git() const;
  // --- a workspace's git worktree (workspaces_get_git()) ---
  // Its git directory (<repo>/.git/worktrees/<name>), from its `.git` file; empty if it has none.
  std::filesystem::path worktree_git_dir(const std::filesystem::path& workspace) const;
  // The environment that makes git record every ref it changes in `workspace` (a
  // reference-transaction hook defined in git's config, GIT_CONFIG_KEY_<n>/VALUE_<n> from
  // `first_index` on; git >= 2.54) into <its git directory>/fab-refs; empty when the workspace has
  // no worktree or its git cannot.
  std::map<std::string, std::string> git_ref_log_env(const std::filesystem::path& workspace, int first_index) const;
  // Puts back what git recorded in the worktree whose git directory is `worktree_git_dir`
  // (git_ref_log_env; worktree_git_dir() taken before the call, so that it outlives a workspace the
  // call deleted) and forgets the record: the branches and tags it created go, those it moved go
  // back, and the same for the stash (all shared with the user's repository; HEAD and the
  // worktree's own refs stay); a stash pushed on top of the user's own is dropped, so the user's
  // entries stay as they were. A ref moved again since is left as it is. One line per ref for the
  // attempt's record; the caller imports git's refs into jj after.
  Result<std::vector<std::string>> restore_git_refs_of(const std::filesystem::path& worktree_git_dir) const;
  // Whether git in that worktree recorded moving `ref` to `value`, or is about to (the lines of a
  // transaction not yet committed): the call's git did it, not the user.
  bool git_ref_log_moved(const std::filesystem::path& worktree_git_dir, const std::string& ref,
                         const std::string& value) const;

  // Removes `dir` (none if empty), then forgets the workspace (one already gone is no error): the
  // directory first, for what it holds may be what keeps jj from writing (a full disk). A git
  // worktree of it goes too (remove_git_worktrees), so none pile up in the user's .git/worktrees/.
  Status forget_workspace(const std::string& name, const std::filesystem::path& dir) const;
  // Removes the git worktrees of the repo whose directories were `under` (fab's pool) and are gone:
  // what a workspace whose directory went before jj forgot it (a run that died, an agent that
  // deleted its workspace) leaves in the user's .git/worktrees/. Nothing to do (and no git run)
  // when the repo has no worktrees.
  Status remove_git_worktrees(const std::filesystem::path& under) const;
  // Forgets several in one call (one by one if some are already gone). Directories are left.
  Status forget_workspaces(const std::vector<std::string>& names) const;
  // Makes `id` the working copy of the workspace in `dir` (one operation). A stale workspace (its
  // working-copy commit was rewritten from elsewhere) is brought up to date first; edits made in it
  // since its last snapshot are not kept.
  // Returns the working copy's commit ID after the edit (empty when jj did not say: it was already
  // there).
  Result<std::string> edit_in_workspace(const std::filesystem::path& dir, const ChangeId& id) const;
  // The same for a commit named by its ID (a hidden one becomes visible again).
  Result<std::string> edit_commit_in_workspace(const std::filesystem::path& dir, const std::string& commit_id) const;
  // Snapshots the workspace's files into its working-copy change and returns that change; with
  // `git_diff`, also that change's diff against its parent (as git_diffs gives it), in the same call.
  Result<Commit> snapshot_workspace(const std::filesystem::path& dir, std::string* git_diff = nullptr) const;
  // The same, with jj's limit on new files' size set to `max_new_file_size` bytes (0: jj's own), and
  // the files jj refused to record (too big, a name that is not UTF-8) reported instead of warned
  // about; `revset` adds other commits to the read (in the same call, after the working copy's).
  // `protect` (a revset) names commits the snapshot must not rewrite: when the working copy is one
  // of them (or below one), jj records the files in a new commit on top of it instead.
  struct Snapshot {
    std::vector<Commit> commits;     // the working-copy commit first, then those of `revset`
    std::vector<RefusedFile> refused;
  };
  Result<Snapshot> snapshot_and_read(const std::filesystem::path& dir, std::uint64_t max_new_file_size,
                                     const std::string& revset = {}, bool with_diffs = false,
                                     const std::string& protect = {}) const;
  // Brings a stale workspace up to date (its files become the rewritten commit's). Edits made after
  // its last snapshot are not lost, but jj records them on top of the change as it was, next to the
  // rewritten commit: the change becomes divergent. So snapshot a workspace before rewriting its
  // change from outside (the floor always does).
  Status update_stale_workspace(const std::filesystem::path& dir) const;
  // Puts the workspace's files and its working-copy change back to `commit_id`'s tree: whatever was
  // written since (an inspector's build output, say) is dropped from both. jj snapshots those edits
  // first, so the change's evolution log still shows them.
  // Returns the working copy's new commit (empty when nothing had to change).
  Result<std::string> restore_workspace(const std::filesystem::path& dir, const std::string& commit_id) const;

  // --- operation log ---
  Result<std::vector<Operation>> operations(std::size_t limit = 0) const;  // newest first; 0: all
  // The operations after `op` (which must be an ancestor of the current one), newest first; `op`
  // itself is not included.
  Result<std::vector<Operation>> operations_since(const std::string& op) const;
  // `op` (a prefix is fine) and its ancestors, newest first: the operations the repo had then.
  Result<std::vector<std::string>> operation_ancestry(const std::string& op) const;
  // What one operation changed (commits made visible or hidden, local bookmarks moved).
  Result<OperationChanges> operation_changes(const std::string& op) const;
  Status restore_operation(const std::string& op) const;
  // Applies the inverse of one operation to the current state (`jj op revert`).
  Status revert_operation(const std::string& op) const;
  // Abandons the operations after `after` up to and including `through` (`jj op abandon
  // after..through`; an empty `after`: from the root on). jj reparents the later operations onto
  // `after`, which gives each of them a new ID; `after` and what came before it keep theirs. What
  // only the abandoned operations kept (earlier versions of changes, their views) becomes garbage
  // for collect_garbage().
  Status abandon_operations(const std::string& after, const std::string& through) const;
  // The operation the working copy in `workspace_root` was last updated at. Abandoning it (or
  // reparenting it) would leave that working copy unusable until `jj workspace update-stale`.
  Result<std::string> working_copy_operation(const std::filesystem::path& workspace_root) const;
  // jj's garbage collection (`jj util gc --expire=now`: operations, views and commits nothing
  // reaches any more; on a git store it also runs `git gc`, which packs the loose objects and refs
  // jj writes per commit), then its index rebuilt for the current operation (`jj debug reindex`:
  // jj's gc keeps an index segment and a link for every operation ever made).
  Status collect_garbage() const;

  // Runs jj on this repo with the given call settings (repo and cause filled in).
  Result<JjOutput> run(const std::vector<std::string>& args, JjCall call = {}) const;

 private:
  // --config for the jj calls that run git (worktrees): git.executable-path, in a colocated repo.
  std::vector<std::string> git_config() const;
  Repo(std::filesystem::path root, JjRunner jj) : m_root(std::move(root)), m_jj(std::move(jj)) {}

  // create_changes' two ways (see there); `parent` is resolved to one commit first for the import.
  Result<std::vector<ChangeId>> create_changes_by_duplicate(const std::string& parent,
                                                            const std::vector<std::string>& descriptions) const;
  Result<std::vector<ChangeId>> create_changes_by_import(const std::filesystem::path& git,
                                                         const std::filesystem::path& git_dir,
                                                         const std::filesystem::path& lock_file,
                                                         const std::string& parent_commit,
                                                         const std::vector<std::string>& descriptions,
                                                         bool stacked) const;
  Result<std::vector<ChangeId>> create_changes_shaped(const std::string& parent,
                                                      const std::vector<std::string>& descriptions,
                                                      bool stacked) const;
  // Removes temporary fab-import/* bookmarks and refs a crashed create_changes left (under its lock).
  Status clean_import_leftovers(const std::filesystem::path& git, const std::filesystem::path& git_dir) const;

  // The JjCall repo for a repo-wide call: the seat if there is one, else the root.
  const std::filesystem::path& call_dir() const { return m_seat.empty() ? m_root : m_seat; }

  std::filesystem::path m_root;
  std::filesystem::path m_seat;
  JjRunner m_jj;
  std::string m_cause;
};

// A jj revset string literal: "..." with escapes.
std::string revset_string(std::string_view s);
// `change_id | change_id | ...`; only for a bounded set (a batch of items), see revset_unions.
std::string revset_of(const std::vector<ChangeId>& ids);
// `a | b | ...` cut into pieces that each fit one command-line argument (Linux refuses an argument
// over 128 KiB with E2BIG; a line of 10,000 items' change IDs is ~250 KB). Every term is in
// exactly one piece; none for no terms.
std::vector<std::string> revset_unions(const std::vector<std::string>& terms, std::size_t max_bytes = 64 * 1024);
std::vector<std::string> revset_unions(const std::vector<ChangeId>& ids, std::size_t max_bytes = 64 * 1024);
// `present(a) | present(b) | ...` of revisions that may be gone (change or commit IDs); "none()"
// for none. Only for a bounded set; present_unions cuts a big one into pieces, as revset_unions.
std::string present_union(const std::vector<std::string>& revisions);
std::vector<std::string> present_unions(const std::vector<std::string>& revisions, std::size_t max_bytes = 64 * 1024);

}  // namespace fab
