// Streaming helpers shared by routers.
#pragma once

#include <functional>
#include <memory>

#include "api/http.hpp"

namespace ctl::api {

using ReadFn = std::function<long(void* buf, size_t len)>;

// Reads a streamed request body (Request::body_stream) as a ReadFn.
ReadFn queue_reader(std::shared_ptr<ByteQueue> queue);
// The request's body as a ReadFn, whether it was buffered or streamed.
ReadFn body_reader(const Request& req);

// Runs `work` on its own thread and answers the way moby does: if it fails before writing
// anything, a plain HTTP error ({"message"}, status from the error kind); otherwise a chunked
// JSON stream that ends with an error line on failure. `work` returns false from write() when
// the client has gone away and should stop then.
Response lazy_json_stream(std::function<Status(JsonStream&)> work, std::string content_type = "application/json");

// Same for raw byte streams (image save, export): `work` writes with the sink; an error before
// the first byte is a plain HTTP error, after it the connection is cut.
Response lazy_raw_stream(std::string content_type,
                         std::function<Status(const std::function<Status(const char*, size_t)>&)> work);

}  // namespace ctl::api
