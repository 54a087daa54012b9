#pragma once
// CRC-32 (IEEE 802.3, the zlib one) used to checksum journal records.
#include <cstdint>
#include <string_view>

namespace fab {

std::uint32_t crc32(std::string_view data);

}  // namespace fab
