// `tally produce`: a realistic TaskAction stream (see ingest/delivery.h) sent to
// Kafka or written as NDJSON, optionally rate-limited, with a progress line on a
// terminal (app/progress.h).

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "app/commands.h"
#include "app/progress.h"
#include "ingest/kafka_producer.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

// Where messages go: a Kafka topic or an NDJSON stream.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Send(const Message& m) = 0;
  // After the last message: everything delivered, or an error saying how much was not.
  virtual Status Finish() = 0;
};

class KafkaSink final : public Sink {
 public:
  KafkaSink(std::unique_ptr<KafkaProducer> producer, std::string topic)
      : producer_(std::move(producer)), topic_(std::move(topic)) {}

  Status Send(const Message& m) override {
    // Fail fast: once a message could not be delivered (after librdkafka's own
    // retries), later ones will not fare better.
    if (producer_->failed() > 0) return Undelivered(producer_->failed());
    ++queued_;
    Status s = producer_->Send(topic_, m.key, m.value);
    producer_->Poll();
    return s;
  }

  Status Finish() override {
    const int left = producer_->Flush(std::chrono::seconds(60));
    const uint64_t lost = producer_->failed() + static_cast<uint64_t>(left);
    return lost == 0 ? Status::OK() : Undelivered(lost);
  }

 private:
  Status Undelivered(uint64_t lost) const {
    const std::string problem = producer_->problem();
    return Status::IOError(std::to_string(lost) + " of " + std::to_string(queued_) + " messages not delivered to " +
                           topic_ + (problem.empty() ? "" : ": " + problem));
  }

  std::unique_ptr<KafkaProducer> producer_;
  std::string topic_;
  uint64_t queued_ = 0;
};

class FileSink final : public Sink {
 public:
  FileSink(std::FILE* file, std::string name) : file_(file), name_(std::move(name)) {}
  ~FileSink() override {
    if (file_ != stdout) std::fclose(file_);
  }
  Status Send(const Message& m) override {
    if (std::fwrite(m.value.data(), 1, m.value.size(), file_) != m.value.size() || std::fputc('\n', file_) == EOF) {
      return Status::IOError("--output " + name_ + ": " + std::strerror(errno));
    }
    return Status::OK();
  }
  Status Finish() override {
    if (std::fflush(file_) != 0) return Status::IOError("--output " + name_ + ": " + std::strerror(errno));
    return Status::OK();
  }

 private:
  std::FILE* file_;
  std::string name_;
};

Result<std::unique_ptr<Sink>> OpenSink(const ProduceFlags& flags) {
  if (!flags.output.empty()) {
    std::FILE* file = flags.output == "-" ? stdout : std::fopen(flags.output.c_str(), "wb");
    if (!file) return Status::InvalidArgument("--output " + flags.output + ": " + std::strerror(errno));
    return std::unique_ptr<Sink>(new FileSink(file, flags.output));
  }
  KafkaProperties user;
  for (const std::string& property : flags.kafka) {
    Result<std::pair<std::string, std::string>> parsed = ParseKafkaProperty(property);
    if (!parsed) return parsed.error();
    user.push_back(*parsed);
  }
  Result<std::unique_ptr<KafkaProducer>> producer = KafkaProducer::Create(
      {
          {"bootstrap.servers", flags.brokers},
          {"linger.ms", "5"},
          {"batch.num.messages", "10000"},
          // Unreachable brokers fail the run in half a minute, not librdkafka's five minutes.
          {"message.timeout.ms", "30000"},
          {"log.connection.close", "false"},
      },
      user, "tally produce");
  if (!producer) return producer.error();
  return std::unique_ptr<Sink>(new KafkaSink(std::move(*producer), flags.topic));
}

void Report(const ProduceTotals& t, const std::string& to) {
  const double rate = t.seconds > 0 ? static_cast<double>(t.events) / t.seconds : 0;
  std::fprintf(stderr, "produce: done: %llu events (%llu distinct) in %llu messages, %.1f s, %.0f events/s to %s\n",
               static_cast<unsigned long long>(t.events), static_cast<unsigned long long>(t.distinct),
               static_cast<unsigned long long>(t.messages), t.seconds, rate, to.c_str());
}

}  // namespace

Result<ProduceTotals> Produce(const ProduceFlags& flags, const ProduceControl& control) {
  Result<std::unique_ptr<Sink>> sink = OpenSink(flags);
  if (!sink) return sink.error();
  Delivery delivery(flags.workload, flags.delivery);
  ProduceTotals totals;
  ProgressLine line("produce", stderr, control.progress && isatty(STDERR_FILENO) == 1);
  const Workload& workload = delivery.workload();
  const double tasks = static_cast<double>(workload.total_tasks());
  // An error ends the run: the progress line goes first, so the error starts a clean line.
  auto fail = [&](Status s) {
    line.Clear();
    return s;
  };
  const auto start = Clock::now();
  Message message;
  for (;;) {
    if (control.stop && control.stop->load()) break;
    if (control.pace) control.pace(delivery.distinct_events());
    if (!delivery.Next(&message)) break;
    if (flags.rate > 0) {
      // Paced by events: message k is sent when the events before it are due.
      const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(totals.events) / flags.rate));
      if (due > Clock::now()) std::this_thread::sleep_until(due);
    }
    if (Status s = (*sink)->Send(message); !s.ok()) return fail(s);
    ++totals.messages;
    totals.events += message.events;
    totals.distinct = delivery.distinct_events();
    // How far: the workload's finished tasks (their events vary in number).
    line.Update(totals.events, tasks > 0 ? static_cast<double>(workload.completed_tasks()) / tasks : -1);
  }
  if (Status s = (*sink)->Finish(); !s.ok()) return fail(s);
  line.Clear();
  totals.distinct = delivery.distinct_events();
  totals.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return totals;
}

int RunProduce(const ProduceFlags& flags) {
  Result<ProduceTotals> done = Produce(flags, ProduceControl{});
  if (!done) {
    std::fprintf(stderr, "tally produce: %s\n", done.error().message().c_str());
    return done.error().code() == Status::Code::kInvalidArgument ? kExitUsage : kExitRuntime;
  }
  Report(*done, flags.output.empty() ? "topic " + flags.topic : flags.output == "-" ? "stdout" : flags.output);
  return kExitOk;
}

}  // namespace tally
