#include <catch2/catch.hpp>

#include <set>

#include "workgraph/ids.h"
#include "workgraph/timestamp.h"

TEST_CASE("line ids are 6 chars [a-z0-9] starting with a letter", "[workgraph][ids]") {
  CHECK(fab::is_line_id("k3x9qa"));
  CHECK(fab::is_line_id("abcdef"));
  CHECK_FALSE(fab::is_line_id("3kx9qa"));
  CHECK_FALSE(fab::is_line_id("k3x9q"));
  CHECK_FALSE(fab::is_line_id("k3x9qaa"));
  CHECK_FALSE(fab::is_line_id("K3x9qa"));
  CHECK_FALSE(fab::is_line_id("k3x-qa"));
  CHECK_FALSE(fab::is_line_id(""));
}

TEST_CASE("item ids are <line>.<n> counting from 1", "[workgraph][ids]") {
  CHECK(fab::make_item_id("k3x9qa", 3) == "k3x9qa.3");
  auto parts = fab::split_item_id("k3x9qa.12");
  REQUIRE(parts);
  CHECK(parts->line_id == "k3x9qa");
  CHECK(parts->n == 12);
  CHECK_FALSE(fab::is_item_id("k3x9qa.0"));
  CHECK_FALSE(fab::is_item_id("k3x9qa.01"));
  CHECK_FALSE(fab::is_item_id("k3x9qa."));
  CHECK_FALSE(fab::is_item_id("k3x9qa"));
  CHECK_FALSE(fab::is_item_id("k3x9qa.1a"));
  CHECK_FALSE(fab::is_item_id("3kx9qa.1"));
  CHECK_FALSE(fab::is_item_id("k3x9qa.99999999999"));
}

TEST_CASE("random line ids are well formed and vary", "[workgraph][ids]") {
  std::mt19937_64 rng(42);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = fab::random_line_id(rng);
    CHECK(fab::is_line_id(id));
    seen.insert(id);
  }
  CHECK(seen.size() > 990);
}

TEST_CASE("timestamps are ISO-8601 UTC with milliseconds", "[workgraph][time]") {
  using namespace std::chrono;
  system_clock::time_point t{milliseconds(1700000000123)};
  CHECK(fab::iso_utc(t) == "2023-11-14T22:13:20.123Z");
  CHECK(fab::iso_utc(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  CHECK(fab::iso_utc_now().size() == 24);
}
