#pragma once

// A small blocking HTTP/1.1 client on Beast for the API tests: one TCP
// connection to 127.0.0.1, reused while keep-alive holds, every read bounded by
// a socket timeout so that a broken server fails the test instead of hanging it.

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tally::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool keep_alive = false;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& lower_name) const { return headers.count(lower_name) > 0; }
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, int timeout_seconds = 10) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{timeout_seconds, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  // Sends one request and reads its response. Throws on a transport error.
  HttpResult Send(http::verb method, const std::string& target, const std::string& body = "",
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    if (!body.empty() || method == http::verb::post) {
      req.body() = body;
      req.prepare_payload();
    }
    http::write(socket_, req);
    auto result = Read();
    if (!result) throw std::runtime_error("no response");
    return *result;
  }

  HttpResult Get(const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Send(http::verb::get, target, "", headers);
  }
  HttpResult Post(const std::string& target, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Send(http::verb::post, target, body, headers);
  }

  // Writes bytes as they are.
  void WriteRaw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

  // Reads one response; nullopt on end of stream or error.
  std::optional<HttpResult> Read() {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    beast::error_code ec;
    http::read(socket_, buffer_, parser, ec);
    if (ec) return std::nullopt;
    const auto& res = parser.get();
    HttpResult out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(field.value());
    }
    out.body = res.body();
    out.keep_alive = res.keep_alive();
    return out;
  }

  // True once the server has closed the connection (reads EOF or a reset).
  bool ClosedByServer() {
    char c;
    beast::error_code ec;
    socket_.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  tcp::socket& socket() { return socket_; }

 private:
  asio::io_context ioc_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

}  // namespace tally::testing
