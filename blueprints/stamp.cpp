#include "blueprints/stamp.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "workgraph/durable_file.h"
#include "workgraph/file_lock.h"
#include "workgraph/holder_lock.h"

namespace fab {
namespace {

std::filesystem::path stamping_file(const Factory& factory, const std::string& line_id) {
  return factory.factory_dir() / "stamping" / line_id;
}

// Whether the process named at the end of a marker's temporary name (".tmp-LINE-PID") is alive.
// A pid the system has given to another process since reads alive too: the file then waits for
// the next cleanup, which is harmless.
bool stamp_process_alive(const std::string& tmp_name) {
  const auto dash = tmp_name.rfind('-');
  if (dash == std::string::npos) return false;
  const char* last = tmp_name.data() + tmp_name.size();
  pid_t pid = 0;
  const auto [end, err] = std::from_chars(tmp_name.data() + dash + 1, last, pid);
  if (err != std::errc{} || end != last || pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace

Result<std::vector<std::string>> clean_interrupted_stamps(Factory& factory) {
  namespace fs = std::filesystem;
  std::vector<std::string> repairs;
  std::error_code ec;
  const auto dir = factory.factory_dir() / "stamping";
  if (!fs::is_directory(dir, ec)) return repairs;
  std::vector<std::string> ids;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name.rfind(".tmp-", 0) == 0) {
      // A marker being set up, or one a stamp died setting up (it had made no changes yet). Its
      // name ends in its stamp's pid: while that process lives the file is its own, even before
      // it is locked (creating and locking a file are two steps).
      if (stamp_process_alive(name)) continue;
      if (auto attempt = HolderLock::try_acquire(it->path()); attempt && attempt->lock) fs::remove(it->path(), ec);
      continue;
    }
    ids.push_back(std::move(name));
  }
  for (const auto& line_id : ids) {
    FAB_TRY_ASSIGN(auto attempt, HolderLock::try_acquire(stamping_file(factory, line_id)));
    if (!attempt.lock) continue;  // a stamp is still at work on it
    if (!factory.store().has_line(line_id)) {
      Repo repo = factory.repo().with_cause(fmt::format("{}: stamp interrupted, undo", line_id));
      FAB_TRY_ASSIGN(auto left, repo.query(fmt::format("description(substring:{}) & mutable()",
                                                       revset_string("\nfab-line: " + line_id + "\n"))));
      std::vector<ChangeId> changes;
      for (const auto& c : left) changes.push_back(c.change_id);  // (jj's commits: a ChangeId)
      FAB_TRY(repo.abandon(changes));
      repairs.push_back(fmt::format("abandoned the {} change(s) of line {}, whose stamp was interrupted",
                                    changes.size(), line_id));
    }
    fs::remove(stamping_file(factory, line_id), ec);
  }
  return repairs;
}

std::string item_change_description(const std::string& title, const std::string& line_id,
                                    const std::string& item_id) {
  return fmt::format("{}\n\nfab-line: {}\nfab-item: {}\n", title, line_id, item_id);
}

nlohmann::json to_json(const StampResult& result) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : result.items) items.push_back(to_public_json(item));
  return {{"line", result.line.id}, {"blueprint", result.blueprint.name}, {"items", items}};
}

namespace {

// A line (not dropped) stamped from exactly these texts, if any.
Result<std::optional<Line>> same_stamp(const Factory& factory, const std::string& blueprint_text,
                                       const std::string& requirement_text) {
  FAB_TRY_ASSIGN(auto lines, factory.store().lines());
  for (auto& line : lines) {
    if (!line.dropped.empty() || line.blueprint_yaml != blueprint_text) continue;
    auto copy = read_file_text(factory.store().line_dir(line.id) / "requirement.md");
    if (copy && *copy == requirement_text) return std::optional<Line>(std::move(line));
  }
  return std::optional<Line>();
}

}  // namespace

Result<StampResult> stamp(Factory& factory, const std::filesystem::path& blueprint_file,
                          const std::filesystem::path& requirement_file, const StampOptions& options) {
  const bool dry_run = options.dry_run;
  FAB_TRY_ASSIGN(auto blueprint, parse_blueprint_file(blueprint_file));
  FAB_TRY_ASSIGN(auto requirement, parse_requirement_file(requirement_file, blueprint.decompose));
  if (options.check) FAB_TRY(options.check(blueprint));
  FAB_TRY_ASSIGN(auto req_text, read_file_text(requirement_file));
  if (!options.again) {
    FAB_TRY_ASSIGN(auto same, same_stamp(factory, blueprint.source_text, req_text));
    if (same) {
      return fail(fmt::format("{} was already stamped with this blueprint: line {} (created {})",
                              requirement_file.string(), same->id, same->created),
                  fmt::format("`fab line show {}` shows it; to make a second line from the same files anyway, add "
                              "--again",
                              same->id));
    }
  }

  StampResult result;
  result.blueprint = blueprint;
  result.dry_run = dry_run;
  result.line.blueprint = blueprint.name;
  result.line.requirement = std::filesystem::absolute(requirement_file).lexically_normal().string();
  if (dry_run) {
    result.line.id = "(dry-run)";
  } else {
    FAB_TRY_ASSIGN(result.line.id, factory.store().new_line_id());
  }
  const auto& line_id = result.line.id;
  for (std::size_t i = 0; i < requirement.sections.size(); ++i) {
    const auto& section = requirement.sections[i];
    Item item;
    item.id = fmt::format("{}.{}", line_id, i + 1);
    item.line = line_id;
    item.title = section.title;
    item.body = section.body;
    item.state = ItemState::queued;
    for (auto dep : section.depends_on) item.depends_on.push_back(fmt::format("{}.{}", line_id, dep + 1));
    result.items.push_back(std::move(item));
  }
  if (dry_run) return result;

  // Leftovers of an interrupted stamp go first; then this stamp marks itself in progress.
  FAB_TRY(clean_interrupted_stamps(factory));
  // The marker is locked under a temporary name and then renamed into place, so a cleanup never
  // sees the marker of a live stamp unlocked; the temporary file, unlocked for a moment after its
  // creation, is left alone by a cleanup because its name carries this live process's pid.
  const auto marker = stamping_file(factory, line_id);
  const auto marker_tmp = marker.parent_path() / fmt::format(".tmp-{}-{}", line_id, ::getpid());
  std::error_code ec;
  std::filesystem::create_directories(marker.parent_path(), ec);
  FAB_TRY_ASSIGN(auto in_progress, FileLock::acquire(marker_tmp));
  std::filesystem::rename(marker_tmp, marker, ec);
  if (ec) return fail(fmt::format("cannot create '{}': {}", marker.string(), ec.message()));
  struct Done {
    std::filesystem::path file;
    ~Done() {
      std::error_code e;
      std::filesystem::remove(file, e);
    }
  } done{marker};

  Repo repo = factory.repo().with_cause(fmt::format("{}: stamp", line_id));
  // A blueprint that names no trunk lands on the factory's (`fab init` chose it: --trunk, git's
  // current branch, or main). The line records the trunk it was stamped for.
  if (!blueprint.trunk_given) blueprint.trunk = factory.config().trunk;
  result.blueprint.trunk = blueprint.trunk;
  FAB_TRY_ASSIGN(auto trunk, repo.bookmark(blueprint.trunk));
  if (!trunk) {
    return fail(fmt::format("the blueprint's trunk bookmark '{}' does not exist in this repo", blueprint.trunk),
                fmt::format("this factory's trunk is '{}'; create '{}' with `jj bookmark create {} -r <rev>`, or leave "
                            "`trunk:` out of the blueprint to land on the factory's trunk",
                            factory.config().trunk, blueprint.trunk, blueprint.trunk));
  }
  std::vector<std::string> descriptions;
  // The queue is one stack on trunk, its first item on top (one head in jj's view however long the
  // line; each item is moved onto trunk when it starts).
  for (const auto& item : result.items) descriptions.push_back(item_change_description(item.title, line_id, item.id));
  FAB_TRY_ASSIGN(auto changes, repo.create_stack(trunk->commit_id, descriptions));
  for (std::size_t i = 0; i < changes.size(); ++i) result.items[i].change = changes[i];

  // The blueprint travels with the line, inside line.json (written atomically with it), and is
  // never read from a file again: the copy written below is for people.
  result.line.blueprint_file = std::filesystem::absolute(blueprint_file).lexically_normal().string();
  result.line.blueprint_yaml = blueprint.source_text;
  result.line.blueprint_digest = blueprint_digest(blueprint.source_text);
  result.line.trunk = blueprint.trunk;
  if (auto created = factory.store().create_line(result.line, result.items); !created) {
    // All or nothing: the changes made for this line go again.
    if (auto undone = repo.with_cause(fmt::format("{}: stamp failed, undo", line_id)).abandon(changes); !undone) {
      return fail(created.error().context("stamp failed").caused_by(
          "and abandoning its changes failed too: " + undone.error().message));
    }
    return fail(created.error().context("stamp failed; its changes were abandoned"));
  }
  // Copies for people to read next to the journal (fab never reads them).
  const auto dir = factory.store().line_dir(line_id);
  FAB_TRY(write_file_atomic(dir / "blueprint.yaml", blueprint.source_text));
  FAB_TRY(write_file_atomic(dir / "requirement.md", req_text));
  FAB_TRY_ASSIGN(auto record, factory.store().load_line(line_id));
  result.line = record.line;
  result.items = record.items;
  return result;
}

}  // namespace fab
