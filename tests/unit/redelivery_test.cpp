// Poison-message counting (aggregator/redelivery.hpp) and the logship-deliveries header
// (core/message.hpp): pure logic, no broker.
#include <gtest/gtest.h>

#include "aggregator/redelivery.hpp"
#include "core/message.hpp"

using namespace logship;

namespace {

Delivery delivery(const std::string& deliveriesHeader, uint32_t unrecorded, bool hasHeader = true) {
  Delivery d;
  d.body = "x";
  if (hasHeader) d.headers.push_back({"logship-deliveries", deliveriesHeader});
  d.unrecordedFailures = unrecorded;
  return d;
}

}  // namespace

TEST(RecordedDeliveries, ReadsTheFirstHeaderOfOneToNineDigits) {
  EXPECT_EQ(recordedDeliveries({}), 0u);
  EXPECT_EQ(recordedDeliveries(std::vector<Header>{{"logship-deliveries", "3"}}), 3u);
  EXPECT_EQ(recordedDeliveries(std::vector<Header>{{"logship-deliveries", "007"}}), 7u);
  EXPECT_EQ(recordedDeliveries(std::vector<Header>{{"logship-deliveries", "999999999"}}), 999'999'999u);
  const std::vector<Header> twice{{"x", "1"}, {"logship-deliveries", "2"}, {"logship-deliveries", "9"}};
  EXPECT_EQ(recordedDeliveries(twice), 2u) << "the first one counts";
  // Anything nobody could have written counts as no failure yet.
  for (const char* bad : {"", "-1", "+1", "1e3", "0x10", " 1", "1 ", "abc", "1000000000", "18446744073709551617"}) {
    EXPECT_EQ(recordedDeliveries(std::vector<Header>{{"logship-deliveries", bad}}), 0u) << bad;
  }
  EXPECT_EQ(recordedDeliveries(std::vector<Header>{{"logship-deliveries", "an integer (5)", false}}), 0u);
}

TEST(RecordedDeliveries, SetReplacesEveryHeaderByOneAtTheEnd) {
  std::vector<Header> h{{"logship-deliveries", "1"}, {"logship-id", "a-1"}, {"logship-deliveries", "7"}};
  setRecordedDeliveries(h, 4);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0].key, "logship-id");
  EXPECT_EQ(h[1].key, "logship-deliveries");
  EXPECT_EQ(h[1].value, "4");
  EXPECT_EQ(recordedDeliveries(h), 4u);
  setRecordedDeliveries(h, 4'000'000'000u);
  EXPECT_EQ(recordedDeliveries(h), wire::kMaxDeliveries) << "saturates at nine digits";
}

TEST(RecordedDeliveries, ThePlainAndVersionedDecoderIgnoresTheHeader) {
  Record r;
  std::string error;
  ASSERT_TRUE(decodeMessage("plain", std::vector<Header>{{"logship-deliveries", "3"}}, 5, r, error)) << error;
  EXPECT_EQ(r.message, "plain");
  const std::vector<Header> versioned{{"logship-version", "1"}, {"logship-service", "s"}, {"logship-deliveries", "3"}};
  ASSERT_TRUE(decodeMessage("v1", versioned, 5, r, error)) << error;
  EXPECT_EQ(r.service, "s");
  EXPECT_TRUE(r.fields.empty());
}

TEST(Redelivery, FailuresAddUpAndSaturate) {
  EXPECT_EQ((DeliveryHistory{2, 1}.failures()), 3u);
  EXPECT_EQ((DeliveryHistory{wire::kMaxDeliveries, 5}.failures()), wire::kMaxDeliveries);
  EXPECT_EQ((DeliveryHistory{4'000'000'000u, 4'000'000'000u}.failures()), wire::kMaxDeliveries);
}

TEST(Redelivery, JudgeWritesRecordsOrDeadLetters) {
  using A = RedeliveryAction;
  // A fresh delivery, and one whose failures are all recorded and under the limit, are written.
  EXPECT_EQ(judgeRedelivery({0, 0}, 5), A::Write);
  EXPECT_EQ(judgeRedelivery({4, 0}, 5), A::Write);
  // A failure the message does not record yet (RabbitMQ's redelivered flag) is recorded first.
  EXPECT_EQ(judgeRedelivery({0, 1}, 5), A::Record);
  EXPECT_EQ(judgeRedelivery({3, 1}, 5), A::Record);
  // At the limit: dead-lettered, recorded or not.
  EXPECT_EQ(judgeRedelivery({4, 1}, 5), A::DeadLetter);
  EXPECT_EQ(judgeRedelivery({5, 0}, 5), A::DeadLetter);
  EXPECT_EQ(judgeRedelivery({0, 7}, 5), A::DeadLetter);  // a quorum queue's x-delivery-count
  EXPECT_EQ(judgeRedelivery({0, 1}, 1), A::DeadLetter);
  // 0: no limit and no counting, as before.
  EXPECT_EQ(judgeRedelivery({0, 1}, 0), A::Write);
  EXPECT_EQ(judgeRedelivery({999, 3}, 0), A::Write);
}

TEST(Redelivery, PoisonReasonSaysHowOften) {
  EXPECT_EQ(poisonReason(5),
            "delivered 5 times without being written (the aggregator crashed or lost its connection "
            "each time)");
  EXPECT_EQ(poisonReason(1).substr(0, 16), "delivered 1 time");
}

TEST(Redelivery, HistoryOfADeliveryIsItsHeaderAndTheBrokersReport) {
  const auto h = historyOf(delivery("3", 1));
  EXPECT_EQ(h.recorded, 3u);
  EXPECT_EQ(h.unrecorded, 1u);
  EXPECT_EQ(historyOf(delivery("", 0, false)).failures(), 0u);
}

TEST(Redelivery, ARecordThatFailedBeforeIsWrittenAlone) {
  EXPECT_TRUE(writtenAlone({1, 0}, 5));
  EXPECT_FALSE(writtenAlone({0, 0}, 5));
  EXPECT_FALSE(writtenAlone({1, 1}, 5)) << "recorded first, not written now";
  EXPECT_FALSE(writtenAlone({0, 1}, 5));
  EXPECT_FALSE(writtenAlone({3, 0}, 0)) << "no counting with --max-deliveries 0";

  // fresh f, suspect s (a recorded failure), redelivery r (unrecorded): batches split around s.
  const std::vector<Delivery> batch = {delivery("", 0, false), delivery("0", 0),      delivery("2", 0),
                                       delivery("", 1, false), delivery("1", 1),      delivery("1", 0),
                                       delivery("1", 0),       delivery("", 0, false)};
  //                                     0 f                   1 f (count 0)      2 s
  //                                     3 r                   4 r                5 s
  //                                     6 s                   7 f
  EXPECT_EQ(segmentEnd(batch, 0, 5), 2u);
  EXPECT_EQ(segmentEnd(batch, 2, 5), 3u);
  EXPECT_EQ(segmentEnd(batch, 3, 5), 5u);
  EXPECT_EQ(segmentEnd(batch, 5, 5), 6u);
  EXPECT_EQ(segmentEnd(batch, 6, 5), 7u);
  EXPECT_EQ(segmentEnd(batch, 7, 5), 8u);
  EXPECT_EQ(segmentEnd(batch, 8, 5), 8u);
  EXPECT_EQ(segmentEnd(batch, 0, 0), 8u) << "--max-deliveries 0: one part";
}

namespace {

QueueStats queue(const std::string& name, const std::string& type, std::optional<uint32_t> limit,
                 const std::string& source = "x-delivery-limit") {
  QueueStats q;
  q.name = name;
  q.type = type;
  q.deliveryLimit = limit;
  if (limit) q.deliveryLimitSource = source;
  return q;
}

DeliveryLimits found(std::vector<QueueStats> queues) {
  DeliveryLimits d;
  d.asked = true;
  d.queues = std::move(queues);
  return d;
}

}  // namespace

TEST(Redelivery, AQuorumQueuesDeliveryLimitLowersMaxDeliveries) {
  // The broker drops at the (L+1)th return, so a delivery counted L is the last one: judged with L.
  const auto lower = judgedLimit(5, found({queue("q", "quorum", 2)}));
  EXPECT_EQ(lower.maxDeliveries, 2u);
  EXPECT_FALSE(lower.warn);
  EXPECT_NE(lower.line.find("after 2 failed deliveries (not --max-deliveries 5): queue 'q' is a quorum queue with a "
                            "delivery limit of 2 (x-delivery-limit)"),
            std::string::npos)
      << lower.line;
  // --max-deliveries 0 is no limit of ours, but the broker's still applies: ours dead-letters first.
  EXPECT_EQ(judgedLimit(0, found({queue("q", "quorum", 7)})).maxDeliveries, 7u);
  // A limit at or above --max-deliveries is never reached first.
  const auto higher = judgedLimit(5, found({queue("q", "quorum", 5, "policy 'p'")}));
  EXPECT_EQ(higher.maxDeliveries, 5u);
  EXPECT_NE(higher.line.find("the delivery limit of queue 'q', 5 (policy 'p'), is not lower"), std::string::npos)
      << higher.line;
  // Shards: the lowest limit of the queues consumed.
  const auto shards = judgedLimit(
      5, found({queue("q.shard.0", "quorum", 4), queue("q.shard.1", "quorum", 3), queue("q.shard.2", "classic", {})}));
  EXPECT_EQ(shards.maxDeliveries, 3u);
  EXPECT_NE(shards.line.find("queue 'q.shard.1'"), std::string::npos) << shards.line;
}

TEST(Redelivery, NoBrokerLimitKeepsMaxDeliveriesAndSaysWhy) {
  const auto classic = judgedLimit(5, found({queue("q", "classic", {})}));
  EXPECT_EQ(classic.maxDeliveries, 5u);
  EXPECT_EQ(classic.line,
            "dead-lettering a record after 5 failed deliveries (--max-deliveries); queue 'q' (classic) "
            "has no delivery limit of its own");
  EXPECT_EQ(judgedLimit(0, found({queue("q", "quorum", {})})).maxDeliveries, 0u);
  // Redis: nothing to say.
  const auto redis = judgedLimit(5, DeliveryLimits{});
  EXPECT_EQ(redis.maxDeliveries, 5u);
  EXPECT_EQ(redis.line, "");
  // The API cannot be asked: the rule, not a guess.
  DeliveryLimits unknown;
  unknown.asked = true;
  unknown.unavailable = "--management-url off";
  const auto rule = judgedLimit(5, unknown);
  EXPECT_EQ(rule.maxDeliveries, 5u);
  EXPECT_FALSE(rule.warn);
  EXPECT_NE(rule.line.find("(--management-url off)"), std::string::npos) << rule.line;
  EXPECT_NE(rule.line.find("keep --max-deliveries at or below the limit and give the queue a dead-letter exchange"),
            std::string::npos)
      << rule.line;
  // Policies not sampled yet: said, since a delivery-limit policy may be missed.
  auto fresh = found({queue("q", "quorum", {})});
  fresh.queues[0].policiesKnown = false;
  EXPECT_NE(judgedLimit(5, fresh).line.find("had not sampled the policies of queue 'q'"), std::string::npos);
}

TEST(Redelivery, ADeliveryLimitOfZeroLeavesNothingToActOnAndWarns) {
  const auto zero = judgedLimit(5, found({queue("q", "quorum", 0)}));
  EXPECT_EQ(zero.maxDeliveries, 5u);
  EXPECT_TRUE(zero.warn);
  EXPECT_NE(zero.line.find("delivery limit of 0 (x-delivery-limit)"), std::string::npos) << zero.line;
}
