// src/console/assets.hpp
#pragma once
#include <optional>
#include <string_view>
namespace logship::console {
struct Asset {
  std::string_view body;
  std::string_view contentType;
  std::string_view etag;
};
// "/index.html", "/assets/app.js", ...: the files built from web/, embedded in the binary.
std::optional<Asset> findAsset(std::string_view path);
}  // namespace logship::console
