#pragma once
// Small POSIX helpers shared by every part that writes through a file descriptor.
#include <string_view>

namespace logship {

// Writes all of `data` to `fd`, retrying after EINTR and short writes. False with errno set when a
// write fails (EIO if the kernel wrote nothing without an error); what was written stays written.
bool writeAll(int fd, std::string_view data);

}  // namespace logship
