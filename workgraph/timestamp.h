#pragma once
// Wall-clock timestamps as fab writes them: ISO-8601, UTC, milliseconds ("2025-03-01T12:34:56.789Z").
#include <chrono>
#include <string>

namespace fab {

std::string iso_utc(std::chrono::system_clock::time_point t);
std::string iso_utc_now();

}  // namespace fab
