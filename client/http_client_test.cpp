#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "client/http_client.hpp"
#include "client/testing/fake_engine.hpp"

using namespace ctl;
using namespace ctl::client;
using ctl::client::testing::FakeEngine;
using ctl::client::testing::FakeRequest;

namespace {

std::string read_until_eof(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

std::string read_exactly(int fd, size_t want) {
    std::string out;
    char buf[4096];
    while (out.size() < want) {
        ssize_t n = ::read(fd, buf, std::min(sizeof buf, want - out.size()));
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

}  // namespace

TEST_SUITE("client.http") {
    TEST_CASE("requests go to /v1.41 with encoded queries and bodies; answers come back whole") {
        FakeEngine engine([](const FakeRequest& req, int fd) {
            if (req.method == "GET") {
                FakeEngine::reply(fd, 200, R"({"Os":"linux"})");
            } else {
                FakeEngine::reply(fd, 201, R"({"Id":"abc"})");
            }
            return true;
        });
        HttpClient http(engine.host());
        auto v = http.get_json("/version", {{"filters", R"({"a":["b c"]})"}, {"t", "x"}, {"t", "y"}});
        REQUIRE(v);
        CHECK((*v)["Os"] == "linux");
        auto created = http.request(Request("POST", "/containers/create", {{"name", "web"}}).json({{"Image", "busybox"}}));
        REQUIRE(created);
        CHECK(created->status == 201);
        CHECK(created->header("Content-Type") == "application/json");
        CHECK(created->header("api-version") == "1.41");
        auto empty_post = http.request("POST", "/containers/web/start");
        REQUIRE(empty_post);

        auto reqs = engine.requests();
        REQUIRE(reqs.size() == 3);
        CHECK(reqs[0].target == "/v1.41/version?filters=%7B%22a%22%3A%5B%22b%20c%22%5D%7D&t=x&t=y");
        CHECK(reqs[0].headers.count("user-agent") == 1);
        CHECK(reqs[1].method == "POST");
        CHECK(reqs[1].target == "/v1.41/containers/create?name=web");
        CHECK(reqs[1].headers.at("content-type") == "application/json");
        CHECK(reqs[1].body == R"({"Image":"busybox"})");
        CHECK(reqs[2].headers.at("content-length") == "0");
        // One keep-alive connection served all three.
        CHECK(engine.connections() == 1);
    }

    TEST_CASE("path segments keep / and : but escape the rest") {
        CHECK(HttpClient::target(Request("GET", "/images/localhost:5000/a/b:1/json")) == "/v1.41/images/localhost:5000/a/b:1/json");
        CHECK(HttpClient::target(Request("GET", "/images/a b?c#d/json")) == "/v1.41/images/a%20b%3Fc%23d/json");
        CHECK(HttpClient::target(Request("GET", "_ping")) == "/v1.41/_ping");
    }

    TEST_CASE("engine errors carry the engine's message and a matching kind") {
        FakeEngine engine([](const FakeRequest& req, int fd) {
            if (req.target.find("/images/") != std::string::npos) {
                FakeEngine::reply(fd, 404, R"({"message":"No such image: nope:latest"})");
            } else if (req.target.find("/conflict") != std::string::npos) {
                FakeEngine::reply(fd, 409, R"({"message":"Conflict. The container name \"/web\" is already in use"})");
            } else {
                FakeEngine::reply(fd, 500, "plain text failure\n", "text/plain");
            }
            return true;
        });
        HttpClient http(engine.host());
        auto a = http.get_json("/images/nope/json");
        REQUIRE_FALSE(a);
        CHECK(a.error().code == Errc::NotFound);
        CHECK(a.error().message == "Error response from daemon: No such image: nope:latest");
        CHECK(daemon_message(a.error()) == "No such image: nope:latest");
        auto b = http.request("POST", "/conflict");
        REQUIRE_FALSE(b);
        CHECK(b.error().code == Errc::Conflict);
        auto c = http.request("GET", "/other");
        REQUIRE_FALSE(c);
        CHECK(c.error().code == Errc::Internal);
        CHECK(c.error().message == "Error response from daemon: plain text failure");
        CHECK(engine_error(503, "").message == "Error response from daemon: the engine answered with status 503");
    }

    TEST_CASE("a missing engine gives the connection message") {
        HttpClient http("unix:///tmp/ctl-no-such-engine.sock");
        auto r = http.request("GET", "/_ping");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == Errc::Unavailable);
        CHECK(r.error().message == "cannot connect to the engine at unix:///tmp/ctl-no-such-engine.sock: is ctld running?");
        auto h = http.hijack(Request("POST", "/exec/x/start"));
        REQUIRE_FALSE(h);
        CHECK(h.error().message == r.error().message);
        HttpClient tcp("tcp://127.0.0.1:1");
        auto t = tcp.request("GET", "/_ping");
        REQUIRE_FALSE(t);
        CHECK(t.error().message == "cannot connect to the engine at tcp://127.0.0.1:1: is ctld running?");
        HttpClient bad("ssh://host");
        auto b = bad.request("GET", "/_ping");
        REQUIRE_FALSE(b);
        CHECK(b.error().code == Errc::InvalidArgument);
    }

    TEST_CASE("streams arrive as the engine flushes them; JSON lines split across chunks are joined") {
        FakeEngine engine([](const FakeRequest& req, int fd) {
            FakeEngine::reply_chunk_head(fd);
            if (req.target.find("/events") != std::string::npos) {
                FakeEngine::reply_chunk(fd, "{\"status\":\"create\",\"id\":\"a\"}\n{\"sta");
                FakeEngine::reply_chunk(fd, "tus\":\"start\",\"id\":\"a\"}\r\n");
                FakeEngine::reply_chunk(fd, "\n");
                FakeEngine::reply_chunk(fd, "{\"status\":\"die\",\"id\":\"a\"}");  // no final newline
                FakeEngine::reply_chunk(fd, "");
            } else {
                FakeEngine::reply_chunk(fd, "{\"status\":\"Pulling\"}\n");
                FakeEngine::reply_chunk(fd, "{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest unknown\"}\n");
                FakeEngine::reply_chunk(fd, "");
            }
            return true;
        });
        HttpClient http(engine.host());
        std::vector<std::string> seen;
        Status st = http.stream_json(Request("GET", "/events"), [&](const Json& e) {
            seen.push_back(e["status"].get<std::string>());
            return ok();
        });
        REQUIRE(st);
        CHECK(seen == std::vector<std::string>{"create", "start", "die"});

        seen.clear();
        Status pull = http.stream_json(Request("POST", "/images/create", {{"fromImage", "x"}}), [&](const Json& e) {
            seen.push_back(e["status"].get<std::string>());
            return ok();
        });
        REQUIRE_FALSE(pull);
        CHECK(pull.error().message == "manifest unknown");
        CHECK(seen == std::vector<std::string>{"Pulling"});

        // Raw chunks, and stopping early is not an error.
        std::string raw;
        auto r = http.stream(Request("GET", "/events"), [&](std::string_view chunk) {
            raw.append(chunk);
            return false;
        });
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(raw.rfind("{\"status\":\"create\"", 0) == 0);
    }

    TEST_CASE("a stream that starts with an error status is an error") {
        FakeEngine engine([](const FakeRequest&, int fd) {
            FakeEngine::reply(fd, 404, R"({"message":"No such container: x"})");
            return true;
        });
        HttpClient http(engine.host());
        bool called = false;
        auto r = http.stream(Request("GET", "/containers/x/logs"), [&](std::string_view) { return called = true; });
        REQUIRE_FALSE(r);
        CHECK_FALSE(called);
        CHECK(r.error().message == "Error response from daemon: No such container: x");
    }

    TEST_CASE("uploads stream a body from a source") {
        FakeEngine engine([](const FakeRequest& req, int fd) {
            FakeEngine::reply(fd, 200, "{\"size\":" + std::to_string(req.body.size()) + "}");
            return true;
        });
        HttpClient http(engine.host());
        std::string payload(300000, 'x');
        for (size_t i = 0; i < payload.size(); i += 7) payload[i] = static_cast<char>('a' + i % 26);
        size_t offset = 0;
        auto source = [&](char* buf, size_t len) -> long {
            size_t n = std::min(len, payload.size() - offset);
            std::memcpy(buf, payload.data() + offset, n);
            offset += n;
            return static_cast<long>(n);
        };
        auto r = http.request(Request("POST", "/images/load").stream_body(source, "application/x-tar"));
        REQUIRE(r);
        auto reqs = engine.requests();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].headers.at("transfer-encoding") == "chunked");
        CHECK(reqs[0].headers.at("content-type") == "application/x-tar");
        CHECK(reqs[0].body == payload);

        // From a file, with its length known.
        char path[] = "/tmp/ctl-upload-XXXXXX";
        int fd = ::mkstemp(path);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, "hello tar", 9) == 9);
        ::close(fd);
        int64_t size = -1;
        auto file = body_from_file(path, &size);
        REQUIRE(file);
        CHECK(size == 9);
        auto r2 = http.request(Request("POST", "/images/load").stream_body(*file, "application/x-tar", size));
        ::unlink(path);
        REQUIRE(r2);
        reqs = engine.requests();
        CHECK(reqs[1].headers.at("content-length") == "9");
        CHECK(reqs[1].body == "hello tar");
        CHECK_FALSE(body_from_file("/nonexistent/file"));
    }

    TEST_CASE("hijack: 101, bytes sent with the headers, duplex stream, half-close") {
        FakeEngine engine([](const FakeRequest& req, int fd) {
            if (req.target.find("/nope/") != std::string::npos) {
                FakeEngine::reply(fd, 404, R"({"message":"No such exec instance: nope"})");
                return true;
            }
            if (req.target.find("/plain/") != std::string::npos) {
                FakeEngine::reply(fd, 200, "{}");
                return true;
            }
            CHECK(req.headers.at("upgrade") == "tcp");
            CHECK(req.headers.at("connection") == "Upgrade");
            // The head and the first stream bytes in one write.
            FakeEngine::write_all(fd, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                                      "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nhello ");
            // Echo until the client half-closes, then say goodbye.
            char buf[256];
            for (;;) {
                ssize_t n = ::read(fd, buf, sizeof buf);
                if (n <= 0) break;
                FakeEngine::write_all(fd, std::string(buf, static_cast<size_t>(n)));
            }
            FakeEngine::write_all(fd, "bye");
            return false;
        });
        HttpClient http(engine.host());
        auto conn = http.hijack(Request("POST", "/exec/abc/start").json({{"Detach", false}, {"Tty", true}}));
        REQUIRE(conn);
        CHECK(conn->buffered() == "hello ");
        REQUIRE(::write(conn->fd(), "ping", 4) == 4);
        CHECK(read_exactly(conn->fd(), 4) == "ping");
        conn->close_write();
        CHECK(read_until_eof(conn->fd()) == "bye");
        auto reqs = engine.requests();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].target == "/v1.41/exec/abc/start");
        CHECK(reqs[0].body == R"({"Detach":false,"Tty":true})");

        auto missing = http.hijack(Request("POST", "/exec/nope/start"));
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code == Errc::NotFound);
        CHECK(missing.error().message == "Error response from daemon: No such exec instance: nope");
        auto plain = http.hijack(Request("POST", "/exec/plain/start"));
        REQUIRE_FALSE(plain);
        CHECK(plain.error().message == "unable to upgrade to tcp, received 200");
    }

    TEST_CASE("one client serves concurrent calls") {
        std::atomic<bool> release{false};
        FakeEngine engine([&](const FakeRequest& req, int fd) {
            if (req.target.find("/wait") != std::string::npos) {
                FakeEngine::reply_chunk_head(fd);
                while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
                FakeEngine::reply_chunk(fd, "{\"StatusCode\":0}\n");
                FakeEngine::reply_chunk(fd, "");
            } else {
                FakeEngine::reply(fd, 204, "");
                release = true;
            }
            return true;
        });
        HttpClient http(engine.host());
        Status waited = make_error(Errc::Internal, "not run");
        std::thread waiter([&] {
            waited = http.stream_json(Request("POST", "/containers/x/wait"), [](const Json& m) {
                CHECK(m["StatusCode"] == 0);
                return ok();
            });
        });
        while (engine.requests().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto started = http.request("POST", "/containers/x/start");
        waiter.join();
        CHECK(started);
        CHECK(waited);
    }

    TEST_CASE("line splitter") {
        LineSplitter s;
        std::vector<std::string> lines;
        auto collect = [&](std::string_view l) {
            lines.emplace_back(l);
            return true;
        };
        CHECK(s.feed("{\"a\":1}\r\n{\"b\"", collect));
        CHECK(s.feed(":2}\n\n\r\n", collect));
        CHECK(s.feed("tail", collect));
        CHECK(lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
        CHECK(s.rest() == "tail");
        LineSplitter stop;
        int count = 0;
        CHECK_FALSE(stop.feed("a\nb\nc\n", [&](std::string_view) { return ++count < 2; }));
        CHECK(count == 2);
    }

    TEST_CASE("host strings") {
        auto u = parse_host("unix:///run/ctld.sock", false);
        REQUIRE(u);
        CHECK(u->kind == Endpoint::Kind::Unix);
        CHECK(u->path == "/run/ctld.sock");
        auto t = parse_host("tcp://10.0.0.1:2376", true);
        REQUIRE(t);
        CHECK(t->host == "10.0.0.1");
        CHECK(t->port == 2376);
        CHECK(parse_host("tcp://example.com", false)->port == 2375);
        CHECK(parse_host("tcp://example.com", true)->port == 2376);
        auto v6 = parse_host("tcp://[::1]:4000", false);
        REQUIRE(v6);
        CHECK(v6->host == "::1");
        CHECK(v6->port == 4000);
        CHECK_FALSE(parse_host("unix://relative.sock", false));
        CHECK_FALSE(parse_host("tcp://host:99999", false));
        CHECK_FALSE(parse_host("tcp://:2375", false));
        CHECK_FALSE(parse_host("/run/ctld.sock", false));
    }
}
