#pragma once
// The producer's inputs (docs/ARCHITECTURE.md, "Data flow"): each source of records — stdin, followed
// files, syslog sockets — is an Input. One thread runs them all (InputLoop): it waits on every
// input's descriptors with poll(2) and lets each read what is ready and hand its records to the one
// Shipper, whose ship() is not thread-safe. An input never blocks in read().
#include <poll.h>

#include <chrono>
#include <string_view>
#include <vector>

namespace logship {

class Shipper;

class Input {
 public:
  virtual ~Input() = default;

  // A short name for messages ("stdin", "file /var/log/app.log", "syslog udp 127.0.0.1:514").
  virtual std::string_view name() const = 0;
  // Adds the descriptors to wait on (events POLLIN) to `fds`; may add none (an input that polls).
  virtual void addPollFds(std::vector<pollfd>& fds) = 0;
  // Reads what is ready without blocking and ships its records. Returns false once the input has
  // ended for good (stdin's end of file); an input that never ends returns true. Called after
  // every wake-up of the loop, whether or not its descriptors were ready. Throws Error when the
  // input fails (the program ends: one error line).
  virtual bool read(Shipper& shipper) = 0;
  // The longest the loop may sleep before this input needs read() again although none of its
  // descriptors is ready (a file to look at again, a partial record to flush, a checkpoint).
  virtual std::chrono::milliseconds wakeIn() const { return std::chrono::milliseconds(1000); }
  // The loop ended (end of every input, a stop signal, or the shipper failed): ship what is held
  // (a pending multiline record), and — after Shipper::finish — save the last checkpoint.
  virtual void endOfInput(Shipper& shipper) { (void)shipper; }
  virtual void afterFinish(Shipper& shipper) { (void)shipper; }
};

}  // namespace logship
