#pragma once
// Names of rotated output files (docs/FORMATS.md#rotated-output-files). The aggregator writes them
// (aggregator/rotation.hpp); logctl search reads them in time order.
//
// A rotated file of output NAME is "NAME.<YYYYMMDD>T<HHMMSS>Z[_NNNN][.zst]": the UTC second of its
// rotation, then _0001, _0002, ... for further rotations within that same second, then .zst once it
// is compressed. Such names sort in time order as plain strings. While being compressed, ".NAME.<...>.zst.tmp" (hidden,
// so `NAME*` never matches it).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace logship {

struct RotatedName {
  int64_t unixSeconds = 0;  // when it was rotated (UTC)
  uint32_t counter = 0;     // 0 for the first rotation in that second, then 1, 2, ... (_0001, _0002)
  bool compressed = false;

  // Time order of rotated files (compressed or not: the same file).
  bool operator<(const RotatedName& o) const {
    return unixSeconds != o.unixSeconds ? unixSeconds < o.unixSeconds : counter < o.counter;
  }
  bool sameRotation(const RotatedName& o) const { return unixSeconds == o.unixSeconds && counter == o.counter; }
};

std::string rotatedFileName(std::string_view outputName, const RotatedName& name);
// nullopt unless `fileName` is exactly a rotated file name of output `outputName`.
std::optional<RotatedName> parseRotatedName(std::string_view outputName, std::string_view fileName);
// The output name and rotation of any rotated file name ("a.log.20261127T140000Z_2.zst" gives
// "a.log"), or nullopt.
std::optional<std::pair<std::string, RotatedName>> splitRotatedName(std::string_view fileName);

std::string compressionTempName(std::string_view outputName, const RotatedName& name);
std::optional<RotatedName> parseCompressionTempName(std::string_view outputName, std::string_view fileName);

}  // namespace logship
