#include "adapters/databricks/wire/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/decoders.h"
#include "adapters/databricks/wire/text.h"
#include "common/secrets.h"

namespace polysync::databricks {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Optional;

std::string Body(const std::string& code, const std::string& message) {
  return R"({"error_code": ")" + code + R"(", "message": ")" + message +
         R"("})";
}

struct Row {
  int http_status;
  std::string body;
  absl::StatusCode code;
};

TEST(StatusFromHttpResponseTest, TheTable) {
  const Row rows[] = {
      {200, "", absl::StatusCode::kOk},
      {204, "", absl::StatusCode::kOk},
      {400, Body("INVALID_PARAMETER_VALUE", "bad"),
       absl::StatusCode::kInvalidArgument},
      {400, Body("MALFORMED_REQUEST", "bad"),
       absl::StatusCode::kInvalidArgument},
      {400, Body("INVALID_STATE", "already running"),
       absl::StatusCode::kFailedPrecondition},
      {400, Body("SOMETHING_NEW", "x"), absl::StatusCode::kInvalidArgument},
      {400, "not json", absl::StatusCode::kInvalidArgument},
      {401, Body("UNAUTHENTICATED", "x"), absl::StatusCode::kUnauthenticated},
      {401, "", absl::StatusCode::kUnauthenticated},
      {403, Body("PERMISSION_DENIED", "x"),
       absl::StatusCode::kPermissionDenied},
      {404, Body("RESOURCE_DOES_NOT_EXIST", "x"), absl::StatusCode::kNotFound},
      {404, Body("ENDPOINT_NOT_FOUND", "x"), absl::StatusCode::kNotFound},
      {409, Body("RESOURCE_CONFLICT", "x"),
       absl::StatusCode::kFailedPrecondition},
      {409, Body("ABORTED", "x"), absl::StatusCode::kFailedPrecondition},
      {405, "", absl::StatusCode::kInvalidArgument},
      {413, "too large", absl::StatusCode::kInvalidArgument},
      {429, Body("REQUEST_LIMIT_EXCEEDED", "slow down"),
       absl::StatusCode::kResourceExhausted},
      {429, "", absl::StatusCode::kResourceExhausted},
      {500, Body("INTERNAL_ERROR", "x"), absl::StatusCode::kUnavailable},
      {501, "", absl::StatusCode::kUnavailable},
      {502, "<html><body>Bad Gateway</body></html>",
       absl::StatusCode::kUnavailable},
      {503, Body("TEMPORARILY_UNAVAILABLE", "x"),
       absl::StatusCode::kUnavailable},
      {504, "", absl::StatusCode::kUnavailable},
      {599, "", absl::StatusCode::kUnavailable},
      {301, "", absl::StatusCode::kFailedPrecondition},
      {302, "", absl::StatusCode::kFailedPrecondition},
      {303, "<html>login</html>", absl::StatusCode::kFailedPrecondition},
      {307, "", absl::StatusCode::kFailedPrecondition},
      {308, "", absl::StatusCode::kFailedPrecondition},
      {100, "", absl::StatusCode::kUnknown},
      {0, "", absl::StatusCode::kUnknown},
      // Throttling text makes any status RESOURCE_EXHAUSTED.
      {400, Body("BAD_REQUEST", "RPC token bucket limit has been exceeded"),
       absl::StatusCode::kResourceExhausted},
      {503, "RPC token bucket limit has been exceeded",
       absl::StatusCode::kResourceExhausted},
  };
  for (const Row& row : rows) {
    absl::Status status = StatusFromHttpResponse(
        "GET pipelines/{id}", row.http_status, row.body, "rid");
    EXPECT_EQ(status.code(), row.code)
        << row.http_status << " " << row.body << " -> " << status;
    if (!status.ok()) {
      EXPECT_THAT(HttpStatusOf(status), Optional(row.http_status));
    }
  }
}

TEST(StatusFromHttpResponseTest, MessageCarriesCodeExcerptAndRequestId) {
  absl::Status status = StatusFromHttpResponse(
      "GET pipelines/{id}", 404,
      Body("RESOURCE_DOES_NOT_EXIST",
           "Pipeline a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5 does not exist"),
      "abc");
  EXPECT_EQ(status.message(),
            "GET pipelines/{id}: HTTP 404 RESOURCE_DOES_NOT_EXIST: Pipeline "
            "a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5 does not exist (request id "
            "abc)");
  EXPECT_THAT(DatabricksErrorCodeOf(status),
              Optional(std::string("RESOURCE_DOES_NOT_EXIST")));
  EXPECT_FALSE(IsThrottled(status));

  status = StatusFromHttpResponse("POST pipelines/{id}/stop", 401, "", "");
  EXPECT_EQ(status.message(), "POST pipelines/{id}/stop: HTTP 401");
  EXPECT_EQ(DatabricksErrorCodeOf(status), std::nullopt);

  status = StatusFromHttpResponse(
      "GET x", 400, R"({"error_code": 400, "message": "old"})", "");
  EXPECT_EQ(status.message(), "GET x: HTTP 400 400: old");
}

TEST(StatusFromHttpResponseTest, HtmlProxyPageIsExcerpted) {
  std::string html =
      "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
      "<center><h1>502 Bad Gateway</h1></center>\r\n";
  html += std::string(5000, 'x') + "</body></html>\r\n";
  absl::Status status =
      StatusFromHttpResponse("GET pipelines", 502, html, "req\r\n-1");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("GET pipelines: HTTP 502: <html>  <head><title>502 "
                        "Bad Gateway</title>"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("(request id req  -1)"));
  EXPECT_LT(status.message().size(), 320u);
  for (char c : status.message()) EXPECT_FALSE(c >= 0 && c < 0x20) << status;
  EXPECT_EQ(DatabricksErrorCodeOf(status), std::nullopt);
}

TEST(StatusFromHttpResponseTest, HostileBodiesStaySmallAndValidUtf8) {
  const std::string long_message(100000, '\xff');
  absl::Status status = StatusFromHttpResponse(
      "GET x", 500,
      Body("INTERNAL_ERROR", "a\\u0000b\\nc" + std::string(500, 'y')),
      std::string(1000, 'r'));
  EXPECT_LT(status.message().size(), 400u);
  EXPECT_TRUE(IsValidUtf8(std::string(status.message()))) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("a b c"));

  status = StatusFromHttpResponse("GET x", 500, long_message, "");
  EXPECT_LT(status.message().size(), 300u);
  EXPECT_TRUE(IsValidUtf8(std::string(status.message())));
}

TEST(StatusFromHttpResponseTest, NullBodyAndRequestId) {
  absl::Status status = StatusFromHttpResponse(
      std::string_view(), 500, std::string_view(), std::string_view());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), ": HTTP 500");
}

TEST(StatusFromHttpResponseTest, ThrottlingIsFlagged) {
  absl::Status status = StatusFromHttpResponse(
      "GET pipelines", 400,
      Body("BAD_REQUEST", "RPC token bucket limit has been exceeded"), "");
  EXPECT_TRUE(IsThrottled(status));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(IsThrottled(StatusFromHttpResponse("GET x", 429, "", "")));
  EXPECT_FALSE(IsThrottled(StatusFromHttpResponse("GET x", 503, "", "")));
  EXPECT_FALSE(IsThrottled(absl::UnavailableError("x")));
  EXPECT_TRUE(IsThrottlingMessage("rpc Token Bucket limit has been exceeded"));
  EXPECT_TRUE(IsThrottlingMessage("REQUEST_LIMIT_EXCEEDED"));
  EXPECT_FALSE(IsThrottlingMessage("Pipeline does not exist"));
}

TEST(DecodeFailureTest, TwoHundredWithBrokenJsonIsInternal) {
  absl::StatusOr<Pipeline> decoded = DecodePipeline("{\"state\": ");
  ASSERT_FALSE(decoded.ok());
  absl::Status status =
      DecodeFailure("GET pipelines/{id}", 200, "rid", decoded.status());
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("GET pipelines/{id}: HTTP 200: response could not be "
                        "decoded: "));
  EXPECT_THAT(std::string(status.message()), HasSubstr("(request id rid)"));
  EXPECT_THAT(HttpStatusOf(status), Optional(200));
  EXPECT_EQ(HttpStatusOf(absl::InternalError("x")), std::nullopt);
  EXPECT_EQ(StatusCodeForHttp(200, ""), absl::StatusCode::kOk);
}

TEST(StatusFromHttpResponseTest, TokenLikeTextIsNotInvented) {
  // The mapping only ever shows the body and the request id it was given.
  absl::Status status = StatusFromHttpResponse(
      "GET pipelines", 403, Body("PERMISSION_DENIED", "no access"), "");
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("Bearer")));
}

TEST(StatusFromTokenEndpointResponseTest, OAuthErrors) {
  absl::Status status = StatusFromTokenEndpointResponse(
      "POST login.microsoftonline.com/{tenant}/oauth2/v2.0/token", 401,
      R"({"error": "invalid_client", "error_description": "AADSTS7000215: )"
      R"(Invalid client secret provided.", "error_codes": [7000215],)"
      R"( "trace_id": "t"})",
      "ms-rid");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(),
            "POST login.microsoftonline.com/{tenant}/oauth2/v2.0/token: HTTP "
            "401 invalid_client: AADSTS7000215: Invalid client secret "
            "provided. (request id ms-rid)");
  EXPECT_THAT(DatabricksErrorCodeOf(status),
              Optional(std::string("invalid_client")));
  EXPECT_EQ(StatusFromTokenEndpointResponse(
                "GET imds", 400,
                R"({"error": "invalid_request", "error_description": )"
                R"("Identity not found"})",
                "")
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(StatusFromTokenEndpointResponse("x", 200, "", "").code(),
            absl::StatusCode::kOk);
  EXPECT_EQ(StatusFromTokenEndpointResponse("x", 403, "", "").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(IsThrottled(StatusFromTokenEndpointResponse("x", 429, "", "")));
  EXPECT_EQ(StatusFromTokenEndpointResponse("x", 503, "<html>", "").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromTokenEndpointResponse("x", 302, "", "").code(),
            absl::StatusCode::kFailedPrecondition);
}

// A redirect from the API means a wrong host or a login page: a clear
// FAILED_PRECONDITION naming the status and what to check, and nothing of the
// body (a login page's URL may carry anything).
TEST(StatusFromHttpResponseTest, RedirectNamesTheStatusButNotTheBody) {
  const std::string body =
      "<html><a href=\"https://login.example.com/?session=dapi0123456789abcdef"
      "\">moved</a></html>";
  for (int http_status : {301, 302, 303, 307, 308}) {
    absl::Status status =
        StatusFromHttpResponse("GET pipelines", http_status, body, "rid-1");
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    EXPECT_THAT(status.message(),
                HasSubstr(absl::StrCat("HTTP ", http_status)));
    EXPECT_THAT(status.message(), HasSubstr("redirect"));
    EXPECT_THAT(status.message(), HasSubstr("host"));
    EXPECT_THAT(status.message(), Not(HasSubstr("login.example.com")));
    EXPECT_THAT(status.message(), Not(HasSubstr("dapi")));
    EXPECT_THAT(status.message(), Not(HasSubstr("unexpected")));
    EXPECT_THAT(HttpStatusOf(status), Optional(http_status));
  }
  absl::Status token =
      StatusFromTokenEndpointResponse("POST oidc/v1/token", 302, body, "");
  EXPECT_THAT(token.message(), HasSubstr("HTTP 302"));
  EXPECT_THAT(token.message(), Not(HasSubstr("login.example.com")));
}

// An upstream error that echoes a credential near the excerpt's end shows
// none of it: redaction happens before the message is cut (an issued OAuth
// token and a Basic "client:secret" alike).
TEST(StatusFromHttpResponseTest, EchoedSecretNearTheCutIsRedactedWhole) {
  const std::string oauth = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.errorsTest";
  const std::string basic = "errors-test-client:errors-test-secret-0123";
  secrets::Register(oauth);
  secrets::Register(basic);
  for (const std::string& secret : {oauth, basic}) {
    for (size_t at = 160; at <= 200; at += 5) {
      const std::string message = std::string(at, 'm') + secret + " end";
      const std::string body =
          absl::StrCat(R"({"error_code":"INVALID_PARAMETER_VALUE","message":")",
                       message, R"("})");
      absl::Status status =
          StatusFromHttpResponse("GET pipelines", 400, body, "");
      EXPECT_EQ(std::string(status.message()).find(secret.substr(0, 4)),
                std::string::npos)
          << status;
      status = StatusFromHttpResponse("GET pipelines", 502, message, "");
      EXPECT_EQ(std::string(status.message()).find(secret.substr(0, 4)),
                std::string::npos)
          << status;
      status = StatusFromTokenEndpointResponse(
          "POST token", 400,
          absl::StrCat(R"({"error":"invalid_client","error_description":")",
                       message, R"("})"),
          "");
      EXPECT_EQ(std::string(status.message()).find(secret.substr(0, 4)),
                std::string::npos)
          << status;
    }
  }
}

}  // namespace
}  // namespace polysync::databricks
