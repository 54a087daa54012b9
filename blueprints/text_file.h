#pragma once
// Reading a whole text file into a string, with an error a user can act on.
#include <filesystem>
#include <string>

#include "substrate/error.h"

namespace fab {

// The file's bytes; fails with "cannot read '<path>': <reason>" if it is missing or unreadable.
Result<std::string> read_text_file(const std::filesystem::path& path);

}  // namespace fab
