// Where a credential comes from, read when needed and never kept in config.
//
// A SecretSource names an environment variable, a file (a mounted Kubernetes
// Secret, a federated token file), or a key of a `.databrickscfg`-style INI
// file. Files are re-read whenever they change on disk (checked by size and
// modification time on each Read()), so a rotated secret is used on the next
// call without a restart. Every value read is registered for redaction
// (common/secrets.h) so it can never appear in a log line or an error.
//
//   SecretSource token = SecretSource::FromFile("/var/run/secrets/dbx/token");
//   absl::StatusOr<std::string> value = token.Read();
//   LOG: token.Describe()  // "file /var/run/secrets/dbx/token", never the
//   value
#ifndef POLYSYNC_COMMON_SECRET_SOURCE_H_
#define POLYSYNC_COMMON_SECRET_SOURCE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace polysync::secrets {

// Looks up an environment variable; injectable for tests.
using EnvLookup =
    std::function<std::optional<std::string>(absl::string_view name)>;

// The process environment.
EnvLookup ProcessEnv();

// A fixed set of variables (tests; values generated in-process).
EnvLookup StaticEnv(std::map<std::string, std::string> values);

class SecretSource {
 public:
  // An empty source: Read() fails with FAILED_PRECONDITION.
  SecretSource();

  static SecretSource FromEnv(std::string variable,
                              EnvLookup env = ProcessEnv());
  static SecretSource FromFile(std::string path);
  // `key` of section `section` of an INI file (re-read when it changes).
  static SecretSource FromIni(std::string path, std::string section,
                              std::string key);

  // The current value, surrounding whitespace trimmed. FAILED_PRECONDITION
  // when it is missing or empty (the message names the variable or file,
  // never a value).
  absl::StatusOr<std::string> Read() const;

  // "env NAME", "file PATH", "PATH [section] key", or "none".
  std::string Describe() const;

  bool empty() const { return state_ == nullptr; }

  struct State;  // implementation detail (shared by copies)

 private:
  std::shared_ptr<State> state_;
};

// Parses a `.databrickscfg`-style INI text: sections, `key = value` lines,
// `#`/`;` comments. Returns the value of `key` in `section` (case-sensitive
// section, case-insensitive key), if any.
std::optional<std::string> IniValue(absl::string_view text,
                                    absl::string_view section,
                                    absl::string_view key);

}  // namespace polysync::secrets

#endif  // POLYSYNC_COMMON_SECRET_SOURCE_H_
