// Shows a JSON progress stream (pull, push, load, import, build) the way the docker CLI does:
// on a terminal one line per layer id, redrawn in place; otherwise each message on its own line.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "engine/base/json.hpp"
#include "engine/base/result.hpp"

namespace ctl::client {

class ProgressPrinter {
public:
    explicit ProgressPrinter(FILE* out, bool terminal);
    // Shows one message; returns the error a message carries (errorDetail/error), if any.
    Status show(const Json& message);
    // Aux payloads (push digests, build IDs) seen so far.
    const std::vector<Json>& aux() const { return aux_; }

private:
    FILE* out_;
    bool terminal_;
    std::vector<std::string> ids_;  // lines drawn, in order, for in-place updates
    std::vector<Json> aux_;
};

bool is_terminal(FILE* f);

}  // namespace ctl::client
