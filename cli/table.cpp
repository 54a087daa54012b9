#include "cli/table.h"

#include <algorithm>

namespace fab::cli {
namespace {

// The width a cell takes on screen: its bytes, less colour codes ("\033[...m").
std::size_t visible_size(const std::string& cell) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < cell.size(); ++i) {
    if (cell[i] == '\033') {
      while (i < cell.size() && cell[i] != 'm') ++i;
      continue;
    }
    ++n;
  }
  return n;
}

}  // namespace

std::string Table::render() const {
  std::vector<std::size_t> widths;
  for (const auto& row : m_rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], visible_size(row[i]));
  }
  std::string out;
  for (const auto& row : m_rows) {
    if (row.empty()) continue;  // no header
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - visible_size(row[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();  // an empty last cell leaves no padding
    out += line + "\n";
  }
  return out;
}

}  // namespace fab::cli
