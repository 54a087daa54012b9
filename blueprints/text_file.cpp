#include "blueprints/text_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace fab {

Result<std::string> read_text_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return fail("cannot read '" + path.string() + "': it is a directory", "pass the path of a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    return fail("cannot read '" + path.string() + "': " + std::strerror(err),
                "check that the file exists and is readable");
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return fail("cannot read '" + path.string() + "': read error", "check that the file is readable");
  }
  return content.str();
}

}  // namespace fab
