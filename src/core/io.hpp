#pragma once
// Small POSIX helpers shared by every part that reads or writes through a file descriptor.
#include <string>
#include <string_view>

namespace logship {

// Writes all of `data` to `fd`, retrying after EINTR and short writes. False with errno set when a
// write fails (EIO if the kernel wrote nothing without an error); what was written stays written.
bool writeAll(int fd, std::string_view data);

// Appends what `fd` holds from its offset to its end to `out`, retrying after EINTR. False with
// errno set when a read fails (what was read before stays in `out`).
bool readAll(int fd, std::string& out);

}  // namespace logship
