#include "client/cli/exit_codes.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/output.h"
#include "client/pipelines_client.h"

namespace polysync::client::cli {

namespace v1 = ::polysync::databricks::v1;

namespace {

bool LooksLikeConnectFailure(absl::string_view message) {
  for (const char* s :
       {"failed to connect", "Failed to connect", "Connection refused",
        "connections to all backends failing", "DNS resolution failed",
        "Socket closed", "Connection reset", "handshake", "Handshake",
        "Empty update", "No address", "unresolved", "Network is unreachable",
        "name resolution", "Name resolution"}) {
    if (absl::StrContains(message, s)) return true;
  }
  return false;
}

// Prints one clear line for a failed call and exits with its code. Errors of
// the service end with the request id its log lines carry.
}  // namespace

int ExitCodeFor(v1::RunStatus status) {
  switch (status) {
    case v1::RUN_STATUS_SUCCESS:
      return kExitOk;
    case v1::RUN_STATUS_FAILED:
      return kExitFailed;
    case v1::RUN_STATUS_CANCELLED:
      return kExitCancelled;
    default:
      return kExitNotFinished;
  }
}

Failure FailureOf(const absl::Status& status, const std::string& target) {
  std::string msg = OneLine(status.message());
  const std::string request_id = RequestIdOf(status);
  // An UNAVAILABLE the service itself answered because Databricks was
  // unavailable (its trailer, read by the library): the service is up.
  const bool from_service = CausedByDatabricks(status);
  if (!request_id.empty() &&
      (from_service ||
       (status.code() != absl::StatusCode::kUnavailable &&
        status.code() != absl::StatusCode::kDeadlineExceeded))) {
    absl::StrAppend(&msg, " [request id ", request_id, "]");
  }
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      if (from_service) {
        return Failure{
            kExitServiceError,
            absl::StrCat("the service could not complete the request: ", msg)};
      }
      if (LooksLikeConnectFailure(msg) || msg.empty()) {
        return Failure{kExitUnreachable,
                       absl::StrCat("cannot reach the service at ", target,
                                    " (is it running?)")};
      }
      return Failure{kExitUnreachable, absl::StrCat("the service at ", target,
                                                    " is unavailable: ", msg)};
    case absl::StatusCode::kDeadlineExceeded:
      return Failure{
          kExitUnreachable,
          absl::StrCat("the service at ", target,
                       " did not answer in time (is it reachable? --timeout "
                       "gives more time)")};
    case absl::StatusCode::kUnauthenticated:
      return Failure{
          kExitNoPermission,
          absl::StrCat("not authenticated: ", msg,
                       " (check --token-file or the client certificate)")};
    case absl::StatusCode::kPermissionDenied:
      return Failure{kExitNoPermission,
                     absl::StrCat("permission denied: ", msg)};
    case absl::StatusCode::kInvalidArgument:
      return Failure{kExitServiceError, absl::StrCat("invalid request: ", msg)};
    case absl::StatusCode::kNotFound:
      return Failure{kExitServiceError, absl::StrCat("not found: ", msg)};
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange:
      return Failure{kExitServiceError, msg};
    case absl::StatusCode::kResourceExhausted:
      return Failure{kExitServiceError,
                     absl::StrCat("the service is busy: ", msg)};
    default:
      return Failure{kExitServiceError,
                     absl::StrCat("the service failed the request: ", msg)};
  }
}

}  // namespace polysync::client::cli
