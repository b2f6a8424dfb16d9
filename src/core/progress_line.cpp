#include "core/progress_line.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace logship {
namespace {

// One terminal, one line: every ProgressLine and every writeOver() share this lock.
std::mutex& lineMutex() {
  static std::mutex mu;
  return mu;
}
ProgressLine* gShown = nullptr;

size_t terminalWidth() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) return ws.ws_col - 1u;
  return 150;
}

void writeAll(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

ProgressLine::ProgressLine(bool enabled, std::chrono::milliseconds interval)
    : enabled_(enabled && stderrIsTerminal()), interval_(interval) {}

ProgressLine::~ProgressLine() { clear(); }

bool ProgressLine::stderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

bool ProgressLine::due() const { return enabled_ && std::chrono::steady_clock::now() - lastDraw_ >= interval_; }

void ProgressLine::draw(std::string_view text, bool force) {
  if (!enabled_) return;
  std::lock_guard lock(lineMutex());
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - lastDraw_ < interval_) return;
  lastDraw_ = now;
  std::string line = "\r\x1b[K";
  const size_t width = terminalWidth();
  if (text.size() > width) {
    line.append(text.substr(0, width - 3));
    line += "...";
  } else {
    line.append(text);
  }
  if (gShown != nullptr && gShown != this) gShown->shown_ = false;  // one line: this one replaces it
  writeAll(line);
  shown_ = true;
  gShown = this;
}

void ProgressLine::clear() {
  std::lock_guard lock(lineMutex());
  clearLocked();
}

void ProgressLine::clearLocked() {
  if (!shown_) return;
  writeAll("\r\x1b[K");
  shown_ = false;
  if (gShown == this) gShown = nullptr;
}

void ProgressLine::writeOver(const std::function<void()>& write) {
  std::lock_guard lock(lineMutex());
  if (gShown != nullptr) gShown->clearLocked();
  write();
}

}  // namespace logship
