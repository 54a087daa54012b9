#pragma once
// Reading a whole text file into a string, with an error a user can act on.
#include <filesystem>
#include <string>
#include <string_view>

#include "substrate/error.h"

namespace fab {

// The file's bytes; fails with "cannot read '<path>': <reason>" if it is missing or unreadable.
Result<std::string> read_text_file(const std::filesystem::path& path);

// Fails unless `text` is valid UTF-8, naming "<source_name>:line:col" of the first invalid byte
// (1-based; the column counts characters).
Status check_utf8(std::string_view text, const std::string& source_name);

}  // namespace fab
