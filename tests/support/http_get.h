#pragma once

// A blocking HTTP/1.1 GET on 127.0.0.1 for tests (Boost.Beast), with a bound
// on how long it may take.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <string>

namespace tally::testing {

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
};

inline HttpReply HttpGet(uint16_t port, const std::string& target,
                         std::chrono::seconds timeout = std::chrono::seconds(5)) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  HttpReply reply;
  beast::error_code ec;
  stream.expires_after(timeout);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return reply;
  http::request<http::empty_body> request(http::verb::get, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request, ec);
  if (ec) return reply;
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response, ec);
  if (ec) return reply;
  reply.status = static_cast<int>(response.result_int());
  reply.body = std::move(response.body());
  return reply;
}

}  // namespace tally::testing
