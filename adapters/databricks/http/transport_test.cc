#include "adapters/databricks/http/transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polysync::databricks::http {
namespace {

TEST(CheckUrlAllowedTest, HttpsIsAlwaysAllowed) {
  EXPECT_TRUE(
      CheckUrlAllowed("https://adb-1.2.azuredatabricks.net/api/2.0/pipelines")
          .ok());
  EXPECT_TRUE(
      CheckUrlAllowed("HTTPS://login.microsoftonline.com/t/oauth2").ok());
}

TEST(CheckUrlAllowedTest, PlainHttpOnlyForLoopbackAndInstanceMetadata) {
  EXPECT_TRUE(CheckUrlAllowed("http://127.0.0.1:8080/api").ok());
  EXPECT_TRUE(CheckUrlAllowed("http://127.1.2.3/api").ok());
  EXPECT_TRUE(CheckUrlAllowed("http://localhost:1/x").ok());
  EXPECT_TRUE(CheckUrlAllowed("http://[::1]:9/x").ok());
  EXPECT_TRUE(
      CheckUrlAllowed("http://169.254.169.254/metadata/identity/oauth2/token")
          .ok());
  for (const char* url :
       {"http://adb-1.2.azuredatabricks.net/api", "http://10.0.0.1/",
        "http://127.0.0.1.evil.example/", "http://user@example.com/",
        "http://localhost.example.com/", "http://169.254.169.254.nip.io/"}) {
    EXPECT_EQ(CheckUrlAllowed(url).code(),
              absl::StatusCode::kFailedPrecondition)
        << url;
  }
}

TEST(CheckUrlAllowedTest, OtherSchemesAndBrokenUrlsAreRefused) {
  for (const char* url :
       {"ftp://x/", "file:///etc/passwd", "gopher://h/", "https://",
        "no-scheme", "https://h/a b", "https://h/\r\nX: y"}) {
    EXPECT_FALSE(CheckUrlAllowed(url).ok()) << url;
  }
}

TEST(ResponseTest, HeaderLookupIsByLowerCaseName) {
  Response r;
  r.headers = {{"retry-after", "3"}, {"x-request-id", "abc"}};
  EXPECT_EQ(r.Header("retry-after"), "3");
  EXPECT_EQ(r.Header("missing"), "");
}

}  // namespace
}  // namespace polysync::databricks::http
