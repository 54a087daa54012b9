// Substrate figures for BENCHMARKS.md (run by scripts/bench, never by ctest):
//   - creating N changes with the batch API vs one `jj new` per change, in the same run;
//   - the JjRunner's overhead over invoking jj directly with the same argv.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "substrate/process.h"
#include "substrate/repo.h"

namespace {

namespace fs = std::filesystem;

struct BenchRepo {
  fs::path dir;
  fab::Repo repo;
};

BenchRepo make_repo() {
  std::string tmpl = (fs::temp_directory_path() / "fab-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  auto jj = fab::JjRunner::locate();
  if (!jj) std::abort();
  auto repo = fab::Repo::init(fs::path(tmpl) / "repo", *jj);
  if (!repo) std::abort();
  return {tmpl, *repo};
}

std::vector<std::string> descriptions(std::size_t n) {
  std::vector<std::string> d;
  for (std::size_t i = 0; i < n; ++i) d.push_back("item " + std::to_string(i) + "\n\nfab-item: b." + std::to_string(i));
  return d;
}

void BM_create_changes_batch(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto r = make_repo();
    state.ResumeTiming();
    auto ids = r.repo.create_changes("root()", descriptions(n));
    if (!ids || ids->size() != n) state.SkipWithError("batch creation failed");
    state.PauseTiming();
    fs::remove_all(r.dir);
    state.ResumeTiming();
  }
  state.counters["changes"] = static_cast<double>(n);
}

void BM_create_changes_one_by_one(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto r = make_repo();
    auto descs = descriptions(n);
    state.ResumeTiming();
    for (const auto& d : descs) {
      if (!r.repo.run({"new", "--no-edit", "-m", d, "root()"})) state.SkipWithError("jj new failed");
    }
    state.PauseTiming();
    fs::remove_all(r.dir);
    state.ResumeTiming();
  }
  state.counters["changes"] = static_cast<double>(n);
}

// The same read, through the runner and as a bare process with the runner's exact argv.
const std::vector<std::string> kRead{"log", "--no-graph", "-r", "all()", "-T", "change_id ++ \"\\n\""};

void BM_jj_direct(benchmark::State& state) {
  static auto r = make_repo();
  (void)r.repo.create_changes("root()", descriptions(20));
  auto argv = r.repo.jj().argv_for(kRead, {.repo = r.repo.root()});
  for (auto _ : state) {
    auto p = fab::run_process({.argv = argv, .cwd = r.repo.root()});
    if (!p || !p->ok()) state.SkipWithError("jj failed");
  }
}

void BM_jj_through_runner(benchmark::State& state) {
  static auto r = make_repo();
  (void)r.repo.create_changes("root()", descriptions(20));
  for (auto _ : state) {
    if (!r.repo.run(kRead)) state.SkipWithError("jj failed");
  }
}

}  // namespace

BENCHMARK(BM_create_changes_batch)->Arg(1000)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_create_changes_one_by_one)->Arg(1000)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_jj_direct)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime()->ReportAggregatesOnly();
BENCHMARK(BM_jj_through_runner)->Repetitions(5)->Unit(benchmark::kMillisecond)->UseRealTime()->ReportAggregatesOnly();
BENCHMARK_MAIN();
