// The one way the project includes Asio and Beast. <utility> first: older Asio headers used
// std::exchange without including it. Include this only in the few translation units that
// speak HTTP or run an io_context: these headers dominate build times.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace ctl {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
}  // namespace ctl
