#include "plugins/resolve/llm_resolver.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "plugins/resolve/agreed_lines.h"
#include "plugins/resolve/conflict_markers.h"
#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/syntax.h"
#include "substrate/http.h"
#include "substrate/utf8.h"

namespace fab::resolve {

namespace {

using nlohmann::json;

// Why one attempt failed, and whether another attempt may do better.
// Texts are kept whole here (the provider's words may hold the key); they are redacted, then
// shortened, only where they leave the resolver (outgoing()).
struct Failure {
  std::string reason;
  std::string detail;  // extra cause line (provider's words), may be empty
  std::string hint;
  bool retry = false;
  int retry_after_s = -1;  // from the provider's Retry-After header, if any
};

template <class T>
using Attempt = tl::expected<T, Failure>;

tl::unexpected<Failure> failure(std::string reason, bool retry, std::string hint = {}, std::string detail = {}) {
  return tl::unexpected<Failure>(Failure{std::move(reason), std::move(detail), std::move(hint), retry});
}

std::string shorten(std::string_view s, std::size_t max = 200) {
  std::string out(s.substr(0, max));
  for (char& c : out) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  return s.size() > max ? out + "..." : out;
}

// Removes every occurrence of `secret` from `text` (providers sometimes echo what they were sent).
std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) {
    return text;
  }
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "[redacted]");
  }
  return text;
}

// The one place a text leaves the resolver (errors, logs): the key removed, then shortened, so no
// piece of it can survive a cut.
std::string outgoing(const std::string& text, const std::string& key, std::size_t max = 200) {
  return shorten(redact(text, key), max);
}

// ---- HTTP ------------------------------------------------------------------------------------

std::string seconds_text(int ms) { return fmt::format("{:g} s", ms / 1000.0); }

Attempt<http::Reply> post_json(const std::string& url, const std::string& body, const std::string& key,
                                int timeout_ms) {
  std::vector<std::string> headers;
  if (!key.empty()) headers.push_back("Authorization: Bearer " + key);
  auto reply = http::post_json(url, body, headers, std::max(1, timeout_ms));
  if (!reply) return failure(reply.error().message, false);
  switch (reply->outcome) {
    case http::Reply::Outcome::timed_out:
      return failure("timed out after " + seconds_text(timeout_ms), true,
                     "the provider is slow or overloaded; raise the resolver's timeout_ms or try again later");
    case http::Reply::Outcome::unreachable:
      return failure("could not reach the provider at " + url + ": " + reply->transport_error, true,
                     "check that the endpoint is right and the provider is running");
    case http::Reply::Outcome::answered: break;
  }
  return std::move(*reply);
}

// ---- the conversation ------------------------------------------------------------------------

constexpr const char* k_system_prompt =
    "You resolve merge conflicts in text files. \"ours\" is trunk's version of a region, \"theirs\" is "
    "the version from a work item being landed, \"base\" is what both started from. For each numbered "
    "hunk, write the text that replaces the whole conflict block so that the intent of BOTH sides is "
    "kept. Keep every line both sides agree on. Do not add anything else. Never output conflict "
    "markers (<<<<<<<, |||||||, =======, >>>>>>>).\n"
    "Answer with exactly one JSON object and nothing else, one entry per hunk, every hunk answered:\n"
    "{\"hunks\":[{\"id\":1,\"resolution\":\"<replacement text; lines separated by \\n>\"}]}";

// A Markdown fence that does not occur in `text`.
std::string fence_for(std::string_view text) {
  std::string fence = "```";
  while (text.find(fence) != std::string_view::npos) {
    fence += '`';
  }
  return fence;
}

void add_block(std::string& out, std::string_view title, std::string_view text) {
  std::string fence = fence_for(text);
  out += title;
  out += ":\n" + fence + "\n";
  out += text;
  if (!text.empty() && text.back() != '\n') {
    out += '\n';
  }
  out += fence + "\n";
}

std::string user_prompt(const LlmConfig& config, const std::string& path, const MergeOutcome& partial,
                        std::string_view base, std::string_view ours, std::string_view theirs) {
  std::string out = "File: " + path + "\n\n";
  if (config.latin1) {
    out += "This file is not UTF-8. It is shown as Latin-1 (ISO-8859-1), one character per byte, so some "
           "characters may look wrong: copy every character exactly as shown, and write only characters "
           "from U+0000 to U+00FF.\n\n";
  }
  constexpr std::size_t k_full_files_limit = 48 * 1024;
  if (base.size() + ours.size() + theirs.size() <= k_full_files_limit) {
    out += "The whole file, for reference.\n";
    add_block(out, "base", base);
    add_block(out, "ours (trunk)", ours);
    add_block(out, "theirs (work item)", theirs);
    out += "\n";
  }
  out += fmt::format("Conflicting hunks to resolve: {}.\n", partial.unresolved.size());
  for (std::size_t i = 0; i < partial.unresolved.size(); ++i) {
    const Hunk& h = partial.unresolved[i];
    out += fmt::format("\n### Hunk {} (line {} of the merged file)\n", i + 1, h.line);
    add_block(out, "context before (keep as is, not part of the answer)", h.context_before);
    add_block(out, "ours (trunk)", h.ours);
    add_block(out, "base", h.base);
    add_block(out, "theirs (work item)", h.theirs);
    add_block(out, "context after (keep as is, not part of the answer)", h.context_after);
  }
  return out;
}

std::string request_body(const LlmConfig& config, const std::string& prompt) {
  json request = {
      {"model", config.model},
      {"temperature", 0},
      {"messages",
       json::array({{{"role", "system"}, {"content", k_system_prompt}}, {{"role", "user"}, {"content", prompt}}})},
  };
  return request.dump();  // the texts were checked to be UTF-8 (llm_resolve); the rest is ours
}

// The assistant's text from a chat-completions reply.
Attempt<std::string> answer_text(const http::Reply& reply, const std::string& url, const LlmConfig& config) {
  if (reply.status == 429 || reply.status >= 500) {
    Failure f{fmt::format("provider returned HTTP {}", reply.status), reply.body,
              reply.status == 429 ? "the provider is rate limiting; try again later" : "the provider failed; try again later",
              true, reply.retry_after_s};
    return tl::unexpected<Failure>(std::move(f));
  }
  if (reply.status < 200 || reply.status >= 300) {
    std::string hint = "check the endpoint (requests go to " + url + ") and the model name \"" + config.model + "\"";
    if (reply.status == 401 || reply.status == 403) {
      hint = config.api_key_env.empty() ? "the provider wants an API key; set api_key_env to the variable that holds it"
                                        : "check the API key in $" + config.api_key_env;
    }
    return failure(fmt::format("provider returned HTTP {}", reply.status), false, hint, reply.body);
  }
  json doc;
  try {
    doc = json::parse(reply.body);
  } catch (const json::parse_error& e) {
    return failure(fmt::format("invalid JSON from provider at offset {}", e.byte), true,
                   "the endpoint must speak the OpenAI chat-completions protocol", reply.body);
  }
  const json* choice = nullptr;
  if (doc.is_object() && doc.contains("choices") && doc["choices"].is_array() && !doc["choices"].empty() &&
      doc["choices"][0].is_object()) {
    choice = &doc["choices"][0];
  }
  if (choice == nullptr || !choice->contains("message") || !(*choice)["message"].is_object()) {
    return failure("provider reply has no choices[0].message", true,
                   "the endpoint must speak the OpenAI chat-completions protocol", reply.body);
  }
  const json& message = (*choice)["message"];
  const std::string hint = "resolve this file by hand";
  if (choice->contains("finish_reason") && (*choice)["finish_reason"] == "content_filter") {
    return failure("the model refused (finish_reason content_filter)", false, hint);
  }
  if (message.contains("refusal") && message["refusal"].is_string() && !message["refusal"].get<std::string>().empty()) {
    return failure("the model refused", false, hint, "the model said: " + message["refusal"].get<std::string>());
  }
  if (!message.contains("content") || !message["content"].is_string() || message["content"].get<std::string>().empty()) {
    return failure("the model refused (empty answer)", false, hint);
  }
  return message["content"].get<std::string>();
}

// The JSON object inside the answer: the whole answer, or the inside of its first ``` fence.
std::string_view strip_fence(std::string_view text) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
      s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
      s.remove_suffix(1);
    }
    return s;
  };
  text = trim(text);
  std::size_t open = text.find("```");
  if (open == std::string_view::npos || (open != 0 && text.front() == '{')) {
    return text;
  }
  std::size_t body = text.find('\n', open);
  if (body == std::string_view::npos) {
    return text;
  }
  std::size_t close = text.find("```", body + 1);
  return trim(text.substr(body + 1, close == std::string_view::npos ? std::string_view::npos : close - body - 1));
}

// Hunk id -> resolution text, every hunk answered exactly once.
Attempt<std::vector<std::string>> parse_answer(std::string_view answer, std::size_t hunks) {
  std::string_view inner = strip_fence(answer);
  json doc;
  try {
    doc = json::parse(inner);
  } catch (const json::parse_error& e) {
    return failure(fmt::format("model answer is not valid JSON at offset {}", e.byte), true, {},
                   "the answer began: " + std::string(answer.substr(0, 120)));
  }
  if (!doc.is_object() || !doc.contains("hunks") || !doc["hunks"].is_array()) {
    return failure("model answer has no \"hunks\" list", true, {}, "the answer began: " + std::string(answer.substr(0, 120)));
  }
  std::vector<std::optional<std::string>> found(hunks);
  for (const json& entry : doc["hunks"]) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_number_integer() || !entry.contains("resolution") ||
        !entry["resolution"].is_string()) {
      return failure("model answer has a hunk entry without an integer \"id\" and a string \"resolution\"", true);
    }
    long long id = entry["id"].get<long long>();
    if (id < 1 || static_cast<std::size_t>(id) > hunks) {
      return failure(fmt::format("model answer names hunk {}, but there are only {}", id, hunks), true);
    }
    auto& slot = found[static_cast<std::size_t>(id - 1)];
    if (slot) {
      return failure(fmt::format("model answer settles hunk {} twice", id), true);
    }
    slot = entry["resolution"].get<std::string>();
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < hunks; ++i) {
    if (!found[i]) {
      return failure(fmt::format("model answer does not settle hunk {}", i + 1), true);
    }
    out.push_back(std::move(*found[i]));
  }
  return out;
}

// ---- validation and substitution ----------------------------------------------------------------

// Checks one hunk's resolution: not the API key, no conflict marker a side did not already have,
// and every line both sides agree on kept (agreed_lines.h).
std::optional<Failure> check_resolution(std::size_t id, const Hunk& h, std::string_view resolution, const std::string& key) {
  if (!key.empty() && resolution.find(key) != std::string_view::npos) {
    return Failure{fmt::format("answer for hunk {} at line {} contains the API key; refused", id, h.line), {}, {}, true};
  }
  if (auto markers = added_marker_lines(resolution, {h.ours, h.theirs}); !markers.empty()) {
    return Failure{fmt::format("answer still has conflict markers (hunk {} at line {}, line {} of its resolution)", id,
                               h.line, markers.front().index + 1),
                   {}, {}, true};
  }
  if (auto line = dropped_agreed_line(h.ours, h.theirs, resolution)) {
    return Failure{fmt::format("answer for hunk {} at line {} drops a line both sides agree on: \"{}\"", id, h.line, *line),
                   {}, {}, true};
  }
  return std::nullopt;
}

// `text` with every bare "\n" turned into `eol`.
std::string with_eol(std::string_view text, std::string_view eol) {
  if (eol == "\n") {
    return std::string(text);
  }
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out += eol;
    } else {
      out += text[i];
    }
  }
  return out;
}

// partial.content with each marker block replaced by its resolution.
Attempt<std::string> substitute(const MergeOutcome& partial, const std::vector<std::string>& resolutions) {
  const auto lines = split_lines(partial.content);
  std::string out;
  std::size_t next = 0;  // first line not yet copied (0-based)
  for (std::size_t i = 0; i < partial.unresolved.size(); ++i) {
    const Hunk& h = partial.unresolved[i];
    const std::size_t first = h.line - 1;
    const std::size_t count = 4 + split_lines(h.ours).size() + split_lines(h.base).size() + split_lines(h.theirs).size();
    if (h.line == 0 || first < next || first + count > lines.size() || !lines[first].starts_with("<<<<<<<") ||
        !lines[first + count - 1].starts_with(">>>>>>>")) {
      return failure(fmt::format("hunk {} does not match the merged content at line {}", i + 1, h.line), false,
                     "pass llm_resolve the MergeOutcome merge3 produced, unchanged");
    }
    for (; next < first; ++next) {
      out += lines[next];
    }
    std::string_view marker = lines[first];
    std::string_view eol = marker.ends_with("\r\n") ? "\r\n" : "\n";
    std::string text = with_eol(resolutions[i], eol);
    const bool at_end = first + count == lines.size();
    const std::string& trunk = h.ours.empty() ? h.theirs : h.ours;
    const bool file_ends_bare = at_end && !trunk.empty() && trunk.back() != '\n';
    if (file_ends_bare) {
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.pop_back();
      }
    } else if (!text.empty() && text.back() != '\n') {
      text += eol;
    }
    out += text;
    next = first + count;
  }
  for (; next < lines.size(); ++next) {
    out += lines[next];
  }
  return out;
}

Attempt<std::string> attempt_once(const LlmConfig& config, const std::string& url, const std::string& body,
                                  const std::string& key, const MergeOutcome& partial, const SyntaxCheck& syntax) {
  auto reply = post_json(url, body, key, config.timeout_ms);
  if (!reply) {
    return tl::unexpected(std::move(reply).error());
  }
  auto text = answer_text(*reply, url, config);
  if (!text) {
    return tl::unexpected(std::move(text).error());
  }
  auto resolutions = parse_answer(*text, partial.unresolved.size());
  if (!resolutions) {
    return tl::unexpected(std::move(resolutions).error());
  }
  for (std::size_t i = 0; i < resolutions->size(); ++i) {
    if (auto bad = check_resolution(i + 1, partial.unresolved[i], (*resolutions)[i], key)) {
      return tl::unexpected(std::move(*bad));
    }
  }
  auto merged = substitute(partial, *resolutions);
  if (!merged) return merged;
  // Where the file's grammar parses both sides, the answer must parse too (syntax.h).
  if (auto why = syntax.objection(*merged); !why.empty()) {
    return tl::unexpected(Failure{"the answer was refused: " + why, {}, {}, true});
  }
  return merged;
}

}  // namespace

Result<LlmResolution> llm_resolve(const LlmConfig& config, const std::string& path, const MergeOutcome& partial,
                                  std::string_view base, std::string_view ours, std::string_view theirs) {
  if (partial.clean()) {
    return LlmResolution{partial.content, 0};
  }
  // A JSON request holds only UTF-8; other bytes would reach the model replaced, and its answer
  // would land the replacement. The llm refinery sends such a file as its Latin-1 reading.
  for (const auto& [side, text] : {std::pair{"base", base}, {"ours", ours}, {"theirs", theirs},
                                   {"the partial merge", std::string_view(partial.content)}}) {
    if (auto utf8 = check_utf8(text, side); !utf8) {
      return fail("cannot resolve " + path + " with the LLM: " + utf8.error().message,
                  "send the file's Latin-1 reading (LlmConfig::latin1, fab/latin1.h)");
    }
  }
  std::string key;
  if (!config.api_key_env.empty()) {
    const char* value = std::getenv(config.api_key_env.c_str());
    if (value == nullptr) {
      return fail("cannot resolve " + path + " with the LLM: environment variable " + config.api_key_env + " is not set",
                  "export " + config.api_key_env + " with the provider's API key, or leave api_key_env empty for an "
                  "endpoint that needs no key");
    }
    key = value;
  }
  if (config.endpoint.empty()) {
    return fail("cannot resolve " + path + " with the LLM: no endpoint configured",
                "set the resolver's endpoint, e.g. http://127.0.0.1:8080/v1");
  }
  std::string url = config.endpoint;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  url += "/chat/completions";
  const std::string body = request_body(config, user_prompt(config, path, partial, base, ours, theirs));

  const SyntaxCheck syntax(language_for_path(path), ours, theirs);
  const int max_attempts = std::max(1, config.max_attempts);
  Failure last;
  int attempt = 1;
  for (;; ++attempt) {
    auto content = attempt_once(config, url, body, key, partial, syntax);
    if (content) {
      return LlmResolution{std::move(*content), attempt};
    }
    last = std::move(content).error();
    spdlog::debug("LLM resolution of {}: attempt {} of {} failed: {}", path, attempt, max_attempts,
                  outgoing(last.reason, key));
    if (!last.retry || attempt >= max_attempts) {
      break;
    }
    long long wait_ms = std::min(10000LL, static_cast<long long>(std::max(0, config.backoff_ms)) << (attempt - 1));
    if (last.retry_after_s >= 0) {
      wait_ms = std::min(static_cast<long long>(std::max(0, config.max_retry_after_s)), 1LL * last.retry_after_s) * 1000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  }
  Error e("cannot resolve " + path + " with the LLM: " + outgoing(last.reason, key, 400));
  if (!last.detail.empty()) {
    e.caused_by(outgoing(last.detail, key));
  }
  e.caused_by(attempt == 1 ? "gave up after 1 attempt" : fmt::format("gave up after {} attempts", attempt));
  e.with_hint(last.hint.empty() ? "try again, use another model, or resolve the conflict by hand" : last.hint);
  return fail(std::move(e));
}

}  // namespace fab::resolve
