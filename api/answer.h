#pragma once

// Answer: one HTTP response on its way out, with what the server logs and counts
// of it (the route, the envelope's code, the request id) and, for a large answer,
// the stream of its rest (body_stream.h). StartResponse and FinishAnswer are the
// headers and framing every answer gets, envelope or not. Plain values and pure
// functions; any thread.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/body_stream.h"
#include "api/position.h"

namespace tally {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct RouteInfo;

// A 304 whose request asked to wait (`Prefer: wait=N`): the server may hold it
// until a record is applied to one of `requests` or `wait` passes.
struct LongPoll {
  std::chrono::seconds wait{0};
  std::vector<std::string> requests;
};

struct Answer {
  // With `stream` set, the body is the answer's first part, the stream yields
  // the rest, and the response is chunked (Transfer-Encoding; with HTTP/1.0 it
  // ends with the connection).
  HttpResponse response;
  std::unique_ptr<BodyStream> stream;
  const RouteInfo* route = nullptr;  // null: no route (404, or never routed)
  int code = 0;                      // the envelope's code; 0 for ops endpoints
  std::string request_id;
  std::optional<LongPoll> long_poll;  // a 304 that may be held (the session decides)
  // Set on the 503 of a request behind its X-Tally-Min-Position: what to wait
  // for (the session parks it until then or --position-wait-ms, position_waiters.h).
  std::optional<PositionWait> behind;
  // Set on a 304 found in the latest state whose Store::StateNumber is this
  // (not_modified_memo.h): while the number stays, the same request gets the
  // same 304, so the session may answer a byte-for-byte repeat of it at once.
  std::optional<uint64_t> repeat_state;
};

// A response to `request` with the headers every response carries: its HTTP
// version, Content-Type (none when empty: a 304), X-Request-Id and keep-alive.
HttpResponse StartResponse(const HttpRequest& request, int status, std::string_view request_id,
                           std::string_view content_type);

// Frames a finished answer: a streamed one is chunked (HTTP/1.0: until the
// connection closes) and gzipped as it goes, a buffered one gets its length and,
// over kGzipMinBytes, gzip — both only for clients that accept it.
void FinishAnswer(const HttpRequest& request, Answer* answer);

// The value of a request header, empty when absent.
std::string_view HeaderValue(const HttpRequest& request, boost::beast::http::field field);
std::string_view HeaderValue(const HttpRequest& request, std::string_view name);

// The value of a list-based request header (If-None-Match, Prefer): RFC 9110
// section 5.3 lets a list come as several field lines, meaning the lines joined
// with ", ". One line (or none) is returned as a view into the request; several
// are joined into *joined, which the view then points into.
std::string_view HeaderList(const HttpRequest& request, std::string_view name, std::string* joined);

}  // namespace tally
