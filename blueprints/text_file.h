#pragma once
// Reading a whole text file into a string, with an error a user can act on.
#include <filesystem>
#include <string>
#include <string_view>

#include "substrate/error.h"
#include "substrate/utf8.h"  // check_utf8, for the readers of text files

namespace fab {

// The file's bytes; fails with "cannot read '<path>': <reason>" if it is missing or unreadable.
Result<std::string> read_text_file(const std::filesystem::path& path);

}  // namespace fab
