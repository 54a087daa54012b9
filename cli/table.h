#pragma once
// Human-readable output: left-aligned columns separated by two spaces; an empty header prints none.
// Colour codes in a cell take no width.
#include <string>
#include <vector>

namespace fab::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) { m_rows.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
  std::string render() const;

 private:
  std::vector<std::vector<std::string>> m_rows;
};

}  // namespace fab::cli
