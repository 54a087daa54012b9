#pragma once
// Shared helpers for the workgraph tests: building lines, opening stores, capturing spdlog warnings.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "workgraph/ids.h"
#include "workgraph/item.h"
#include "workgraph/store.h"

namespace fab::test {

// A valid (32-letter) change ID starting with `prefix` (k-z letters), padded with 'z'.
inline ChangeId fake_change(const std::string& prefix) {
  auto id = ChangeId::parse(prefix + std::string(ChangeId::kLength - prefix.size(), 'z'));
  return *id;
}

// A line `id` with `n` queued items titled "item 1".."item n".
inline std::pair<Line, std::vector<Item>> make_line(const std::string& id, int n) {
  Line line;
  line.id = id;
  line.blueprint = "default";
  line.requirement = "# Build the thing\n";
  std::vector<Item> items;
  for (int i = 1; i <= n; ++i) {
    Item item;
    item.id = make_item_id(id, i);
    item.line = id;
    item.title = "item " + std::to_string(i);
    item.body = "Do step " + std::to_string(i) + ".\n";
    items.push_back(item);
  }
  return {line, items};
}

inline Store open_store(const std::filesystem::path& dir, std::uint64_t checkpoint_min_bytes = StoreOptions{}.checkpoint_min_bytes) {
  auto store = Store::open(dir, {.checkpoint_min_bytes = checkpoint_min_bytes});
  REQUIRE(store);
  return std::move(*store);
}

// Stores make_line(id, n), each body `body_bytes` longer.
inline void create(Store& store, const std::string& id, int n, std::size_t body_bytes = 0) {
  auto [line, items] = make_line(id, n);
  for (auto& item : items) item.body += std::string(body_bytes, 'b');
  auto ok = store.create_line(line, items);
  INFO((ok ? "" : ok.error().render()));
  REQUIRE(ok);
}

// Sends spdlog's default logger into a string while alive.
class CaptureLog {
 public:
  CaptureLog() : m_old(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(m_out);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  }
  ~CaptureLog() { spdlog::set_default_logger(m_old); }
  CaptureLog(const CaptureLog&) = delete;
  CaptureLog& operator=(const CaptureLog&) = delete;
  std::string text() const { return m_out.str(); }

 private:
  std::ostringstream m_out;
  std::shared_ptr<spdlog::logger> m_old;
};

}  // namespace fab::test
