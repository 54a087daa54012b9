#pragma once
// fab's one error type: what happened, the chain of causes, and a hint that tells the user what to
// do. Every operation that can fail returns fab::Result<T> (tl::expected<T, fab::Error>); nothing
// escapes a library boundary as an exception.
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

namespace fab {

// How the CLI exits for this error: 1 user error, 2 usage, 255 internal.
enum class ErrorKind { user, usage, internal };

struct Error {
  std::string message;              // "what happened", one line, no trailing period needed
  std::vector<std::string> causes;  // outermost first: "Caused by: ..."
  std::string hint;                 // what to do about it; may be empty
  ErrorKind kind = ErrorKind::user;
  int os_error = 0;                 // the errno of the system call that failed, where one did (E2BIG, ...)

  Error() = default;
  explicit Error(std::string what, ErrorKind k = ErrorKind::user) : message(std::move(what)), kind(k) {}

  // A cause is often a tool's whole stderr: its trailing newlines and blanks are dropped, so that
  // render() shows no empty lines.
  Error&& caused_by(std::string cause) && { return std::move(caused_by(std::move(cause))); }
  Error&& with_hint(std::string h) && { hint = std::move(h); return std::move(*this); }
  Error& caused_by(std::string cause) & {
    while (!cause.empty() && (cause.back() == '\n' || cause.back() == '\r' || cause.back() == ' ' || cause.back() == '\t')) {
      cause.pop_back();
    }
    causes.push_back(std::move(cause));
    return *this;
  }
  Error& with_hint(std::string h) & { hint = std::move(h); return *this; }

  // Wraps this error as the cause of a new, higher-level one; the hint travels up unless replaced.
  Error context(std::string what) const {
    Error e(std::move(what), kind);
    e.causes.push_back(message);
    e.causes.insert(e.causes.end(), causes.begin(), causes.end());
    e.hint = hint;
    e.os_error = os_error;
    return e;
  }

  // "Error: ...\nCaused by: ...\nHint: ...\n"
  std::string render() const {
    std::string out = "Error: " + message + "\n";
    for (const auto& c : causes) out += "Caused by: " + c + "\n";
    if (!hint.empty()) out += "Hint: " + hint + "\n";
    return out;
  }
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }
inline tl::unexpected<Error> fail(Error e, std::string hint) {
  e.hint = std::move(hint);
  return tl::unexpected<Error>(std::move(e));
}
inline tl::unexpected<Error> fail(std::string what, std::string hint = {}) {
  Error e(std::move(what));
  e.hint = std::move(hint);
  return tl::unexpected<Error>(std::move(e));
}
inline tl::unexpected<Error> fail_internal(std::string what) {
  return tl::unexpected<Error>(Error(std::move(what), ErrorKind::internal));
}

}  // namespace fab

// FAB_TRY(expr): evaluate a Result/Status; on error, return it from the enclosing function.
// (Variadic so that an expression with braces and commas, f({a, b}), passes through whole.)
#define FAB_TRY(...)                                                   \
  do {                                                                 \
    auto fab_try_result_ = (__VA_ARGS__);                              \
    if (!fab_try_result_) return ::tl::unexpected(std::move(fab_try_result_).error()); \
  } while (false)

#define FAB_CONCAT_INNER_(a, b) a##b
#define FAB_CONCAT_(a, b) FAB_CONCAT_INNER_(a, b)
// FAB_TRY_ASSIGN(auto x, expr): declare x from a Result's value, or return its error.
#define FAB_TRY_ASSIGN(decl, ...) FAB_TRY_ASSIGN_IMPL_(FAB_CONCAT_(fab_try_r_, __LINE__), decl, __VA_ARGS__)
#define FAB_TRY_ASSIGN_IMPL_(tmp, decl, ...)                           \
  auto tmp = (__VA_ARGS__);                                            \
  if (!tmp) return ::tl::unexpected(std::move(tmp).error());           \
  decl = std::move(*tmp)
