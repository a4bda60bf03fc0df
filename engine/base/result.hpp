// Error values shared by every module: a closed set of kinds (mapped to HTTP once, in api/)
// and a std::expected-shaped Result<T> so call sites can switch to std::expected with C++23.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ctl {

enum class Errc {
    InvalidArgument,   // 400: the caller sent something wrong
    Unauthorized,      // 401
    Forbidden,         // 403
    NotFound,          // 404
    AlreadyExists,     // 409
    Conflict,          // 409: state does not allow it (running, in use)
    NotModified,       // 304: already in the requested state
    TooLarge,          // 413: body or blob over a limit
    NotImplemented,    // 501
    Unavailable,       // 503
    Cancelled,         // client went away, shutdown
    DeadlineExceeded,
    DataLoss,          // digest mismatch, corrupt store
    Internal,          // 500
};

std::string_view errc_name(Errc code);

struct Error {
    Errc code = Errc::Internal;
    std::string message;  // user-facing; Docker's wording where clients match on it
    int sys_errno = 0;    // kept from the failing syscall
};

// Prefixes context: with_context(e, "mounting overlay") -> "mounting overlay: <message>".
Error with_context(Error e, std::string_view what);

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message), 0}; }
// An Error from errno, message "<what>: <strerror>"; ENOENT maps to NotFound, EEXIST to AlreadyExists.
Error sys_error(std::string_view what, int err = errno);

template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit like expected
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }
    T value_or(T other) const { return has_value() ? value() : std::move(other); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const& { return error_; }
    Error&& error() && { return std::move(error_); }

private:
    Error error_;
    bool ok_ = true;
};

using Status = Result<void>;
inline Status ok() { return {}; }

}  // namespace ctl

// Early return on error: CTL_TRY(do_thing()); or auto x = CTL_TRY_VALUE(get_thing());
#define CTL_TRY(expr)                                                  \
    do {                                                               \
        auto&& ctl_try_result_ = (expr);                               \
        if (!ctl_try_result_) return std::move(ctl_try_result_).error(); \
    } while (0)

#define CTL_CONCAT_INNER(a, b) a##b
#define CTL_CONCAT(a, b) CTL_CONCAT_INNER(a, b)
#define CTL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                            \
    if (!tmp) return std::move(tmp).error();      \
    lhs = std::move(tmp).value()
// CTL_ASSIGN_OR_RETURN(auto x, f()); declares/assigns x or returns f()'s error.
#define CTL_ASSIGN_OR_RETURN(lhs, expr) \
    CTL_ASSIGN_OR_RETURN_IMPL(CTL_CONCAT(ctl_result_, __LINE__), lhs, expr)
