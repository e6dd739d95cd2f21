// The one URL parser of the project: libcurl's own (CURLU), so what start-up
// checks is exactly what the transport will connect to.
//
//   absl::StatusOr<Url> url = ParseUrl("https://adb-1.2.azuredatabricks.net");
//   if (url.ok()) url->host;  // "adb-1.2.azuredatabricks.net"
//
// Error messages never contain the URL's user information (it may hold a
// password).
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_HTTP_URL_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_HTTP_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polysync::databricks::http {

struct Url {
  std::string scheme;  // lower case: "https", "http", ...
  // Lower case, IPv6 without brackets (or a zone id), IPv4 normalised as
  // libcurl connects to it ("127.1" is "127.0.0.1").
  std::string host;
  int port = 0;                // the explicit port, or the scheme's default
  bool has_user_info = false;  // "user[:password]@" before the host
  std::string path;            // "/" at least
  bool has_query_or_fragment = false;
};

// Parses an absolute URL. INVALID_ARGUMENT when libcurl would not accept it
// (no scheme or host, a port outside 1..65535, spaces...).
absl::StatusOr<Url> ParseUrl(absl::string_view url);

// True for 169.254.0.0/16 and fe80::/10.
bool IsLinkLocal(absl::string_view host);

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(absl::string_view host);

// A workspace host as configured ("https://adb-...azuredatabricks.net"),
// read by ParseUrl as the transport reads the requests made from it: https://
// (http:// only for loopback, a stricter rule than CheckUrlAllowed's in
// transport.h), without user information (credentials belong in the auth
// method), a query or a fragment, and not link-local (the instance metadata
// endpoint is no workspace). INVALID_ARGUMENT saying why (never echoing
// user information) otherwise.
absl::Status CheckWorkspaceHost(absl::string_view host);

}  // namespace polysync::databricks::http

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_HTTP_URL_H_
