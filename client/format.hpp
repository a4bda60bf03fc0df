// `--format` for every command: a subset of Go's text/template as the docker CLI uses it —
// {{.Field.Path}}, {{json .X}}, {{index .Labels "k"}}, {{join .List ","}}, {{upper .X}},
// {{lower .X}}, {{title .X}}, {{println}}, pipes ({{.X | json}}), "\t"/"\n" escapes, and the
// `table` prefix that adds a header row and aligns columns. `{{range}}` is not supported.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::client {

class Template {
public:
    // InvalidArgument "template parsing error: ..." for a malformed template.
    static Result<Template> parse(std::string_view text);

    Result<std::string> render(const Json& data) const;
    bool is_table() const { return table_; }
    // The header row for a table: each action's last field name, upper-cased and split at
    // word boundaries ("CreatedAt" -> "CREATED AT"), unless `names` has one for it.
    std::string header(const std::map<std::string, std::string>& names = {}) const;

    struct Node {
        bool is_text = true;
        std::string text;                            // literal text
        std::vector<std::vector<std::string>> pipe;  // commands, each a list of words
    };

private:
    std::vector<Node> nodes_;
    bool table_ = false;
};

// Formats a value the way Go's fmt prints it in templates.
std::string go_print(const Json& value);

// Aligns tab-separated cells into columns like Go's tabwriter (docker: minwidth 10, padding 3).
std::string tabwrite(const std::vector<std::string>& lines, size_t min_width = 10, size_t padding = 3);

}  // namespace ctl::client
