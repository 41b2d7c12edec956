#include "api/answer.h"

#include <iterator>

#include "api/gzip.h"

namespace tally {
namespace http = boost::beast::http;

namespace {

boost::beast::string_view BeastView(std::string_view s) { return {s.data(), s.size()}; }

// A streamed answer's pieces, gzipped as they come.
class GzippedRest final : public BodyStream {
 public:
  explicit GzippedRest(std::unique_ptr<BodyStream> plain) : plain_(std::move(plain)) {}

  GzipStream& gzip() { return gzip_; }
  std::unique_ptr<BodyStream>& plain() { return plain_; }

  Result<bool> Next(std::string* out) override {
    piece_.clear();
    Result<bool> more = plain_->Next(&piece_);
    if (!more) return more;
    if (!gzip_.Add(piece_, !*more, out)) return Status::IOError("zlib failed to gzip a streamed answer");
    return more;
  }

 private:
  std::unique_ptr<BodyStream> plain_;
  GzipStream gzip_;
  std::string piece_;
};

}  // namespace

std::string_view HeaderValue(const HttpRequest& request, http::field field) {
  auto it = request.find(field);
  if (it == request.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::string_view HeaderValue(const HttpRequest& request, std::string_view name) {
  auto it = request.find(BeastView(name));
  if (it == request.end()) return {};
  return {it->value().data(), it->value().size()};
}

std::string_view HeaderList(const HttpRequest& request, std::string_view name, std::string* joined) {
  auto [first, end] = request.equal_range(BeastView(name));
  if (first == end) return {};
  if (std::next(first) == end) return {first->value().data(), first->value().size()};
  joined->clear();
  for (auto it = first; it != end; ++it) {
    if (!joined->empty()) joined->append(", ");
    joined->append(it->value().data(), it->value().size());
  }
  return *joined;
}

HttpResponse StartResponse(const HttpRequest& request, int status, std::string_view request_id,
                           std::string_view content_type) {
  const unsigned version = request.version() == 10 ? 10u : 11u;
  HttpResponse response{static_cast<http::status>(status), version};
  // A new response has no fields yet: insert, not set (no lookup of one to replace).
  if (!content_type.empty()) response.insert(http::field::content_type, BeastView(content_type));
  response.insert("X-Request-Id", BeastView(request_id));
  // HTTP/1.1 keeps the connection by default: only the other cases need a Connection field.
  if (const bool keep = request.keep_alive(); version == 10 || !keep) response.keep_alive(keep);
  return response;
}

void FinishAnswer(const HttpRequest& request, Answer* answer) {
  HttpResponse* response = &answer->response;
  // A 304 has no body and no length of its own (RFC 9110 §15.4.5).
  if (response->result() == http::status::not_modified) return;
  if (answer->stream) {
    if (request.version() >= 11) {
      response->chunked(true);
    } else {
      response->keep_alive(false);
    }
    response->set(http::field::vary, "Accept-Encoding");
    if (AcceptsGzip(HeaderValue(request, http::field::accept_encoding))) {
      auto gzipped = std::make_unique<GzippedRest>(std::move(answer->stream));
      std::string first;
      if (gzipped->gzip().Add(response->body(), false, &first)) {
        response->body() = std::move(first);
        response->set(http::field::content_encoding, "gzip");
        answer->stream = std::move(gzipped);
      } else {
        answer->stream = std::move(gzipped->plain());
      }
    }
    return;
  }
  if (response->body().size() > kGzipMinBytes) {
    response->set(http::field::vary, "Accept-Encoding");
    if (AcceptsGzip(HeaderValue(request, http::field::accept_encoding))) {
      if (auto gz = Gzip(response->body())) {
        response->body() = std::move(*gz);
        response->set(http::field::content_encoding, "gzip");
      }
    }
  }
  response->prepare_payload();
}

}  // namespace tally
