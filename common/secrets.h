// Secret redaction: the last line of defence against leaking credentials.
//
// Every component that reads a secret (a token, a client secret, a
// federated assertion) registers it here as soon as it has it. The log facade
// and the gRPC error conversion pass every string they emit through Redact(),
// so a secret that slips into a message or a field comes out as "[REDACTED]".
//
//   polysync::secrets::Register(token);
//   LOG_INFO("got token", {{"value", token}});   // logs "[REDACTED]"
#ifndef POLYSYNC_COMMON_SECRETS_H_
#define POLYSYNC_COMMON_SECRETS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace polysync::secrets {

// Remembers `secret` (the newest 256 are kept) so that Redact() hides it.
// Values shorter than 8 bytes are ignored: they are not real secrets and would
// redact ordinary words.
void Register(absl::string_view secret);

// `text` with every registered secret replaced by "[REDACTED]".
std::string Redact(absl::string_view text);

// True when `text` contains a registered secret (for tests).
bool ContainsSecret(absl::string_view text);

}  // namespace polysync::secrets

#endif  // POLYSYNC_COMMON_SECRETS_H_
