#include "client/format.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "engine/base/util.hpp"

namespace ctl::client {

// ---------------------------------------------------------------------------------------------
// The parsed form

namespace {

struct Pipeline;

struct Operand {
    enum class Kind { Field, Dot, Root, String, Number, Bool, Nil, Func, Sub } kind = Kind::Dot;
    std::vector<std::string> fields;  // Field: path from dot; Root: path from $; Sub: path after ")"
    std::string text;                 // String: its value; Func: the name
    Json number;
    bool boolean = false;
    std::shared_ptr<Pipeline> sub;
};

struct Command {
    std::vector<Operand> operands;
};

struct Pipeline {
    std::vector<Command> commands;
    std::string source;  // the action's text, for error messages
    int line = 1;
    int col = 0;
};

}  // namespace

struct Template::Node {
    bool is_text = true;
    std::string text;
    Pipeline pipe;
};

namespace {

const std::set<std::string, std::less<>>& known_functions() {
    static const std::set<std::string, std::less<>> names = {
        "json", "index", "join", "split", "upper", "lower", "title", "pad", "truncate", "len", "print",
        "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not"};
    return names;
}

const std::set<std::string, std::less<>>& keywords() {
    static const std::set<std::string, std::less<>> names = {"if", "else", "end", "range", "with", "define",
                                                             "template", "block", "break", "continue"};
    return names;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Parses one action's pipeline from text[pos...] up to its closing "}}".
class ActionParser {
public:
    ActionParser(std::string_view text, size_t pos, int line) : text_(text), pos_(pos), line_(line) {}

    // On success, pos() is just past "}}" and trim_right() tells whether it was " -}}".
    Result<Pipeline> parse_action() {
        size_t start = pos_;
        CTL_ASSIGN_OR_RETURN(auto pipe, parse_pipeline(false));
        pipe.source = trim(text_.substr(start, source_end_ - start));
        return pipe;
    }
    size_t pos() const { return pos_; }
    bool trim_right() const { return trim_right_; }

private:
    Error error(const std::string& what) const {
        return make_error(Errc::InvalidArgument,
                          "template parsing error: template: :" + std::to_string(line_) + ": " + what);
    }

    void skip_space() {
        while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
    }

    // At the end of the action: "}}" or " -}}" (the space is already skipped).
    bool at_close(bool after_space) {
        if (text_.compare(pos_, 2, "}}") == 0) {
            source_end_ = pos_;
            pos_ += 2;
            return true;
        }
        if (after_space && text_.compare(pos_, 3, "-}}") == 0) {
            source_end_ = pos_;
            pos_ += 3;
            trim_right_ = true;
            return true;
        }
        return false;
    }

    Result<Pipeline> parse_pipeline(bool in_parens) {
        Pipeline pipe;
        pipe.line = line_;
        pipe.col = static_cast<int>(pos_ - (text_.rfind('\n', pos_ == 0 ? 0 : pos_ - 1) + 1));
        Command cmd;
        for (;;) {
            size_t before = pos_;
            skip_space();
            bool spaced = pos_ > before || (pos_ > 0 && is_space(text_[pos_ - 1]));
            if (pos_ >= text_.size()) return error(in_parens ? "unclosed left paren" : "unclosed action");
            char c = text_[pos_];
            if (!in_parens && at_close(spaced)) break;
            if (in_parens && c == ')') {
                ++pos_;
                break;
            }
            if (c == '|') {
                if (cmd.operands.empty()) return error("missing command before |");
                pipe.commands.push_back(std::move(cmd));
                cmd = Command{};
                ++pos_;
                continue;
            }
            if (c == '}' ) return error("unexpected \"}\" in command");
            if (c == ')') return error("unexpected right paren");
            CTL_ASSIGN_OR_RETURN(auto op, parse_operand());
            cmd.operands.push_back(std::move(op));
        }
        if (cmd.operands.empty()) {
            return error(pipe.commands.empty() ? "missing value for command" : "missing command after |");
        }
        pipe.commands.push_back(std::move(cmd));
        return pipe;
    }

    // .A.B after a field start or a ")".
    std::vector<std::string> field_chain() {
        std::vector<std::string> out;
        while (pos_ + 1 < text_.size() && text_[pos_] == '.' && is_ident_start(text_[pos_ + 1])) {
            size_t s = ++pos_;
            while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
            out.emplace_back(text_.substr(s, pos_ - s));
        }
        return out;
    }

    Result<Operand> parse_operand() {
        Operand op;
        char c = text_[pos_];
        if (c == '.') {
            if (pos_ + 1 < text_.size() && is_ident_start(text_[pos_ + 1])) {
                op.kind = Operand::Kind::Field;
                op.fields = field_chain();
                return op;
            }
            if (pos_ + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_ + 1]))) return parse_number();
            ++pos_;
            op.kind = Operand::Kind::Dot;
            return op;
        }
        if (c == '$') {
            size_t s = ++pos_;
            while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
            if (pos_ > s) return error("undefined variable \"$" + std::string(text_.substr(s, pos_ - s)) + "\"");
            op.kind = Operand::Kind::Root;
            op.fields = field_chain();
            return op;
        }
        if (c == '"') return parse_quoted();
        if (c == '`') {
            auto close = text_.find('`', pos_ + 1);
            if (close == std::string_view::npos) return error("unterminated raw quoted string");
            op.kind = Operand::Kind::String;
            op.text = text_.substr(pos_ + 1, close - pos_ - 1);
            pos_ = close + 1;
            return op;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) ||
            ((c == '-' || c == '+') && pos_ + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_ + 1])))) {
            return parse_number();
        }
        if (c == '(') {
            ++pos_;
            CTL_ASSIGN_OR_RETURN(auto sub, parse_pipeline(true));
            op.kind = Operand::Kind::Sub;
            op.sub = std::make_shared<Pipeline>(std::move(sub));
            op.fields = field_chain();
            return op;
        }
        if (is_ident_start(c)) {
            size_t s = pos_;
            while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
            std::string word(text_.substr(s, pos_ - s));
            if (word == "true" || word == "false") {
                op.kind = Operand::Kind::Bool;
                op.boolean = word == "true";
                return op;
            }
            if (word == "nil") {
                op.kind = Operand::Kind::Nil;
                return op;
            }
            if (keywords().count(word)) return error("{{" + word + "}} is not supported by ctl's --format");
            if (!known_functions().count(word)) return error("function \"" + word + "\" not defined");
            op.kind = Operand::Kind::Func;
            op.text = word;
            return op;
        }
        if (c == ':' || c == '=') return error("variables are not supported by ctl's --format");
        if (c == '\'') return error("character constants are not supported");
        return error("unexpected \"" + std::string(1, c) + "\" in command");
    }

    Result<Operand> parse_quoted() {
        Operand op;
        op.kind = Operand::Kind::String;
        size_t i = pos_ + 1;
        for (;;) {
            if (i >= text_.size()) return error("unterminated quoted string");
            char c = text_[i];
            if (c == '"') break;
            if (c == '\\' && i + 1 < text_.size()) {
                char n = text_[++i];
                switch (n) {
                    case 'n': op.text += '\n'; break;
                    case 't': op.text += '\t'; break;
                    case 'r': op.text += '\r'; break;
                    case '0': op.text += '\0'; break;
                    case 'x':
                        if (i + 2 < text_.size()) {
                            op.text += static_cast<char>(std::strtol(std::string(text_.substr(i + 1, 2)).c_str(), nullptr, 16));
                            i += 2;
                        }
                        break;
                    default: op.text += n; break;
                }
                ++i;
                continue;
            }
            op.text += c;
            ++i;
        }
        pos_ = i + 1;
        return op;
    }

    Result<Operand> parse_number() {
        size_t s = pos_;
        if (text_[pos_] == '-' || text_[pos_] == '+') ++pos_;
        while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' || text_[pos_] == '_' ||
                                       ((text_[pos_] == '-' || text_[pos_] == '+') && (text_[pos_ - 1] == 'e' || text_[pos_ - 1] == 'E')))) {
            ++pos_;
        }
        std::string word(text_.substr(s, pos_ - s));
        word.erase(std::remove(word.begin(), word.end(), '_'), word.end());
        Operand op;
        op.kind = Operand::Kind::Number;
        char* end = nullptr;
        bool hex = word.find("0x") != std::string::npos || word.find("0X") != std::string::npos;
        if (!hex && word.find_first_of(".eE") != std::string::npos) {
            double d = std::strtod(word.c_str(), &end);
            if (*end) return error("bad number syntax: \"" + word + "\"");
            op.number = d;
        } else {
            long long v = std::strtoll(word.c_str(), &end, 0);
            if (*end) return error("bad number syntax: \"" + word + "\"");
            op.number = static_cast<int64_t>(v);
        }
        return op;
    }

    std::string_view text_;
    size_t pos_;
    int line_;
    size_t source_end_ = 0;
    bool trim_right_ = false;
};

// ---------------------------------------------------------------------------------------------
// Evaluation

// A template value: Go's reflect.Value, where "invalid" is a missing field.
struct Val {
    Json v;
    bool valid = true;
};

Val invalid() { return Val{Json(), false}; }

std::string print_val(const Val& v) { return v.valid ? go_print(v.v) : "<no value>"; }

// Looks a key up: exact match first, then case-insensitively.
Val member(const Val& obj, const std::string& name) {
    if (!obj.valid || !obj.v.is_object()) return invalid();
    if (auto it = obj.v.find(name); it != obj.v.end()) return Val{*it};
    std::string want = to_lower(name);
    for (auto it = obj.v.begin(); it != obj.v.end(); ++it) {
        if (to_lower(it.key()) == want) return Val{it.value()};
    }
    return invalid();
}

Val follow(Val v, const std::vector<std::string>& fields) {
    for (const auto& f : fields) v = member(v, f);
    return v;
}

bool truth(const Val& v) {
    if (!v.valid) return false;
    const Json& j = v.v;
    switch (j.type()) {
        case Json::value_t::null: return false;
        case Json::value_t::boolean: return j.get<bool>();
        case Json::value_t::string: return !j.get_ref<const std::string&>().empty();
        case Json::value_t::number_integer: return j.get<int64_t>() != 0;
        case Json::value_t::number_unsigned: return j.get<uint64_t>() != 0;
        case Json::value_t::number_float: return j.get<double>() != 0.0;
        case Json::value_t::array:
        case Json::value_t::object: return !j.empty();
        default: return true;
    }
}

std::string as_text(const Val& v) {
    if (!v.valid || v.v.is_null()) return "";
    return v.v.is_string() ? v.v.get<std::string>() : go_print(v.v);
}

size_t code_points(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// The first `n` code points of `s`.
std::string take_code_points(std::string_view s, size_t n) {
    size_t i = 0, seen = 0;
    while (i < s.size()) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (seen == n) break;
            ++seen;
        }
        ++i;
    }
    return std::string(s.substr(0, i));
}

std::string go_quote(const std::string& s) { return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace); }

// fmt.Sprintf for the verbs templates use: %v %s %d %q %t %f %g %e %x %X %%, with flags - + 0 and
// width/precision.
std::string go_sprintf(const std::string& format, const std::vector<Val>& args) {
    std::string out;
    size_t next = 0;
    for (size_t i = 0; i < format.size(); ++i) {
        char c = format[i];
        if (c != '%') {
            out += c;
            continue;
        }
        if (i + 1 < format.size() && format[i + 1] == '%') {
            out += '%';
            ++i;
            continue;
        }
        bool left = false, zero = false, plus = false;
        size_t j = i + 1;
        for (; j < format.size() && std::strchr("-+0 #", format[j]); ++j) {
            left |= format[j] == '-';
            zero |= format[j] == '0';
            plus |= format[j] == '+';
        }
        int width = -1, prec = -1;
        if (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) {
            width = 0;
            while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) width = width * 10 + (format[j++] - '0');
        }
        if (j < format.size() && format[j] == '.') {
            prec = 0;
            ++j;
            while (j < format.size() && std::isdigit(static_cast<unsigned char>(format[j]))) prec = prec * 10 + (format[j++] - '0');
        }
        if (j >= format.size()) {
            out += "%!(NOVERB)";
            break;
        }
        char verb = format[j];
        i = j;
        if (next >= args.size()) {
            out += std::string("%!") + verb + "(MISSING)";
            continue;
        }
        const Val& a = args[next++];
        std::string s;
        char buf[128];
        bool numeric = a.valid && a.v.is_number();
        switch (verb) {
            case 'v': s = print_val(a); break;
            case 's': s = a.valid && a.v.is_string() ? a.v.get<std::string>() : print_val(a); break;
            case 'q': s = go_quote(as_text(a)); break;
            case 't': s = a.valid && a.v.is_boolean() ? (a.v.get<bool>() ? "true" : "false") : "%!t(" + print_val(a) + ")"; break;
            case 'd':
                if (numeric) {
                    std::snprintf(buf, sizeof buf, plus ? "%+lld" : "%lld", static_cast<long long>(a.v.get<double>()));
                    if (a.v.is_number_integer()) std::snprintf(buf, sizeof buf, plus ? "%+lld" : "%lld", static_cast<long long>(a.v.get<int64_t>()));
                    s = buf;
                } else {
                    s = "%!d(" + print_val(a) + ")";
                }
                break;
            case 'x':
            case 'X':
                if (numeric) {
                    std::snprintf(buf, sizeof buf, verb == 'x' ? "%llx" : "%llX", static_cast<unsigned long long>(a.v.get<int64_t>()));
                    s = buf;
                } else {
                    for (unsigned char ch : as_text(a)) {
                        std::snprintf(buf, sizeof buf, verb == 'x' ? "%02x" : "%02X", ch);
                        s += buf;
                    }
                }
                break;
            case 'f':
            case 'g':
            case 'e':
                if (numeric) {
                    std::string f = std::string("%") + (plus ? "+" : "") + (prec >= 0 ? "." + std::to_string(prec) : verb == 'g' ? "" : ".6") + verb;
                    std::snprintf(buf, sizeof buf, f.c_str(), a.v.get<double>());
                    s = buf;
                } else {
                    s = std::string("%!") + verb + "(" + print_val(a) + ")";
                }
                break;
            default: s = std::string("%!") + verb + "(" + print_val(a) + ")"; break;
        }
        if ((verb == 's' || verb == 'v' || verb == 'q') && prec >= 0) s = take_code_points(s, static_cast<size_t>(prec));
        size_t w = code_points(s);
        if (width > 0 && w < static_cast<size_t>(width)) {
            size_t pad = static_cast<size_t>(width) - w;
            if (left) {
                s += std::string(pad, ' ');
            } else if (zero && numeric) {
                size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
                s.insert(sign, std::string(pad, '0'));
            } else {
                s.insert(0, std::string(pad, ' '));
            }
        }
        out += s;
    }
    if (next < args.size()) {
        out += "%!(EXTRA ";
        for (size_t k = next; k < args.size(); ++k) out += (k > next ? ", " : "") + print_val(args[k]);
        out += ")";
    }
    return out;
}

// Orders two values for lt/le/gt/ge: numbers numerically, strings by bytes.
Result<int> compare(const Val& a, const Val& b) {
    if (a.valid && b.valid && a.v.is_number() && b.v.is_number()) {
        double x = a.v.get<double>(), y = b.v.get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.valid && b.valid && a.v.is_string() && b.v.is_string()) {
        int r = a.v.get<std::string>().compare(b.v.get<std::string>());
        return r < 0 ? -1 : r > 0 ? 1 : 0;
    }
    return make_error(Errc::InvalidArgument, "incompatible types for comparison");
}

bool equal(const Val& a, const Val& b) {
    if (!a.valid || !b.valid) return a.valid == b.valid;
    return a.v == b.v;
}

Result<int64_t> int_arg(const Val& v, const char* what) {
    if (v.valid && v.v.is_number_integer()) return v.v.get<int64_t>();
    if (v.valid && v.v.is_number_float() && std::floor(v.v.get<double>()) == v.v.get<double>()) return static_cast<int64_t>(v.v.get<double>());
    return make_error(Errc::InvalidArgument, std::string("wrong type for ") + what + "; expected int; got " + print_val(v));
}

Result<Val> call_function(const std::string& name, const std::vector<Val>& args) {
    auto want = [&](size_t n) -> Status {
        if (args.size() != n) {
            return make_error(Errc::InvalidArgument, "wrong number of args for " + name + ": want " + std::to_string(n) +
                                                         " got " + std::to_string(args.size()));
        }
        return ok();
    };
    auto want_at_least = [&](size_t n) -> Status {
        if (args.size() < n) {
            return make_error(Errc::InvalidArgument, "wrong number of args for " + name + ": want at least " +
                                                         std::to_string(n) + " got " + std::to_string(args.size()));
        }
        return ok();
    };
    if (name == "json") {
        CTL_TRY(want(1));
        return Val{args[0].valid ? to_line(args[0].v) : std::string("null")};
    }
    if (name == "upper" || name == "lower" || name == "title") {
        CTL_TRY(want(1));
        std::string s = as_text(args[0]);
        if (name == "upper") {
            for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        } else if (name == "lower") {
            s = to_lower(s);
        } else {
            bool start = true;
            for (auto& c : s) {
                if (start && std::isalpha(static_cast<unsigned char>(c))) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                start = !std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '\'';
            }
        }
        return Val{s};
    }
    if (name == "join") {
        CTL_TRY(want(2));
        const Val& list = args[0];
        if (!list.valid || list.v.is_null()) return Val{std::string()};
        if (!list.v.is_array()) return make_error(Errc::InvalidArgument, "wrong type for value; expected a list; got " + print_val(list));
        std::string sep = as_text(args[1]), out;
        for (size_t i = 0; i < list.v.size(); ++i) out += (i ? sep : "") + as_text(Val{list.v[i]});
        return Val{out};
    }
    if (name == "split") {
        CTL_TRY(want(2));
        std::string s = as_text(args[0]), sep = as_text(args[1]);
        Json out = Json::array();
        if (sep.empty()) {
            for (size_t i = 0; i < s.size();) {
                size_t n = 1;
                while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
                out.push_back(s.substr(i, n));
                i += n;
            }
        } else {
            size_t start = 0;
            for (;;) {
                auto at = s.find(sep, start);
                out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
                if (at == std::string::npos) break;
                start = at + sep.size();
            }
        }
        return Val{out};
    }
    if (name == "pad") {
        CTL_TRY(want(3));
        std::string s = as_text(args[0]);
        CTL_ASSIGN_OR_RETURN(auto before, int_arg(args[1], "pad"));
        CTL_ASSIGN_OR_RETURN(auto after, int_arg(args[2], "pad"));
        if (s.empty()) return Val{s};
        return Val{std::string(static_cast<size_t>(std::max<int64_t>(0, before)), ' ') + s +
                   std::string(static_cast<size_t>(std::max<int64_t>(0, after)), ' ')};
    }
    if (name == "truncate") {
        CTL_TRY(want(2));
        CTL_ASSIGN_OR_RETURN(auto n, int_arg(args[1], "truncate"));
        return Val{take_code_points(as_text(args[0]), static_cast<size_t>(std::max<int64_t>(0, n)))};
    }
    if (name == "len") {
        CTL_TRY(want(1));
        const Val& a = args[0];
        if (a.valid && a.v.is_string()) return Val{static_cast<int64_t>(a.v.get_ref<const std::string&>().size())};
        if (a.valid && (a.v.is_array() || a.v.is_object())) return Val{static_cast<int64_t>(a.v.size())};
        if (!a.valid || a.v.is_null()) return Val{int64_t{0}};
        return make_error(Errc::InvalidArgument, "len of type " + std::string(a.v.type_name()));
    }
    if (name == "index") {
        CTL_TRY(want_at_least(1));
        Val cur = args[0];
        for (size_t i = 1; i < args.size(); ++i) {
            const Val& key = args[i];
            if (!cur.valid || cur.v.is_null()) {
                cur = Val{std::string()};  // like a nil map[string]string: the zero value
            } else if (cur.v.is_object()) {
                auto it = cur.v.find(as_text(key));
                cur = it == cur.v.end() ? Val{std::string()} : Val{*it};
            } else if (cur.v.is_array()) {
                CTL_ASSIGN_OR_RETURN(auto n, int_arg(key, "index"));
                if (n < 0 || static_cast<size_t>(n) >= cur.v.size()) {
                    return make_error(Errc::InvalidArgument, "error calling index: index out of range: " + std::to_string(n));
                }
                cur = Val{cur.v[static_cast<size_t>(n)]};
            } else {
                return make_error(Errc::InvalidArgument, "can't index item of type " + std::string(cur.v.type_name()));
            }
        }
        return cur;
    }
    if (name == "print" || name == "println") {
        std::string out;
        for (size_t i = 0; i < args.size(); ++i) {
            bool is_str = args[i].valid && args[i].v.is_string();
            bool prev_str = i > 0 && args[i - 1].valid && args[i - 1].v.is_string();
            if (i > 0 && (name == "println" || (!is_str && !prev_str))) out += ' ';
            out += print_val(args[i]);
        }
        if (name == "println") out += '\n';
        return Val{out};
    }
    if (name == "printf") {
        CTL_TRY(want_at_least(1));
        return Val{go_sprintf(as_text(args[0]), std::vector<Val>(args.begin() + 1, args.end()))};
    }
    if (name == "not") {
        CTL_TRY(want(1));
        return Val{!truth(args[0])};
    }
    if (name == "and" || name == "or") {
        CTL_TRY(want_at_least(1));
        for (const auto& a : args) {
            if (truth(a) == (name == "or")) return a;
        }
        return args.back();
    }
    if (name == "eq") {
        CTL_TRY(want_at_least(2));
        for (size_t i = 1; i < args.size(); ++i) {
            if (equal(args[0], args[i])) return Val{true};
        }
        return Val{false};
    }
    if (name == "ne") {
        CTL_TRY(want(2));
        return Val{!equal(args[0], args[1])};
    }
    if (name == "lt" || name == "le" || name == "gt" || name == "ge") {
        CTL_TRY(want(2));
        CTL_ASSIGN_OR_RETURN(auto c, compare(args[0], args[1]));
        bool r = name == "lt" ? c < 0 : name == "le" ? c <= 0 : name == "gt" ? c > 0 : c >= 0;
        return Val{r};
    }
    return make_error(Errc::InvalidArgument, "function \"" + name + "\" not defined");
}

// Functions that only shape a value: in a header row they pass the column title through.
bool is_shaping_function(const std::string& name) {
    return name == "json" || name == "join" || name == "split" || name == "title" || name == "lower" ||
           name == "upper" || name == "pad" || name == "truncate" || name == "index" || name == "len";
}

class Evaluator {
public:
    Evaluator(const Json& root, const HeaderNames* header) : root_(Val{root}), header_(header) {}

    // Evaluates an action; errors name the action as Go's do.
    Result<Val> action(const Pipeline& p) {
        auto r = pipeline(p);
        if (!r) {
            return make_error(Errc::InvalidArgument, "template: :" + std::to_string(p.line) + ":" + std::to_string(p.col) +
                                                         ": executing \"\" at <" + p.source + ">: " + r.error().message);
        }
        return r;
    }

private:
    Result<Val> pipeline(const Pipeline& p) {
        Val value;
        bool have = false;
        for (const auto& cmd : p.commands) {
            CTL_ASSIGN_OR_RETURN(value, command(cmd, have ? &value : nullptr));
            have = true;
        }
        return value;
    }

    Val title(const std::vector<std::string>& fields) const {
        if (fields.empty()) return Val{std::string()};
        const std::string& last = fields.back();
        if (auto it = header_->find(last); it != header_->end()) return Val{it->second};
        return Val{header_name(last)};
    }

    Result<Val> operand(const Operand& op) {
        switch (op.kind) {
            case Operand::Kind::Field: return header_ ? title(op.fields) : follow(root_, op.fields);
            case Operand::Kind::Dot: return header_ ? Val{std::string()} : root_;
            case Operand::Kind::Root: return header_ ? title(op.fields) : follow(root_, op.fields);
            case Operand::Kind::String: return Val{op.text};
            case Operand::Kind::Number: return Val{op.number};
            case Operand::Kind::Bool: return Val{op.boolean};
            case Operand::Kind::Nil: return make_error(Errc::InvalidArgument, "nil is not a command");
            case Operand::Kind::Func: return call(op.text, {});
            case Operand::Kind::Sub: {
                CTL_ASSIGN_OR_RETURN(auto v, pipeline(*op.sub));
                if (op.fields.empty()) return v;
                return header_ ? title(op.fields) : follow(v, op.fields);
            }
        }
        return invalid();
    }

    Result<Val> call(const std::string& name, const std::vector<Val>& args) {
        if (header_ && is_shaping_function(name)) return args.empty() ? Val{std::string()} : Val{as_text(args[0])};
        return call_function(name, args);
    }

    Result<Val> command(const Command& cmd, const Val* piped) {
        const Operand& head = cmd.operands.front();
        if (head.kind == Operand::Kind::Func) {
            std::vector<Val> args;
            for (size_t i = 1; i < cmd.operands.size(); ++i) {
                const Operand& a = cmd.operands[i];
                if (a.kind == Operand::Kind::Nil) {
                    args.push_back(Val{Json()});
                    continue;
                }
                CTL_ASSIGN_OR_RETURN(auto v, operand(a));
                args.push_back(std::move(v));
            }
            if (piped) args.push_back(*piped);
            return call(head.text, args);
        }
        if (cmd.operands.size() > 1 || piped) {
            return make_error(Errc::InvalidArgument, "can't give argument to non-function");
        }
        return operand(head);
    }

    Val root_;
    const HeaderNames* header_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Template

Result<Template> Template::parse(std::string_view format) {
    // docker's preprocessing: "table" prefix, surrounding spaces, \t and \n escapes.
    std::string text(format);
    Template t;
    if (starts_with(text, "table")) {
        t.table_ = true;
        text.erase(0, 5);
    }
    size_t b = text.find_first_not_of(' ');
    size_t e = text.find_last_not_of(' ');
    text = b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
    std::string unescaped;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && (text[i + 1] == 't' || text[i + 1] == 'n')) {
            unescaped += text[i + 1] == 't' ? '\t' : '\n';
            ++i;
        } else {
            unescaped += text[i];
        }
    }
    text = std::move(unescaped);

    auto nodes = std::make_shared<std::vector<Node>>();
    size_t pos = 0;
    bool trim_next = false;
    auto add_text = [&](std::string s) {
        if (trim_next) {
            size_t first = 0;
            while (first < s.size() && is_space(s[first])) ++first;
            s.erase(0, first);
            trim_next = false;
        }
        if (!s.empty()) nodes->push_back(Node{true, std::move(s), {}});
    };
    while (pos < text.size()) {
        size_t open = text.find("{{", pos);
        if (open == std::string::npos) {
            add_text(text.substr(pos));
            break;
        }
        std::string before = text.substr(pos, open - pos);
        size_t inner = open + 2;
        bool trim_left = inner + 1 < text.size() && text[inner] == '-' && is_space(text[inner + 1]);
        if (trim_left) {
            ++inner;
            while (!before.empty() && is_space(before.back())) before.pop_back();
        }
        add_text(std::move(before));
        int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(open), '\n'));
        // Comments: {{/* ... */}}
        size_t c = inner;
        while (trim_left && c < text.size() && is_space(text[c])) ++c;
        if (text.compare(c, 2, "/*") == 0) {
            size_t end = text.find("*/", c + 2);
            if (end == std::string::npos) {
                return make_error(Errc::InvalidArgument, "template parsing error: template: :" + std::to_string(line) + ": unclosed comment");
            }
            size_t after = end + 2;
            if (text.compare(after, 4, " -}}") == 0) {
                trim_next = true;
                pos = after + 4;
            } else if (text.compare(after, 2, "}}") == 0) {
                pos = after + 2;
            } else {
                return make_error(Errc::InvalidArgument,
                                  "template parsing error: template: :" + std::to_string(line) + ": comment ends before closing delimiter");
            }
            continue;
        }
        ActionParser parser(text, inner, line);
        CTL_ASSIGN_OR_RETURN(auto pipe, parser.parse_action());
        nodes->push_back(Node{false, {}, std::move(pipe)});
        pos = parser.pos();
        trim_next = parser.trim_right();
    }
    t.nodes_ = std::move(nodes);
    return t;
}

bool Template::empty() const { return !nodes_ || nodes_->empty(); }

Result<std::string> Template::render(const Json& data) const {
    std::string out;
    if (!nodes_) return out;
    Evaluator ev(data, nullptr);
    for (const auto& node : *nodes_) {
        if (node.is_text) {
            out += node.text;
            continue;
        }
        CTL_ASSIGN_OR_RETURN(auto v, ev.action(node.pipe));
        out += print_val(v);
    }
    return out;
}

std::string Template::render_header(const HeaderNames& names) const {
    std::string out;
    if (!nodes_) return out;
    Evaluator ev(Json(), &names);
    for (const auto& node : *nodes_) {
        if (node.is_text) {
            out += node.text;
            continue;
        }
        auto v = ev.action(node.pipe);
        if (v) out += as_text(*v);
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Printing

std::string go_print(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null: return "<nil>";
        case Json::value_t::string: return v.get<std::string>();
        case Json::value_t::boolean: return v.get<bool>() ? "true" : "false";
        case Json::value_t::number_integer: return std::to_string(v.get<int64_t>());
        case Json::value_t::number_unsigned: return std::to_string(v.get<uint64_t>());
        case Json::value_t::number_float: {
            double d = v.get<double>();
            if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e21) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.0f", d);
                return buf;
            }
            if (std::isnan(d)) return "NaN";
            if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
            // The shortest form that reads back the same, as Go's %v.
            char buf[64];
            for (int prec = 1; prec <= 17; ++prec) {
                std::snprintf(buf, sizeof buf, "%.*g", prec, d);
                if (std::strtod(buf, nullptr) == d) break;
            }
            return buf;
        }
        case Json::value_t::array: {
            std::string out = "[";
            for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + go_print(v[i]);
            return out + "]";
        }
        case Json::value_t::object: {
            std::string out = "map[";
            bool first = true;
            for (auto it = v.begin(); it != v.end(); ++it) {  // nlohmann keeps keys sorted, as fmt does
                out += (first ? "" : " ") + it.key() + ":" + go_print(*it);
                first = false;
            }
            return out + "]";
        }
        default: return v.dump();
    }
}

std::string header_name(std::string_view field) {
    std::string out;
    for (size_t i = 0; i < field.size(); ++i) {
        char c = field[i];
        if (c == '_' || c == '-') {
            if (!out.empty() && out.back() != ' ') out += ' ';
            continue;
        }
        auto up = [](char ch) { return std::isupper(static_cast<unsigned char>(ch)) != 0; };
        auto low = [](char ch) { return std::islower(static_cast<unsigned char>(ch)) != 0 || std::isdigit(static_cast<unsigned char>(ch)) != 0; };
        if (i > 0 && up(c) && (low(field[i - 1]) || (up(field[i - 1]) && i + 1 < field.size() && std::islower(static_cast<unsigned char>(field[i + 1]))))) {
            if (!out.empty() && out.back() != ' ') out += ' ';
        }
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

namespace {

struct Cell {
    std::string_view text;
    size_t width = 0;
};

class TabFormatter {
public:
    TabFormatter(std::string_view text, size_t min_width, size_t padding) : min_width_(min_width), padding_(padding) {
        size_t start = 0;
        for (;;) {
            auto nl = text.find('\n', start);
            std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
            std::vector<Cell> cells;
            size_t cs = 0;
            for (;;) {
                auto tab = line.find('\t', cs);
                std::string_view cell = line.substr(cs, tab == std::string_view::npos ? std::string_view::npos : tab - cs);
                cells.push_back(Cell{cell, code_points(cell)});
                if (tab == std::string_view::npos) break;
                cs = tab + 1;
            }
            lines_.push_back(std::move(cells));
            if (nl == std::string_view::npos) break;
            start = nl + 1;
        }
    }

    std::string run() {
        format(0, lines_.size());
        return std::move(out_);
    }

private:
    // Go's tabwriter.format: find the blocks of the next column, fix their widths, recurse.
    void format(size_t line0, size_t line1) {
        size_t column = widths_.size();
        for (size_t i = line0; i < line1; ++i) {
            if (column + 1 >= lines_[i].size()) continue;
            write_lines(line0, i);
            line0 = i;
            size_t width = min_width_;
            for (; i < line1; ++i) {
                if (column + 1 >= lines_[i].size()) break;
                width = std::max(width, lines_[i][column].width + padding_);
            }
            widths_.push_back(width);
            format(line0, i);
            widths_.pop_back();
            line0 = i;
            if (i >= line1) break;
        }
        write_lines(line0, line1);
    }

    void write_lines(size_t line0, size_t line1) {
        for (size_t i = line0; i < line1; ++i) {
            const auto& cells = lines_[i];
            for (size_t j = 0; j < cells.size(); ++j) {
                out_ += cells[j].text;
                if (j < widths_.size()) out_.append(widths_[j] > cells[j].width ? widths_[j] - cells[j].width : 0, ' ');
            }
            if (i + 1 < lines_.size()) out_ += '\n';
        }
    }

    size_t min_width_, padding_;
    std::vector<std::vector<Cell>> lines_;
    std::vector<size_t> widths_;
    std::string out_;
};

}  // namespace

std::string tabwrite(std::string_view text, size_t min_width, size_t padding) {
    return TabFormatter(text, min_width, padding).run();
}

Result<std::string> format_rows(std::string_view format, std::string_view default_format, const std::vector<Json>& rows,
                                const HeaderNames& names) {
    std::string fmt(format.empty() || format == "table" ? default_format : format);
    if (fmt == "json") {
        std::string out;
        for (const auto& r : rows) out += to_line(r) + "\n";
        return out;
    }
    CTL_ASSIGN_OR_RETURN(auto tmpl, Template::parse(fmt));
    std::string body;
    if (tmpl.is_table()) body = tmpl.render_header(names) + "\n";
    for (const auto& r : rows) {
        CTL_ASSIGN_OR_RETURN(auto line, tmpl.render(r));
        body += line + "\n";
    }
    return tmpl.is_table() ? tabwrite(body) : body;
}

Result<std::string> format_object(std::string_view format, const Json& value) {
    if (format == "json") return to_line(value) + "\n";
    CTL_ASSIGN_OR_RETURN(auto tmpl, Template::parse(format));
    CTL_ASSIGN_OR_RETURN(auto text, tmpl.render(value));
    return text + "\n";
}

}  // namespace ctl::client
