// The syslog receivers' decoders on arbitrary bytes: the TCP framer (producer/input/syslog_framer.hpp)
// gives the same frames however the stream is cut into reads once every NUL has arrived (whether an
// LF-framed connection's frame runs on to a NUL depends on the NUL having come: the first read here
// holds everything up to the last NUL), none empty or over the limit, never more bytes than came; the parser
// (producer/input/syslog_parse.hpp) makes one record of every frame with bounded, well-formed metadata, and says
// parse_error exactly when it reports failure.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "producer/input/record_fields.hpp"
#include "producer/input/syslog_framer.hpp"
#include "producer/input/syslog_parse.hpp"

namespace {

using namespace logship;

constexpr size_t kMax = 200;

std::vector<std::string> frames(std::string_view in, size_t step) {
  SyslogFramer framer(kMax);
  std::vector<std::string> out;
  const size_t lastNul = in.rfind('\0');
  const size_t first = lastNul == std::string_view::npos ? step : std::max(step, lastNul + 1);
  for (size_t i = 0; i < in.size();) {
    const std::string_view piece = in.substr(i, i == 0 ? first : step);
    i += piece.size();
    std::memcpy(framer.writable(piece.size()), piece.data(), piece.size());
    framer.commit(piece.size());
    std::string_view frame;
    SyslogFramer::TooLongFrame tooLong;
    for (bool more = true; more;) {
      switch (framer.next(frame, tooLong)) {
        case SyslogFramer::Result::Frame:
          if (frame.empty() || frame.size() > kMax) std::abort();
          out.emplace_back(frame);
          break;
        case SyslogFramer::Result::TooLong:
          if (tooLong.bytes <= kMax) std::abort();
          out.push_back("\xff too long");  // the length said differs by read size for unterminated lines
          break;
        case SyslogFramer::Result::NeedMore: more = false; break;
      }
    }
  }
  std::string_view rest;
  bool cut = false;
  if (framer.rest(rest, cut)) {
    if (rest.empty() || rest.size() > in.size()) std::abort();
    out.push_back((cut ? "\xff cut " : "\xff rest ") + std::string(rest));
  }
  return out;
}

void checkRecord(const Record& r, bool parsed) {
  if (fuzz::requireBoundedMetadata(r) == parsed) std::abort();  // parse_error exactly when not parsed
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  SyslogParser parser;
  Record source;
  Record out;
  const bool parsed = parser.parse(in, source, "192.0.2.1", 1'795'000'000'000'000, out);
  checkRecord(out, parsed);
  if (out.message.size() > in.size()) std::abort();

  const auto whole = frames(in, in.size() + 1);
  size_t total = 0;
  for (const auto& f : whole) total += f.size();
  if (total > in.size() + 16 * whole.size()) std::abort();
  const size_t step = size > 0 ? 1 + data[0] % 17 : 1;
  // Frames and refusals come out the same whatever the reads (an unterminated over-long line is
  // refused once in either case).
  if (frames(in, step) != whole) std::abort();
  for (const auto& f : whole) {
    if (f.starts_with('\xff')) continue;
    Record r;
    checkRecord(r, parser.parse(f, source, "", 0, r));
  }
  return 0;
}
