#pragma once
// The severity of a log record. Part of the client library's public API (<logship/client.hpp>)
// and, the same definition, of Logship's own code (src/core/level.hpp).

namespace logship {

// From least to most severe. On the wire and in output files: trace, debug, info, warn, error,
// fatal (docs/FORMATS.md).
enum class Level { Trace, Debug, Info, Warn, Error, Fatal };

}  // namespace logship
