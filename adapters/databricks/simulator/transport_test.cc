// Real transports: HTTPS with a CA generated here by Debian's openssl (the
// right CA is trusted, a wrong one refused), faults over TLS, and HTTP/2
// through nghttpx in front of the simulator.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "gtest/gtest.h"

extern char** environ;

namespace polysync::databricks::sim {
namespace {

using testing::ClientOptions;
using testing::HttpResult;
using testing::TestClient;

std::string TmpDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir ? dir : "/tmp";
}

// Makes ca.pem (+ key), a server certificate for 127.0.0.1/localhost signed
// by it, and an unrelated other_ca.pem.
void GenerateCertificates(const std::string& dir) {
  const std::string ec =
      "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  std::string script =
      "set -e; cd '" + dir +
      "'; "
      "openssl req -x509 " +
      ec +
      " -keyout ca.key -out ca.pem -days 2 "
      "-subj '/CN=Simulator Test CA' "
      "-addext basicConstraints=critical,CA:TRUE "
      "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null; "
      "openssl req -x509 " +
      ec +
      " -keyout other_ca.key -out other_ca.pem "
      "-days 2 -subj '/CN=Other CA' 2>/dev/null; "
      "openssl req " +
      ec +
      " -keyout server.key -out server.csr "
      "-subj '/CN=localhost' 2>/dev/null; "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
      "basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf; "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null";
  ASSERT_EQ(std::system(script.c_str()), 0) << script;
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { GenerateCertificates(TmpDir()); }

  void SetUp() override {
    SimulatorOptions options;
    options.clock = std::make_shared<ManualClock>();
    options.tls_cert_file = TmpDir() + "/server.pem";
    options.tls_key_file = TmpDir() + "/server.key";
    auto sim = Simulator::Start(std::move(options));
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
  }

  std::unique_ptr<TestClient> Client(const std::string& ca) {
    ClientOptions options;
    options.ca_file = TmpDir() + "/" + ca;
    return std::make_unique<TestClient>(sim_->base_url(), sim_->access_token(),
                                        options);
  }

  std::unique_ptr<Simulator> sim_;
};

TEST_F(TlsTest, TrustedCaSucceeds) {
  EXPECT_EQ(sim_->base_url().rfind("https://127.0.0.1:", 0), 0u);
  auto client = Client("ca.pem");
  for (int i = 0; i < 3; ++i) {  // kept alive across requests
    HttpResult r = client->Get("/api/2.0/pipelines");
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["statuses"].size(), 12u);
  }
  // The curl command line agrees.
  std::string cmd = "curl -sf --cacert '" + TmpDir() +
                    "/ca.pem' -H 'Authorization: Bearer " +
                    sim_->access_token() + "' -o /dev/null " +
                    sim_->base_url() + "/api/2.0/pipelines";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(TlsTest, WrongCaIsRefused) {
  HttpResult r = Client("other_ca.pem")->Get("/api/2.0/pipelines");
  EXPECT_EQ(r.failure, http::TransportFailure::kTls) << r.error;
  EXPECT_EQ(r.status, 0);
  // The curl command line refuses it too (exit code 60: peer verification).
  std::string cmd = "curl -s --cacert '" + TmpDir() +
                    "/other_ca.pem' -o /dev/null " + sim_->base_url() +
                    "/api/2.0/pipelines";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 60);
  // The server survives the failed handshakes.
  EXPECT_EQ(Client("ca.pem")->Get("/api/2.0/pipelines").status, 200);
}

TEST_F(TlsTest, FaultsHappenInsideTls) {
  FaultRule reset;
  reset.endpoint = "pipelines.list";
  reset.kind = FaultKind::kReset;
  sim_->InjectFault(reset);
  HttpResult r = Client("ca.pem")->Get("/api/2.0/pipelines");
  EXPECT_FALSE(r.ok());

  FaultRule truncated;
  truncated.endpoint = "pipelines.list";
  truncated.kind = FaultKind::kTruncatedJson;
  sim_->InjectFault(truncated);
  r = Client("ca.pem")->Get("/api/2.0/pipelines");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.json().is_discarded());
}

TEST(TlsOptionsTest, MissingCertificateIsAnError) {
  SimulatorOptions options;
  options.tls_cert_file = "/nonexistent/server.pem";
  options.tls_key_file = "/nonexistent/server.key";
  auto sim = Simulator::Start(options);
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kInvalidArgument);
  options.tls_key_file = "";
  EXPECT_FALSE(Simulator::Start(options).ok());
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Debian installs it in /usr/sbin, which a test's PATH may lack.
std::string NghttpxPath() {
  for (const char* p : {"/usr/sbin/nghttpx", "/usr/bin/nghttpx"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

bool HaveNghttpx() { return !NghttpxPath().empty(); }

// Runs nghttpx with `args` until destroyed; ready() once it accepts.
class Nghttpx {
 public:
  Nghttpx(int port, std::vector<std::string> args) : port_(port) {
    args.insert(args.begin(), "nghttpx");
    args.push_back("--conf=/dev/null");
    args.push_back("--workers=1");
    args.push_back("--errorlog-file=/dev/null");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string path = NghttpxPath();
    if (posix_spawn(&pid_, path.c_str(), nullptr, nullptr, argv.data(),
                    environ) != 0) {
      pid_ = 0;
      return;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!CanConnect(port) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Nghttpx() {
    if (pid_ == 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  bool ready() const { return pid_ != 0 && CanConnect(port_); }

 private:
  int port_;
  pid_t pid_ = 0;
};

TEST(Http2Test, ThroughNghttpx) {
  ASSERT_TRUE(HaveNghttpx()) << "nghttpx missing: run scripts/setup.sh";
  SimulatorOptions options;
  options.clock = std::make_shared<ManualClock>();
  auto sim = Simulator::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const int port = FreePort();
  Nghttpx proxy(port, {"-f127.0.0.1," + std::to_string(port) + ";no-tls",
                       "-b127.0.0.1," + std::to_string((*sim)->port())});
  ASSERT_TRUE(proxy.ready());
  ClientOptions h2;
  h2.http2_prior_knowledge = true;
  TestClient client("http://127.0.0.1:" + std::to_string(port),
                    (*sim)->access_token(), h2);
  HttpResult r = client.Get("/api/2.0/pipelines?max_results=5");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.http_version, 2);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["statuses"].size(), 5u);
  TestClient anonymous("http://127.0.0.1:" + std::to_string(port), "", h2);
  HttpResult denied = anonymous.Get("/api/2.0/pipelines");
  EXPECT_EQ(denied.status, 401) << denied.error;
  EXPECT_EQ((*sim)->RequestCount("pipelines.list"), 2);
}

TEST_F(TlsTest, Http2OverTlsThroughNghttpx) {
  ASSERT_TRUE(HaveNghttpx()) << "nghttpx missing: run scripts/setup.sh";
  // nghttpx terminates TLS (our test certificate) and speaks TLS to the
  // simulator too, trusting the test CA.
  const int port = FreePort();
  Nghttpx proxy(port, {"-f127.0.0.1," + std::to_string(port),
                       "-b127.0.0.1," + std::to_string(sim_->port()) +
                           ";/;tls;sni=localhost",
                       "--cacert=" + TmpDir() + "/ca.pem",
                       TmpDir() + "/server.key", TmpDir() + "/server.pem"});
  ASSERT_TRUE(proxy.ready());
  ClientOptions h2;
  h2.ca_file = TmpDir() + "/ca.pem";
  TestClient client("https://127.0.0.1:" + std::to_string(port),
                    sim_->access_token(), h2);
  HttpResult r = client.Get("/api/2.0/pipelines?max_results=3");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.http_version, 2);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["statuses"].size(), 3u);
}

}  // namespace
}  // namespace polysync::databricks::sim
