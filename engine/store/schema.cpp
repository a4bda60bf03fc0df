// Forward-only schema history. Append a migration; never edit one that has shipped.
#include "engine/store/store.hpp"

namespace ctl::store {

const std::vector<Migration>& migrations() {
    static const std::vector<Migration> kMigrations = {
        {1, R"sql(
            CREATE TABLE meta (
                key   TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) STRICT;
        )sql"},
    };
    return kMigrations;
}

}  // namespace ctl::store
