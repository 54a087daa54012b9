#pragma once
// The tree-sitter grammars fab is built with (grammars/CMakeLists.txt), by language name.
#include <string_view>

struct TSLanguage;

namespace fab::resolve {

// The grammar of `language` ("c", "cpp", "python", "javascript", "typescript", "tsx", "go",
// "rust", "json", "yaml", "markdown", "bash"), or nullptr for any other name.
const TSLanguage* grammar(std::string_view language);

}  // namespace fab::resolve
