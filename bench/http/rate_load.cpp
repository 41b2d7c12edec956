// rate_load: an open-loop HTTP load at a fixed request rate, for latency at a
// given load (wrk is closed-loop: each connection waits for its answer before
// sending again, so a slow server is offered less load and its latency looks
// better than it is). Requests are scheduled at exact times (RATE per second,
// evenly spaced) and spread over CONNECTIONS keep-alive connections; a request
// whose time has come while every connection is busy waits, and its latency is
// counted from its scheduled time, not from when it was sent (no coordinated
// omission). Prints achieved rate, p50, p99, p99.9 and max latency.
//
// Usage: rate_load PORT RATE SECONDS CONNECTIONS METHOD TARGET [BODY]

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <optional>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Load {
  asio::io_context ioc;
  std::string request;  // serialized once
  std::deque<Clock::time_point> waiting;  // scheduled, not sent yet
  std::vector<double> latencies;          // seconds
  uint64_t errors = 0;
  size_t in_flight = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Load* load, uint16_t port) : load_(load), socket_(load->ioc) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
  }
  bool idle() const { return idle_; }

  void Send(Clock::time_point scheduled) {
    idle_ = false;
    scheduled_ = scheduled;
    ++load_->in_flight;
    asio::async_write(socket_, asio::buffer(load_->request), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->Done(false);
      self->received_ = 0;
      self->header_end_ = 0;
      self->Receive();
    });
  }

 private:
  // Reads the response with no parsing beyond the status and Content-Length:
  // the client must cost far less than the server it measures.
  void Receive() {
    if (received_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
    socket_.async_read_some(asio::buffer(buffer_.data() + received_, buffer_.size() - received_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->Done(false);
                              self->received_ += n;
                              self->Check();
                            });
  }

  void Check() {
    std::string_view data(buffer_.data(), received_);
    if (header_end_ == 0) {
      const size_t end = data.find("\r\n\r\n");
      if (end == std::string_view::npos) return Receive();
      header_end_ = end + 4;
      std::string header(data.substr(0, header_end_));
      for (char& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const size_t cl = header.find("\r\ncontent-length:");
      content_length_ = cl == std::string::npos ? 0 : std::strtoull(header.c_str() + cl + 17, nullptr, 10);
      status_ok_ = header.compare(0, 12, "http/1.1 200") == 0;
    }
    if (received_ < header_end_ + content_length_) return Receive();
    Done(status_ok_);
  }

 public:
  std::function<void(Connection*)> on_idle;

  void Done(bool ok) {
    --load_->in_flight;
    if (ok) {
      load_->latencies.push_back(std::chrono::duration<double>(Clock::now() - scheduled_).count());
    } else {
      ++load_->errors;
    }
    idle_ = true;
    if (ok && on_idle) on_idle(this);
  }

 private:
  Load* load_;
  tcp::socket socket_;
  std::vector<char> buffer_ = std::vector<char>(64 * 1024);
  size_t received_ = 0;
  size_t header_end_ = 0;  // 0 until the header is complete
  size_t content_length_ = 0;
  bool status_ok_ = false;
  Clock::time_point scheduled_;
  bool idle_ = true;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: rate_load PORT RATE SECONDS CONNECTIONS METHOD TARGET [BODY]\n");
    return 2;
  }
  const auto port = static_cast<uint16_t>(std::atoi(argv[1]));
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  const int connections = std::atoi(argv[4]);
  Load load;
  http::request<http::string_body> req{http::string_to_verb(argv[5]), argv[6], 11};
  req.set(http::field::host, "127.0.0.1");
  if (argc > 7) {
    req.set(http::field::content_type, "application/json");
    req.body() = argv[7];
  }
  req.prepare_payload();
  std::ostringstream serialized;
  serialized << req;
  load.request = serialized.str();

  std::vector<std::shared_ptr<Connection>> pool;
  auto dispatch = [&load](Connection* c) {
    if (!load.waiting.empty()) {
      const auto t = load.waiting.front();
      load.waiting.pop_front();
      c->Send(t);
    }
  };
  for (int i = 0; i < connections; ++i) {
    pool.push_back(std::make_shared<Connection>(&load, port));
    pool.back()->on_idle = dispatch;
  }
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const uint64_t total = static_cast<uint64_t>(rate * seconds);
  uint64_t scheduled = 0;
  asio::steady_timer timer(load.ioc);
  std::function<void()> tick = [&] {
    const auto now = Clock::now();
    while (scheduled < total) {
      const auto t = start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(scheduled));
      if (t > now) break;
      load.waiting.push_back(t);
      ++scheduled;
    }
    for (auto& c : pool) {
      if (load.waiting.empty()) break;
      if (c->idle()) dispatch(c.get());
    }
    if (scheduled < total) {
      timer.expires_at(start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(scheduled)));
      timer.async_wait([&](beast::error_code) { tick(); });
    }
  };
  timer.expires_at(start);
  timer.async_wait([&](beast::error_code) { tick(); });
  // Bounded: the schedule's length plus 10 s for the last answers.
  load.ioc.run_for(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds + 10)));
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const uint64_t answered = load.latencies.size();
  const uint64_t unanswered = total - answered - load.errors;
  std::vector<double>& l = load.latencies;
  const double p50 = Percentile(l, 0.50), p99 = Percentile(l, 0.99), p999 = Percentile(l, 0.999);
  const double max = l.empty() ? 0 : *std::max_element(l.begin(), l.end());
  std::printf("rate %.0f/s offered, %llu answered (%.0f/s), %llu errors, %llu unanswered; latency ms: p50 %.3f p99 %.3f "
              "p99.9 %.3f max %.3f\n",
              rate, static_cast<unsigned long long>(answered), static_cast<double>(answered) / std::min(elapsed, seconds + 10),
              static_cast<unsigned long long>(load.errors), static_cast<unsigned long long>(unanswered), p50 * 1e3,
              p99 * 1e3, p999 * 1e3, max * 1e3);
  return load.errors == 0 && unanswered == 0 ? 0 : 1;
}
