#pragma once

// The HTTP/1.1 message rules (RFC 9112) that Beast's parser leaves to its user,
// checked by the session before a request is routed: request smuggling and
// ambiguous framing are refused with 400 and the connection closed, never
// guessed at. Also the request target's forms (origin and absolute). Pure
// functions; any thread.

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace tally {

// The largest request the server reads (docs/http-api.md, "Limits"): its header
// block, and its body. Past either the answer is 413 (code 4013) and the
// connection is closed. Whole KiB, as the answer says them.
inline constexpr size_t kMaxHeaderBytes = size_t{16} << 10;
inline constexpr size_t kMaxBodyBytes = size_t{1} << 20;
static_assert(kMaxHeaderBytes % 1024 == 0 && kMaxBodyBytes % 1024 == 0);

// The path and query of a request target, in origin form (`/p?q`) or absolute
// form (`http://host:port/p?q`, as proxies send; routed on its path alone). An
// absolute form without a path has the path "/". The fragment is dropped.
struct TargetParts {
  std::string_view path;
  std::string_view query;
};
TargetParts SplitTarget(std::string_view target);

// `s` without the optional whitespace (spaces, tabs: RFC 9110 "OWS") around a
// field value or a list element.
std::string_view TrimOws(std::string_view s);

// True if the raw header block `header` (request line and fields, without the
// blank line) has a line that starts with a space or a tab: obsolete line
// folding, or whitespace before the first field. Beast joins folded lines
// silently, so this is checked on the bytes before they are parsed.
bool HasObsFold(std::string_view header);

// What is wrong with a parsed request header's framing, "" if nothing: a
// Transfer-Encoding other than exactly `chunked` (`chunked, identity`,
// `identity`, `xchunked`, `gzip, chunked`), Transfer-Encoding on HTTP/1.0, an
// HTTP/1.1 request without a Host header, or more than one Host header. Beast
// reads a body whose final coding is not chunked as absent, and would then read
// the body as the next request: a smuggling opening behind a proxy.
std::string FramingProblem(const boost::beast::http::request_header<>& header, bool chunked);

// True for the parser's errors that mean the bytes are not valid HTTP (a field
// without a colon, a bad chunk size, differing Content-Length values...), which
// are answered 400 before the close; false for end of stream, timeouts, limits.
bool IsMalformed(const boost::beast::error_code& ec);

}  // namespace tally
