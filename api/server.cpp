#include "api/server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "api/access_log.h"
#include "api/connection_table.h"
#include "api/envelope.h"
#include "api/http_framing.h"
#include "api/listen_address.h"
#include "api/metrics.h"
#include "api/not_modified_memo.h"
#include "api/open_file_limit.h"
#include "api/position.h"
#include "api/position_waiters.h"
#include "api/query_pool.h"
#include "api/request_id.h"
#include "api/admin_endpoints.h"
#include "api/response_cache.h"
#include "api/router.h"
#include "api/routes.h"
#include "api/status_history.h"
#include "api/waiters.h"

namespace tally {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kHeaderLimit = kMaxHeaderBytes;
constexpr size_t kBodyLimit = kMaxBodyBytes;
// After an answer that closes the connection, unread request bytes are drained
// for this long (or this much) before closing, so that the client reads the
// answer instead of a reset (a "lingering close", as nginx does).
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 4 * 1024 * 1024;
// At the cap a new connection closes the longest-idle one; when none is idle
// (every connection is being answered), this many more are admitted for one
// request each, for the operations endpoints (a business request on one gets
// 503): a probe still gets in. Past those, further ones are closed at once.
constexpr size_t kReserveConnections = 64;
// The largest request header a connection keeps to answer its exact repeat at
// once (Session::AnswerRepeat).
constexpr size_t kMaxRepeatHeader = 1024;
constexpr auto kReserveTimeout = std::chrono::seconds(2);
// Out of file descriptors (EMFILE, ENFILE, ...): accepting again at once would
// spin. The acceptor waits this long, and closes this many of the longest-idle
// connections each time, so that new clients (a probe) can get in; the failure
// is logged at most once a second, with a count.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);
constexpr size_t kEvictWhenOutOfFiles = 4;
constexpr auto kAcceptLogInterval = std::chrono::seconds(1);
// How long Stop() waits for requests in flight.
constexpr auto kDrainTime = std::chrono::seconds(5);
// Access log: at most this many lines a second after a burst (a flood of
// requests costs ~4 KB/s of log, not the disk).
constexpr double kAccessLinesPerSecond = 20;
constexpr double kAccessLineBurst = 200;

}  // namespace

struct ApiServer::Impl {
  Impl(const ApiOptions& opts, int thread_count, int query_threads)
      : options(opts),
        waiters(opts.max_waiters),
        ioc(std::in_place, thread_count),
        work(asio::make_work_guard(*ioc)),
        acceptor(std::in_place, asio::make_strand(*ioc)),
        accept_timer(std::in_place, acceptor->get_executor()),
        queries(std::in_place, query_threads, opts.query_queue),
        access_log(kAccessLinesPerSecond, kAccessLineBurst) {}

  void Accept();
  void OnAcceptFailed(const beast::error_code& ec);
  void StopImpl();

  const ApiOptions options;
  ApiContext context;
  HttpMetrics metrics;
  PositionWaiters positions;
  std::unique_ptr<ResponseCache> cache;  // null: answers are not kept
  NotModifiedMemo not_modified;          // the 304s of repeated polls (not_modified_memo.h)
  uint16_t bound_port = 0;

  // Declared before the io_context so that sessions destroyed with it can
  // still leave the table and the registry.
  ConnectionTable connections;
  WaiterRegistry waiters;  // held long polls
  // Guards posting wake-ups (RequestsChanged, any thread) against the io_context's end.
  std::mutex changes_mutex;
  bool changes_closed = false;  // guarded by changes_mutex
  std::atomic<bool> draining{false};
  bool stopped = false;  // controlling thread only

  // Accept failures since the last line logged; the acceptor's strand only.
  uint64_t accept_failures = 0;
  Clock::time_point last_accept_log{};

  std::optional<asio::io_context> ioc;
  // Keeps the I/O threads running while no socket operation is pending (all
  // connections waiting for their queries, say).
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;       // reset before ioc
  std::optional<asio::steady_timer> accept_timer;  // on the acceptor's strand; reset before ioc
  std::optional<QueryPool> queries;            // reset before ioc: its jobs hold sessions
  // The status page's last minute of counters, sampled once a second on the sampler's strand.
  std::optional<StatusHistory> history;
  std::optional<asio::steady_timer> sample_timer;  // reset before ioc
  void Sample();
  std::vector<std::thread> threads;
  AccessLog access_log;
};

namespace {

// Session serves one connection: reads a request (header, then body, within the
// limits and one deadline), answers it — at once when no store query is needed,
// else on a query thread (QueryPool) — writes the answer, and repeats while
// keep-alive holds. Only reading, writing, timing out and the HTTP framing
// rules live here. Runs on its own strand; owned by the handlers in flight
// (shared_from_this).
// A held long poll (Prefer: wait) is a session parked on its timer, registered
// with the server's WaiterRegistry; it occupies no thread. While held, a read
// is kept pending on the socket so that a client that leaves frees its slot at
// once; whatever else the client sends meanwhile waits in the buffer.
class Session : public Connection, public Waiter, public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ApiServer::Impl* server, bool reserve)
      : stream_(std::move(socket)), server_(server), reserve_(reserve) {
    server_->metrics.ConnectionOpened();
  }

  ~Session() override {
    if (poll_) server_->waiters.Remove(poll_->ticket, poll_->requests);
    server_->metrics.ConnectionClosed();
    if (registered_) server_->connections.Remove(handle_);
  }

  void Run() {
    handle_ = server_->connections.Add(weak_from_this(), reserve_ ? ConnectionTable::Kind::kReserve
                                                                  : ConnectionTable::Kind::kRegular);
    registered_ = true;
    header_timer_.emplace(stream_.get_executor());
    // Respond writes small answers at once when they fit (never waiting).
    beast::error_code ignored;
    stream_.socket().non_blocking(true, ignored);
    asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::ReadHeader, shared_from_this()));
  }

  void Drain() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (!self->busy_) self->Close();
    });
  }

  void Wake() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->OnWoken(); });
  }

  void EndNow() override {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->OnEndNow(); });
  }

  void Evict() override {
    evicted_.store(true);
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->reading_) self->Close();
    });
  }

 private:
  void ReadHeader() {
    if (server_->draining.load() || evicted_.load()) return Close();
    server_->connections.Idle(handle_);
    busy_ = false;
    reading_ = true;
    // A repeat of the last request (AnswerRepeat) needs no parser: the last
    // one still holds that request. Any other gets a fresh one (FeedHeader).
    if (!repeat_.valid) FreshParser();
    header_scanned_ = 0;
    // One deadline for the whole request: a client that trickles bytes is cut
    // off like an idle one.
    request_deadline_ = Clock::now() + (reserve_ ? std::chrono::duration_cast<std::chrono::seconds>(kReserveTimeout)
                                                 : server_->options.idle_timeout);
    WatchHeaderDeadline();
    FeedHeader();
  }

  // The header's bytes are read from the socket itself, and its deadline kept
  // by a timer of the session's that is armed once and moved on only when it
  // fires (deadlines only move later): a request costs no timer operation,
  // where a read on the Beast stream costs a wait and a cancellation (measured:
  // a tenth of a small answer's instructions).
  void WatchHeaderDeadline() {
    if (header_timer_armed_ && header_timer_->expiry() <= request_deadline_) return;
    header_timer_armed_ = true;
    header_timer_->expires_at(request_deadline_);  // a later wait, if any, ends aborted: its generation is stale
    header_timer_->async_wait([weak = weak_from_this(), generation = ++header_timer_generation_](beast::error_code ec) {
      auto self = weak.lock();
      if (!self || ec || generation != self->header_timer_generation_) return;
      self->header_timer_armed_ = false;
      if (!self->reading_ || self->busy_) return;  // not reading a header now: the next ReadHeader arms it
      if (Clock::now() < self->request_deadline_) return self->WatchHeaderDeadline();
      self->Close();  // the pending read ends with an error, and OnHeaderBytes closes
    });
  }

  // Beast's parser takes a header only once it is whole, so the raw bytes are
  // looked at first, for what it would accept silently (obs-fold: it joins the
  // lines). Then the parser takes them from the buffer; what follows the header
  // (a body, a pipelined request) stays there.
  void FeedHeader() {
    const std::string_view bytes(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    const size_t end = bytes.find("\r\n\r\n", header_scanned_);
    if (end == std::string_view::npos) {
      if (bytes.size() > kHeaderLimit) {
        if (repeat_.valid) FreshParser();
        return Refuse(true);
      }
      header_scanned_ = bytes.size() < 3 ? 0 : bytes.size() - 3;
      return stream_.socket().async_read_some(buffer_.prepare(beast::read_size(buffer_, 64 * 1024)),
                                              beast::bind_front_handler(&Session::OnHeaderBytes, shared_from_this()));
    }
    const std::string_view header = bytes.substr(0, end + 4);
    if (repeat_.valid) {
      if (header == repeat_.header && server_->context.store->StateNumber() == repeat_.state) {
        return AnswerRepeat(header.size());
      }
      FreshParser();
    }
    // Kept in case its answer may be repeated (KeepForRepeat); a poll's header
    // is a few hundred bytes, and a larger one is not kept, so a connection
    // holds at most kMaxRepeatHeader more.
    if (header.size() <= kMaxRepeatHeader) {
      header_.assign(header);
    } else {
      header_.clear();
    }
    if (HasObsFold(bytes.substr(0, end + 2))) {
      return Reject("Bad request: a header line starts with a space or a tab (obsolete line folding)");
    }
    beast::error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (!ec && !parser_->is_header_done()) ec = http::error::bad_field;  // a whole header it did not take
    OnHeader(ec);
  }

  void FreshParser() {
    repeat_.valid = false;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
  }

  // The same bytes as the last request, whose answer was a 304 found in the
  // store's state still current: the same 304, with this request's own id and
  // the current lag, without parsing or routing it again (the parser still
  // holds the same request). Helix repeats its polls exactly so.
  void AnswerRepeat(size_t header_size) {
    buffer_.consume(header_size);
    reading_ = false;
    busy_ = true;
    server_->connections.Busy(handle_);
    started_ = Clock::now();
    const auto& request = parser_->get();
    Answer answer =
        NotModifiedAnswer(request, repeat_.route, repeat_.etag, RequestIdOf(request), LagOf(server_->context));
    if (!repeat_.position.empty()) {
      answer.response.insert(beast::string_view(kPositionHeader.data(), kPositionHeader.size()),
                             beast::string_view(repeat_.position.data(), repeat_.position.size()));
    }
    answer.repeat_state = repeat_.state;
    Respond(std::move(answer));
  }

  // Whether the request just answered may be answered again from `answer_`
  // (AnswerRepeat): a 304 of a known state, to a GET without a body, on a
  // connection that stays open. Kept (header bytes, ETag, position) if so.
  void KeepForRepeat() {
    const auto& request = parser_->get();
    const auto& response = answer_.response;
    if (!answer_.repeat_state || answer_.stream || !response.keep_alive() || request.method() != http::verb::get ||
        !request.body().empty() || parser_->chunked() || header_.empty()) {
      repeat_.valid = false;
      return;
    }
    if (!repeat_.valid || repeat_.header != header_) {
      repeat_.header = header_;
      const auto etag = response[http::field::etag];
      repeat_.etag.assign(etag.data(), etag.size());
      const auto position = response[beast::string_view(kPositionHeader.data(), kPositionHeader.size())];
      repeat_.position.assign(position.data(), position.size());
    }
    repeat_.route = answer_.route;
    repeat_.state = *answer_.repeat_state;
    repeat_.valid = true;
  }

  void OnHeaderBytes(beast::error_code ec, size_t n) {
    if (ec) return Close();  // end of stream, timeout, reset
    buffer_.commit(n);
    FeedHeader();
  }

  void OnHeader(beast::error_code ec) {
    if (ec == http::error::header_limit) return Refuse(true);
    if (ec == http::error::body_limit) return Refuse(false);
    if (IsMalformed(ec)) return Reject("Bad request: malformed HTTP request (" + ec.message() + ")");
    if (ec) return Close();
    busy_ = true;
    started_ = Clock::now();
    const auto& request = parser_->get();
    if (std::string problem = FramingProblem(request.base(), parser_->chunked()); !problem.empty()) {
      return Reject(problem);
    }
    if (reserve_ && IsBusinessRequest(request)) {
      unread_ = !parser_->is_done();
      reading_ = false;
      return Respond(Overloaded(request, server_->context, true));
    }
    if (parser_->is_done()) return OnBody({}, 0);
    if (parser_->content_length() && *parser_->content_length() > kBodyLimit) return Refuse(false);
    stream_.expires_at(request_deadline_);  // the body's reads, on the Beast stream, keep the request's deadline
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
    if (IsMalformed(ec)) return Reject("Bad request: malformed HTTP request body (" + ec.message() + ")");
    if (ec) return Close();
    reading_ = false;
    server_->connections.Busy(handle_);
    started_ = Clock::now();
    const auto& request = parser_->get();
    // Read before the ETag is checked: a change after it is noticed (waiters.h).
    poll_sequence_ = server_->waiters.sequence();
    if (std::optional<Answer> answer = AnswerWithoutQuery(request, server_->context)) {
      return Deliver(std::move(*answer));
    }
    if (IsBackupRequest(request)) return Backup();
    position_deadline_ = started_ + server_->options.position_wait;
    Query();
  }

  // A backup runs on the backup service's thread (admin_endpoints.h); the
  // session does nothing else until its answer comes back to the strand.
  void Backup() {
    StartBackup(parser_->get(), server_->context, [self = shared_from_this()](Answer answer) {
      asio::post(self->stream_.get_executor(), [self, answer = std::move(answer)]() mutable {
        self->Answered(std::move(answer));
      });
    });
  }

  // The query runs on a query thread; the session does nothing else until
  // its answer comes back to the strand.
  void Query() {
    const bool queued = server_->queries->TrySubmit([self = shared_from_this()] {
      Answer answer = HandleRequest(self->parser_->get(), self->server_->context);
      asio::post(self->stream_.get_executor(), [self, answer = std::move(answer)]() mutable {
        self->Answered(std::move(answer));
      });
    });
    if (!queued) {
      server_->metrics.QueryRejected();
      Respond(Overloaded(parser_->get(), server_->context, false));
    }
  }

  // An answer to a request as it came: a 304 that asks to wait is held while
  // the registry has room (else it goes at once, without Preference-Applied).
  void Deliver(Answer&& answer) {
    if (answer.long_poll) {
      LongPoll poll = std::move(*answer.long_poll);
      answer.long_poll.reset();
      if (auto ticket = server_->waiters.Add(poll.requests, weak_from_this())) {
        return Park(*ticket, std::move(poll), std::move(answer));
      }
    }
    Respond(std::move(answer));
  }

  void Park(WaiterRegistry::Ticket ticket, LongPoll poll, Answer not_modified) {
    const uint64_t generation = ++poll_generation_;
    poll_.emplace(ticket, std::move(poll.requests), poll.wait, std::move(not_modified), stream_.get_executor());
    stream_.expires_never();  // the poll's own timer bounds the wait
    poll_->timer.expires_after(poll_->wait);
    poll_->timer.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (!ec && self->poll_ && self->poll_generation_ == generation) self->OnPollExpired();
    });
    server_->connections.Held(handle_);
    WatchForDisconnect();
    // A record applied between the check and the registration: check again.
    if (server_->waiters.sequence() != poll_sequence_) Reevaluate();
  }

  void WatchForDisconnect() {
    poll_read_pending_ = true;
    stream_.socket().async_read_some(buffer_.prepare(512),
                                     beast::bind_front_handler(&Session::OnPollRead, shared_from_this()));
  }

  void OnPollRead(beast::error_code ec, size_t n) {
    poll_read_pending_ = false;
    if (!ec) buffer_.commit(n);
    if (poll_) {
      if (ec) {  // the client left (or reset): its slot is free
        EndPoll();
        return Close();
      }
      // The client sent more (a pipelined request): it waits in the buffer.
      if (buffer_.size() < kHeaderLimit) WatchForDisconnect();
      return;
    }
    // The poll was answered meanwhile, and its write may be waiting for this read to end.
    if (resume_after_poll_read_) {
      resume_after_poll_read_ = false;
      if (ec && ec != asio::error::operation_aborted) return Close();
      ReadHeader();
    }
  }

  void OnWoken() {
    if (!poll_) return;
    if (poll_->evaluating) {
      poll_->woken = true;
      return;
    }
    Reevaluate();
  }

  void OnPollExpired() {
    poll_->expired = true;
    if (!poll_->evaluating) Reevaluate();
  }

  // Shutdown: the held 304 goes now.
  void OnEndNow() {
    if (!poll_) return;
    poll_->expired = true;
    if (!poll_->evaluating) FinishPoll(std::move(poll_->held));
  }

  // The request is answered again, as it came: a 304 that asks to wait means
  // the ETag is unchanged.
  void Reevaluate() {
    poll_->evaluating = true;
    poll_->woken = false;
    if (std::optional<Answer> answer = AnswerWithoutQuery(parser_->get(), server_->context)) {
      return OnReevaluated(std::move(*answer));
    }
    const bool queued = server_->queries->TrySubmit([self = shared_from_this()] {
      Answer answer = HandleRequest(self->parser_->get(), self->server_->context);
      asio::post(self->stream_.get_executor(), [self, answer = std::move(answer)]() mutable {
        self->OnReevaluated(std::move(answer));
      });
    });
    if (queued) return;
    // The query pool is full (many waiters of one request woke at once): a
    // little later, the answer is likely in the response cache.
    if (!retry_) retry_.emplace(stream_.get_executor());
    retry_->expires_after(std::chrono::milliseconds(10));
    retry_->async_wait([self = shared_from_this(), generation = poll_generation_](beast::error_code ec) {
      if (ec || !self->poll_ || self->poll_generation_ != generation) return;
      self->Reevaluate();
    });
  }

  void OnReevaluated(Answer answer) {
    if (!poll_) return;  // the client left meanwhile
    poll_->evaluating = false;
    if (answer.long_poll) {
      answer.long_poll.reset();
      if (!poll_->expired) {  // unchanged: hold on
        poll_->held = std::move(answer);
        if (poll_->woken) Reevaluate();
        return;
      }
    }
    FinishPoll(std::move(answer));
  }

  void FinishPoll(Answer answer) {
    answer.response.set("Preference-Applied", "wait=" + std::to_string(poll_->wait.count()));
    EndPoll();
    Respond(std::move(answer));
  }

  void EndPoll() {
    server_->connections.Busy(handle_);
    server_->waiters.Remove(poll_->ticket, poll_->requests);
    poll_->timer.cancel();
    poll_.reset();
    if (poll_read_pending_) {
      beast::error_code ignored;
      stream_.socket().cancel(ignored);
    }
  }

  // A query's answer. One behind its X-Tally-Min-Position waits for the apply
  // thread (PositionWaiters) and a timer, holding no thread, until the
  // position is reached (the query runs again) or --position-wait-ms since the
  // request came is up (the 503 it carries goes out).
  void Answered(Answer answer) {
    if (!answer.behind) return Deliver(std::move(answer));
    PositionWait wait = std::move(*answer.behind);
    answer.behind.reset();
    behind_answer_ = std::move(answer);
    if (server_->draining.load() || Clock::now() >= position_deadline_) return RespondBehind();
    const uint64_t generation = ++wait_generation_;
    waiting_ = true;
    position_wait_id_ =
        server_->positions.Add(std::move(wait.min), wait.seen, [weak = weak_from_this(), generation] {
          if (auto self = weak.lock()) {
            asio::post(self->stream_.get_executor(), [self, generation] { self->PositionReached(generation); });
          }
        });
    if (position_wait_id_ == 0) {  // reached meanwhile, or the server is stopping
      waiting_ = false;
      return server_->draining.load() ? RespondBehind() : Query();
    }
    if (!position_timer_) position_timer_.emplace(stream_.get_executor());
    position_timer_->expires_at(position_deadline_);
    position_timer_->async_wait([self = shared_from_this(), generation](beast::error_code) {
      self->PositionTimedOut(generation);
    });
  }

  void PositionReached(uint64_t generation) {
    if (!waiting_ || generation != wait_generation_) return;
    waiting_ = false;
    position_timer_->cancel();
    Query();
  }

  void PositionTimedOut(uint64_t generation) {
    if (!waiting_ || generation != wait_generation_) return;
    waiting_ = false;
    server_->positions.Remove(position_wait_id_);
    RespondBehind();
  }

  void RespondBehind() {
    server_->metrics.BehindPosition();
    Answer answer = std::move(*behind_answer_);
    behind_answer_.reset();
    Respond(std::move(answer));
  }

  // 4013: the request broke a size limit; its rest is not read.
  void Refuse(bool headers) {
    started_ = Clock::now();
    unread_ = true;
    reading_ = false;
    Respond(LimitExceeded(parser_->get(), headers, server_->context));
  }

  // 400: the request's framing or syntax is refused; its rest is not read (it
  // could be read as another request).
  void Reject(std::string_view message) {
    started_ = Clock::now();
    unread_ = true;
    reading_ = false;
    Respond(BadRequest(parser_->get(), message, server_->context));
  }

  void Respond(Answer&& answer) {
    reading_ = false;
    answer_ = std::move(answer);
    auto& response = answer_.response;
    if (server_->draining.load() || evicted_.load() || reserve_) response.keep_alive(false);
    KeepForRepeat();
    const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    const std::string_view route = RouteLabel(answer_.route);
    const int status = static_cast<int>(response.result_int());
    server_->metrics.ObserveRequest(answer_.route, status, seconds);
    const auto& request = parser_->get();
    server_->metrics.AccessLinesSuppressed(server_->access_log.Log(AccessEntry{
        std::string_view(request.method_string().data(), request.method_string().size()), route, status,
        answer_.code, response.body().size(), seconds, answer_.request_id}));
    SerializeHeader(response, &wire_);
    if (answer_.stream) {
      stream_.expires_after(server_->options.idle_timeout);
      piece_ = std::move(response.body());
      return WritePiece(/*header=*/true, /*last=*/false);
    }
    const std::array<asio::const_buffer, 2> buffers = {asio::buffer(wire_), asio::buffer(response.body())};
    // A small answer most often fits the socket's send buffer: written at once
    // (the socket is non-blocking), without the asynchronous write's timer and
    // completion handler (measured: a quarter of a 304's instructions). What
    // does not fit is written as usual, within the idle timeout.
    beast::error_code ec;
    const size_t sent = stream_.socket().write_some(buffers, ec);
    if (!ec && sent == beast::buffer_bytes(buffers)) return Written();
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return OnWritten(ec, 0);
    beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(buffers);
    rest.consume(ec ? 0 : sent);
    stream_.expires_after(server_->options.idle_timeout);
    asio::async_write(stream_, rest, beast::bind_front_handler(&Session::OnWritten, shared_from_this()));
  }

  // The answer went out in Respond's own call: the next request is read now,
  // unless one already waits in the buffer (pipelined), which is answered from
  // a handler of its own so that a long pipeline never deepens the stack.
  void Written() {
    if (buffer_.size() == 0) return OnWritten({}, 0);
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->OnWritten({}, 0); });
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

  // A streamed answer (api/body_stream.h): each piece is written before the next
  // is produced, so the answer holds about one piece in memory. Under HTTP/1.1
  // each is a chunk (RFC 9112 §7.1), the last followed by the zero-size chunk.
  void WritePiece(bool header, bool last) {
    const bool chunked = answer_.response.chunked();
    chunk_head_.clear();
    chunk_tail_.clear();
    if (chunked && !piece_.empty()) {
      char hex[20];
      const auto [end, ec] = std::to_chars(hex, hex + sizeof(hex), piece_.size(), 16);
      (void)ec;
      chunk_head_.assign(hex, end);
      chunk_head_.append("\r\n");
      chunk_tail_ = "\r\n";
    }
    if (chunked && last) chunk_tail_.append("0\r\n\r\n");
    const std::array<asio::const_buffer, 4> buffers = {asio::buffer(wire_.data(), header ? wire_.size() : 0),
                                                       asio::buffer(chunk_head_), asio::buffer(piece_),
                                                       asio::buffer(chunk_tail_)};
    stream_.expires_after(server_->options.idle_timeout);
    asio::async_write(stream_, buffers, [self = shared_from_this(), last](beast::error_code ec, size_t) {
      self->OnPieceWritten(ec, last);
    });
  }

  void OnPieceWritten(beast::error_code ec, bool last) {
    if (!ec && !last) return ProduceNextPiece();
    EndStream(ec);
  }

  // Pieces read the store, so they are produced on a query thread like the
  // answer's start; when the query pool is full, a little later.
  void ProduceNextPiece() {
    const bool queued = server_->queries->TrySubmit([self = shared_from_this()] {
      self->piece_.clear();
      Result<bool> more = self->answer_.stream->Next(&self->piece_);
      asio::post(self->stream_.get_executor(), [self, more = std::move(more)] {
        if (more) return self->WritePiece(/*header=*/false, /*last=*/!*more);
        // The status line is out: the client can only see the answer cut short.
        spdlog::error("api: a streamed answer failed midway, closing the connection: {}", more.error().ToString());
        self->EndStream(asio::error::operation_aborted);
      });
    });
    if (queued) return;
    if (!retry_) retry_.emplace(stream_.get_executor());
    retry_->expires_after(std::chrono::milliseconds(10));
    retry_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->server_->draining.load()) return self->EndStream(asio::error::operation_aborted);
      self->ProduceNextPiece();
    });
  }

  void EndStream(beast::error_code ec) {
    std::string().swap(piece_);  // a large answer's buffer is not kept for the connection's life
    answer_.stream.reset();      // nor its snapshot
    if (ec) return Close();
    OnWritten(ec, 0);
  }

  void OnWritten(beast::error_code ec, size_t) {
    if (ec) return Close();
    if (!answer_.response.keep_alive()) return unread_ ? Linger() : Close();
    answer_ = Answer();
    // A long poll's watch on the socket is still being cancelled: the next
    // read starts when it has ended.
    if (poll_read_pending_) {
      resume_after_poll_read_ = true;
      return;
    }
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
    if (!discard_) discard_ = std::make_unique<std::array<char, 16 * 1024>>();
    stream_.async_read_some(asio::buffer(*discard_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > kLingerBytes) return self->Close();
      self->DiscardMore();
    });
  }

  void Close() {
    reading_ = false;
    if (header_timer_) header_timer_->cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  ApiServer::Impl* server_;
  const bool reserve_;  // admitted over the cap: operations endpoints only, one request
  ConnectionTable::Handle handle_;
  bool registered_ = false;
  std::atomic<bool> evicted_{false};
  beast::flat_buffer buffer_;
  size_t header_scanned_ = 0;  // buffer_ holds no header end before this offset
  // The deadline of the request being read (ReadHeader), and the timer that
  // keeps it while its header is read (WatchHeaderDeadline).
  Clock::time_point request_deadline_;
  std::optional<asio::steady_timer> header_timer_;
  bool header_timer_armed_ = false;
  uint64_t header_timer_generation_ = 0;  // of the latest wait: an older one's end does nothing
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string header_;  // the raw header of the request being answered (not kept for a repeat)
  // The last request, when its answer may be repeated (KeepForRepeat): its raw
  // header, the store's state number of its 304, and what that carried. The
  // buffers are reused from one poll to the next.
  struct Repeat {
    bool valid = false;
    std::string header, etag, position;
    uint64_t state = 0;
    const RouteInfo* route = nullptr;
  } repeat_;
  std::optional<http::response<http::empty_body>> continue_;
  Answer answer_;
  std::string wire_;  // answer_.response's header serialized; its buffer is reused
  std::string piece_, chunk_head_, chunk_tail_;  // of a streamed answer
  std::optional<asio::steady_timer> retry_;      // a streamed answer's next piece, when the pool was full
  // A request behind its X-Tally-Min-Position (Answered): until when it may
  // wait, the timer of that, the 503 it gets then, and the wait under way.
  Clock::time_point position_deadline_;
  std::optional<asio::steady_timer> position_timer_;
  std::optional<Answer> behind_answer_;
  uint64_t wait_generation_ = 0;  // of the latest wait; a wake-up or timer of an older one is stale
  uint64_t position_wait_id_ = 0;
  bool waiting_ = false;
  Clock::time_point started_;
  bool busy_ = false;     // a request's header has been read and it is not answered yet
  bool reading_ = false;  // waiting for or reading a request: an eviction closes at once
  bool unread_ = false;   // the request being answered was not read to its end
  size_t lingered_ = 0;
  // Allocated by Linger only: a session is otherwise a few KiB (10,000 held long polls).
  std::unique_ptr<std::array<char, 16 * 1024>> discard_;

  struct Poll {
    Poll(WaiterRegistry::Ticket t, std::vector<std::string> r, std::chrono::seconds w, Answer h,
         const asio::any_io_executor& executor)
        : ticket(t), requests(std::move(r)), wait(w), held(std::move(h)), timer(executor) {}
    WaiterRegistry::Ticket ticket;
    std::vector<std::string> requests;
    std::chrono::seconds wait;
    Answer held;  // the 304 for when the wait ends unchanged
    asio::steady_timer timer;
    bool evaluating = false;  // the request is being answered again
    bool woken = false;       // woken meanwhile: answer it again after that
    bool expired = false;     // time is up, or the server stops: the next answer goes
  };
  std::optional<Poll> poll_;          // while a long poll is held
  uint64_t poll_generation_ = 0;      // of the latest poll: stale timer handlers see another
  uint64_t poll_sequence_ = 0;        // the registry's sequence before the request's ETag was checked
  bool poll_read_pending_ = false;    // the read that watches a held poll's socket
  bool resume_after_poll_read_ = false;
};

}  // namespace

void ApiServer::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec == asio::error::connection_aborted) return Accept();  // the client left first
    if (ec) return OnAcceptFailed(ec);
    std::shared_ptr<Connection> victim;
    const ConnectionTable::Kind kind =
        connections.Admit(options.max_connections, kReserveConnections, &victim);
    if (victim) {
      metrics.ConnectionEvicted();
      victim->Evict();
    }
    if (kind == ConnectionTable::Kind::kRefused) {
      metrics.ConnectionRefused();
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<Session>(std::move(socket), this, kind == ConnectionTable::Kind::kReserve)->Run();
    }
    Accept();
  });
}

// Out of file descriptors (or kernel memory): accepting again at once fails
// again at once. Waits instead, closing the longest-idle connections meanwhile,
// and says so at most once a second.
void ApiServer::Impl::OnAcceptFailed(const beast::error_code& ec) {
  ++accept_failures;
  metrics.AcceptFailed();
  const Clock::time_point now = Clock::now();
  if (now - last_accept_log >= kAcceptLogInterval) {
    spdlog::warn("api: accept failed: {} ({} failures since the last such line); retrying every {} ms, closing "
                 "the longest-idle connections",
                 ec.message(), accept_failures, kAcceptBackoff.count());
    accept_failures = 0;
    last_accept_log = now;
  }
  for (auto& idle : connections.TakeLongestIdle(kEvictWhenOutOfFiles)) {
    metrics.ConnectionEvicted();
    idle->Evict();
  }
  accept_timer->expires_after(kAcceptBackoff);
  accept_timer->async_wait([this](beast::error_code wait_ec) {
    if (wait_ec || !acceptor->is_open()) return;
    Accept();
  });
}

// Records the counters for the status page's rates, then again in a second.
void ApiServer::Impl::Sample() {
  history->Record(StatusHistory::Clock::now(), context.ingest.status ? context.ingest.status().applied : 0, metrics);
  sample_timer->expires_after(std::chrono::seconds(1));
  sample_timer->async_wait([this](beast::error_code ec) {
    if (!ec && !draining.load()) Sample();
  });
}

void ApiServer::Impl::StopImpl() {
  if (stopped) return;
  stopped = true;
  draining.store(true);
  // Held long polls are answered 304 now (their connections then close, as draining ones do).
  waiters.EndAll();
  std::promise<void> closed;
  asio::post(acceptor->get_executor(), [this, &closed] {
    beast::error_code ignored;
    acceptor->close(ignored);
    accept_timer->cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  // Requests waiting for a position get their 503 now.
  positions.WakeAll();
  // Outside the table's lock: dropping the last reference destroys a session,
  // which leaves the table.
  for (auto& s : connections.All()) s->Drain();
  connections.WaitEmpty(kDrainTime);
  work.reset();
  ioc->stop();
  for (std::thread& t : threads) t.join();
  threads.clear();
  queries->Stop();
  queries.reset();  // destroys the queries not started, and the sessions they hold
  accept_timer.reset();
  sample_timer.reset();
  acceptor.reset();
  {
    std::lock_guard lock(changes_mutex);
    changes_closed = true;
  }
  ioc.reset();  // destroys what is left of the sessions while this object lives
}

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiOptions& options, const Store* store,
                                                     IngestSource ingest) {
  auto endpoint = ParseListenAddress(options.listen);
  if (!endpoint) return endpoint.error();
  // Every connection holds a descriptor; RocksDB and Kafka need theirs too.
  // Held long polls are connections beyond the cap.
  if (const uint64_t files = RaiseOpenFileLimit();
      files != 0 && files < options.max_connections + options.max_waiters + 256) {
    spdlog::warn("api: the open-file limit ({}) is below the connection cap ({}) plus the long-poll cap ({}) and "
                 "some margin: when it is reached, the longest-idle connections are closed to admit new ones",
                 files, options.max_connections, options.max_waiters);
  }
  const int thread_count =
      options.threads > 0 ? options.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int query_threads = options.query_threads > 0
                                ? options.query_threads
                                : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  auto impl = std::make_unique<Impl>(options, thread_count, query_threads);
  impl->context.store = store;
  impl->context.ingest = std::move(ingest);
  impl->context.api_keys = options.api_keys;
  impl->context.view_url_base = options.view_url_base;
  impl->context.topic = options.topic;
  impl->context.backups = options.backups;
  impl->context.version = options.version;
  impl->context.started = StatusHistory::Clock::now();
  while (!impl->context.view_url_base.empty() && impl->context.view_url_base.back() == '/') {
    impl->context.view_url_base.pop_back();
  }
  impl->context.metrics = &impl->metrics;
  impl->context.not_modified = &impl->not_modified;
  impl->metrics.SetQueriesInFlight([pool = &*impl->queries] { return static_cast<int64_t>(pool->in_flight()); });
  impl->metrics.SetWaiters([waiters = &impl->waiters] { return static_cast<int64_t>(waiters->size()); });
  impl->metrics.SetPositionWaiters([positions = &impl->positions] { return static_cast<int64_t>(positions->size()); });
  if (options.response_cache_entries > 0) {
    impl->cache = std::make_unique<ResponseCache>(options.response_cache_entries);
    impl->context.cache = impl->cache.get();
  }

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
  impl->history.emplace(impl->metrics.route_slots());
  impl->context.history = &*impl->history;
  impl->sample_timer.emplace(asio::make_strand(*impl->ioc));
  asio::post(impl->sample_timer->get_executor(), [impl = impl.get()] { impl->Sample(); });
  for (int i = 0; i < thread_count; ++i) {
    impl->threads.emplace_back([ioc = &*impl->ioc] { ioc->run(); });
  }
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

uint16_t ApiServer::port() const { return impl_->bound_port; }

void ApiServer::Stop() { impl_->StopImpl(); }

void ApiServer::EndLongPolls() { impl_->waiters.EndAll(); }

void ApiServer::RequestsChanged(std::span<const std::string> requests) {
  if (!impl_->waiters.Changed()) return;  // nobody waits: nothing to post
  std::vector<std::string> changed(requests.begin(), requests.end());
  std::lock_guard lock(impl_->changes_mutex);
  if (impl_->changes_closed) return;
  asio::post(*impl_->ioc, [impl = impl_.get(), changed = std::move(changed)] { impl->waiters.Wake(changed); });
}

void ApiServer::PositionAdvanced(std::span<const PartitionOffset> offsets) {
  impl_->positions.Advanced(PositionOf(offsets));
}

ApiServer::~ApiServer() { Stop(); }

}  // namespace tally
