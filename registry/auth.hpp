// Registry credentials and the pieces of the auth protocols that are pure text handling:
// the X-Registry-Auth header (Engine API), WWW-Authenticate challenges (RFC 7235 as registries
// send them), and base64 in both alphabets. The network half (token fetches) is in client.hpp.
// Pure functions: no I/O, never block, thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl::registry {

// Docker's types.AuthConfig. Which fields are used, in order:
//   registry_token  -> sent as "Authorization: Bearer <token>" to the registry itself;
//   identity_token  -> an OAuth2 refresh token, exchanged at the token realm (POST, grant_type=refresh_token);
//   username/password (or `auth` = base64 "user:pass" when username is empty) -> Basic, or used at the
//                      token realm to get a bearer token.
struct AuthConfig {
    std::string username;
    std::string password;
    std::string auth;  // base64("user:pass"), config.json style
    std::string email;  // ignored, kept for round trips
    std::string identity_token;
    std::string registry_token;
    std::string server_address;

    // True when no credential of any kind is set (anonymous).
    bool anonymous() const;
    // username/password, with `auth` decoded when username is empty. nullopt when there are none.
    std::optional<std::pair<std::string, std::string>> basic_credentials() const;
};

// Decodes X-Registry-Auth: base64url (Go's URLEncoding, what the docker CLI sends) or standard
// base64, with or without "=" padding, of the JSON authconfig (keys matched case-insensitively).
// Lenient like dockerd: an empty value, "{}", undecodable base64 or invalid JSON all give an
// anonymous AuthConfig. Never fails today; the Result leaves room for a strict mode.
Result<AuthConfig> decode_registry_auth_header(std::string_view header);
// The inverse (base64url of the JSON, padded), for clients and tests.
std::string encode_registry_auth_header(const AuthConfig& auth);
// A JSON authconfig body (POST /auth, X-Registry-Config entries) to AuthConfig; non-objects give {}.
AuthConfig auth_config_from_json_text(std::string_view json_text);

// One challenge from WWW-Authenticate: scheme lowercased ("bearer", "basic"), parameter names
// lowercased, values unquoted ("realm", "service", "scope", "error").
struct Challenge {
    std::string scheme;
    std::map<std::string, std::string> params;

    std::string param(const std::string& name) const {
        auto it = params.find(name);
        return it == params.end() ? std::string() : it->second;
    }
};

// Parses one WWW-Authenticate value, which may hold several challenges:
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull"
//   Basic realm="Registry Realm", Bearer realm="..."
// Quoted strings may contain "," and "\"" escapes. Malformed parts are skipped, never an error.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

// base64. decode accepts both alphabets, optional padding and ignores whitespace; nullopt on
// anything else. (Belongs in engine/base; kept here until base grows one.)
std::string base64_encode(std::string_view data, bool url_alphabet = false, bool pad = true);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ctl::registry
