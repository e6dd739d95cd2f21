#include "adapters/databricks/wire/endpoints.h"

#include <string_view>

namespace polysync::databricks {

std::string Describe(const Endpoint& endpoint) {
  constexpr std::string_view kApiRoot = "/api/2.0/";
  std::string_view path = endpoint.path;
  if (path.substr(0, kApiRoot.size()) == kApiRoot) {
    path.remove_prefix(kApiRoot.size());
  }
  std::string out(endpoint.method);
  out += ' ';
  out += path;
  return out;
}

}  // namespace polysync::databricks
