#include "registry/auth.hpp"

#include <array>

#include "engine/base/json.hpp"
#include "engine/base/util.hpp"

namespace ctl::registry {

bool AuthConfig::anonymous() const {
    return username.empty() && password.empty() && auth.empty() && identity_token.empty() && registry_token.empty();
}

std::optional<std::pair<std::string, std::string>> AuthConfig::basic_credentials() const {
    if (!username.empty()) return std::make_pair(username, password);
    if (auth.empty()) return std::nullopt;
    auto decoded = base64_decode(auth);
    if (!decoded) return std::nullopt;
    auto colon = decoded->find(':');
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

// ---- base64 ----

std::string base64_encode(std::string_view data, bool url_alphabet, bool pad) {
    static const char* std_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char* url_chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char* chars = url_alphabet ? url_chars : std_chars;
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t v = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8) | uint8_t(data[i + 2]);
        out += chars[(v >> 18) & 63];
        out += chars[(v >> 12) & 63];
        out += chars[(v >> 6) & 63];
        out += chars[v & 63];
    }
    size_t rest = data.size() - i;
    if (rest == 1) {
        uint32_t v = uint32_t(uint8_t(data[i])) << 16;
        out += chars[(v >> 18) & 63];
        out += chars[(v >> 12) & 63];
        if (pad) out += "==";
    } else if (rest == 2) {
        uint32_t v = (uint32_t(uint8_t(data[i])) << 16) | (uint32_t(uint8_t(data[i + 1])) << 8);
        out += chars[(v >> 18) & 63];
        out += chars[(v >> 12) & 63];
        out += chars[(v >> 6) & 63];
        if (pad) out += "=";
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    static const std::array<int8_t, 256> table = [] {
        std::array<int8_t, 256> t{};
        t.fill(-1);
        for (int c = 'A'; c <= 'Z'; ++c) t[c] = static_cast<int8_t>(c - 'A');
        for (int c = 'a'; c <= 'z'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 26);
        for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0' + 52);
        t['+'] = t['-'] = 62;
        t['/'] = t['_'] = 63;
        return t;
    }();
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    size_t symbols = 0;
    bool padding = false;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        if (padding) return std::nullopt;  // data after padding
        int v = table[c];
        if (v < 0) return std::nullopt;
        ++symbols;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    if (symbols % 4 == 1) return std::nullopt;  // cannot end a quantum with 6 bits
    return out;
}

// ---- X-Registry-Auth ----

AuthConfig auth_config_from_json_text(std::string_view json_text) {
    AuthConfig a;
    Json j = Json::parse(json_text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return a;
    a.username = string_or(j, "username");
    a.password = string_or(j, "password");
    a.auth = string_or(j, "auth");
    a.email = string_or(j, "email");
    a.server_address = string_or(j, "serveraddress");
    a.identity_token = string_or(j, "identitytoken");
    a.registry_token = string_or(j, "registrytoken");
    return a;
}

Result<AuthConfig> decode_registry_auth_header(std::string_view header) {
    std::string text = trim(header);
    if (text.empty()) return AuthConfig{};
    auto decoded = base64_decode(text);
    if (!decoded) return AuthConfig{};
    return auth_config_from_json_text(*decoded);
}

std::string encode_registry_auth_header(const AuthConfig& auth) {
    Json j = Json::object();
    auto put = [&](const char* key, const std::string& v) {
        if (!v.empty()) j[key] = v;
    };
    put("username", auth.username);
    put("password", auth.password);
    put("auth", auth.auth);
    put("email", auth.email);
    put("serveraddress", auth.server_address);
    put("identitytoken", auth.identity_token);
    put("registrytoken", auth.registry_token);
    return base64_encode(j.dump(), true, true);
}

// ---- WWW-Authenticate ----

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_token_char(char c) { return !is_space(c) && c != ',' && c != '=' && c != '"' && c != '\r' && c != '\n'; }

}  // namespace

std::vector<Challenge> parse_www_authenticate(std::string_view h) {
    std::vector<Challenge> out;
    size_t i = 0;
    auto skip_space = [&] {
        while (i < h.size() && is_space(h[i])) ++i;
    };
    while (i < h.size()) {
        // Separators between params and challenges.
        while (i < h.size() && (is_space(h[i]) || h[i] == ',')) ++i;
        if (i >= h.size()) break;
        size_t start = i;
        while (i < h.size() && is_token_char(h[i])) ++i;
        std::string token(h.substr(start, i - start));
        if (token.empty()) {  // stray '=' or '"': skip one char
            ++i;
            continue;
        }
        skip_space();
        if (i < h.size() && h[i] == '=') {
            ++i;
            skip_space();
            std::string value;
            if (i < h.size() && h[i] == '"') {
                ++i;
                while (i < h.size() && h[i] != '"') {
                    if (h[i] == '\\' && i + 1 < h.size()) ++i;
                    value += h[i++];
                }
                if (i < h.size()) ++i;  // closing quote
            } else {
                size_t vs = i;
                while (i < h.size() && is_token_char(h[i])) ++i;
                value = std::string(h.substr(vs, i - vs));
                while (i < h.size() && h[i] == '=') ++i;  // token68 padding
            }
            if (!out.empty()) out.back().params[to_lower(token)] = value;
            continue;
        }
        Challenge c;
        c.scheme = to_lower(token);
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace ctl::registry
