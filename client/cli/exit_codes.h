// pdlt's exit codes (`pdlt --help` lists them) and the one line a failed
// call prints.
#ifndef POLYSYNC_CLIENT_CLI_EXIT_CODES_H_
#define POLYSYNC_CLIENT_CLI_EXIT_CODES_H_

#include <string>

#include "absl/status/status.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::client::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;       // the update FAILED
constexpr int kExitCancelled = 2;    // the update was CANCELLED
constexpr int kExitNotFinished = 3;  // status: not finished (RUNNING, UNKNOWN)
constexpr int kExitUsage = 64;       // bad usage, unreadable file
constexpr int kExitServiceError = 65;  // the service refused or failed it
constexpr int kExitUnreachable = 69;   // unreachable, or not serving
constexpr int kExitNoPermission = 77;  // not authenticated or not permitted

// The exit code of a run's status (status, watch).
int ExitCodeFor(::polysync::databricks::v1::RunStatus status);

// What a failed call prints (after "pdlt: ") and its exit code. Errors of
// the service end with the request id its log lines carry. An UNAVAILABLE
// the service marked as caused by Databricks (CausedByDatabricks) is the
// service failing the request; any other UNAVAILABLE and a timeout mean the
// service at `target` cannot be reached.
struct Failure {
  int code;
  std::string message;
};
Failure FailureOf(const absl::Status& status, const std::string& target);

}  // namespace polysync::client::cli

#endif  // POLYSYNC_CLIENT_CLI_EXIT_CODES_H_
