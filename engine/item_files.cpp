#include "engine/item_files.h"

#include <fstream>

#include <fmt/format.h>

#include "workgraph/durable_file.h"

namespace fab::engine {

namespace fs = std::filesystem;

std::string workspace_name(const std::string& item_id) { return kWorkspacePrefix + item_id; }

bool is_fab_workspace(const std::string& name, std::string* item_id) {
  const std::string prefix = kWorkspacePrefix;
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  if (item_id) *item_id = name.substr(prefix.size());
  return true;
}

fs::path workspace_dir(const Factory& factory, const std::string& item_id) {
  return factory.workspaces_dir() / item_id;
}

fs::path item_dir(const Factory& factory, const Item& item) {
  return factory.store().line_dir(item.line) / "items" / item.id;
}

Result<fs::path> write_item_file(const Factory& factory, const Item& item, int attempt, const std::string& feedback) {
  auto dir = item_dir(factory, item);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(fmt::format("cannot create '{}': {}", dir.string(), ec.message()));
  std::string text = fmt::format("# {}\n\n{}\n", item.title, item.body);
  if (!feedback.empty()) {
    text += fmt::format("\n## Feedback from attempt {}\n\n{}\n", attempt - 1, feedback);
  }
  auto file = dir / fmt::format("attempt-{}.md", attempt);
  FAB_TRY(write_file_atomic(file, text));
  return file;
}

void write_attempt_log(const Factory& factory, const Item& item, int attempt, const std::string& what,
                       const std::string& text) {
  auto dir = item_dir(factory, item);
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::ofstream out(dir / fmt::format("attempt-{}.{}.txt", attempt, what), std::ios::binary | std::ios::app);
  out << text;
  if (!text.empty() && text.back() != '\n') out << '\n';
}

}  // namespace fab::engine
