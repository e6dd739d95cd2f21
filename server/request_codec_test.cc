#include "server/request_codec.h"

#include <gmock/gmock.h>
#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/log.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::server {
namespace {

namespace v1 = ::polysync::databricks::v1;
using ::testing::HasSubstr;
using ::testing::Not;

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

TEST(RequestCodecTest, ValidBytesRoundTrip) {
  v1::StartUpdateRequest sent;
  sent.set_pipeline_id("Zürich 東京");
  sent.add_parameters()->set_name("full_refresh");
  grpc::ByteBuffer bytes;
  ASSERT_TRUE(SerializeResponse(sent, &bytes).ok());
  v1::StartUpdateRequest received;
  ASSERT_TRUE(ParseRequest(bytes, &received).ok());
  EXPECT_EQ(received.pipeline_id(), "Zürich 東京");
  EXPECT_EQ(received.parameters(0).name(), "full_refresh");
}

TEST(RequestCodecTest, InvalidUtf8NamesTheFieldNotTheBytes) {
  v1::StartUpdateRequest request;
  absl::Status s =
      ParseRequest(Bytes(std::string("\x12\x04\xff\xfe\xfd\xfc", 6)), &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("'polysync.databricks.v1.StartUpdateRequest."
                        "pipeline_id' is not valid UTF-8"));
  EXPECT_THAT(s.message(), Not(HasSubstr("\xff")));
  // One level down: a parameter's name.
  s = ParseRequest(Bytes(std::string("\x1a\x04\x0a\x02\xc3\x28", 6)), &request);
  EXPECT_THAT(s.message(),
              HasSubstr("'polysync.databricks.v1.Parameter.name'"));
}

TEST(RequestCodecTest, UndecodableBytesNameTheMessageType) {
  v1::GetUpdateStatusRequest request;
  absl::Status s = ParseRequest(Bytes(std::string("\x12\x10"
                                                  "abc",
                                                  5)),
                                &request);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              HasSubstr("do not decode as "
                        "polysync.databricks.v1.GetUpdateStatusRequest"));
  EXPECT_TRUE(request.run_id().empty());
}

TEST(RequestCodecTest, ProtobufsOwnLinesBecomeJsonLogLines) {
  std::vector<std::string> lines;
  log::SetSinkForTesting(
      [&](absl::string_view line) { lines.emplace_back(line); });
  RouteProtobufLogs();
  GOOGLE_LOG(WARNING) << "something protobuf says";
  log::SetSinkForTesting(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("\"msg\":\"protobuf\""));
  EXPECT_THAT(lines[0], HasSubstr("\"message\":\"something protobuf says\""));
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"warn\""));
}

}  // namespace
}  // namespace polysync::server
