// schemas/openapi.yaml and the server agree: every route the server has is a
// path of the document, with an operation for each method the server takes, and
// every path of the document is a route of the server.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "api/ops_endpoints.h"
#include "api/routes.h"

namespace tally {
namespace {

// Paths and their methods, read from the document's `paths:` block: a path is a
// key indented by two spaces, a method one indented by four.
std::map<std::string, std::set<std::string>> DocumentedPaths(const std::string& yaml) {
  std::map<std::string, std::set<std::string>> paths;
  std::istringstream in(yaml);
  std::string line, current;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') {
      in_paths = line == "paths:";
      continue;
    }
    if (!in_paths) continue;
    if (line.size() > 3 && line.starts_with("  /") && line.back() == ':') {
      current = line.substr(2, line.size() - 3);
      paths[current];
    } else if (line.size() > 5 && line.starts_with("    ") && line[4] != ' ' && line.back() == ':') {
      paths[current].insert(line.substr(4, line.size() - 5));
    }
  }
  return paths;
}

TEST(OpenApiRoutesTest, EveryRouteIsDocumentedAndViceVersa) {
  std::ifstream file(TALLY_SOURCE_DIR "/schemas/openapi.yaml");
  std::stringstream text;
  text << file.rdbuf();
  const auto documented = DocumentedPaths(text.str());
  ASSERT_FALSE(documented.empty());
  std::set<std::string> served;
  for (const RouteInfo& r : Routes()) served.insert(std::string(r.path));
  std::set<std::string> in_document;
  for (const auto& [path, methods] : documented) {
    in_document.insert(path);
    EXPECT_EQ(methods, (std::set<std::string>{"get", "post"})) << path << " must document GET and POST";
  }
  EXPECT_EQ(in_document, served);
}

TEST(OpenApiRoutesTest, TheServerEmbedsTheDocument) {
  std::ifstream file(TALLY_SOURCE_DIR "/schemas/openapi.yaml", std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(OpenApiYaml(), text.str());
}

}  // namespace
}  // namespace tally
