// Request and response bytes of the gRPC service, decoded and encoded by the
// service itself rather than by gRPC.
//
// gRPC's generated handlers parse a request before the service sees it, and
// answer a request protobuf refuses (invalid UTF-8 in a string field, bytes
// that do not decode) with a bare UNIMPLEMENTED that nothing logs or counts.
// The service registers its methods raw (grpc::ByteBuffer in and out) and
// decodes with ParseRequest(), which names what is wrong:
//
//   v1::StartUpdateRequest request;
//   absl::Status parsed = ParseRequest(*raw, &request);
//   // INVALID_ARGUMENT: "request field
//   //   'polysync.databricks.v1.StartUpdateRequest.pipeline_id' is not valid
//   //   UTF-8 ..." or "the request bytes do not decode as ..."
//
// RouteProtobufLogs() sends protobuf's own log output to the JSON log
// (common/log.h) instead of a plain "[libprotobuf ERROR ...]" line on stderr.
#ifndef POLYSYNC_SERVER_REQUEST_CODEC_H_
#define POLYSYNC_SERVER_REQUEST_CODEC_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"

namespace polysync::server {

// Decodes `raw` into `message` (cleared first). INVALID_ARGUMENT naming the
// field for invalid UTF-8, or the message type for undecodable bytes; the
// caller's bytes are never echoed.
absl::Status ParseRequest(const grpc::ByteBuffer& raw,
                          google::protobuf::Message* message);

// Encodes `message` into `out`; INTERNAL if protobuf cannot.
absl::Status SerializeResponse(const google::protobuf::Message& message,
                               grpc::ByteBuffer* out);

// Installs protobuf's log handler (once per process; idempotent): its lines
// become JSON log lines with level warn (error for protobuf's ERROR and
// FATAL), `msg` "protobuf" and the text as `message`.
void RouteProtobufLogs();

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_REQUEST_CODEC_H_
