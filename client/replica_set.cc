#include "client/replica_set.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace polysync::client {

using ::polysync::log::Field;

bool SplitHostPort(const std::string& target, std::string* host,
                   std::string* port) {
  if (absl::StrContains(target, "://") || absl::StartsWith(target, "dns:")) {
    return false;
  }
  const auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target.size()) {
    return false;
  }
  *host = target.substr(0, colon);
  *port = target.substr(colon + 1);
  if (host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::vector<std::string> ResolveAddresses(const std::string& host,
                                          const std::string& port) {
  struct addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* result = nullptr;
  std::vector<std::string> out;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &result) != 0) {
    return out;
  }
  for (auto* a = result; a != nullptr; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      auto* in = reinterpret_cast<struct sockaddr_in*>(a->ai_addr);
      inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
      out.push_back(absl::StrCat(ip, ":", port));
    } else if (a->ai_family == AF_INET6) {
      auto* in6 = reinterpret_cast<struct sockaddr_in6*>(a->ai_addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
      out.push_back(absl::StrCat("[", ip, "]:", port));
    }
  }
  freeaddrinfo(result);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

uint64_t RendezvousScore(absl::string_view key, absl::string_view address) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](absl::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(key);
  mix(absl::string_view("\0", 1));
  mix(address);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

std::string PipelineOfRun(const std::string& run_id) {
  return run_id.substr(0, run_id.find(':'));
}

absl::StatusOr<std::unique_ptr<ReplicaSet>> ReplicaSet::Create(
    ReplicaSetOptions options) {
  std::unique_ptr<ReplicaSet> set(new ReplicaSet(std::move(options)));
  const ReplicaSetOptions& o = set->options_;
  if (!o.replicas.empty()) {
    set->addresses_ = o.replicas;
  } else if (o.resolve) {
    if (!SplitHostPort(o.target, &set->host_, &set->port_)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pipeline affinity needs a target of the form host:port, not \"",
          o.target, "\""));
    }
    set->name_is_ip_ = IsIpLiteral(set->host_);
    set->MaybeResolve();
  } else {
    set->addresses_.push_back(o.target);
  }
  return set;
}

ReplicaSet::ReplicaSet(ReplicaSetOptions options)
    : options_(std::move(options)) {}

absl::Time ReplicaSet::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

void ReplicaSet::MaybeResolve() {
  if (!options_.replicas.empty() || !options_.resolve) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (Now() - resolved_at_ < options_.re_resolve_interval) return;
    resolved_at_ = Now();
  }
  std::vector<std::string> addresses = options_.resolver
                                           ? options_.resolver(host_, port_)
                                           : ResolveAddresses(host_, port_);
  std::lock_guard<std::mutex> lock(mu_);
  if (addresses.empty()) {
    log::Warn("client: cannot resolve the service's replicas",
              {Field("target", options_.target)});
    // Nothing known yet: let gRPC resolve (and report) the target itself.
    // Otherwise the last set stays.
    if (addresses_.empty()) addresses_.push_back(options_.target);
    return;
  }
  if (addresses.size() != addresses_.size()) {
    log::Info("client: replicas resolved",
              {Field("target", options_.target),
               Field("replicas", static_cast<int64_t>(addresses.size()))});
  }
  addresses_ = std::move(addresses);
}

std::vector<std::string> ReplicaSet::Ranked(
    absl::string_view key, const std::vector<std::string>& tried) {
  MaybeResolve();
  const absl::Time now = Now();
  struct Entry {
    bool tried, unavailable;
    uint64_t score;
    std::string address;
  };
  std::vector<Entry> ranked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& address : addresses_) {
      auto it = unavailable_until_.find(address);
      ranked.push_back(
          {std::find(tried.begin(), tried.end(), address) != tried.end(),
           it != unavailable_until_.end() && it->second > now,
           RendezvousScore(key, address), address});
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const Entry& a, const Entry& b) {
    if (a.tried != b.tried) return !a.tried;
    if (a.unavailable != b.unavailable) return !a.unavailable;
    if (a.score != b.score) return a.score > b.score;
    return a.address < b.address;
  });
  std::vector<std::string> out;
  for (auto& e : ranked) out.push_back(std::move(e.address));
  return out;
}

void ReplicaSet::MarkUnavailable(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (addresses_.size() < 2) return;  // nowhere else to go
  unavailable_until_[address] = Now() + options_.cooldown;
}

std::string ReplicaSet::TlsNameOf(const std::string& address) const {
  if (!options_.resolve || !options_.replicas.empty() || name_is_ip_ ||
      address == options_.target) {
    return "";
  }
  return host_;
}

}  // namespace polysync::client
