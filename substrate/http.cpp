#include "substrate/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>

namespace fab::http {
namespace {

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<Reply*>(user)->body.append(data, size * n);
  return size * n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  std::string_view line(data, size * n);
  constexpr std::string_view name = "retry-after:";
  if (line.size() > name.size() &&
      std::equal(name.begin(), name.end(), line.begin(),
                 [](char x, char y) { return x == std::tolower(static_cast<unsigned char>(y)); })) {
    std::string value(line.substr(name.size()));
    char* end = nullptr;
    long seconds = std::strtol(value.c_str(), &end, 10);
    if (end != value.c_str() && seconds >= 0) {
      static_cast<Reply*>(user)->retry_after_s = static_cast<int>(std::min(seconds, 3600L));
    }
  }
  return size * n;
}

}  // namespace

Result<Reply> post_json(const std::string& url, std::string_view body, const std::vector<std::string>& headers,
                        long timeout_ms) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return fail_internal("could not create an HTTP client (curl_easy_init failed)");
  curl_slist* raw = curl_slist_append(nullptr, "Content-Type: application/json");
  raw = curl_slist_append(raw, "Expect:");  // no 100-continue round trip for a large body
  for (const auto& h : headers) raw = curl_slist_append(raw, h.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(raw, &curl_slist_free_all);

  Reply reply;
  char error[CURL_ERROR_SIZE] = {0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_POST, 1L);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, std::max(1L, timeout_ms));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);

  if (CURLcode rc = curl_easy_perform(h); rc != CURLE_OK) {
    reply.outcome = rc == CURLE_OPERATION_TIMEDOUT ? Reply::Outcome::timed_out : Reply::Outcome::unreachable;
    reply.transport_error = error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(rc));
    return reply;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace fab::http
