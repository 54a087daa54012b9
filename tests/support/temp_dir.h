#pragma once
// Test helpers shared by every test executable.
#include <filesystem>
#include <string>

namespace fab::test {

// A fresh directory under $TMPDIR, removed (with everything in it) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& rel) const { return m_path / rel; }

 private:
  std::filesystem::path m_path;
};

void write_file(const std::filesystem::path& p, const std::string& content);
std::string read_file(const std::filesystem::path& p);

// The jj the tests drive (FAB_JJ, set by CMake to the bootstrap wrapper).
std::filesystem::path jj_for_tests();
// Where the built fab binary and plugins are (FAB_BIN_DIR, set by CMake).
std::filesystem::path bin_dir();

}  // namespace fab::test
