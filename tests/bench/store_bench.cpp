// Work-graph store figures for BENCHMARKS.md (run by scripts/bench, never by ctest), each on a
// line of 40 items and one of 2 000, side by side:
//   - a transition (what the floor pays per state change; includes its fsync), by a Store that
//     keeps running (the floor) and averaged over enough transitions to include checkpoints;
//   - a fresh Store reading one item (what `fab item show` or a new process pays first);
//   - a fresh Store's summaries() (what `fab status` pays per line), right after a checkpoint and
//     with the most records after it that a checkpoint allows.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/temp_dir.h"
#include "workgraph/ids.h"
#include "workgraph/store.h"

namespace {

namespace fs = std::filesystem;

// About what a real work item's markdown looks like: a few paragraphs.
std::string body_for(int n) {
  std::string body = "## Item " + std::to_string(n) + "\n\n";
  for (int p = 0; p < 4; ++p) {
    body += "Implement the part of the requirement that this item covers, keeping the existing "
            "tests green and adding new ones for the behaviour described here.\n\n";
  }
  return body;
}

fab::Store make_line(const fs::path& dir, int n) {
  auto store = fab::Store::open(dir);
  if (!store) std::abort();
  fab::Line line;
  line.id = "benchl";
  line.blueprint = "bench";
  line.requirement = "requirements/bench.md";
  std::vector<fab::Item> items;
  for (int i = 1; i <= n; ++i) {
    fab::Item item;
    item.id = fab::make_item_id(line.id, i);
    item.line = line.id;
    item.title = "Work item number " + std::to_string(i);
    item.change = *fab::ChangeId::parse("qpvuntsmwlqtpsluzzsnyyzlmlwvmlnu");
    item.body = body_for(i);
    items.push_back(std::move(item));
  }
  if (!store->create_line(line, items)) std::abort();
  return std::move(*store);
}

// Item i's next step, alternating building and rework (each with the op and attempts the floor records).
bool step(fab::Store& store, int n, std::int64_t k) {
  const auto id = fab::make_item_id("benchl", static_cast<int>(k % n) + 1);
  const auto to = (k / n) % 2 == 0 ? fab::ItemState::building : fab::ItemState::rework;
  return static_cast<bool>(store.transition(id, to, "bench", {{"op", std::string(128, 'a')}, {"attempts", k / n}},
                                            [](fab::Item& item) { item.attempts += 1; }));
}

void BM_transition(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  fab::test::TempDir dir;
  auto store = make_line(dir.path(), n);
  std::int64_t k = 0;
  for (auto _ : state) {
    if (!step(store, n, k++)) state.SkipWithError("transition failed");
  }
  state.counters["items"] = n;
  state.counters["line.json KB"] = static_cast<double>(fs::file_size(store.line_dir("benchl") / "line.json")) / 1e3;
}

void BM_fresh_find_item(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  fab::test::TempDir dir;
  auto writer = make_line(dir.path(), n);
  for (std::int64_t k = 0; k < 2 * n; ++k) step(writer, n, k);
  for (auto _ : state) {
    auto store = fab::Store::open(dir.path());
    if (!store || !store->find_item("benchl.1")) state.SkipWithError("read failed");
  }
  state.counters["items"] = n;
}

// summaries() of a fresh Store with `tail` journal bytes after the checkpoint: 0, or the most
// the checkpoint rule allows.
void summaries_with_tail(benchmark::State& state, bool full_tail) {
  const int n = static_cast<int>(state.range(0));
  fab::test::TempDir dir;
  auto writer = make_line(dir.path(), n);
  const auto line_file = writer.line_dir("benchl") / "line.json";
  const auto journal = writer.line_dir("benchl") / "journal.jsonl";
  std::int64_t k = 0;
  // Until the next checkpoint, then (for a full tail) up to just before the one after it.
  auto before = fs::last_write_time(line_file);
  while (fs::last_write_time(line_file) == before) step(writer, n, k++);
  if (full_tail) {
    const auto checkpoint = fs::file_size(line_file);
    const auto mark = fs::file_size(journal);
    const auto bound = fab::StoreOptions{}.checkpoint_bound(checkpoint);
    while (fs::file_size(journal) - mark + 400 < bound) step(writer, n, k++);
  }
  for (auto _ : state) {
    auto store = fab::Store::open(dir.path());
    auto s = store ? store->summaries() : tl::unexpected(fab::Error("open failed"));
    if (!s || s->size() != 1 || s->front().total() != static_cast<std::size_t>(n)) state.SkipWithError("summaries failed");
  }
  state.counters["items"] = n;
  state.counters["tail KB"] = static_cast<double>(fs::file_size(journal) - [&] {
    auto text = fab::test::read_file(line_file);
    auto at = text.find("\"bytes\":") + 8;
    return std::stoull(text.substr(at));
  }()) / 1e3;
}

void BM_fresh_summaries_after_checkpoint(benchmark::State& state) { summaries_with_tail(state, false); }
void BM_fresh_summaries_full_tail(benchmark::State& state) { summaries_with_tail(state, true); }

}  // namespace

BENCHMARK(BM_transition)->Arg(40)->Arg(2000)->Unit(benchmark::kMicrosecond)->MinTime(3.0);
BENCHMARK(BM_fresh_find_item)->Arg(40)->Arg(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_fresh_summaries_after_checkpoint)->Arg(40)->Arg(2000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_fresh_summaries_full_tail)->Arg(40)->Arg(2000)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
