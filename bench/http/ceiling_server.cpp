// The ceiling of the HTTP benchmark: a minimal Boost.Beast server of the same
// shape as ApiServer (io_context on N threads, a strand per connection, a
// request parser with the same limits, a deadline per request, keep-alive) that
// answers every request with fixed bytes: for each path, the response the real
// server gave to the benchmarked request (same status line, headers and body
// size), prepared once. What tally costs beyond it is its own work: parameters,
// the store, JSON, the envelope, metrics, the access log.
//
// Usage: ceiling_server THREADS PATH=FILE...   (FILE holds the full HTTP response)
// Prints "port N"; serves until SIGTERM/SIGINT.

#include <signal.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::map<std::string, std::string, std::less<>> responses;  // path -> bytes; constant while serving
const std::string kNotFound = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket&& socket) : stream_(std::move(socket)) {}
  void Run() { asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::Read, shared_from_this())); }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(1024 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }
  void OnRead(beast::error_code ec, size_t) {
    if (ec) return;
    auto target = parser_->get().target();
    std::string_view path(target.data(), target.size());
    path = path.substr(0, path.find('?'));
    auto it = responses.find(path);
    const std::string& bytes = it == responses.end() ? kNotFound : it->second;
    asio::async_write(stream_, asio::buffer(bytes), beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }
  void OnWrite(beast::error_code ec, size_t) {
    if (ec) return;
    Read();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

void Accept(tcp::acceptor& acceptor, asio::io_context& ioc) {
  acceptor.async_accept(asio::make_strand(ioc), [&](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket))->Run();
    Accept(acceptor, ioc);
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ceiling_server THREADS PATH=FILE...\n");
    return 2;
  }
  const int threads = std::max(1, std::atoi(argv[1]));
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    const size_t eq = arg.find('=');
    std::ifstream file(arg.substr(eq + 1), std::ios::binary);
    std::stringstream bytes;
    bytes << file.rdbuf();
    responses[arg.substr(0, eq)] = bytes.str();
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  asio::io_context ioc(threads);
  tcp::acceptor acceptor(asio::make_strand(ioc), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::printf("port %u\n", acceptor.local_endpoint().port());
  std::fflush(stdout);
  Accept(acceptor, ioc);
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  int signal = 0;
  sigwait(&stop, &signal);
  ioc.stop();
  for (auto& t : pool) t.join();
  return 0;
}
