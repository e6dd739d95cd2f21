#include "adapters/databricks/wire/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/secrets.h"

namespace polysync::databricks {
namespace {

TEST(IsValidUtf8Test, AcceptsWellFormedAndRejectsTheRest) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9t\xc3\xa9 \xed\x95\x9c \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST(ExcerptTest, ReplacesControlCharactersAndCuts) {
  EXPECT_EQ(Excerpt("<html>\r\n<title>502</title>...", 20),
            "<html>  <title>502</...");
  EXPECT_EQ(Excerpt("  <html>\r\n<title>502</title>\n "),
            "<html>  <title>502</title>");
  EXPECT_EQ(Excerpt(std::string("a\0b\x7f", 4)), "a b ");
  EXPECT_EQ(Excerpt("abcdefghij", 4), "abcd...");
  EXPECT_EQ(Excerpt(std::string(10000, 'x')).size(), 203u);
  EXPECT_EQ(Excerpt("abc\xff\xfe"), "abc??");
}

TEST(ExcerptTest, NeverSplitsACharacterAndIsAlwaysValidUtf8) {
  // "é" is two bytes: a cut after 3 bytes must not keep half of the second.
  EXPECT_EQ(Excerpt("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9...");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (size_t max = 0; max < 40; ++max) {
    EXPECT_TRUE(IsValidUtf8(Excerpt(bytes, max))) << max;
    EXPECT_TRUE(IsValidUtf8(Excerpt(bytes + bytes, max))) << max;
  }
}

TEST(EscapedPrefixTest, EscapesAndCuts) {
  EXPECT_EQ(EscapedPrefix("../clusters\r\n"), "../clusters\\r\\n");
  // A hex digit after \x00 is escaped too, so the text stays unambiguous.
  EXPECT_EQ(EscapedPrefix(std::string("a\0b", 3)), "a\\x00\\x62");
  EXPECT_EQ(EscapedPrefix("\xc3\xa9"), "\\xc3\\xa9");
  EXPECT_EQ(EscapedPrefix(std::string(10240, 'a'), 8), "aaaaaaaa...");
}

// A secret is replaced before the text is cut, so a cut never leaves part
// of one behind (a 33-byte token starting at byte 190 of a 200-byte excerpt
// used to keep 10 of its bytes; at byte 170, 30).
TEST(ExcerptTest, RedactsBeforeCutting) {
  const std::string token = "dapiExcerptTestToken0123456789abc";  // 33 bytes
  secrets::Register(token);
  for (size_t at = 150; at <= 200; ++at) {
    const std::string body = std::string(at, 'x') + token + " trailing text";
    const std::string out = Excerpt(body, 200);
    // Not even 4 bytes of it are left, wherever the cut falls.
    EXPECT_EQ(out.find(token.substr(0, 4)), std::string::npos)
        << "at " << at << ": " << out;
    EXPECT_LE(out.size(), 203u);
  }
  EXPECT_EQ(Excerpt("error: " + token + " bad"), "error: [REDACTED] bad");
  // Leading whitespace does not push a secret past the redacted part.
  EXPECT_EQ(Excerpt(std::string(20000, ' ') + token + " end"),
            "[REDACTED] end");
  EXPECT_EQ(EscapedPrefix(token + "\r\n", 20).find("dapiExc"),
            std::string::npos);
  EXPECT_EQ(EscapedPrefix("x" + token, 12).find("dapiExc"), std::string::npos);
}

}  // namespace
}  // namespace polysync::databricks
