#pragma once
// One status line on standard error, redrawn in place while long work runs (logctl search over
// many files, log_producer sending what an earlier run left in its spool). Drawn only on a
// terminal: when standard error is a file or a pipe, nothing is written. Anything else written to
// standard error meanwhile must clear the line first (writeOver(); the programs' log sink does).
#include <chrono>
#include <functional>
#include <string_view>

namespace logship {

class ProgressLine {
 public:
  // Draws only when `enabled` and standard error is a terminal, at most once per `interval`
  // (unless forced).
  explicit ProgressLine(bool enabled, std::chrono::milliseconds interval = std::chrono::milliseconds(100));
  ~ProgressLine();  // clears the line
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }
  // True when draw() would show something now (enabled, and `interval` passed since the last draw):
  // callers build the text only then.
  bool due() const;
  // Shows `text` (cut to the terminal's width) in place of the previous one.
  void draw(std::string_view text, bool force = false);
  // Removes the line: the cursor is back at the start of an empty line.
  void clear();

  // Clears the line shown (by any ProgressLine), runs `write` (which writes to standard error),
  // and keeps the line from being redrawn meanwhile.
  static void writeOver(const std::function<void()>& write);

  static bool stderrIsTerminal();

 private:
  void clearLocked();

  bool enabled_;
  std::chrono::milliseconds interval_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point lastDraw_{};
};

}  // namespace logship
