#pragma once
// fab's one HTTP client (libcurl): a JSON body POSTed, the whole answer back. Used by the LLM
// resolver (plugins/resolve) and by `fab trace` (engine). Callers say what a failure means to their
// user; this layer only reports what happened on the wire, in curl's words, unredacted (a caller
// that sends a secret redacts before the text leaves it).
#include <string>
#include <string_view>
#include <vector>

#include "substrate/error.h"

namespace fab::http {

struct Reply {
  enum class Outcome { answered, timed_out, unreachable };
  Outcome outcome = Outcome::answered;
  std::string transport_error;  // curl's words when there was no answer
  long status = 0;              // the HTTP status, when answered
  std::string body;             // the whole answer body
  int retry_after_s = -1;       // the Retry-After header in seconds (capped at 3600), -1 when absent
  bool answered() const { return outcome == Outcome::answered; }
};

// POSTs `body` with `Content-Type: application/json` and the extra `headers` ("Name: value")
// within `timeout_ms`. Fails only when no HTTP client can be made; a timeout or a refused
// connection is a Reply with that outcome.
Result<Reply> post_json(const std::string& url, std::string_view body, const std::vector<std::string>& headers,
                        long timeout_ms);

}  // namespace fab::http
