#pragma once
// "file:line:col" (1-based) for a yaml-cpp mark, the prefix of every blueprint error.
#include <string>
#include <string_view>

#include <yaml-cpp/mark.h>

namespace fab {

inline std::string yaml_location(std::string_view source_name, const YAML::Mark& mark) {
  std::string out(source_name);
  if (mark.is_null()) {
    return out;
  }
  return out + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

}  // namespace fab
