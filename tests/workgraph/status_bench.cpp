// Benchmark (not a test): builds a factory with 10 000 items across 10 lines in a temp dir and
// times Store::summaries(), which is what `fab status` pays for. Prints milliseconds per run.
//   workgraph_status_bench [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 10;
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
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto summaries = store->summaries();
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
  std::printf("summaries() over %d items in %d lines: min %.2f ms, median %.2f ms, max %.2f ms\n",
              kLines * kItemsPerLine, kLines, times.front(), times[times.size() / 2], times.back());
  return 0;
}
