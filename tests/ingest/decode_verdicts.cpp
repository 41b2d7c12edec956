// Prints the decoder's verdict on each event of each file given, one JSON line per
// file: {"file": "...", "verdicts": ["ok", "wrong_type taskId", ...]}, events in
// message order. Used by tests/schema/agreement.py to compare with the schema.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "aggregate/json_writer.h"
#include "ingest/decode.h"
#include "tests/ingest/verdicts.h"

int main(int argc, char** argv) {
  tally::Decoder decoder;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::cerr << "decode_verdicts: cannot read " << argv[i] << "\n";
      return 2;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string line;
    tally::JsonWriter w(&line);
    w.BeginObject();
    w.Key("file");
    w.String(argv[i]);
    w.Key("verdicts");
    w.BeginArray();
    for (const std::string& v : tally::testing::Verdicts(decoder, buffer.str())) w.String(v);
    w.EndArray();
    w.EndObject();
    std::cout << line << "\n";
  }
  return 0;
}
