#include "api/envelope.h"

#include <charconv>
#include <chrono>

#include "aggregate/json_writer.h"
#include "aggregate/timestamp.h"

namespace tally {
namespace {

void AppendNow(std::string* out) {
  const auto now = std::chrono::system_clock::now();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  AppendTimestamp(Timestamp{ms}, out);
}

// X-Tally-Lag, on a response that has none yet.
void AppendLag(int64_t lag, HttpResponse* response) {
  char digits[24];
  const char* end = std::to_chars(digits, digits + sizeof(digits), lag).ptr;
  response->insert("X-Tally-Lag", boost::beast::string_view(digits, end - digits));
}

// The envelope's text before and after its data.
void AppendEnvelopeHead(ApiCode code, std::string_view message, std::string* out) {
  out->append("{\"code\":");
  out->append(std::to_string(static_cast<int>(code)));
  out->append(",\"message\":");
  AppendJsonString(message, out);
  out->append(",\"data\":");
}

void AppendEnvelopeTail(ApiCode code, std::string_view request_id, std::string* out) {
  out->append(",\"date\":\"");
  AppendNow(out);
  out->append("\",\"requestId\":");
  AppendJsonString(request_id, out);
  out->append(code == ApiCode::kSuccess ? ",\"success\":true}" : ",\"success\":false}");
}

// The rest of a streamed envelope answer: the data's remaining pieces, then the
// envelope's tail.
class EnvelopeRest final : public BodyStream {
 public:
  EnvelopeRest(std::unique_ptr<BodyStream> data, std::string tail) : data_(std::move(data)), tail_(std::move(tail)) {}

  Result<bool> Next(std::string* out) override {
    if (data_) {
      Result<bool> more = data_->Next(out);
      if (!more || *more) return more;
      data_.reset();  // its snapshot goes with it
    }
    out->append(tail_);
    return false;
  }

 private:
  std::unique_ptr<BodyStream> data_;
  std::string tail_;
};

}  // namespace

Answer EnvelopeAnswer(const HttpRequest& request, const RouteInfo* route, ApiCode code, std::string_view message,
                      std::string_view data, std::string request_id, int64_t lag, int http_status) {
  Answer answer;
  answer.route = route;
  answer.code = static_cast<int>(code);
  answer.response = StartResponse(request, http_status ? http_status : HttpStatusOf(code), request_id,
                                  "application/json; charset=utf-8");
  std::string& body = answer.response.body();
  body.reserve(data.size() + message.size() + 160);
  AppendEnvelopeHead(code, message, &body);
  body.append(data.empty() ? std::string_view("null") : data);
  AppendEnvelopeTail(code, request_id, &body);
  AppendLag(lag, &answer.response);
  answer.request_id = std::move(request_id);
  return answer;
}

Answer NotModifiedAnswer(const HttpRequest& request, const RouteInfo* route, std::string_view etag,
                         std::string request_id, int64_t lag) {
  Answer answer;
  answer.route = route;
  answer.code = static_cast<int>(ApiCode::kSuccess);
  answer.response = StartResponse(request, 304, request_id, {});
  answer.response.insert(boost::beast::http::field::etag, boost::beast::string_view(etag.data(), etag.size()));
  AppendLag(lag, &answer.response);
  answer.request_id = std::move(request_id);
  return answer;
}

Answer ErrorAnswer(const HttpRequest& request, const RouteInfo* route, const Status& status, Fault fault,
                   std::string request_id, int64_t lag) {
  const ContractError error = ContractErrorOf(status, fault);
  return EnvelopeAnswer(request, route, error.code, error.message, {}, std::move(request_id), lag, error.http_status);
}

void StreamEnvelope(std::string_view data_start, std::unique_ptr<BodyStream> data_rest, ApiCode code,
                    std::string_view message, Answer* answer) {
  std::string& body = answer->response.body();
  body.clear();
  AppendEnvelopeHead(code, message, &body);
  body.append(data_start);
  std::string tail;
  AppendEnvelopeTail(code, answer->request_id, &tail);
  answer->stream = std::make_unique<EnvelopeRest>(std::move(data_rest), std::move(tail));
}

}  // namespace tally
