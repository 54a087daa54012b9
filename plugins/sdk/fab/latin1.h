#pragma once
// How a file that is not UTF-8 travels in a plugin's JSON: read as Latin-1 (ISO-8859-1), each byte
// is one character U+0000..U+00FF, so any bytes become valid UTF-8 text and come back unchanged.
// A refinery request with "encoding": "latin1" carries its sides this way; the C++ SDK turns them
// back into the file's bytes before calling the plugin, and its answer into text again (plugin.h).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fab {

// Every byte as the character of that number, in UTF-8.
inline std::string latin1_to_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xC0 | (b >> 6));
      out += static_cast<char>(0x80 | (b & 0x3F));
    }
  }
  return out;
}

// Where a text is not a Latin-1 reading of bytes: the byte offset of the first character that is
// not U+0000..U+00FF (or of a byte that is not UTF-8), and that character's number (0 for a bad byte).
struct Latin1Refusal {
  std::size_t offset = 0;
  std::uint32_t codepoint = 0;
};

// The bytes a text written as latin1_to_utf8 stands for; a refusal when some character has no byte.
inline std::optional<std::string> utf8_to_latin1(std::string_view text, Latin1Refusal* refusal = nullptr) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      out += text[i++];
      continue;
    }
    if ((b == 0xC2 || b == 0xC3) && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80) {
      out += static_cast<char>(((b & 0x03) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F));
      i += 2;
      continue;
    }
    if (refusal) {
      refusal->offset = i;
      refusal->codepoint = 0;
      const int length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0;
      if (length > 0 && i + length <= text.size()) {
        std::uint32_t cp = b & (0x7F >> length);
        bool good = true;
        for (int k = 1; k < length; ++k) {
          const auto next = static_cast<unsigned char>(text[i + k]);
          good = good && (next & 0xC0) == 0x80;
          cp = (cp << 6) | (next & 0x3F);
        }
        if (good) refusal->codepoint = cp;
      }
    }
    return std::nullopt;
  }
  return out;
}

}  // namespace fab
