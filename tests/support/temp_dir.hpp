#pragma once
// One fresh directory per test, removed with everything in it when the test ends. Tests run side by
// side (ctest -j, one process per gtest case), so it is made with mkdtemp under gtest's TempDir(),
// named for the test that made it.
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include <gtest/gtest.h>

namespace logship::testing {

class TempDir {
 public:
  TempDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "logship";
    if (test != nullptr) name += "-" + fileName(test->test_suite_name()) + "." + fileName(test->name());
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / (name + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` in the directory.
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // Creates (or replaces) `name` in the directory with these bytes; returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = *this / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

 private:
  // A parameterized test's name has '/' in it.
  static std::string fileName(std::string s) {
    for (char& c : s) {
      if (c == '/') c = '_';
    }
    return s;
  }
  std::string path_;
};

}  // namespace logship::testing
