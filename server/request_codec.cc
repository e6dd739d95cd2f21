#include "server/request_codec.h"

#include <google/protobuf/stubs/logging.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/log.h"

namespace polysync::server {
namespace {

// While ParseRequest runs on this thread, protobuf's complaints land here
// (they become the caller's error) instead of in the log.
thread_local std::string* parse_complaint = nullptr;

void OnProtobufLog(google::protobuf::LogLevel level, const char* file, int line,
                   const std::string& message) {
  if (parse_complaint != nullptr) {
    *parse_complaint = message;
    return;
  }
  const std::string source =
      absl::StrCat(file == nullptr ? "" : file, ":", line);
  if (level >= google::protobuf::LOGLEVEL_ERROR) {
    log::Error("protobuf",
               {log::Field("message", message), log::Field("source", source)});
  } else {
    log::Warn("protobuf",
              {log::Field("message", message), log::Field("source", source)});
  }
}

// "String field 'a.b.C.name' contains invalid UTF-8 data when parsing ..."
// gives "a.b.C.name"; anything else gives "".
std::string Utf8Field(absl::string_view complaint) {
  if (complaint.find("invalid UTF-8") == absl::string_view::npos) return "";
  const auto open = complaint.find('\'');
  if (open == absl::string_view::npos) return "";
  const auto close = complaint.find('\'', open + 1);
  if (close == absl::string_view::npos) return "";
  return std::string(complaint.substr(open + 1, close - open - 1));
}

}  // namespace

void RouteProtobufLogs() {
  static std::once_flag once;
  std::call_once(once, [] { google::protobuf::SetLogHandler(&OnProtobufLog); });
}

absl::Status ParseRequest(const grpc::ByteBuffer& raw,
                          google::protobuf::Message* message) {
  RouteProtobufLogs();
  message->Clear();
  grpc::ByteBuffer bytes(raw);  // shares the slices
  grpc::ProtoBufferReader reader(&bytes);
  std::string complaint;
  parse_complaint = &complaint;
  const bool parsed =
      reader.status().ok() && message->ParseFromZeroCopyStream(&reader);
  parse_complaint = nullptr;
  if (parsed) return absl::OkStatus();
  message->Clear();
  const std::string field = Utf8Field(complaint);
  if (!field.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request field '", field,
                     "' is not valid UTF-8 (string fields must be UTF-8; "
                     "send bytes as UTF-8 text)"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("the request bytes do not decode as ",
                   message->GetTypeName(), " (a malformed protobuf message)"));
}

absl::Status SerializeResponse(const google::protobuf::Message& message,
                               grpc::ByteBuffer* out) {
  bool own_buffer = false;
  grpc::Status status =
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(
          message, out, &own_buffer);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot encode the response: ", status.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace polysync::server
