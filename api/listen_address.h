#pragma once

// Parsing the --listen address: HOST:PORT, where HOST is an IPv4 address, a
// bracketed IPv6 address ([::1]) or a name that resolves (localhost), and PORT is
// 0..65535 (0: any free port). Pure apart from name resolution; any thread.

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string_view>

#include "aggregate/status.h"

namespace tally {

struct ListenAddress {
  boost::asio::ip::address address;
  uint16_t port = 0;
};

// Errors: InvalidArgument naming the text and what is wrong with it.
Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace tally
