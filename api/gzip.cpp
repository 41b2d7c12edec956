#include "api/gzip.h"

#include <zlib.h>

#include <cctype>
#include <cstdlib>

#include "api/http_framing.h"

namespace tally {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// The q-value of one element's parameters ("q=0.5"); 1 when absent.
double QValue(std::string_view params) {
  while (!params.empty()) {
    const size_t semi = params.find(';');
    std::string_view p = TrimOws(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      std::string value(TrimOws(p.substr(2)));
      char* end = nullptr;
      const double q = std::strtod(value.c_str(), &end);
      return end == value.c_str() ? 0 : q;
    }
  }
  return 1;
}

}  // namespace

bool AcceptsGzip(std::string_view header) {
  std::optional<double> gzip, star;
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view element = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const size_t semi = element.find(';');
    std::string_view coding = TrimOws(element.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1 : QValue(element.substr(semi + 1));
    if (EqualsNoCase(coding, "gzip") || EqualsNoCase(coding, "x-gzip")) {
      gzip = q;
    } else if (coding == "*") {
      star = q;
    }
  }
  if (gzip) return *gzip > 0;
  return star && *star > 0;
}

std::optional<std::string> Gzip(std::string_view data) {
  z_stream z{};
  // 15 + 16: a gzip header and trailer around the deflate stream. Level 1: most
  // of the size gain at a fraction of the default level's time.
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const size_t written = out.size() - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(written);
  return out;
}

GzipStream::GzipStream() : z_(std::make_unique<z_stream_s>()) {
  *z_ = z_stream_s{};
  ok_ = deflateInit2(z_.get(), 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;  // as Gzip()
}

GzipStream::~GzipStream() {
  if (ok_) deflateEnd(z_.get());
}

bool GzipStream::Add(std::string_view data, bool last, std::string* out) {
  if (!ok_) return false;
  constexpr size_t kStep = 64 << 10;
  z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z_->avail_in = static_cast<uInt>(data.size());
  for (;;) {
    const size_t before = out->size();
    out->resize(before + kStep);
    z_->next_out = reinterpret_cast<Bytef*>(out->data() + before);
    z_->avail_out = static_cast<uInt>(kStep);
    const int rc = deflate(z_.get(), last ? Z_FINISH : Z_NO_FLUSH);
    out->resize(before + kStep - z_->avail_out);
    if (rc == Z_STREAM_ERROR) return ok_ = false;
    if (last ? rc == Z_STREAM_END : z_->avail_out > 0) return true;  // all taken in, all given out
  }
}

}  // namespace tally
