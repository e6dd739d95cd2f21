// The request and response exchanged between the Beast server
// (http_server.h) and the simulator's handler. A response says not only what
// to send but how: after a delay, truncated, oversized, or not at all (a TCP
// reset, a stall then a drop). That is how faults reach the wire.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_HTTP_TYPES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_HTTP_TYPES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace polysync::databricks::sim {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first header named `name` (case-insensitive), or "".
  std::string Header(absl::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return "";
  }
};

// How the response reaches (or does not reach) the client.
enum class WireAction {
  kNormal,         // the whole response
  kReset,          // no response: SO_LINGER 0 then close, the peer sees RST
  kStallThenDrop,  // no response for `stall`, then close
  kTruncate,       // Content-Length of the whole body, half the body, close
  kOversized,      // a 200 JSON body of `oversized_bytes`, streamed
  kDrip,           // headers at once, then the body `drip_bytes` at a time
                   // every `drip_interval`
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  WireAction action = WireAction::kNormal;
  absl::Duration delay = absl::ZeroDuration();  // before anything is sent
  absl::Duration stall = absl::ZeroDuration();  // kStallThenDrop
  uint64_t oversized_bytes = 0;                 // kOversized
  size_t drip_bytes = 16;                       // kDrip
  absl::Duration drip_interval = absl::Milliseconds(100);  // kDrip
  bool close = false;  // close the connection after the response
};

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_HTTP_TYPES_H_
