#include "api/http_framing.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

namespace tally {

namespace http = boost::beast::http;

namespace {
bool IEquals(std::string_view a, std::string_view b) {
  return boost::beast::iequals(boost::beast::string_view(a.data(), a.size()),
                               boost::beast::string_view(b.data(), b.size()));
}
}  // namespace

TargetParts SplitTarget(std::string_view target) {
  std::string_view path = target;
  // Absolute form: scheme "://" authority [path]. Only http and https are
  // meaningful here; anything else stays a path that matches no route.
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (path.size() >= scheme.size() && IEquals(path.substr(0, scheme.size()), scheme)) {
      path.remove_prefix(scheme.size());
      const size_t start = path.find_first_of("/?#");
      path = start == std::string_view::npos ? std::string_view() : path.substr(start);
      break;
    }
  }
  if (const size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  TargetParts parts;
  const size_t question = path.find('?');
  parts.path = path.substr(0, question);
  if (question != std::string_view::npos) parts.query = path.substr(question + 1);
  if (parts.path.empty() && path.data() != target.data()) parts.path = "/";
  return parts;
}

bool HasObsFold(std::string_view header) {
  for (size_t at = header.find("\r\n"); at != std::string_view::npos; at = header.find("\r\n", at + 2)) {
    if (at + 2 < header.size() && (header[at + 2] == ' ' || header[at + 2] == '\t')) return true;
  }
  return false;
}

std::string FramingProblem(const http::request_header<>& header, bool chunked) {
  size_t encodings = 0;
  std::string coding;
  for (const auto& field : header) {
    if (field.name() != http::field::transfer_encoding) continue;
    ++encodings;
    if (!coding.empty()) coding += ", ";
    coding.append(field.value().data(), field.value().size());
  }
  if (encodings > 0) {
    const std::string_view quoted = std::string_view(coding).substr(0, 100);
    if (header.version() < 11) {
      return "Bad request: Transfer-Encoding is not allowed in an HTTP/1.0 request";
    }
    // Exactly one coding, chunked: any other coding is one tally cannot decode,
    // and one after chunked leaves the body's length unknown (RFC 9112 §6.3).
    std::string_view trimmed = coding;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) trimmed.remove_suffix(1);
    if (!chunked || !IEquals(trimmed, "chunked")) {
      return "Bad request: Transfer-Encoding '" + std::string(quoted) + "' is not supported; only 'chunked' is";
    }
  }
  const size_t hosts = header.count(http::field::host);
  if (hosts == 0 && header.version() >= 11) return "Bad request: an HTTP/1.1 request needs a Host header";
  if (hosts > 1) return "Bad request: more than one Host header";
  return "";
}

bool IsMalformed(const boost::beast::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_field).category()) return false;
  switch (static_cast<http::error>(ec.value())) {
    case http::error::bad_line_ending:
    case http::error::bad_method:
    case http::error::bad_target:
    case http::error::bad_version:
    case http::error::bad_field:
    case http::error::bad_value:
    case http::error::bad_content_length:
    case http::error::bad_transfer_encoding:
    case http::error::bad_chunk:
    case http::error::bad_chunk_extension:
    case http::error::bad_obs_fold:
    case http::error::unexpected_body:
      return true;
    default:
      return false;
  }
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace tally
