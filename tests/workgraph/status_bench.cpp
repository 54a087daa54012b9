// Benchmark (not a test): builds a factory with 10 000 items across 10 lines in a temp dir and
// times Store::summaries() in a fresh Store, which is what `fab status` pays for. Prints
// milliseconds per run.
//   workgraph_status_bench [runs] [--full-tail]
// --full-tail: first, on every line, as many transitions as fit after its checkpoint before the
// next one (the most journal a reader has to replay).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"
#include "workgraph/ids.h"
#include "workgraph/store.h"

namespace {

constexpr int kLines = 10;
constexpr int kItemsPerLine = 1000;

// About what a real work item's markdown looks like: a few paragraphs.
std::string body_for(int n) {
  std::string body = "## Item " + std::to_string(n) + "\n\n";
  for (int p = 0; p < 4; ++p) {
    body += "Implement the part of the requirement that this item covers, keeping the existing "
            "tests green and adding new ones for the behaviour described here.\n\n";
  }
  return body;
}

fab::Status build(fab::Store& store) {
  for (int l = 0; l < kLines; ++l) {
    FAB_TRY_ASSIGN(std::string id, store.new_line_id());
    fab::Line line;
    line.id = id;
    line.blueprint = "default";
    line.requirement = "requirements/feature-" + std::to_string(l) + ".md";
    std::vector<fab::Item> items;
    for (int i = 1; i <= kItemsPerLine; ++i) {
      fab::Item item;
      item.id = fab::make_item_id(id, i);
      item.line = id;
      item.title = "Work item number " + std::to_string(i);
      item.state = fab::kAllItemStates[static_cast<std::size_t>(i) % fab::kItemStateCount];
      if (i % 3 != 0) item.change = *fab::ChangeId::parse("qpvuntsmwlqtpsluzzsnyyzlmlwvmlnu");
      if (i > 1) {
        item.depends_on = {fab::make_item_id(id, i - 1)};
      }
      item.attempts = i % 4;
      item.body = body_for(i);
      items.push_back(std::move(item));
    }
    FAB_TRY(store.create_line(std::move(line), std::move(items)));
  }
  return {};
}

// Transitions on the line's building items (building <-> rework, as the floor records them) until
// one more would make the store rewrite line.json.
fab::Status fill_tail(fab::Store& store, const std::string& line_id) {
  namespace fs = std::filesystem;
  const auto line_file = store.line_dir(line_id) / "line.json";
  const auto journal = store.line_dir(line_id) / "journal.jsonl";
  const auto bound = fab::StoreOptions{}.checkpoint_bound(fs::file_size(line_file));
  const auto mark = fs::file_size(journal);
  FAB_TRY_ASSIGN(fab::LineRecord record, store.load_line(line_id));
  for (std::size_t k = 0;; ++k) {
    for (const auto& item : record.items) {
      if (item.state != fab::ItemState::building) continue;
      if (fs::file_size(journal) - mark + 1000 > bound) return {};
      const auto to = k % 2 == 0 ? fab::ItemState::rework : fab::ItemState::building;
      FAB_TRY(store.transition(item.id, to, "bench", {{"op", std::string(128, 'a')}, {"attempts", item.attempts}}));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
  const bool full_tail = argc > 2 && std::string(argv[2]) == "--full-tail";
  fab::test::TempDir dir;
  auto store = fab::Store::open(dir / ".factory");
  if (!store) {
    std::fputs(store.error().render().c_str(), stderr);
    return 1;
  }
  if (auto ok = build(*store); !ok) {
    std::fputs(ok.error().render().c_str(), stderr);
    return 1;
  }
  if (full_tail) {
    auto lines = store->lines();
    for (const auto& line : lines ? *lines : std::vector<fab::Line>{}) {
      if (auto ok = fill_tail(*store, line.id); !ok) {
        std::fputs(ok.error().render().c_str(), stderr);
        return 1;
      }
    }
  }
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto fresh = fab::Store::open(dir / ".factory");  // (what a new `fab status` process has)
    auto summaries = fresh ? fresh->summaries() : tl::unexpected(fresh.error());
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!summaries) {
      std::fputs(summaries.error().render().c_str(), stderr);
      return 1;
    }
    std::size_t total = 0;
    for (const auto& s : *summaries) {
      total += s.total();
    }
    if (total != static_cast<std::size_t>(kLines * kItemsPerLine)) {
      std::fprintf(stderr, "expected %d items, counted %zu\n", kLines * kItemsPerLine, total);
      return 1;
    }
    times.push_back(ms);
    std::printf("run %d: %.2f ms\n", r + 1, ms);
  }
  std::sort(times.begin(), times.end());
  std::printf("summaries() over %d items in %d lines%s: min %.2f ms, median %.2f ms, max %.2f ms\n",
              kLines * kItemsPerLine, kLines, full_tail ? ", each with a full journal tail" : "", times.front(),
              times[times.size() / 2], times.back());
  return 0;
}
