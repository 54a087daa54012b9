#pragma once
// Lets Catch2 print a failed fab::Result / fab::Status as the error it carries.
#include <catch2/catch.hpp>

#include "substrate/error.h"

namespace Catch {
template <class T>
struct StringMaker<tl::expected<T, fab::Error>> {
  static std::string convert(const tl::expected<T, fab::Error>& r) {
    return r ? std::string("ok") : "\n" + r.error().render();
  }
};
}  // namespace Catch
