#include "api/listen_address.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <limits>
#include <string>

namespace tally {

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return Status::InvalidArgument("invalid listen address \"" + std::string(text) + "\": " + std::string(why) +
                                   " (expected HOST:PORT, e.g. 127.0.0.1:8080)");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return invalid("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  constexpr uint32_t kMaxPort = std::numeric_limits<uint16_t>::max();
  const std::string bad_port = "the port must be 0.." + std::to_string(kMaxPort);
  if (port_text.empty() || port_text.size() > 5) return invalid(bad_port);
  uint32_t port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return invalid(bad_port);
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port > kMaxPort) return invalid(bad_port);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return invalid("an IPv6 host must be in brackets");
  }
  if (host.empty()) return invalid("no host");
  ListenAddress out;
  out.port = static_cast<uint16_t>(port);
  boost::system::error_code ec;
  out.address = boost::asio::ip::make_address(std::string(host), ec);
  if (!ec) return out;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::resolver resolver(ioc);
  auto results = resolver.resolve(std::string(host), "", boost::asio::ip::resolver_base::passive, ec);
  if (ec || results.empty()) return invalid("unknown host");
  out.address = results.begin()->endpoint().address();
  return out;
}

}  // namespace tally
