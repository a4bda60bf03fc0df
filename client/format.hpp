// `--format` for every command, and docker's table layout.
//
// Template is a subset of Go's text/template as the docker CLI uses it, evaluated over a Json
// value: literal text, {{.Field}}, {{.State.Running}}, {{.}}, {{$.X}}, pipes ({{.X | json}}),
// parenthesised sub-pipelines, string/number/bool literals, {{- trim markers -}}, comments, and the
// functions json, index, join, split, upper, lower, title, pad, truncate, len, print, printf,
// println, eq, ne, lt, le, gt, ge, and, or, not. Control actions ({{if}}, {{range}}, ...) and
// variables are refused with a parse error. Field names match the Json key exactly, else
// case-insensitively (so {{.Status}} reads an event's "status", {{.Client.APIVersion}} "ApiVersion").
//
// Values print as Go prints them: strings raw, integral numbers as integers, true/false,
// objects as map[k:v ...] (keys sorted), arrays as [a b], null as <nil>, a missing field as
// <no value>.
//
// As in docker, the format text is first trimmed of spaces, its "\t" and "\n" escapes become
// tab and newline, and a leading "table" marks a table: a header row (each field's name in
// capitals, split into words: .CreatedAt -> CREATED AT, or the command's own name for it), then
// one row per object, aligned by tabwrite().
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::client {

// Column titles a command gives some fields ("ID" -> "CONTAINER ID"); others get header_name().
using HeaderNames = std::map<std::string, std::string, std::less<>>;

class Template {
public:
    // InvalidArgument "template parsing error: template: :LINE: ..." for a malformed template.
    static Result<Template> parse(std::string_view format);

    bool is_table() const { return table_; }
    bool empty() const;
    // Renders the template over `data`. Errors (a function given the wrong kind of value) are
    // InvalidArgument "template: :LINE:COL: executing \"\" at <...>: ...".
    Result<std::string> render(const Json& data) const;
    // The header row of a table: fields print as their column titles, formatting functions
    // (json, upper, join, ...) pass the title through.
    std::string render_header(const HeaderNames& names = {}) const;

    struct Node;  // parsed pieces, defined in format.cpp

private:
    std::shared_ptr<const std::vector<Node>> nodes_;
    bool table_ = false;
};

// Prints a value the way Go's fmt does inside a template.
std::string go_print(const Json& value);

// "CreatedAt" -> "CREATED AT", "ID" -> "ID", "IPAddress" -> "IP ADDRESS".
std::string header_name(std::string_view field);

// Aligns tab-separated cells like Go's text/tabwriter with flags 0 and ' ' padding: a column is a
// run of consecutive lines that have a tab-terminated cell at that position; its width is the
// widest cell (in code points) plus `padding`, at least `min_width`. The text after a line's last
// tab is not part of a column. Docker's tables use min_width 10, padding 3 (the defaults).
std::string tabwrite(std::string_view text, size_t min_width = 10, size_t padding = 3);

// --format for commands that print a list (ps, images, system df, history, ...), docker's rules:
// "" or "table" -> `default_format` (a "table ..." template); "json" -> one JSON object per line;
// "table ..." -> header and aligned rows; anything else -> one rendered line per row.
Result<std::string> format_rows(std::string_view format, std::string_view default_format,
                                const std::vector<Json>& rows, const HeaderNames& names = {});

// --format for commands that print one object (inspect, info, version): "json" -> the object as
// one JSON line, else the rendered template and a newline.
Result<std::string> format_object(std::string_view format, const Json& value);

}  // namespace ctl::client
