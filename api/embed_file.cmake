# Writes a C++ source defining `std::string_view <FUNCTION>()` that returns the
# bytes of INPUT, so the server serves schemas/openapi.yaml as it was at build
# time. Usage: cmake -DINPUT=... -DOUTPUT=... -DFUNCTION=... -P embed_file.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by api/embed_file.cmake; do not edit.
#include <string_view>

namespace tally {
namespace {
const unsigned char kData[] = {
${bytes}0};
}  // namespace
std::string_view ${FUNCTION}() { return std::string_view(reinterpret_cast<const char*>(kData), ${size}); }
}  // namespace tally
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
