#pragma once
// Asks an OpenAI-compatible chat-completions endpoint to settle the hunks the deterministic merge
// left, substitutes its answers into the partial merge and validates the result: every hunk
// answered, no conflict marker a side did not already have (plugins/resolve/conflict_markers.h),
// no line both sides agree on dropped, not the API key, and, where the file's grammar parses both
// sides (syntax.h), a merged file that parses and defines no name more often than a side does.
// Bounded retries with backoff; a provider's Retry-After is honoured up to max_retry_after_s. The key is never written anywhere:
// every message leaves the resolver through one place, which removes it before shortening.
#include <string>
#include <string_view>

#include "plugins/resolve/merge3.h"
#include "substrate/error.h"

namespace fab::resolve {

struct LlmConfig {
  std::string endpoint;     // e.g. http://127.0.0.1:8080/v1 ; requests go to {endpoint}/chat/completions
  std::string model;
  std::string api_key_env;  // name of the env var holding the API key; empty: send no key
  int timeout_ms = 60000;   // per request
  int max_attempts = 3;
  int backoff_ms = 500;     // doubled after each failed attempt
  int max_retry_after_s = 60;  // a provider's Retry-After is honoured up to this
  bool latin1 = false;      // the texts are a file's Latin-1 reading (fab/latin1.h); the prompt says so
};

struct LlmResolution {
  std::string content;  // the whole file, every hunk settled
  int attempts = 0;     // requests made (0 when `partial` was already clean)
};

// Settles partial.unresolved for the file at `path` (used in the prompt and in errors). `base`,
// `ours` and `theirs` are the full texts merge3 was given, and must be UTF-8 (a JSON request holds
// nothing else): other bytes fail before anything is sent; see LlmConfig::latin1.
Result<LlmResolution> llm_resolve(const LlmConfig& config, const std::string& path, const MergeOutcome& partial,
                                  std::string_view base, std::string_view ours, std::string_view theirs);

}  // namespace fab::resolve
