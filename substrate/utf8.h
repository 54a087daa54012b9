#pragma once
// Checking that text is UTF-8, with a place a user can find; and telling a binary file as git does.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "substrate/error.h"

namespace fab {

// Fails unless `text` is valid UTF-8, naming "<source_name>:line:col" of the first invalid byte
// (1-based; the column counts characters).
Status check_utf8(std::string_view text, const std::string& source_name);

// Where a NUL byte is in the first 8000 bytes of `bytes`, which is how git tells a binary file (no
// text to merge); nullopt for text.
std::optional<std::size_t> binary_nul(std::string_view bytes);

}  // namespace fab
