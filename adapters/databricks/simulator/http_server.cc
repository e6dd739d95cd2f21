#include "adapters/databricks/simulator/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace polysync::databricks::sim {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using boost::system::error_code;

constexpr size_t kChunk = 64 * 1024;

const std::string& Filler() {
  static const auto* filler = new std::string(kChunk, 'x');
  return *filler;
}

std::string Head(const HttpResponse& r, uint64_t content_length,
                 bool keep_alive) {
  beast::string_view reason =
      http::obsolete_reason(static_cast<http::status>(r.status));
  std::string head = absl::StrCat(
      "HTTP/1.1 ", r.status, " ",
      absl::string_view(reason.data(), reason.size()),
      "\r\nServer: databricks-simulator\r\nContent-Type: ", r.content_type,
      "\r\nContent-Length: ", content_length, "\r\n");
  for (const auto& [k, v] : r.headers)
    absl::StrAppend(&head, k, ": ", v, "\r\n");
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

// Requests between "fully read" and "answer starts" (the injected latency
// included), and the most there ever were at once.
struct InFlight {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  void Enter() {
    const int n = now.fetch_add(1) + 1;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void Leave() { now.fetch_sub(1); }
};

// One connection. `Stream` is beast::tcp_stream or
// beast::ssl_stream<beast::tcp_stream>. Operations are strictly sequential
// (read, handle, maybe wait, write), so no two run at once on the stream.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(const HttpHandler& handler, uint64_t body_limit, InFlight& in_flight,
          Args&&... args)
      : stream_(std::forward<Args>(args)...),
        timer_(stream_.get_executor()),
        handler_(handler),
        body_limit_(body_limit),
        in_flight_(in_flight) {}

  void Run() {
    if constexpr (kTls) {
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](const error_code& ec) {
            if (ec) {
              polysync::log::Debug(
                  "tls handshake failed",
                  {polysync::log::Field("error", ec.message())});
              return self->Drop();
            }
            self->DoRead();
          });
    } else {
      DoRead();
    }
  }

 private:
  static constexpr bool kTls = !std::is_same<Stream, beast::tcp_stream>::value;

  tcp::socket& Socket() { return beast::get_lowest_layer(stream_).socket(); }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](const error_code& ec, size_t) {
          self->OnHeader(ec);
        });
  }

  void OnHeader(const error_code& ec) {
    if (ec) return Drop();
    auto& req = parser_->get();
    auto expect = req[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      out_ = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(
          stream_, net::buffer(out_),
          [self = this->shared_from_this()](const error_code& e, size_t) {
            if (e) return self->Drop();
            self->ReadBody();
          });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](
                         const error_code& ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(const error_code& ec) {
    if (ec) return Drop();
    auto& msg = parser_->get();
    HttpRequest req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) {
      req.headers.emplace_back(std::string(f.name_string()),
                               std::string(f.value()));
    }
    req.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    in_flight_.Enter();
    try {
      response_ = handler_(req);
    } catch (const std::exception& e) {
      // Nothing may escape into Asio's run loop.
      polysync::log::Error("simulator handler threw",
                           {polysync::log::Field("error", e.what())});
      response_ = HttpResponse{};
      response_.status = 500;
      response_.body =
          R"({"error_code":"INTERNAL_ERROR","message":"simulator bug"})";
    }
    if (response_.close) keep_alive_ = false;
    if (response_.delay > absl::ZeroDuration()) {
      timer_.expires_after(ToChrono(response_.delay));
      timer_.async_wait([self = this->shared_from_this()](const error_code& e) {
        if (e) return;
        self->Respond();
      });
      return;
    }
    Respond();
  }

  void Respond() {
    in_flight_.Leave();
    switch (response_.action) {
      case WireAction::kNormal:
        out_ = Head(response_, response_.body.size(), keep_alive_);
        out_ += response_.body;
        return Write(keep_alive_);
      case WireAction::kReset:
        return Reset();
      case WireAction::kStallThenDrop:
        timer_.expires_after(ToChrono(response_.stall));
        timer_.async_wait(
            [self = this->shared_from_this()](const error_code& e) {
              if (e) return;
              self->Drop();
            });
        return;
      case WireAction::kTruncate:
        out_ = Head(response_, response_.body.size(), false);
        out_ += response_.body.substr(0, response_.body.size() / 2);
        return Write(false, /*abrupt=*/true);
      case WireAction::kDrip:
        out_ = Head(response_, response_.body.size(), keep_alive_);
        drip_offset_ = 0;
        return WriteDrip();
      case WireAction::kOversized: {
        const std::string prefix =
            "{\"pipeline_id\":\"oversized\",\"padding\":\"";
        const std::string suffix = "\"}";
        uint64_t total = std::max<uint64_t>(response_.oversized_bytes,
                                            prefix.size() + suffix.size());
        response_.status = 200;
        response_.content_type = "application/json";
        response_.headers.clear();
        out_ = Head(response_, total, keep_alive_);
        out_ += prefix;
        remaining_filler_ = total - prefix.size() - suffix.size();
        suffix_ = suffix;
        return WriteOversized();
      }
    }
  }

  void Write(bool keep_alive, bool abrupt = false) {
    net::async_write(stream_, net::buffer(out_),
                     [self = this->shared_from_this(), keep_alive, abrupt](
                         const error_code& ec, size_t) {
                       if (ec) return self->Drop();
                       if (abrupt) return self->Drop();
                       if (keep_alive) return self->DoRead();
                       self->Close();
                     });
  }

  void WriteOversized() {
    if (remaining_filler_ == 0) {
      out_ += suffix_;
      return Write(keep_alive_);
    }
    size_t n =
        static_cast<size_t>(std::min<uint64_t>(remaining_filler_, kChunk));
    out_.append(Filler(), 0, n);
    remaining_filler_ -= n;
    net::async_write(
        stream_, net::buffer(out_),
        [self = this->shared_from_this()](const error_code& ec, size_t) {
          if (ec) return self->Drop();
          self->out_.clear();
          self->WriteOversized();
        });
  }

  // Sends out_ (the head first), then the body a few bytes per tick.
  void WriteDrip() {
    net::async_write(
        stream_, net::buffer(out_),
        [self = this->shared_from_this()](const error_code& ec, size_t) {
          if (ec) return self->Drop();
          const std::string& body = self->response_.body;
          if (self->drip_offset_ >= body.size()) {
            if (self->keep_alive_) return self->DoRead();
            return self->Close();
          }
          self->timer_.expires_after(ToChrono(self->response_.drip_interval));
          self->timer_.async_wait([self](const error_code& e) {
            if (e) return;
            const std::string& b = self->response_.body;
            size_t n = std::max<size_t>(1, self->response_.drip_bytes);
            self->out_ = b.substr(self->drip_offset_, n);
            self->drip_offset_ += self->out_.size();
            self->WriteDrip();
          });
        });
  }

  // Closes without a goodbye: the client sees EOF (and for TLS no
  // close_notify, i.e. a truncation).
  void Drop() {
    error_code ec;
    timer_.cancel();
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Socket().close(ec);
  }

  void Reset() {
    error_code ec;
    Socket().set_option(net::socket_base::linger(true, 0), ec);
    Socket().close(ec);
  }

  // A graceful close after "Connection: close".
  void Close() {
    if constexpr (kTls) {
      stream_.async_shutdown([self = this->shared_from_this()](
                                 const error_code&) { self->Drop(); });
    } else {
      error_code ec;
      Socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  net::steady_timer timer_;
  const HttpHandler& handler_;
  const uint64_t body_limit_;
  InFlight& in_flight_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpResponse response_;
  bool keep_alive_ = true;
  std::string out_;
  uint64_t remaining_filler_ = 0;
  size_t drip_offset_ = 0;
  std::string suffix_;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(std::max(1, options_.io_threads)),
        acceptor_(ioc_),
        accept_backoff_(ioc_),
        ssl_ctx_(ssl::context::tls_server) {}

  absl::Status Init() {
    error_code ec;
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
        return absl::InvalidArgumentError(
            "TLS needs both a certificate and a key file");
      }
      ssl_ctx_.set_options(ssl::context::default_workarounds |
                               ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                               ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1,
                           ec);
      ssl_ctx_.use_certificate_chain_file(options_.tls_cert_file, ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load certificate ", options_.tls_cert_file,
                         ": ", ec.message()));
      }
      ssl_ctx_.use_private_key_file(options_.tls_key_file, ssl::context::pem,
                                    ec);
      if (ec) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load private key ", options_.tls_key_file,
                         ": ", ec.message()));
      }
      tls_ = true;
    }
    auto address = net::ip::make_address(options_.host, ec);
    if (ec) {
      return absl::InvalidArgumentError("bad host " + options_.host + ": " +
                                        ec.message());
    }
    tcp::endpoint endpoint(address, static_cast<uint16_t>(options_.port));
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options_.host, ":", options_.port,
                       ": ", ec.message()));
    }
    port_ = acceptor_.local_endpoint(ec).port();
    Accept();
    for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    return absl::OkStatus();
  }

  void Shutdown() {
    if (stopped_) return;
    stopped_ = true;
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    error_code ec;
    acceptor_.close(ec);
  }

  int port() const { return port_; }
  bool tls() const { return tls_; }
  int PeakInFlight() const { return in_flight_.peak.load(); }
  void ResetPeakInFlight() { in_flight_.peak.store(in_flight_.now.load()); }

 private:
  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), [this](const error_code& ec,
                                                          tcp::socket s) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
          return;
        }
        polysync::log::Warn("accept failed",
                            {polysync::log::Field("error", ec.message())});
        // E.g. out of file descriptors: back off instead of spinning.
        accept_backoff_.expires_after(std::chrono::milliseconds(50));
        accept_backoff_.async_wait([this](const error_code& e) {
          if (!e) Accept();
        });
        return;
      } else {
        error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        if (tls_) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
              handler_, options_.body_limit, in_flight_, std::move(s), ssl_ctx_)
              ->Run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(
              handler_, options_.body_limit, in_flight_, std::move(s))
              ->Run();
        }
      }
      Accept();
    });
  }

  const HttpServerOptions options_;
  const HttpHandler handler_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_backoff_;
  ssl::context ssl_ctx_;
  bool tls_ = false;
  int port_ = 0;
  bool stopped_ = false;
  InFlight in_flight_;
  std::vector<std::thread> threads_;
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, HttpHandler handler) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  if (auto s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

int HttpServer::port() const { return impl_->port(); }
bool HttpServer::tls() const { return impl_->tls(); }
int HttpServer::PeakInFlight() const { return impl_->PeakInFlight(); }
void HttpServer::ResetPeakInFlight() { impl_->ResetPeakInFlight(); }
void HttpServer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

}  // namespace polysync::databricks::sim
