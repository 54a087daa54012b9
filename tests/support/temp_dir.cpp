#include "tests/support/temp_dir.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fab::test {

TempDir::TempDir() {
  auto base = std::filesystem::temp_directory_path();
  std::string tmpl = (base / "fab-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  m_path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (std::getenv("FAB_KEEP_TEST_DIRS") == nullptr) std::filesystem::remove_all(m_path, ec);
}

void write_file(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << content;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::filesystem::path jj_for_tests() {
  const char* jj = std::getenv("FAB_JJ");
  return jj ? std::filesystem::path(jj) : std::filesystem::path(FAB_TEST_JJ);
}

std::filesystem::path bin_dir() {
  const char* d = std::getenv("FAB_BIN_DIR");
  return d ? std::filesystem::path(d) : std::filesystem::path(FAB_TEST_BIN_DIR);
}

}  // namespace fab::test
