#pragma once
// Checking that text is UTF-8, with a place a user can find.
#include <string>
#include <string_view>

#include "substrate/error.h"

namespace fab {

// Fails unless `text` is valid UTF-8, naming "<source_name>:line:col" of the first invalid byte
// (1-based; the column counts characters).
Status check_utf8(std::string_view text, const std::string& source_name);

}  // namespace fab
