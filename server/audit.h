// Audit log lines of the state-changing RPCs (StartUpdate, StopUpdate): one
// line per call, whatever its outcome (a refusal included), with msg
// "audit", the action, the caller, the request's identifiers, what was done,
// the outcome the caller received and the call's correlation id:
//
//   WriteAudit("StopUpdate", caller, received, correlation_id,
//              log::Field("workspace", Logged(Shape::kWorkspace, ws)),
//              log::Field("run_id", Logged(Shape::kRunId, run_id)),
//              log::Field("stop_sent", stop_sent));
//   // {"msg":"audit","action":"StopUpdate","caller":"token:ops",
//   //  "workspace":"prod","run_id":"...","stop_sent":true,"outcome":"OK",
//   //  "correlation_id":"..."}
#ifndef POLYSYNC_SERVER_AUDIT_H_
#define POLYSYNC_SERVER_AUDIT_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "common/log.h"

namespace polysync::server {

// A caller-supplied identifier for log lines: as sent when it has the shape
// of what it names, otherwise only its length. A cut value could keep part
// of a secret (redaction sees only whole secrets), and an invalid one is the
// caller's input, whatever it is.
enum class Shape { kWorkspace, kPipelineId, kRunId };
std::string Logged(Shape shape, const std::string& value);

// "OK", or the status as text.
std::string Outcome(const absl::Status& status);

// Writes one audit line: `fields` (the request's identifiers, then what was
// done) come between the caller and the outcome.
template <typename... Fields>
void WriteAudit(const char* action, const std::string& caller,
                const absl::Status& outcome, const std::string& correlation_id,
                Fields&&... fields) {
  log::Info(
      "audit",
      {log::Field("action", action), log::Field("caller", caller),
       std::forward<Fields>(fields)..., log::Field("outcome", Outcome(outcome)),
       log::Field("correlation_id", correlation_id)});
}

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_AUDIT_H_
