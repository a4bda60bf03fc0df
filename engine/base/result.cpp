#include "engine/base/result.hpp"

#include <cstring>

namespace ctl {

std::string_view errc_name(Errc code) {
    switch (code) {
        case Errc::InvalidArgument: return "invalid argument";
        case Errc::Unauthorized: return "unauthorized";
        case Errc::Forbidden: return "forbidden";
        case Errc::NotFound: return "not found";
        case Errc::AlreadyExists: return "already exists";
        case Errc::Conflict: return "conflict";
        case Errc::NotModified: return "not modified";
        case Errc::TooLarge: return "too large";
        case Errc::NotImplemented: return "not implemented";
        case Errc::Unavailable: return "unavailable";
        case Errc::Cancelled: return "cancelled";
        case Errc::DeadlineExceeded: return "deadline exceeded";
        case Errc::DataLoss: return "data loss";
        case Errc::Internal: return "internal";
    }
    return "internal";
}

Error with_context(Error e, std::string_view what) {
    e.message = std::string(what) + ": " + e.message;
    return e;
}

Error sys_error(std::string_view what, int err) {
    Errc code = Errc::Internal;
    switch (err) {
        case ENOENT: code = Errc::NotFound; break;
        case EEXIST: code = Errc::AlreadyExists; break;
        case EACCES:
        case EPERM: code = Errc::Forbidden; break;
        case EBUSY: code = Errc::Conflict; break;
        case EINVAL: code = Errc::InvalidArgument; break;
        default: break;
    }
    return Error{code, std::string(what) + ": " + std::strerror(err), err};
}

}  // namespace ctl
