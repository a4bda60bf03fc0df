#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "registry/auth.hpp"
#include "registry/client.hpp"

using namespace ctl;
using namespace ctl::registry;

namespace {

std::string to_url_alphabet(std::string s) {
    std::replace(s.begin(), s.end(), '+', '-');
    std::replace(s.begin(), s.end(), '/', '_');
    return s;
}

std::string strip_padding(std::string s) {
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
}

}  // namespace

TEST_SUITE("registry.auth") {
    TEST_CASE("WWW-Authenticate: Docker Hub's bearer challenge") {
        auto c = parse_www_authenticate(
            R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
        REQUIRE(c.size() == 1);
        CHECK(c[0].scheme == "bearer");
        CHECK(c[0].param("realm") == "https://auth.docker.io/token");
        CHECK(c[0].param("service") == "registry.docker.io");
        CHECK(c[0].param("scope") == "repository:library/busybox:pull");
        CHECK(c[0].param("error").empty());
    }

    TEST_CASE("WWW-Authenticate: spaces, case, errors, several challenges, escapes") {
        auto c = parse_www_authenticate(
            R"(BASIC Realm="Registry Realm" , bearer REALM="http://127.0.0.1:1/token", service=fake, )"
            R"(scope="repository:a/b:pull,push repository:c:pull", error="insufficient_scope", x="q\"uo,te")");
        REQUIRE(c.size() == 2);
        CHECK(c[0].scheme == "basic");
        CHECK(c[0].param("realm") == "Registry Realm");
        CHECK(c[1].scheme == "bearer");
        CHECK(c[1].param("realm") == "http://127.0.0.1:1/token");
        CHECK(c[1].param("service") == "fake");
        CHECK(c[1].param("scope") == "repository:a/b:pull,push repository:c:pull");
        CHECK(c[1].param("error") == "insufficient_scope");
        CHECK(c[1].param("x") == "q\"uo,te");
    }

    TEST_CASE("WWW-Authenticate: garbage never fails") {
        CHECK(parse_www_authenticate("").empty());
        CHECK(parse_www_authenticate(",,, ,").empty());
        auto token68 = parse_www_authenticate("Negotiate abc123==");
        REQUIRE(token68.size() == 1);
        CHECK(token68[0].scheme == "negotiate");
        auto c = parse_www_authenticate(R"(Bearer realm="unterminated)");
        REQUIRE(c.size() == 1);
        CHECK(c[0].param("realm") == "unterminated");
        for (const char* weird : {R"(="x" = , "y")", "\"", "=", "Bearer ,,,=,=", "Bearer realm=\"a\\", "\\\\"}) {
            CAPTURE(weird);
            (void)parse_www_authenticate(weird);  // must not crash or hang
        }
    }

    TEST_CASE("base64 both alphabets, padding optional") {
        for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd"}) {
            CAPTURE(s);
            CHECK(base64_decode(base64_encode(s)) == s);
            CHECK(base64_decode(base64_encode(s, true, false)) == s);
        }
        CHECK(base64_encode("foobar") == "Zm9vYmFy");
        CHECK(base64_encode("fo") == "Zm8=");
        CHECK(base64_encode("fo", false, false) == "Zm8");
        CHECK(base64_decode("Zm8\n=") == "fo");
        CHECK_FALSE(base64_decode("Zm8*"));
        CHECK_FALSE(base64_decode("Z"));
        CHECK_FALSE(base64_decode("Zm=8"));
    }

    TEST_CASE("X-Registry-Auth: base64url and standard, padded or not") {
        const std::string json =
            R"({"username":"alice","password":"~~~~","serveraddress":"127.0.0.1:5000"})";
        std::string std_b64 = base64_encode(json);
        REQUIRE(std_b64.find_first_of("+/") != std::string::npos);  // the alphabets really differ here
        REQUIRE(std_b64.back() == '=');
        for (const std::string& header :
             {std_b64, strip_padding(std_b64), to_url_alphabet(std_b64), strip_padding(to_url_alphabet(std_b64))}) {
            CAPTURE(header);
            auto auth = decode_registry_auth_header(header);
            REQUIRE(auth);
            CHECK(auth->username == "alice");
            CHECK(auth->password == "~~~~");
            CHECK(auth->server_address == "127.0.0.1:5000");
            CHECK_FALSE(auth->anonymous());
        }
    }

    TEST_CASE("X-Registry-Auth: empty, {} and garbage are anonymous") {
        for (const std::string& header :
             {std::string(), std::string("   "), base64_encode("{}"), std::string("e30"), std::string("!!!notbase64"),
              base64_encode("not json"), base64_encode("[1,2]"), base64_encode("null")}) {
            CAPTURE(header);
            auto auth = decode_registry_auth_header(header);
            REQUIRE(auth);
            CHECK(auth->anonymous());
            CHECK_FALSE(auth->basic_credentials());
        }
    }

    TEST_CASE("X-Registry-Auth: keys any case, auth field, tokens, round trip") {
        auto a = decode_registry_auth_header(base64_encode(R"({"Username":"bob","Password":"pw","IdentityToken":"it"})", true));
        REQUIRE(a);
        CHECK(a->username == "bob");
        CHECK(a->password == "pw");
        CHECK(a->identity_token == "it");

        auto b = decode_registry_auth_header(base64_encode(R"({"auth":")" + base64_encode("carol:pa:ss") + R"("})"));
        REQUIRE(b);
        auto creds = b->basic_credentials();
        REQUIRE(creds);
        CHECK(creds->first == "carol");
        CHECK(creds->second == "pa:ss");

        AuthConfig c;
        c.username = "dave";
        c.password = "secret";
        c.registry_token = "rt";
        c.server_address = "https://index.docker.io/v1/";
        auto round = decode_registry_auth_header(encode_registry_auth_header(c));
        REQUIRE(round);
        CHECK(round->username == "dave");
        CHECK(round->password == "secret");
        CHECK(round->registry_token == "rt");
        CHECK(round->server_address == "https://index.docker.io/v1/");

        AuthConfig bad_auth;
        bad_auth.auth = base64_encode("nocolon");
        CHECK_FALSE(bad_auth.basic_credentials());
        CHECK(auth_config_from_json_text(R"({"username":"x"})").username == "x");
    }

    TEST_CASE("token responses") {
        auto t = parse_token_response(R"({"token":"abc","expires_in":300,"issued_at":"2020-01-01T00:00:00Z"})");
        REQUIRE(t);
        CHECK(t->token == "abc");
        CHECK(t->expires_in == 300);
        auto oauth = parse_token_response(R"({"access_token":"xyz","refresh_token":"r"})");
        REQUIRE(oauth);
        CHECK(oauth->token == "xyz");
        CHECK(oauth->refresh_token == "r");
        CHECK(oauth->expires_in == 60);
        CHECK(parse_token_response(R"({"token":"a","expires_in":5})")->expires_in == 60);
        auto none = parse_token_response(R"({"details":"nope"})");
        REQUIRE_FALSE(none);
        CHECK(none.error().code == Errc::Unauthorized);
        CHECK_FALSE(parse_token_response("<html>"));
    }

    TEST_CASE("insecure registries: loopback always, listed hosts and CIDRs") {
        const std::vector<std::string> none;
        CHECK(is_insecure_registry("localhost", none));
        CHECK(is_insecure_registry("localhost:5000", none));
        CHECK(is_insecure_registry("127.0.0.1:5000", none));
        CHECK(is_insecure_registry("127.1.2.3", none));
        CHECK(is_insecure_registry("[::1]:5000", none));
        CHECK(is_insecure_registry("::1", none));
        CHECK_FALSE(is_insecure_registry("registry-1.docker.io", none));
        CHECK_FALSE(is_insecure_registry("10.1.2.3:5000", none));
        CHECK_FALSE(is_insecure_registry("128.0.0.1:5000", none));

        const std::vector<std::string> list = {"myreg:5000", "http://other.example.com/", "10.0.0.0/8", "fd00::/8"};
        CHECK(is_insecure_registry("myreg:5000", list));
        CHECK(is_insecure_registry("MyReg:5000", list));
        CHECK_FALSE(is_insecure_registry("myreg:5001", list));
        CHECK(is_insecure_registry("other.example.com", list));
        CHECK(is_insecure_registry("10.1.2.3:5000", list));
        CHECK_FALSE(is_insecure_registry("11.1.2.3:5000", list));
        CHECK(is_insecure_registry("[fd12::1]:443", list));
        CHECK_FALSE(is_insecure_registry("[fe80::1]:443", list));
    }
}
