#include "adapters/databricks/http/transport.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "adapters/databricks/http/url.h"

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

TEST(CheckUrlAllowedTest, UserInfoIsRefusedWithoutEchoingIt) {
  for (const char* url : {"https://user:hunter2pass@adb-1.2.net/api",
                          "http://127.0.0.1:hunter2pass@127.0.0.1:8/api"}) {
    const absl::Status s = CheckUrlAllowed(url);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_THAT(std::string(s.message()),
                ::testing::Not(::testing::HasSubstr("hunter2pass")));
  }
  // libcurl reads the host as "vm": plain http to it is refused.
  EXPECT_EQ(CheckUrlAllowed("http://127.0.0.1:1@vm:18090/api").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(UrlTest, ParseUrlReadsWhatLibcurlConnectsTo) {
  auto url = ParseUrl("HTTPS://u:p@Adb-1.2.Net:8443/x?y#z");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "adb-1.2.net");
  EXPECT_EQ(url->port, 8443);
  EXPECT_TRUE(url->has_user_info);
  EXPECT_TRUE(url->has_query_or_fragment);
  EXPECT_EQ(ParseUrl("http://[::1]/")->host, "::1");
  EXPECT_EQ(ParseUrl("https://h")->port, 443);
  for (const char* bad : {"https://h:99999/", "https://h:0/", "https://", "h:1",
                          "https://h/a b"}) {
    EXPECT_EQ(ParseUrl(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(UrlTest, LinkLocalAndLoopback) {
  EXPECT_TRUE(IsLinkLocal("169.254.169.254"));
  EXPECT_TRUE(IsLinkLocal("fe80::1"));
  EXPECT_TRUE(IsLinkLocal("fe80::1%eth0"));
  EXPECT_FALSE(IsLinkLocal("169.255.0.1"));
  EXPECT_FALSE(IsLinkLocal("adb-1.2.net"));
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_TRUE(IsLoopback("localhost"));
  EXPECT_FALSE(IsLoopback("127.0.0.1.evil.example"));
}

TEST(ResponseTest, HeaderLookupIsByLowerCaseName) {
  Response r;
  r.headers = {{"retry-after", "3"}, {"x-request-id", "abc"}};
  EXPECT_EQ(r.Header("retry-after"), "3");
  EXPECT_EQ(r.Header("missing"), "");
}

}  // namespace
}  // namespace polysync::databricks::http
