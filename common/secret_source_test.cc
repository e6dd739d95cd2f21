#include "common/secret_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "common/secrets.h"

namespace polysync::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

TEST(SecretSourceTest, ReadsEnvironmentVariableTrimmed) {
  auto s = SecretSource::FromEnv("TOKEN",
                                 StaticEnv({{"TOKEN", " dapi-abc123456 \n"}}));
  auto v = s.Read();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "dapi-abc123456");
  EXPECT_EQ(s.Describe(), "env TOKEN");
}

TEST(SecretSourceTest, MissingOrEmptyIsFailedPreconditionNamingTheSource) {
  auto missing = SecretSource::FromEnv("NOPE", StaticEnv({})).Read();
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("NOPE"));
  auto empty = SecretSource::FromEnv("E", StaticEnv({{"E", "  "}})).Read();
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SecretSource().Read().status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto no_file = SecretSource::FromFile("/nonexistent/token").Read();
  EXPECT_THAT(no_file.status().message(), HasSubstr("/nonexistent/token"));
}

TEST(SecretSourceTest, RotatedFileIsReadAgain) {
  const std::string path = TempPath("rotating-token");
  WriteFile(path, "first-token-value\n");
  auto s = SecretSource::FromFile(path);
  EXPECT_EQ(*s.Read(), "first-token-value");
  // Kubernetes replaces the file (a new inode) when the Secret rotates.
  const std::string next = path + ".new";
  WriteFile(next, "second-token-value-longer");
  ASSERT_EQ(std::rename(next.c_str(), path.c_str()), 0);
  EXPECT_EQ(*s.Read(), "second-token-value-longer");
}

TEST(SecretSourceTest, ValuesReadAreRegisteredForRedaction) {
  auto s =
      SecretSource::FromEnv("T", StaticEnv({{"T", "a-very-secret-token-42"}}));
  ASSERT_TRUE(s.Read().ok());
  EXPECT_THAT(secrets::Redact("Bearer a-very-secret-token-42"),
              Not(HasSubstr("a-very-secret-token-42")));
  EXPECT_THAT(s.Describe(), Not(HasSubstr("a-very-secret")));
}

TEST(SecretSourceTest, ReadsIniKeys) {
  const std::string path = TempPath("databrickscfg");
  WriteFile(
      path,
      "; comment\n[DEFAULT]\nhost = https://a.net\ntoken = dapi-default-1\n"
      "\n[prod]\nhost=https://b.net\nTOKEN = dapi-prod-2\n");
  EXPECT_EQ(*SecretSource::FromIni(path, "prod", "token").Read(),
            "dapi-prod-2");
  EXPECT_EQ(*SecretSource::FromIni(path, "DEFAULT", "token").Read(),
            "dapi-default-1");
  EXPECT_FALSE(SecretSource::FromIni(path, "dev", "token").Read().ok());
}

TEST(IniValueTest, LastValueInSectionWins) {
  EXPECT_EQ(IniValue("[a]\nk=1\nk=2\n[b]\nk=3", "a", "k"), "2");
  EXPECT_EQ(IniValue("[a]\nk=1", "b", "k"), std::nullopt);
  EXPECT_EQ(IniValue("k=0\n[a]\n# k=9\nk = x = y ", "a", "k"), "x = y");
}

}  // namespace
}  // namespace polysync::secrets
