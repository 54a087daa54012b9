#include "cli/output.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace fab::cli {
namespace {

bool colour(ColorMode mode, bool tty) {
  switch (mode) {
    case ColorMode::always: return true;
    case ColorMode::never: return false;
    case ColorMode::auto_detect: break;
  }
  const char* no_color = std::getenv("NO_COLOR");
  return tty && (no_color == nullptr || *no_color == '\0');
}

const char* code(Style style) {
  switch (style) {
    case Style::bold: return "1";
    case Style::red: return "31";
    case Style::green: return "32";
    case Style::yellow: return "33";
    case Style::cyan: return "36";
  }
  return "0";
}

void write_all(std::FILE* f, std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), f);
  std::fflush(f);
}

}  // namespace

std::optional<ColorMode> parse_color_mode(std::string_view text) {
  if (text == "auto") return ColorMode::auto_detect;
  if (text == "always") return ColorMode::always;
  if (text == "never") return ColorMode::never;
  return std::nullopt;
}

Output::Output(bool quiet, ColorMode color)
    : m_quiet(quiet),
      m_stderr_tty(::isatty(STDERR_FILENO) == 1),
      m_color_out(colour(color, ::isatty(STDOUT_FILENO) == 1)),
      m_color_err(colour(color, m_stderr_tty)) {}

std::string Output::paint(bool on, Style style, std::string_view text) {
  if (!on || text.empty()) return std::string(text);
  return std::string("\033[") + code(style) + "m" + std::string(text) + "\033[0m";
}

void Output::data(std::string_view text) const { write_all(stdout, text); }

void Output::write_err(const std::string& text) const {
  // A live line stays the last line: clear it, print, draw it again.
  if (m_live.empty()) return write_all(stderr, text);
  write_all(stderr, "\r\033[K" + text + m_live);
}

void Output::status(std::string_view text) {
  if (m_quiet) return;
  write_err(std::string(text) + "\n");
}

void Output::error(const Error& e) {
  std::string text;
  const std::string rendered = e.render();
  std::size_t start = 0;
  while (start < rendered.size()) {
    std::size_t nl = rendered.find('\n', start);
    if (nl == std::string::npos) nl = rendered.size() - 1;
    std::string line = rendered.substr(start, nl - start + 1);
    for (auto [prefix, style] : {std::pair{"Error:", Style::red}, std::pair{"Caused by:", Style::yellow},
                                 std::pair{"Hint:", Style::cyan}}) {
      if (line.rfind(prefix, 0) == 0) {
        line = paint_err(style, prefix) + line.substr(std::string_view(prefix).size());
        break;
      }
    }
    text += line;
    start = nl + 1;
  }
  write_err(text);
}

void Output::live(std::string_view text) {
  if (!can_live()) return;
  m_live = std::string(text);
  write_all(stderr, "\r\033[K" + m_live);
}

void Output::end_live() {
  if (m_live.empty()) return;
  m_live.clear();
  write_all(stderr, "\r\033[K");
}

}  // namespace fab::cli
