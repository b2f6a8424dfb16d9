#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "broker/amqp/connection.hpp"
#include "broker/tail.hpp"

namespace logship::amqp {

// logctl tail over RabbitMQ. Declares an exclusive, auto-delete, server-named queue with
// x-max-length / x-max-length-bytes and x-overflow drop-head (a stalled tail costs the broker at
// most that plus the prefetch), binds it to the log queue's topic exchange with the filters' keys
// (bindingKeys) and consumes it with manual acks and a prefetch, acknowledging every message it
// hands out. The broker deletes the queue with the connection.
//
// The log queue deleted under a running tail: the producers publish with `mandatory`, so a record
// that reaches no queue comes back to them and is sent again once the queue is declared again. But
// a record this tail's bindings select still reaches a queue, this tail's own, and is confirmed.
// So the tail checks every queueCheckInterval (a passive queue.declare on a channel of its own)
// that the log queue exists. When it does not, the tail declares it again (with its exchange and
// binding, as everything that declares it does) and puts every message it received since the
// check before last (those that may have reached only this tail; the rest are duplicates, which
// the aggregators' id journal mostly absorbs) into it with a confirmed, mandatory publish
// (PublishRoute::Direct). The messages still on their way to it are delimited by a marker it
// publishes to its own queue once the log queue exists again: what arrives before the marker is
// put back too. Not covered: a log queue deleted and declared again by someone else between two
// checks, and messages the tail's queue dropped (drop-head) before the tail read them.
class AmqpTail final : public TailSubscription {
 public:
  // Throws BrokerRefusedError when the log queue does not exist (nothing is sent to it yet).
  AmqpTail(const BrokerOptions& broker, const TailOptions& options);

  size_t receive(std::vector<Delivery>& out, std::chrono::milliseconds timeout) override;
  void finish(std::chrono::milliseconds limit) override;  // waits for the marker of a put back in progress
  std::string describe() const override;

  // The header of the marker described above (never on a record).
  static constexpr std::string_view kMarkerHeader = "logship-tail-marker";

 private:
  bool receiveOne(std::vector<Delivery>& out, std::chrono::milliseconds timeout);
  void checkQueue();
  void keep(const Delivery& d);  // for a later put back (bounded by kKeepBytes)
  void putBack(std::vector<Delivery>& messages, bool complete, const char* when);

  static constexpr size_t kKeepBytes = 16 * 1024 * 1024;  // per interval (and for the wait for the marker)

  BrokerOptions broker_;
  TailOptions options_;
  AmqpConnection conn_;
  std::string exchange_;
  std::string ownQueue_;
  std::vector<std::string> keys_;
  amqp_channel_t checkChannel_ = 2;
  Clock::time_point nextCheck_;
  // Messages received since the last check that found the log queue, and in the interval before.
  std::vector<Delivery> recent_, older_;
  size_t recentBytes_ = 0, olderBytes_ = 0;
  bool recentComplete_ = true, olderComplete_ = true;  // false: kKeepBytes was reached, some were not kept
  // Between declaring the log queue again and the marker's arrival: what arrives is put back too.
  bool awaitingMarker_ = false;
  std::string markerId_;
  Clock::time_point markerDeadline_;
  std::vector<Delivery> beforeMarker_;
  size_t beforeMarkerBytes_ = 0;
  bool beforeMarkerComplete_ = true;
};

}  // namespace logship::amqp
