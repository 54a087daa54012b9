#include "plugins/resolve/grammars/grammars.h"

#include <tree_sitter/api.h>

extern "C" {
const TSLanguage* tree_sitter_bash(void);
const TSLanguage* tree_sitter_c(void);
const TSLanguage* tree_sitter_cpp(void);
const TSLanguage* tree_sitter_go(void);
const TSLanguage* tree_sitter_json(void);
const TSLanguage* tree_sitter_markdown(void);
const TSLanguage* tree_sitter_rust_orchard(void);
const TSLanguage* tree_sitter_yaml(void);
const TSLanguage* tree_sitter_python(void);
const TSLanguage* tree_sitter_javascript(void);
const TSLanguage* tree_sitter_typescript(void);
const TSLanguage* tree_sitter_tsx(void);
}

namespace fab::resolve {

const TSLanguage* grammar(std::string_view language) {
  struct Entry {
    std::string_view name;
    const TSLanguage* (*get)();
  };
  static constexpr Entry k_grammars[] = {
      {"bash", tree_sitter_bash},
      {"c", tree_sitter_c},
      {"cpp", tree_sitter_cpp},
      {"go", tree_sitter_go},
      {"json", tree_sitter_json},
      {"markdown", tree_sitter_markdown},
      {"rust", tree_sitter_rust_orchard},
      {"yaml", tree_sitter_yaml},
      {"python", tree_sitter_python},
      {"javascript", tree_sitter_javascript},
      {"typescript", tree_sitter_typescript},
      {"tsx", tree_sitter_tsx},
  };
  for (const auto& e : k_grammars) {
    if (e.name == language) return e.get();
  }
  return nullptr;
}

}  // namespace fab::resolve
