// Loading and checking the server's configuration file.
//
// The file is JSON in protobuf's JSON mapping of
// polysync.databricks.v1.ServerConfig (proto/polysync/databricks/v1/
// config.proto documents every key), and strict JSON (no key twice in an
// object, no trailing comma). Unknown keys and wrongly typed values are
// refused with the key's name, so a typo never silently falls back to a
// default.
//
//   absl::StatusOr<ServerConfig> config =
//   LoadConfigFile("/etc/polysync/dlt.json"); if (!config.ok()) { /* print
//   config.status() and exit */ }
#ifndef POLYSYNC_SERVER_CONFIG_H_
#define POLYSYNC_SERVER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polysync/databricks/v1/config.pb.h"

namespace polysync::server {

using ::polysync::databricks::v1::ServerConfig;

inline constexpr absl::string_view kDefaultListen = "0.0.0.0:50051";
inline constexpr absl::Duration kDefaultShutdownGrace = absl::Seconds(20);
inline constexpr absl::Duration kDefaultDrainDelay = absl::Seconds(5);

// Parses and validates a configuration document. `origin` (a file name)
// prefixes error messages.
absl::StatusOr<ServerConfig> ParseConfig(absl::string_view json,
                                         absl::string_view origin);

// Reads `path` and calls ParseConfig.
absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path);

// Fills in defaults for keys that were left out (listen address, log level,
// shutdown grace, drain delay, the default workspace when there is exactly
// one).
void ApplyDefaults(ServerConfig& config);

// Checks what the schema alone cannot: profile names, hosts, that every
// profile has exactly one auth method with its secrets referenced, that the
// default workspace exists.
absl::Status ValidateConfig(const ServerConfig& config);

// What start-up checks beyond the document, before anything is served
// (main calls it after ValidateConfig): every secret the configuration names
// is present (an environment variable set and not blank, a file readable and
// not blank; presence only: a value never reaches a message or a log line),
// and the TLS certificate and private key load and belong together.
// INVALID_ARGUMENT naming the key otherwise.
absl::Status CheckStartupResources(const ServerConfig& config);

// The shutdown grace and the drain delay (after ApplyDefaults).
absl::Duration ShutdownGrace(const ServerConfig& config);
absl::Duration DrainDelay(const ServerConfig& config);

// A google.protobuf.Duration as an absl::Duration.
absl::Duration ToDuration(const google::protobuf::Duration& d);

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_CONFIG_H_
