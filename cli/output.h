#pragma once
// How every verb talks to the person at the terminal, in one place:
//   stdout  data (tables, JSON); never coloured unless --color=always
//   stderr  status and progress (`status`, `live`), which -q/--quiet silences, and errors, which it
//           does not
// Colour follows --color=auto|always|never: auto colours a stream only when it is a terminal and
// NO_COLOR is unset (https://no-color.org); always and never win over NO_COLOR.
// On a terminal, `live` keeps one line at the bottom of stderr that is rewritten in place (the
// run's summary); a status line printed meanwhile goes above it.
#include <optional>
#include <string>
#include <string_view>

#include "substrate/error.h"

namespace fab::cli {

enum class ColorMode { auto_detect, always, never };
// "auto", "always", "never"
std::optional<ColorMode> parse_color_mode(std::string_view text);

enum class Style { bold, red, green, yellow, cyan };

class Output {
 public:
  Output(bool quiet, ColorMode color);

  // stdout: exactly `text`.
  void data(std::string_view text) const;
  // stdout: `text` and a newline.
  void data_line(std::string_view text) const { data(std::string(text) + "\n"); }
  // stderr: one status line (a newline is added), unless quiet.
  void status(std::string_view text);
  // stderr: an error as `Error:` / `Caused by:` / `Hint:`, always, the prefixes coloured.
  void error(const Error& e);

  // Whether a live line can be shown (stderr is a terminal, not quiet).
  bool can_live() const { return !m_quiet && m_stderr_tty; }
  // Shows `text` as the live line (replacing the last one); does nothing unless can_live().
  void live(std::string_view text);
  // Removes the live line.
  void end_live();

  // `text` in `style` when the stream it goes to is coloured.
  std::string paint_out(Style style, std::string_view text) const { return paint(m_color_out, style, text); }
  std::string paint_err(Style style, std::string_view text) const { return paint(m_color_err, style, text); }
  bool quiet() const { return m_quiet; }
  bool color_stderr() const { return m_color_err; }

 private:
  static std::string paint(bool on, Style style, std::string_view text);
  void write_err(const std::string& text) const;

  bool m_quiet;
  bool m_stderr_tty;
  bool m_color_out;
  bool m_color_err;
  std::string m_live;  // the live line on screen; empty: none
};

}  // namespace fab::cli
