#include "api/server.hpp"

#include <grp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <optional>
#include <set>

#include "engine/base/asio.hpp"
#include "engine/base/log.hpp"
#include "engine/base/util.hpp"

namespace ctl::api {

namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using local = asio::local::stream_protocol;
using UnixStream = beast::basic_stream<local, asio::any_io_executor, beast::unlimited_rate_policy>;
using TcpStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

constexpr auto kHeaderTimeout = 60s;
constexpr size_t kHeaderLimit = 64 * 1024;
constexpr size_t kStreamQueueBytes = 1 << 20;

template <class Stream>
constexpr bool is_tls_v = std::is_same_v<Stream, TlsStream>;

template <class Stream>
auto& lowest(Stream& s) {
    return beast::get_lowest_layer(s);
}

// Wakes a coroutine waiting on `timer` from any thread (the ByteQueue notify hook).
std::function<void()> make_waker(const std::shared_ptr<asio::steady_timer>& timer) {
    return [timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); };
}

}  // namespace

struct Server::Impl {
    const Router& router;
    ServerOptions options;
    asio::io_context ioc{1};
    asio::thread_pool pool;
    std::optional<asio::ssl::context> tls_ctx;
    std::vector<std::unique_ptr<local::acceptor>> unix_acceptors;
    std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> tcp_acceptors;
    std::vector<std::string> socket_paths;  // unix sockets we created, removed at shutdown
    std::atomic<int> active_sessions{0};
    std::atomic<uint64_t> next_request_id{1};
    std::atomic<bool> stopping{false};
    std::mutex streams_mutex;
    std::set<std::shared_ptr<ByteQueue>> live_streams;  // ended at shutdown

    Impl(const Router& r, ServerOptions o) : router(r), options(std::move(o)), pool(options.worker_threads) {}

    void add_common_headers(http::fields& f) {
        f.set(http::field::server, "Docker/" + options.engine_version + " (linux)");
        f.set("API-Version", std::string(kApiVersion));
        f.set("Docker-Experimental", "false");
        f.set("OSType", "linux");
    }

    void track(const std::shared_ptr<ByteQueue>& q, bool add) {
        std::lock_guard lock(streams_mutex);
        if (add) live_streams.insert(q);
        else live_streams.erase(q);
    }

    // Runs a handler on the pool and resumes on the session's io thread. Exceptions become 500s
    // here: nothing may escape into io_context::run.
    asio::awaitable<Response> call_handler(const Handler& handler, Request& req) {
        auto work = [&handler, &req]() -> asio::awaitable<Response> {
            try {
                co_return handler(req);
            } catch (const std::exception& e) {
                log::error("request {} {} {}: unhandled exception: {}", req.request_id, req.method, req.path, e.what());
                co_return Response::error(make_error(Errc::Internal, std::string("internal error: ") + e.what()));
            } catch (...) {
                co_return Response::error(make_error(Errc::Internal, "internal error"));
            }
        };
        co_return co_await asio::co_spawn(pool, work(), asio::use_awaitable);
    }

    template <class Stream>
    asio::awaitable<bool> write_response(Stream& stream, const Request& req, Response& resp, bool keep_alive) {
        bool head = req.method == "HEAD";
        http::response<http::string_body> res{static_cast<http::status>(resp.status), 11};
        add_common_headers(res.base());
        bool no_body = resp.status == 204 || resp.status == 304 || (resp.status >= 100 && resp.status < 200);
        if (!resp.content_type.empty() && !no_body) res.set(http::field::content_type, resp.content_type);
        for (auto& [k, v] : resp.headers) res.set(k, v);
        res.keep_alive(keep_alive);
        if (no_body) {
            auto [ec, n] = co_await http::async_write(stream, res, kTuple);
            co_return !ec;
        }
        if (head) {
            res.content_length(resp.body.size());
            http::response_serializer<http::string_body> sr{res};
            auto [ec, n] = co_await http::async_write_header(stream, sr, kTuple);
            co_return !ec;
        }
        res.body() = std::move(resp.body);
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(stream, res, kTuple);
        co_return !ec;
    }

    template <class Stream>
    asio::awaitable<void> write_error_and_close(Stream& stream, int status, const std::string& message) {
        Request dummy;
        dummy.method = "GET";
        Response resp = Response::json(status, error_body(message));
        co_await write_response(stream, dummy, resp, false);
    }

    // Chunked streaming: headers now, then whatever the producer queues, flushed as it comes.
    template <class Stream>
    asio::awaitable<void> write_stream(Stream& stream, Response& resp, bool head) {
        http::response<http::empty_body> res{static_cast<http::status>(resp.status), 11};
        add_common_headers(res.base());
        if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
        for (auto& [k, v] : resp.headers) res.set(k, v);
        res.chunked(true);
        res.keep_alive(false);
        http::response_serializer<http::empty_body> sr{res};
        lowest(stream).expires_never();
        auto [hec, hn] = co_await http::async_write_header(stream, sr, kTuple);
        if (hec || head) co_return;  // HEAD: the headers are the whole answer; the producer never runs

        auto queue = std::make_shared<ByteQueue>(kStreamQueueBytes);
        auto timer = std::make_shared<asio::steady_timer>(stream.get_executor());
        queue->set_notify(make_waker(timer));
        track(queue, true);
        asio::post(pool, [producer = std::move(resp.stream), queue] {
            try {
                producer(queue);
            } catch (const std::exception& e) {
                log::error("stream producer failed: {}", e.what());
                queue->close();
            }
        });

        auto pump = [&]() -> asio::awaitable<void> {
            std::string data;
            for (;;) {
                auto state = queue->try_pop_all(data);
                if (state == ByteQueue::PopState::Data) {
                    auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(data)), kTuple);
                    if (ec) {
                        queue->cancel();
                        break;
                    }
                    continue;
                }
                if (state == ByteQueue::PopState::Closed) {
                    if (!queue->cancelled()) co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
                    break;
                }
                timer->expires_at(asio::steady_timer::time_point::max());
                co_await timer->async_wait(kTuple);
            }
            // Ends the watcher's pending read.
            beast::error_code ignored;
            lowest(stream).socket().cancel(ignored);
        };
        // A client that hangs up ends the stream: its producer sees a cancelled queue.
        auto watch = [&]() -> asio::awaitable<void> {
            char scratch[512];
            for (;;) {
                auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
                if (ec) {
                    if (ec != asio::error::operation_aborted) queue->cancel();
                    break;
                }
            }
        };
        co_await (pump() && watch());
        queue->cancel();  // producer stops if it is still running
        queue->set_notify(nullptr);
        track(queue, false);
    }

    // Reads a streamed request body into the queue a handler consumes, honouring back-pressure.
    template <class Stream>
    asio::awaitable<bool> pump_body(Stream& stream, beast::flat_buffer& buffer,
                                    http::request_parser<http::buffer_body>& parser,
                                    std::shared_ptr<ByteQueue> queue, std::shared_ptr<asio::steady_timer> timer) {
        std::vector<char> chunk(256 * 1024);
        bool complete = parser.is_done();
        while (!parser.is_done()) {
            parser.get().body().data = chunk.data();
            parser.get().body().size = chunk.size();
            auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, kTuple);
            if (ec && ec != http::error::need_buffer) break;
            size_t got = chunk.size() - parser.get().body().size;
            if (got > 0) {
                // Wait for room without blocking the io thread.
                while (!queue->cancelled()) {
                    std::string tmp;
                    if (queue->push_nowait_if_room(std::string(chunk.data(), got))) break;
                    timer->expires_at(asio::steady_timer::time_point::max());
                    co_await timer->async_wait(kTuple);
                }
                if (queue->cancelled()) break;
            }
            complete = parser.is_done();
        }
        queue->close();
        co_return complete;
    }

    template <class Stream>
    asio::awaitable<void> hijack(Stream& stream, beast::flat_buffer& buffer, const Request& req, Response& resp) {
        if constexpr (is_tls_v<Stream>) {
            co_await write_error_and_close(stream, 501, "attach and exec over TLS connections are not supported yet");
        } else {
            bool upgrade = to_lower(req.header("Upgrade")).find("tcp") != std::string::npos;
            std::string head = upgrade ? "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                                         "Connection: Upgrade\r\nUpgrade: tcp\r\n"
                                       : "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n";
            head += "Server: Docker/" + options.engine_version + " (linux)\r\nAPI-Version: " + std::string(kApiVersion) +
                    "\r\nDocker-Experimental: false\r\nOSType: linux\r\n\r\n";
            lowest(stream).expires_never();
            auto [ec, n] = co_await asio::async_write(stream, asio::buffer(head), kTuple);
            if (ec) co_return;
            auto data = buffer.data();
            std::string pre(static_cast<const char*>(data.data()), data.size());
            buffer.consume(buffer.size());
            beast::error_code rec;
            int fd = lowest(stream).release_socket().release(rec);
            if (rec || fd < 0) co_return;
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // asio left it non-blocking; handlers use blocking I/O
            asio::post(pool, [fn = std::move(resp.hijack), fd, pre = std::move(pre)]() mutable {
                try {
                    fn(HijackedConnection{fd, std::move(pre)});
                } catch (const std::exception& e) {
                    log::error("hijacked connection handler failed: {}", e.what());
                }
            });
        }
    }

    template <class Stream>
    asio::awaitable<void> session(Stream stream) {
        ++active_sessions;
        struct Guard {
            std::atomic<int>& n;
            ~Guard() { --n; }
        } guard{active_sessions};

        if constexpr (is_tls_v<Stream>) {
            lowest(stream).expires_after(kHeaderTimeout);
            auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kTuple);
            if (ec) {
                log::debug("TLS handshake failed: {}", ec.message());
                co_return;
            }
        }

        beast::flat_buffer buffer;
        while (!stopping) {
            lowest(stream).expires_after(kHeaderTimeout);
            http::request_parser<http::empty_body> header_parser;
            header_parser.header_limit(kHeaderLimit);
            header_parser.body_limit(boost::none);  // per-route limits are applied after routing
            auto [ec, n] = co_await http::async_read_header(stream, buffer, header_parser, kTuple);
            if (ec) {
                if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::operation_aborted ||
                    ec == beast::error::timeout || ec == asio::error::connection_reset ||
                    ec == asio::ssl::error::stream_truncated) {
                    break;
                }
                if (ec == http::error::header_limit) {
                    co_await write_error_and_close(stream, 431, "request header fields too large");
                } else {
                    co_await write_error_and_close(stream, 400, "malformed HTTP request: " + ec.message());
                }
                break;
            }
            auto& hreq = header_parser.get();
            Request req;
            req.request_id = std::to_string(next_request_id++);
            req.method = std::string(hreq.method_string());
            for (auto& field : hreq) req.headers[std::string(field.name_string())] = std::string(field.value());
            std::string target(hreq.target());
            auto qpos = target.find('?');
            std::string raw_path = target.substr(0, qpos);
            if (qpos != std::string::npos) req.query = parse_query_string(std::string_view(target).substr(qpos + 1));
            bool keep_alive = hreq.keep_alive();
            // Only "chunked" is a transfer coding we decode (as Go's server); anything else would
            // leave us unable to find where the body ends.
            if (auto te = hreq[http::field::transfer_encoding]; !te.empty() && !header_parser.chunked()) {
                co_await write_error_and_close(stream, 501, "unsupported transfer encoding: " + std::string(te));
                break;
            }
            bool has_body = header_parser.chunked() ||
                            (header_parser.content_length() && *header_parser.content_length() > 0);

            Response resp;
            bool ready = false;  // resp holds an answer that needs no handler
            const Handler* handler = nullptr;
            const RouteOptions* route_options = nullptr;
            auto versioned = strip_api_version(url_decode(raw_path, false));
            if (!versioned) {
                resp = Response::error(versioned.error());
                ready = true;
            } else {
                req.api_version = versioned->first;
                req.path = versioned->second;
                auto match = router.match(req.method, req.path);
                if (!match.handler) {
                    resp = match.path_known ? Response::json(405, error_body("method not allowed"))
                                            : Response::json(404, error_body("page not found"));
                    ready = true;
                } else {
                    handler = match.handler;
                    route_options = match.options;
                    req.params = std::move(match.params);
                }
            }
            if (!ready && has_body && !route_options->stream_body && header_parser.content_length() &&
                *header_parser.content_length() > route_options->body_limit) {
                resp = Response::json(413, error_body("request body too large"));
                ready = true;
            }
            if (ready) {
                // Unread body bytes would be taken for the next request: close instead.
                if (has_body) keep_alive = false;
                if (!co_await write_response(stream, req, resp, keep_alive) || !keep_alive) break;
                continue;
            }
            if (has_body && to_lower(req.header("Expect")) == "100-continue") {
                static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
                co_await asio::async_write(stream, asio::buffer(kContinue), kTuple);
            }

            if (!route_options->stream_body) {
                http::request_parser<http::string_body> body_parser{std::move(header_parser)};
                body_parser.body_limit(route_options->body_limit);
                auto [bec, bn] = co_await http::async_read(stream, buffer, body_parser, kTuple);
                if (bec == http::error::body_limit) {
                    co_await write_error_and_close(stream, 413, "request body too large");
                    break;
                }
                if (bec) {
                    // A client that went away or timed out gets nothing; a malformed body gets a reason.
                    if (bec != http::error::end_of_stream && bec != asio::error::eof &&
                        bec != beast::error::timeout && bec != asio::error::connection_reset) {
                        co_await write_error_and_close(stream, 400, "malformed request body: " + bec.message());
                    }
                    break;
                }
                req.body = std::move(body_parser.get().body());
                lowest(stream).expires_never();
                resp = co_await call_handler(*handler, req);
            } else {
                http::request_parser<http::buffer_body> body_parser{std::move(header_parser)};
                body_parser.body_limit(boost::none);
                auto queue = std::make_shared<ByteQueue>(4u << 20);
                auto timer = std::make_shared<asio::steady_timer>(stream.get_executor());
                queue->set_notify(make_waker(timer));
                req.body_stream = queue;
                lowest(stream).expires_never();
                auto run = [&]() -> asio::awaitable<Response> {
                    Response r = co_await call_handler(*handler, req);
                    queue->cancel();  // a handler that stopped reading: stop pumping
                    co_return r;
                };
                auto [complete, r] = co_await (pump_body(stream, buffer, body_parser, queue, timer) && run());
                queue->set_notify(nullptr);
                resp = std::move(r);
                if (!complete) keep_alive = false;
            }

            log::debug("{} {} {} -> {}", req.request_id, req.method, target, resp.status);
            if (resp.hijack) {
                co_await hijack(stream, buffer, req, resp);
                co_return;
            }
            if (resp.stream) {
                co_await write_stream(stream, resp, req.method == "HEAD");
                break;
            }
            if (!co_await write_response(stream, req, resp, keep_alive) || !keep_alive) break;
        }
        if constexpr (is_tls_v<Stream>) {
            lowest(stream).expires_after(2s);
            co_await stream.async_shutdown(kTuple);
        } else {
            // Lingering close: stop sending, then drain what the client still sends for a moment.
            // Closing with unread input would reset the connection and the client could lose the
            // error we just wrote (e.g. a 413 while it is still uploading).
            beast::error_code ignored;
            lowest(stream).socket().shutdown(asio::socket_base::shutdown_send, ignored);
            lowest(stream).expires_after(1s);
            std::vector<char> scratch(64 * 1024);
            size_t drained = 0;
            while (drained < (8u << 20)) {
                auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
                if (ec) break;
                drained += n;
            }
        }
    }

    asio::awaitable<void> accept_unix(local::acceptor& acceptor) {
        while (!stopping) {
            auto [ec, socket] = co_await acceptor.async_accept(kTuple);
            if (ec) {
                if (ec == asio::error::operation_aborted) break;
                continue;
            }
            asio::co_spawn(ioc, session(UnixStream(std::move(socket))), asio::detached);
        }
    }

    asio::awaitable<void> accept_tcp(asio::ip::tcp::acceptor& acceptor) {
        while (!stopping) {
            auto [ec, socket] = co_await acceptor.async_accept(kTuple);
            if (ec) {
                if (ec == asio::error::operation_aborted) break;
                continue;
            }
            socket.set_option(asio::ip::tcp::no_delay(true), ec);
            if (tls_ctx) {
                asio::co_spawn(ioc, session(TlsStream(TcpStream(std::move(socket)), *tls_ctx)), asio::detached);
            } else {
                asio::co_spawn(ioc, session(TcpStream(std::move(socket))), asio::detached);
            }
        }
    }

    Status listen_unix(const std::string& path) {
        if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
            return make_error(Errc::InvalidArgument, "invalid unix socket path: " + path);
        }
        auto parent = path.substr(0, path.rfind('/'));
        if (!parent.empty()) ::mkdir(parent.c_str(), 0755);
        struct stat st;
        if (::lstat(path.c_str(), &st) == 0) {
            // A socket file left by a crash: remove it unless something still answers on it.
            local::socket probe(ioc);
            beast::error_code ec;
            probe.connect(local::endpoint(path), ec);
            if (!ec) return make_error(Errc::Conflict, "another process is listening on " + path);
            ::unlink(path.c_str());
        }
        auto acceptor = std::make_unique<local::acceptor>(ioc);
        beast::error_code ec;
        acceptor->open(local(), ec);
        if (!ec) {
            mode_t old = ::umask(0117);
            acceptor->bind(local::endpoint(path), ec);
            ::umask(old);
        }
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return make_error(Errc::Unavailable, "cannot listen on unix://" + path + ": " + ec.message());
        ::chmod(path.c_str(), 0660);
        if (struct group* g = ::getgrnam(options.socket_group.c_str())) {
            if (::chown(path.c_str(), 0, g->gr_gid) != 0) log::warn("cannot chown {}: {}", path, strerror(errno));
        }
        socket_paths.push_back(path);
        unix_acceptors.push_back(std::move(acceptor));
        return ok();
    }

    Status listen_tcp(const std::string& spec) {
        auto colon = spec.rfind(':');
        if (colon == std::string::npos) return make_error(Errc::InvalidArgument, "tcp host needs a port: tcp://" + spec);
        std::string host = spec.substr(0, colon);
        std::string port = spec.substr(colon + 1);
        if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        if (host.empty()) host = "0.0.0.0";
        if (!options.tls.verify && options.tls.cert_file.empty() && !options.insecure_tcp) {
            return make_error(Errc::InvalidArgument,
                              "refusing to listen on tcp://" + spec +
                                  " without TLS: give --tlsverify --tlscacert --tlscert --tlskey "
                                  "(or --insecure-tcp to accept unauthenticated remote root access)");
        }
        if (!options.tls.cert_file.empty() && !tls_ctx) {
            try {
                tls_ctx.emplace(asio::ssl::context::tls_server);
                tls_ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                                     asio::ssl::context::no_tlsv1_1);
                tls_ctx->use_certificate_chain_file(options.tls.cert_file);
                tls_ctx->use_private_key_file(options.tls.key_file, asio::ssl::context::pem);
                if (options.tls.verify) {
                    tls_ctx->load_verify_file(options.tls.ca_file);
                    tls_ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
                }
            } catch (const std::exception& e) {
                tls_ctx.reset();
                return make_error(Errc::InvalidArgument, std::string("TLS setup failed: ") + e.what());
            }
        } else if (options.tls.cert_file.empty()) {
            log::warn("listening on tcp://{} WITHOUT TLS: anyone who can reach it controls this host as root", spec);
        }
        beast::error_code ec;
        auto address = asio::ip::make_address(host, ec);
        if (ec) return make_error(Errc::InvalidArgument, "invalid tcp address: " + host);
        int port_number = 0;
        try {
            port_number = std::stoi(port);
        } catch (...) {
            return make_error(Errc::InvalidArgument, "invalid tcp port: " + port);
        }
        auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(ioc);
        asio::ip::tcp::endpoint endpoint(address, static_cast<uint16_t>(port_number));
        acceptor->open(endpoint.protocol(), ec);
        if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor->bind(endpoint, ec);
        if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) return make_error(Errc::Unavailable, "cannot listen on tcp://" + spec + ": " + ec.message());
        tcp_acceptors.push_back(std::move(acceptor));
        return ok();
    }

    // systemd socket activation (ctld.socket): adopt LISTEN_FDS without linking libsystemd.
    Status listen_activated() {
        const char* pid = ::getenv("LISTEN_PID");
        const char* fds = ::getenv("LISTEN_FDS");
        if (!pid || !fds || std::atoi(pid) != ::getpid()) {
            return make_error(Errc::InvalidArgument, "fd:// given but ctld was not socket-activated (no LISTEN_FDS)");
        }
        int count = std::atoi(fds);
        for (int fd = 3; fd < 3 + count; ++fd) {
            auto acceptor = std::make_unique<local::acceptor>(ioc);
            beast::error_code ec;
            acceptor->assign(local(), fd, ec);
            if (ec) return make_error(Errc::Internal, "cannot adopt activated socket: " + ec.message());
            unix_acceptors.push_back(std::move(acceptor));
        }
        return ok();
    }

    void begin_shutdown() {
        if (stopping.exchange(true)) return;
        log::info("shutting down: no new connections; finishing in-flight requests");
        beast::error_code ignored;
        for (auto& a : unix_acceptors) a->close(ignored);
        for (auto& a : tcp_acceptors) a->close(ignored);
        if (options.on_shutdown) options.on_shutdown();
        {
            std::lock_guard lock(streams_mutex);
            for (auto& q : live_streams) q->close();
        }
        // Give in-flight requests a few seconds, then stop the loop.
        auto timer = std::make_shared<asio::steady_timer>(ioc);
        auto deadline = std::chrono::steady_clock::now() + 5s;
        std::shared_ptr<std::function<void()>> poll = std::make_shared<std::function<void()>>();
        *poll = [this, timer, deadline, poll] {
            if (active_sessions.load() == 0 || std::chrono::steady_clock::now() > deadline) {
                ioc.stop();
                *poll = nullptr;
                return;
            }
            timer->expires_after(50ms);
            timer->async_wait([poll](beast::error_code) {
                if (*poll) (*poll)();
            });
        };
        (*poll)();
    }
};

Server::Server(const Router& router, ServerOptions options) : impl_(std::make_unique<Impl>(router, std::move(options))) {}

Server::~Server() {
    impl_->pool.stop();
    impl_->pool.join();
    for (auto& path : impl_->socket_paths) ::unlink(path.c_str());
}

Status Server::listen() {
    if (impl_->options.hosts.empty()) impl_->options.hosts.push_back("unix:///run/ctld.sock");
    for (const auto& host : impl_->options.hosts) {
        Status st;
        if (starts_with(host, "unix://")) st = impl_->listen_unix(host.substr(7));
        else if (starts_with(host, "tcp://")) st = impl_->listen_tcp(host.substr(6));
        else if (starts_with(host, "fd://")) st = impl_->listen_activated();
        else st = make_error(Errc::InvalidArgument, "unsupported host " + host + " (use unix://, tcp:// or fd://)");
        if (!st) {
            for (auto& path : impl_->socket_paths) ::unlink(path.c_str());
            impl_->socket_paths.clear();
            impl_->unix_acceptors.clear();
            impl_->tcp_acceptors.clear();
            return st;
        }
    }
    return ok();
}

void Server::run() {
    ::signal(SIGPIPE, SIG_IGN);
    asio::signal_set signals(impl_->ioc, SIGINT, SIGTERM);
    signals.async_wait([this](beast::error_code ec, int sig) {
        if (!ec) {
            log::info("received signal {}", sig);
            impl_->begin_shutdown();
        }
    });
    for (auto& a : impl_->unix_acceptors) asio::co_spawn(impl_->ioc, impl_->accept_unix(*a), asio::detached);
    for (auto& a : impl_->tcp_acceptors) asio::co_spawn(impl_->ioc, impl_->accept_tcp(*a), asio::detached);
    impl_->ioc.run();
    for (auto& path : impl_->socket_paths) ::unlink(path.c_str());
    impl_->socket_paths.clear();
}

void Server::shutdown() {
    asio::post(impl_->ioc, [this] { impl_->begin_shutdown(); });
}

void Server::post_work(std::function<void()> fn) { asio::post(impl_->pool, std::move(fn)); }

}  // namespace ctl::api
