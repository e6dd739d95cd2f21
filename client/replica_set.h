// The replica set of the client library (pipelines_client.h): which server
// addresses there are and in which order a call for a key (a pipeline id)
// tries them.
//
// Why its own class: the choice is the contract between client processes
// (every process must send a pipeline to the same replica, so idempotency
// keys and the service's shared polls hold across the fleet), and it is
// pure enough to test without servers.
//
//   ReplicaSetOptions o;
//   o.replicas = {"10.0.0.1:50051", "10.0.0.2:50051"};
//   auto set = ReplicaSet::Create(o);
//   std::vector<std::string> order = (*set)->Ranked(pipeline_id, {});
//   (*set)->MarkUnavailable(order[0]);  // skipped for o.cooldown
//
// The replica of a key is chosen by rendezvous (highest random weight)
// hashing of the key over the addresses, with a stable hash: adding or
// removing a replica only moves the keys of that replica. A replica marked
// unavailable goes behind the others for `cooldown`. Thread-safe.
#ifndef POLYSYNC_CLIENT_REPLICA_SET_H_
#define POLYSYNC_CLIENT_REPLICA_SET_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace polysync::client {

// Returns "host:port" addresses of `host`; empty means "cannot resolve now".
using ReplicaResolver = std::function<std::vector<std::string>(
    const std::string& host, const std::string& port)>;

struct ReplicaSetOptions {
  // An explicit address list ("host:port", used as given). Otherwise, with
  // `resolve`, `target` ("host:port", no scheme) is resolved into one
  // address per replica, again every `re_resolve_interval`; otherwise
  // `target` is the only replica.
  std::vector<std::string> replicas;
  std::string target;
  bool resolve = false;
  // Replaces getaddrinfo (ResolveAddresses).
  ReplicaResolver resolver;
  absl::Duration re_resolve_interval = absl::Seconds(30);
  // How long a replica marked unavailable goes behind the others.
  absl::Duration cooldown = absl::Seconds(10);
  // The time (tests); default absl::Now.
  std::function<absl::Time()> clock;
};

class ReplicaSet {
 public:
  // INVALID_ARGUMENT when `resolve` is set and `target` is not host:port.
  static absl::StatusOr<std::unique_ptr<ReplicaSet>> Create(
      ReplicaSetOptions options);

  // Every address, best first for `key`: not in `tried` before in it, then
  // not cooling down before cooling down, then by rendezvous score (ties:
  // by address). Re-resolves first when resolving and the interval passed.
  std::vector<std::string> Ranked(absl::string_view key,
                                  const std::vector<std::string>& tried);

  // `address` goes behind the others for the cooldown; ignored when the
  // set has fewer than two replicas (there is nowhere else to go).
  void MarkUnavailable(const std::string& address);

  // The name a TLS connection to `address` must verify: the resolved host
  // for an address resolution produced from a name, "" otherwise (the
  // address itself).
  std::string TlsNameOf(const std::string& address) const;

 private:
  explicit ReplicaSet(ReplicaSetOptions options);
  absl::Time Now() const;
  void MaybeResolve();

  const ReplicaSetOptions options_;
  std::string host_, port_;  // resolving: of `target`
  bool name_is_ip_ = false;

  mutable std::mutex mu_;
  std::vector<std::string> addresses_;                   // guarded by mu_
  std::map<std::string, absl::Time> unavailable_until_;  // guarded by mu_
  absl::Time resolved_at_ = absl::InfinitePast();        // guarded by mu_
};

// Rendezvous score of `address` for `key`: FNV-1a then a 64-bit finalizer,
// so that every client process agrees. The highest score wins.
uint64_t RendezvousScore(absl::string_view key, absl::string_view address);

// "host:port" or "[v6]:port" (no scheme) into host (without brackets) and
// port; false for anything else.
bool SplitHostPort(const std::string& target, std::string* host,
                   std::string* port);

// Whether `host` is an IPv4 or IPv6 literal.
bool IsIpLiteral(const std::string& host);

// Every address of `host` with getaddrinfo (sorted, unique) as "ip:port" /
// "[ip]:port"; empty when it cannot be resolved.
std::vector<std::string> ResolveAddresses(const std::string& host,
                                          const std::string& port);

// The pipeline id of a run id "{pipeline_id}:{update_id}" (the key of a
// run's calls).
std::string PipelineOfRun(const std::string& run_id);

}  // namespace polysync::client

#endif  // POLYSYNC_CLIENT_REPLICA_SET_H_
