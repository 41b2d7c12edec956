#include "api/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/access_log.h"
#include "api/listen_address.h"
#include "api/metrics.h"
#include "api/router.h"

namespace tally {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kHeaderLimit = 16 * 1024;   // CONTRACT §3: headers <= 16 KiB
constexpr size_t kBodyLimit = 1024 * 1024;   // body <= 1 MiB
// After an answer that closes the connection, unread request bytes are drained
// for this long (or this much) before closing, so that the client reads the
// answer instead of a reset (a "lingering close", as nginx does).
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 4 * 1024 * 1024;
// Connections over the cap get one short-lived 503; past this many of those at
// once, further ones are closed without a word.
constexpr int kMaxOverCapacityAnswers = 64;
constexpr auto kOverCapacityTimeout = std::chrono::seconds(2);
// How long Stop() waits for requests in flight.
constexpr auto kDrainTime = std::chrono::seconds(5);
// Access log: at most this many lines a second after a burst (a flood of
// requests costs ~4 KB/s of log, not the disk).
constexpr double kAccessLinesPerSecond = 20;
constexpr double kAccessLineBurst = 200;

class Session;

}  // namespace

struct ApiServer::Impl {
  Impl(const ApiOptions& opts, int thread_count)
      : options(opts),
        ioc(std::in_place, thread_count),
        acceptor(std::in_place, asio::make_strand(*ioc)),
        access_log(kAccessLinesPerSecond, kAccessLineBurst) {}

  void Accept();
  void Register(Session* s, const std::shared_ptr<Session>& shared);
  void Unregister(Session* s);
  void StopImpl();

  const ApiOptions options;
  ApiContext context;
  HttpMetrics metrics;
  ResponseCache cache;
  uint16_t bound_port = 0;

  // Sessions, to drain them on Stop. Declared before the io_context so that
  // sessions destroyed with it can still unregister.
  std::mutex mutex;
  std::condition_variable drained;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by mutex
  std::atomic<bool> draining{false};
  std::atomic<int> over_capacity{0};
  bool stopped = false;  // controlling thread only

  std::optional<asio::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;  // reset before ioc
  std::vector<std::thread> threads;
  AccessLog access_log;
};

namespace {

// Session serves one connection: reads a request (header, then body, within the
// limits and one deadline), hands it to HandleRequest, writes the answer, and
// repeats while keep-alive holds. Only reading, writing and timing out live here.
// Runs on its own strand; owned by the handlers in flight (shared_from_this).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ApiServer::Impl* server, bool over_capacity)
      : stream_(std::move(socket)), server_(server), over_capacity_(over_capacity) {
    if (!over_capacity_) server_->metrics.ConnectionOpened();
  }

  ~Session() {
    if (over_capacity_) {
      server_->over_capacity.fetch_sub(1, std::memory_order_relaxed);
    } else {
      server_->metrics.ConnectionClosed();
    }
    server_->Unregister(this);
  }

  void Run() {
    server_->Register(this, shared_from_this());
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

  // Called on Stop (posted to the session's strand): an idle connection closes
  // now; a request in flight is answered, with Connection: close.
  void Drain() {
    if (!busy_) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.socket().close(ignored);
    }
  }

  auto executor() { return stream_.get_executor(); }

 private:
  void ReadHeader() {
    if (server_->draining.load()) return Close();
    busy_ = false;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    // One deadline for the whole request: a client that trickles bytes is cut
    // off like an idle one.
    stream_.expires_after(over_capacity_ ? std::chrono::duration_cast<std::chrono::seconds>(kOverCapacityTimeout)
                                         : server_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  void OnHeader(beast::error_code ec, size_t) {
    if (ec == http::error::header_limit) return Refuse(true);
    if (ec == http::error::body_limit) return Refuse(false);
    if (ec) return Close();
    busy_ = true;
    started_ = Clock::now();
    if (over_capacity_) {
      unread_ = true;
      return Respond(OverCapacity(parser_->get(), server_->context));
    }
    if (parser_->is_done()) return OnBody({}, 0);
    if (parser_->content_length() && *parser_->content_length() > kBodyLimit) return Refuse(false);
    const auto& request = parser_->get();
    if (auto it = request.find(http::field::expect); it != request.end() && beast::iequals(it->value(), "100-continue")) {
      // curl and others wait for this before sending a body over 1 KiB.
      continue_.emplace(http::status::continue_, request.version());
      return http::async_write(stream_, *continue_,
                               beast::bind_front_handler(&Session::OnContinueWritten, shared_from_this()));
    }
    ReadBody();
  }

  void OnContinueWritten(beast::error_code ec, size_t) {
    if (ec) return Close();
    stream_.expires_after(server_->options.idle_timeout);
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnBody, shared_from_this()));
  }

  void OnBody(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) return Refuse(false);
    if (ec) return Close();
    started_ = Clock::now();
    Respond(HandleRequest(parser_->get(), server_->context));
  }

  // 4013: the request broke a size limit; its rest is not read.
  void Refuse(bool headers) {
    started_ = Clock::now();
    unread_ = true;
    Respond(LimitExceeded(parser_->get(), headers, server_->context));
  }

  void Respond(Answer answer) {
    answer_ = std::move(answer);
    auto& response = answer_.response;
    if (server_->draining.load() || over_capacity_) response.keep_alive(false);
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    const std::string_view route = RouteLabel(answer_.route);
    const int status = static_cast<int>(response.result_int());
    server_->metrics.ObserveRequest(answer_.route, status, seconds);
    const auto& request = parser_->get();
    server_->metrics.AccessLinesSuppressed(server_->access_log.Log(AccessEntry{
        std::string_view(request.method_string().data(), request.method_string().size()), route, status,
        answer_.code, response.body().size(), seconds, answer_.request_id}));
    stream_.expires_after(server_->options.idle_timeout);
    SerializeHeader(response, &wire_);
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(wire_), asio::buffer(response.body())};
    asio::async_write(stream_, buffers, beast::bind_front_handler(&Session::OnWritten, shared_from_this()));
  }

  // The response's status line and header as bytes, written with the body in
  // one gather write, instead of Beast's serializer walking a list of header
  // pieces (measured: a tenth of the server's time at 50k requests/s).
  static void SerializeHeader(const HttpResponse& response, std::string* out) {
    out->clear();
    out->append(response.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    out->append(std::to_string(response.result_int()));
    out->push_back(' ');
    const auto reason = http::obsolete_reason(response.result());
    out->append(reason.data(), reason.size());
    out->append("\r\n");
    for (const auto& field : response) {
      out->append(field.name_string().data(), field.name_string().size());
      out->append(": ");
      out->append(field.value().data(), field.value().size());
      out->append("\r\n");
    }
    out->append("\r\n");
  }

  void OnWritten(beast::error_code ec, size_t) {
    if (ec) return Close();
    if (!answer_.response.keep_alive()) return unread_ ? Linger() : Close();
    answer_ = Answer();
    ReadHeader();
  }

  // Half-closes and discards what the client still sends, for a bounded time.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    lingered_ = 0;
    DiscardMore();
  }

  void DiscardMore() {
    stream_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerBytes) return self->Close();
      self->DiscardMore();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  ApiServer::Impl* server_;
  const bool over_capacity_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::empty_body>> continue_;
  Answer answer_;
  std::string wire_;  // answer_.response's header serialized; its buffer is reused
  Clock::time_point started_;
  bool busy_ = false;    // a request's header has been read and it is not answered yet
  bool unread_ = false;  // the request being answered was not read to its end
  size_t lingered_ = 0;
  std::array<char, 16 * 1024> discard_;
};

}  // namespace

void ApiServer::Impl::Register(Session* s, const std::shared_ptr<Session>& shared) {
  std::lock_guard lock(mutex);
  sessions.emplace(s, shared);
}

void ApiServer::Impl::Unregister(Session* s) {
  std::lock_guard lock(mutex);
  sessions.erase(s);
  if (sessions.empty()) drained.notify_all();
}

void ApiServer::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (!ec) {
      size_t open;
      {
        std::lock_guard lock(mutex);
        open = sessions.size() - static_cast<size_t>(over_capacity.load());
      }
      if (open < options.max_connections) {
        std::make_shared<Session>(std::move(socket), this, false)->Run();
      } else if (over_capacity.fetch_add(1) < kMaxOverCapacityAnswers) {
        metrics.ConnectionRefused();
        std::make_shared<Session>(std::move(socket), this, true)->Run();
      } else {
        over_capacity.fetch_sub(1);
        metrics.ConnectionRefused();
        beast::error_code ignored;
        socket.close(ignored);
      }
    } else if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
      spdlog::warn("api: accept failed: {}", ec.message());
    }
    Accept();
  });
}

void ApiServer::Impl::StopImpl() {
  if (stopped) return;
  stopped = true;
  draining.store(true);
  std::promise<void> closed;
  asio::post(acceptor->get_executor(), [this, &closed] {
    beast::error_code ignored;
    acceptor->close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(mutex);
    for (auto& [raw, weak] : sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  // Outside the lock: dropping the last reference destroys a session, which
  // unregisters itself.
  for (auto& s : open) asio::post(s->executor(), [s] { s->Drain(); });
  open.clear();
  {
    std::unique_lock lock(mutex);
    drained.wait_for(lock, kDrainTime, [this] { return sessions.empty(); });
  }
  ioc->stop();
  for (std::thread& t : threads) t.join();
  threads.clear();
  acceptor.reset();
  ioc.reset();  // destroys what is left of the sessions while this object lives
}

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiOptions& options, const Store* store,
                                                     IngestSource ingest) {
  auto endpoint = ParseListenAddress(options.listen);
  if (!endpoint) return endpoint.error();
  const int thread_count =
      options.threads > 0 ? options.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  auto impl = std::make_unique<Impl>(options, thread_count);
  impl->context.store = store;
  impl->context.ingest = std::move(ingest);
  impl->context.api_keys = options.api_keys;
  impl->context.view_url_base = options.view_url_base;
  while (!impl->context.view_url_base.empty() && impl->context.view_url_base.back() == '/') {
    impl->context.view_url_base.pop_back();
  }
  impl->context.metrics = &impl->metrics;
  if (options.cache_responses) impl->context.cache = &impl->cache;

  beast::error_code ec;
  const tcp::endpoint where(endpoint->address, endpoint->port);
  tcp::acceptor& acceptor = *impl->acceptor;
  acceptor.open(where.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(where, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    impl->stopped = true;  // nothing runs yet
    return Status::IOError("cannot listen on " + options.listen + ": " + ec.message());
  }
  impl->bound_port = acceptor.local_endpoint(ec).port();

  impl->Accept();
  for (int i = 0; i < thread_count; ++i) {
    impl->threads.emplace_back([ioc = &*impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

uint16_t ApiServer::port() const { return impl_->bound_port; }

void ApiServer::Stop() { impl_->StopImpl(); }

ApiServer::~ApiServer() { Stop(); }

}  // namespace tally
