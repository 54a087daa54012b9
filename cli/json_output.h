#pragma once
// The machine form of fab's listings: exactly the documented field names, nothing internal.
#include <nlohmann/json.hpp>

#include "workgraph/item.h"

namespace fab::cli {

// {"id", "blueprint", "requirement", "created", "items": [ids]}
inline nlohmann::json line_json(Line line) {
  line.extra = nlohmann::json::object();
  return to_json(line);
}

}  // namespace fab::cli
