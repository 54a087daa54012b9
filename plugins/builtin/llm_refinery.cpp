// Built-in refinery `llm`: asks an OpenAI-compatible chat-completions endpoint to settle the
// conflict hunks an earlier resolver left (plugins/resolve/llm_resolver.h validates every answer).
// It works on the request's `content` (the partial merge with diff3 markers); without one, it runs
// the deterministic merge itself first.
//   with: {endpoint: "http://127.0.0.1:8080/v1", model: "...", api_key_env: "OPENAI_API_KEY",
//          timeout_s: 60, max_attempts: 3, union: false}
#include <fab/plugin.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "plugins/builtin/conflict_markers.h"
#include "plugins/resolve/llm_resolver.h"
#include "plugins/resolve/merge3.h"
#include "substrate/utf8.h"

namespace {

// Whether `bytes` hold a valid multi-byte UTF-8 sequence (a Latin-1 text almost never does).
bool has_utf8_sequence(const std::string& bytes) {
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    const int length = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
    if (length == 0 || i + length > bytes.size()) continue;
    if (fab::check_utf8(std::string_view(bytes).substr(i, length), "")) return true;
  }
  return false;
}

class LlmRefinery : public fab::RefineryPlugin {
 public:
  fab::RefineryResult resolve(const fab::RefineryRequest& request) override {
    fab::resolve::LlmConfig config;
    config.endpoint = request.with.value("endpoint", std::string{});
    config.model = request.with.value("model", std::string{});
    config.api_key_env = request.with.value("api_key_env", std::string{});
    config.timeout_ms = request.with.value("timeout_s", 60) * 1000;
    config.max_attempts = request.with.value("max_attempts", 3);
    if (config.endpoint.empty() || config.model.empty()) {
      throw std::runtime_error("the llm refinery needs `with: {endpoint: ..., model: ...}` in the blueprint");
    }
    // A file that is not UTF-8 (request.encoding "latin1": the strings are its bytes) is shown to
    // the model as its Latin-1 reading, one character per byte, and the answer is read back the
    // same way; an answer with a character that is no byte of the file is not taken.
    const bool latin1 = request.encoding == "latin1";
    config.latin1 = latin1;
    if (latin1) {
      // A file that mixes UTF-8 with other bytes would show the model its UTF-8 characters as
      // mojibake ("Ã©"), which it may "fix" into other bytes inside a hunk: it is left, unasked.
      for (const auto* side : {&request.base, &request.ours, &request.theirs}) {
        if (has_utf8_sequence(*side)) {
          return {false, request.content.value_or(""), false, 0,
                  "the file mixes UTF-8 text with bytes that are not UTF-8; the model would see its UTF-8 "
                  "characters garbled, so it was not asked"};
        }
      }
    }
    const auto shown = [latin1](const std::string& bytes) { return latin1 ? fab::latin1_to_utf8(bytes) : bytes; };
    const std::string base = shown(request.base), ours = shown(request.ours), theirs = shown(request.theirs);
    fab::resolve::MergeOutcome partial;
    if (request.content) {
      partial = fab::builtin::outcome_from_markers(shown(*request.content));
    } else {
      fab::resolve::MergeOptions options;
      options.allow_union = request.with.value("union", false);
      options.allow_newer_version = request.with.value("newer_version", true);
      options.allow_token_merge = request.with.value("token_merge", false);
      options.path = request.path;
      partial = fab::resolve::merge3(base, ours, theirs, options);
    }
    const int left = static_cast<int>(partial.unresolved.size());
    // The result, with its content turned back into the file's bytes.
    const auto result = [&](bool ok, const std::string& text, bool resolved, int unresolved, std::string message) {
      auto content = latin1 ? fab::utf8_to_latin1(text) : std::optional<std::string>(text);
      if (!content) {
        return fab::RefineryResult{false, "", false, left,
                                   "the answer has a character that is no byte of this Latin-1 file; not taken"};
      }
      return fab::RefineryResult{ok, std::move(*content), resolved, unresolved, std::move(message)};
    };
    if (partial.clean()) return result(true, partial.content, true, 0, "nothing left to resolve");
    auto settled = fab::resolve::llm_resolve(config, request.path, partial, base, ours, theirs);
    if (!settled) return result(false, partial.content, false, left, settled.error().render());
    return result(true, settled->content, true, 0,
                  "model " + config.model + " settled " + std::to_string(left) + " hunk(s) in " +
                      std::to_string(settled->attempts) + " request(s)");
  }
  static std::vector<fab::Setting> settings() {
    using T = fab::SettingType;
    return {{"endpoint", T::string, true, "the OpenAI-compatible API base URL, e.g. http://127.0.0.1:8080/v1"},
            {"model", T::string, true, "the model name the endpoint serves"},
            {"api_key_env", T::string, false, "the environment variable holding the API key (never logged)"},
            {"timeout_s", T::integer, false, "seconds per request (default 60)"},
            {"max_attempts", T::integer, false, "requests per file before giving up (default 3)"},
            {"union", T::boolean, false, "as the deterministic resolver's, for its first pass (default false)"},
            {"newer_version", T::boolean, false, "as the deterministic resolver's, for its first pass (default true)"},
            {"token_merge", T::boolean, false, "as the deterministic resolver's, for its first pass (default false)"}};
  }
  std::string describe() const override {
    return "asks an OpenAI-compatible model (with.endpoint, with.model) to settle the conflict hunks left";
  }
};

}  // namespace

FAB_PLUGIN(LlmRefinery, "llm", "1.0.0")
