// The production Transport: libcurl's multi interface on one event-loop
// thread. This file and curl_transport.cc are the only code in the project
// that includes <curl/curl.h> (with url.cc, its URL parser).
//
// - Many requests in flight at once; kept-alive connections are reused, and
//   HTTP/2 is used (multiplexed) where the server offers it.
// - TLS is always verified; `ca_bundle_file` replaces the system CAs.
// - Every request has a deadline: the request's own, or `default_timeout`.
// - A response body larger than `max_response_bytes` is refused (the transfer
//   is aborted, not buffered).
//
//   auto transport = MakeCurlTransport({});
//   TransportResult r = SendAndWait(*transport, {.url = "https://..."});
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_HTTP_CURL_TRANSPORT_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_HTTP_CURL_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "adapters/databricks/http/transport.h"

namespace polysync::databricks::http {

struct CurlTransportOptions {
  // PEM file of trusted CA certificates; empty means the system's.
  std::string ca_bundle_file;
  // Used when a request's deadline is absl::InfiniteFuture().
  absl::Duration default_timeout = absl::Seconds(30);
  // Bodies above this are refused.
  size_t max_response_bytes = 32u << 20;
  // Idle connections kept for reuse.
  int max_cached_connections = 256;
  // Connect timeout (within the deadline).
  absl::Duration connect_timeout = absl::Seconds(10);
  // Speak HTTP/2 on plain http:// without an upgrade (an h2c endpoint such
  // as a local proxy). https:// negotiates HTTP/2 by ALPN regardless.
  bool http2_prior_knowledge = false;
};

std::unique_ptr<Transport> MakeCurlTransport(CurlTransportOptions options);

// Sends one request and blocks until it completes. For tools, tests and
// start-up code only: the service itself never blocks on the network.
TransportResult SendAndWait(Transport& transport, Request request);

}  // namespace polysync::databricks::http

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_HTTP_CURL_TRANSPORT_H_
