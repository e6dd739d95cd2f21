#include "common/secrets.h"

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"

namespace polysync::secrets {
namespace {

constexpr size_t kMinSecretSize = 8;
// Tokens are refreshed for the life of the process: keep the newest ones
// (an expired token is far less sensitive) so redaction stays cheap.
constexpr size_t kMaxSecrets = 256;

struct Registry {
  std::mutex mu;
  std::deque<std::string> secrets;  // guarded by mu; oldest first
  std::atomic<bool> empty{true};
};

Registry& GetRegistry() {
  static auto* registry = new Registry;
  return *registry;
}

}  // namespace

void Register(absl::string_view secret) {
  if (secret.size() < kMinSecretSize) return;
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const auto& s : r.secrets) {
    if (s == secret) return;
  }
  r.secrets.emplace_back(secret);
  if (r.secrets.size() > kMaxSecrets) r.secrets.pop_front();
  r.empty.store(false, std::memory_order_release);
}

std::string Redact(absl::string_view text) {
  Registry& r = GetRegistry();
  if (r.empty.load(std::memory_order_acquire)) return std::string(text);
  std::lock_guard<std::mutex> lock(r.mu);
  std::string out(text);
  for (const auto& s : r.secrets) {
    if (out.find(s) != std::string::npos) {
      out = absl::StrReplaceAll(out, {{s, "[REDACTED]"}});
    }
  }
  return out;
}

bool ContainsSecret(absl::string_view text) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const auto& s : r.secrets) {
    if (text.find(s) != absl::string_view::npos) return true;
  }
  return false;
}

}  // namespace polysync::secrets
