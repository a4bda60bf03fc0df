// Query-string conventions of the Docker API: Python-style booleans, `limit=-1`, and the
// `filters` JSON object (list or legacy map form; label values ANDed, other keys ORed).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/result.hpp"

namespace ctl {

// moby's rule: false iff absent, empty, or (trimmed, any case) 0/false/no/none.
bool parse_query_bool(std::string_view value);

// Percent-decoding of a URL component ('+' becomes a space only when `plus_is_space`).
std::string url_decode(std::string_view in, bool plus_is_space = true);
std::string url_encode(std::string_view in);

using QueryMap = std::multimap<std::string, std::string>;
QueryMap parse_query_string(std::string_view query);

class Filters {
public:
    // Parses the `filters` parameter; empty text is no filters. Keys outside `allowed`
    // are InvalidArgument "invalid filter 'key'" (pass an empty set to allow anything).
    static Result<Filters> parse(std::string_view text, const std::set<std::string>& allowed);

    bool empty() const { return values_.empty(); }
    bool has(const std::string& key) const { return values_.count(key) > 0; }
    const std::vector<std::string>& get(const std::string& key) const;
    // True when the key is absent or any of its values equals `value`.
    bool match_any(const std::string& key, std::string_view value) const;
    // Every `label` (or other key) entry "k" or "k=v" must hold in `labels`.
    bool match_labels(const std::map<std::string, std::string>& labels, const std::string& key = "label") const;
    void add(const std::string& key, std::string value) { values_[key].push_back(std::move(value)); }
    const std::map<std::string, std::vector<std::string>>& all() const { return values_; }

private:
    std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace ctl
