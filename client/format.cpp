#include "client/format.hpp"

#include <cctype>
#include <cmath>
#include <set>

#include "engine/base/util.hpp"

namespace ctl::client {

namespace {

Error parse_error(const std::string& what) { return make_error(Errc::InvalidArgument, "template parsing error: " + what); }

std::string unescape(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) {
            char n = text[i + 1];
            if (n == 't') { out += '\t'; ++i; continue; }
            if (n == 'n') { out += '\n'; ++i; continue; }
        }
        out += text[i];
    }
    return out;
}

// Splits an action into words, keeping quoted strings whole (quotes kept, for literals).
Result<std::vector<std::string>> words_of(std::string_view action) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < action.size()) {
        if (std::isspace(static_cast<unsigned char>(action[i]))) { ++i; continue; }
        if (action[i] == '"' || action[i] == '`') {
            char q = action[i];
            size_t j = i + 1;
            std::string lit(1, '"');
            while (j < action.size() && action[j] != q) {
                if (q == '"' && action[j] == '\\' && j + 1 < action.size()) {
                    char n = action[++j];
                    lit += n == 'n' ? '\n' : n == 't' ? '\t' : n;
                } else {
                    lit += action[j];
                }
                ++j;
            }
            if (j >= action.size()) return parse_error("unterminated quoted string");
            words.push_back(lit);
            i = j + 1;
            continue;
        }
        if (action[i] == '|') { words.push_back("|"); ++i; continue; }
        size_t j = i;
        while (j < action.size() && !std::isspace(static_cast<unsigned char>(action[j])) && action[j] != '|') ++j;
        words.emplace_back(action.substr(i, j - i));
        i = j;
    }
    return words;
}

const Json* field(const Json& data, const std::string& path, bool& missing) {
    missing = false;
    if (path == ".") return &data;
    const Json* cur = &data;
    for (const auto& part : split(path.substr(1), '.')) {
        if (part.empty()) continue;
        if (!cur->is_object()) { missing = true; return nullptr; }
        auto it = cur->find(part);
        if (it == cur->end()) { missing = true; return nullptr; }
        cur = &*it;
    }
    return cur;
}

std::string title_case(std::string s) {
    bool start = true;
    for (auto& c : s) {
        if (start && std::isalpha(static_cast<unsigned char>(c))) c = static_cast<char>(std::toupper(c));
        start = std::isspace(static_cast<unsigned char>(c));
    }
    return s;
}

}  // namespace

std::string go_print(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null: return "<nil>";
        case Json::value_t::string: return v.get<std::string>();
        case Json::value_t::boolean: return v.get<bool>() ? "true" : "false";
        case Json::value_t::number_integer: return std::to_string(v.get<int64_t>());
        case Json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
        case Json::value_t::number_float: {
            double d = v.get<double>();
            if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
            char buf[64];
            snprintf(buf, sizeof buf, "%g", d);
            return buf;
        }
        case Json::value_t::array: {
            std::string out = "[";
            bool first = true;
            for (const auto& e : v) {
                if (!first) out += " ";
                out += go_print(e);
                first = false;
            }
            return out + "]";
        }
        case Json::value_t::object: {
            std::string out = "map[";
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {  // nlohmann keeps keys sorted
                if (!first) out += " ";
                out += it.key() + ":" + go_print(*it);
                first = false;
            }
            return out + "]";
        }
        default: return v.dump();
    }
}

Result<Template> Template::parse(std::string_view text) {
    Template t;
    std::string_view rest = text;
    if (starts_with(rest, "table")) {
        t.table_ = true;
        rest.remove_prefix(5);
        while (!rest.empty() && (rest.front() == ' ')) rest.remove_prefix(1);
    }
    while (!rest.empty()) {
        auto open = rest.find("{{");
        if (open == std::string_view::npos) {
            t.nodes_.push_back({true, unescape(rest), {}});
            break;
        }
        if (open > 0) t.nodes_.push_back({true, unescape(rest.substr(0, open)), {}});
        auto close = rest.find("}}", open + 2);
        if (close == std::string_view::npos) return parse_error("unclosed action");
        std::string_view action = rest.substr(open + 2, close - open - 2);
        if (!action.empty() && action.front() == '-') action.remove_prefix(1);
        if (!action.empty() && action.back() == '-') action.remove_suffix(1);
        CTL_ASSIGN_OR_RETURN(auto words, words_of(action));
        if (words.empty()) return parse_error("missing value for command");
        Node node;
        node.is_text = false;
        node.pipe.emplace_back();
        for (auto& w : words) {
            if (w == "|") {
                if (node.pipe.back().empty()) return parse_error("missing command before |");
                node.pipe.emplace_back();
            } else {
                node.pipe.back().push_back(w);
            }
        }
        if (node.pipe.back().empty()) return parse_error("missing command after |");
        static const std::set<std::string> kFuncs = {"json", "index", "join", "upper", "lower", "title",
                                                     "println", "print", "len", "pad", "truncate"};
        for (const auto& cmd : node.pipe) {
            const std::string& head = cmd.front();
            if (head == "range" || head == "end" || head == "if" || head == "else" || head == "with") {
                return parse_error("\"" + head + "\" is not supported");
            }
            if (head[0] != '.' && head[0] != '"' && !kFuncs.count(head)) {
                return parse_error("function \"" + head + "\" not defined");
            }
        }
        t.nodes_.push_back(std::move(node));
        rest.remove_prefix(close + 2);
    }
    return t;
}

Result<std::string> Template::render(const Json& data) const {
    std::string out;
    for (const auto& node : nodes_) {
        if (node.is_text) {
            out += node.text;
            continue;
        }
        Json value;
        bool have = false, missing = false;
        for (const auto& cmd : node.pipe) {
            std::vector<Json> args;
            bool arg_missing = false;
            for (size_t i = 1; i < cmd.size(); ++i) {
                const std::string& w = cmd[i];
                if (w[0] == '"') {
                    args.emplace_back(w.substr(1));
                } else if (w[0] == '.') {
                    bool m = false;
                    const Json* f = field(data, w, m);
                    arg_missing = arg_missing || m;
                    args.push_back(f ? *f : Json());
                } else {
                    args.emplace_back(w);
                }
            }
            if (have) args.push_back(value);  // the piped value is the last argument
            const std::string& head = cmd.front();
            if (head[0] == '.') {
                const Json* f = field(data, head, missing);
                value = f ? *f : Json();
            } else if (head[0] == '"') {
                value = head.substr(1);
            } else if (head == "json") {
                value = args.empty() ? Json() : Json(to_line(args.back()));
            } else if (head == "index") {
                if (args.size() < 2) return make_error(Errc::InvalidArgument, "template: index needs 2 arguments");
                const Json& c = args[0];
                if (c.is_object() && args[1].is_string() && c.contains(args[1].get<std::string>())) {
                    value = c[args[1].get<std::string>()];
                } else if (c.is_array() && args[1].is_string()) {
                    size_t i = static_cast<size_t>(std::atoi(args[1].get<std::string>().c_str()));
                    value = i < c.size() ? c[i] : Json();
                    missing = i >= c.size();
                } else {
                    value = Json();
                    missing = true;
                }
            } else if (head == "join") {
                if (args.size() < 2) return make_error(Errc::InvalidArgument, "template: join needs 2 arguments");
                std::string joined;
                if (args[0].is_array()) {
                    for (size_t i = 0; i < args[0].size(); ++i) joined += (i ? go_print(args[1]) : "") + go_print(args[0][i]);
                }
                value = joined;
            } else if (head == "upper" || head == "lower" || head == "title") {
                std::string s = args.empty() ? "" : go_print(args.back());
                value = head == "upper" ? [&] { for (auto& c : s) c = static_cast<char>(std::toupper(c)); return s; }()
                        : head == "lower" ? to_lower(s) : title_case(s);
            } else if (head == "len") {
                value = args.empty() ? 0 : static_cast<int64_t>(args.back().is_string() ? args.back().get<std::string>().size() : args.back().size());
            } else if (head == "println" || head == "print") {
                std::string s;
                for (size_t i = 0; i < args.size(); ++i) s += (i ? " " : "") + go_print(args[i]);
                value = head == "println" ? s + "\n" : s;
            } else {
                value = args.empty() ? Json("") : args.back();
            }
            missing = missing || arg_missing;
            have = true;
        }
        out += missing && value.is_null() ? "<no value>" : go_print(value);
    }
    return out;
}

std::string Template::header(const std::map<std::string, std::string>& names) const {
    std::string out;
    for (const auto& node : nodes_) {
        if (node.is_text) {
            out += node.text;
            continue;
        }
        // The last field path in the action names the column.
        std::string path;
        for (const auto& cmd : node.pipe) {
            for (const auto& w : cmd) {
                if (!w.empty() && w[0] == '.') path = w;
            }
        }
        std::string name = path.substr(path.rfind('.') + 1);
        auto it = names.find(name);
        if (it != names.end()) {
            out += it->second;
            continue;
        }
        std::string h;
        for (size_t i = 0; i < name.size(); ++i) {
            char c = name[i];
            bool boundary = i > 0 && std::isupper(static_cast<unsigned char>(c)) &&
                            (std::islower(static_cast<unsigned char>(name[i - 1])) ||
                             (i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]))));
            if (boundary) h += ' ';
            h += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        out += h;
    }
    return out;
}

std::string tabwrite(const std::vector<std::string>& lines, size_t min_width, size_t padding) {
    std::vector<std::vector<std::string>> rows;
    std::vector<size_t> widths;
    for (const auto& line : lines) {
        rows.push_back(split(line, '\t'));
        for (size_t i = 0; i + 1 < rows.back().size(); ++i) {
            if (widths.size() <= i) widths.resize(i + 1, 0);
            widths[i] = std::max(widths[i], rows.back()[i].size());
        }
    }
    std::string out;
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i) {
            out += row[i];
            if (i + 1 < row.size()) {
                size_t w = std::max(min_width, widths[i] + padding);
                out += std::string(w - row[i].size(), ' ');
            }
        }
        out += '\n';
    }
    return out;
}

}  // namespace ctl::client
