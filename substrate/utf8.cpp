#include "substrate/utf8.h"

#include <fmt/format.h>

namespace fab {
namespace {

// The length of the valid UTF-8 sequence starting at text[i], or 0 if it is not one (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const unsigned char c = byte(i + k);
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return 0;
  }
  return n;
}

}  // namespace

Status check_utf8(std::string_view text, const std::string& source_name) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence(text, i);
    if (n == 0) {
      return fail(fmt::format("{}:{}:{}: not valid UTF-8 (byte 0x{:02x})", source_name, line, column,
                              static_cast<unsigned char>(text[i])),
                  "save the file as UTF-8; Latin-1 text converts with `iconv -f latin1 -t utf-8`");
    }
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += n;
  }
  return {};
}

std::optional<std::size_t> binary_nul(std::string_view bytes) {
  const auto at = bytes.substr(0, 8000).find('\0');
  return at == std::string_view::npos ? std::nullopt : std::optional<std::size_t>(at);
}

}  // namespace fab
