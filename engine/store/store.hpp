// The engine's state store: one SQLite file (WAL, foreign keys, synchronous=FULL) owned by this
// module. Schema changes are forward-only migrations listed in schema.cpp. Writes that belong
// together go through transact(), so a crash leaves either all of them or none.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/base/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace ctl::store {

using Value = std::variant<std::nullptr_t, int64_t, double, std::string>;
using Row = std::vector<Value>;

std::string as_string(const Value& v);  // "" for null
int64_t as_int(const Value& v);         // 0 for null

struct Migration {
    int version;
    const char* sql;
};
// Every migration of the engine, in order (schema.cpp).
const std::vector<Migration>& migrations();

class Store {
public:
    // Opens (creating if needed) and migrates. Errors: DataLoss for a corrupt file.
    static Result<std::unique_ptr<Store>> open(const std::string& path);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Runs one parameterised statement. UNIQUE violations are AlreadyExists.
    Status execute(std::string_view sql, const std::vector<Value>& params = {});
    Result<std::vector<Row>> query(std::string_view sql, const std::vector<Value>& params = {});
    // Rows changed by the last execute() on this thread's transaction.
    int64_t changes();
    // BEGIN IMMEDIATE; fn; COMMIT — or ROLLBACK when fn fails. Nested calls join the outer one.
    Status transact(const std::function<Status()>& fn);
    int schema_version();
    const std::string& path() const { return path_; }

    // Small key/value settings (engine ID, ...).
    Result<std::string> get_meta(const std::string& key);
    Status set_meta(const std::string& key, const std::string& value);

private:
    Store() = default;
    Status exec_script(const char* sql);
    Status migrate();
    // The prepared statement for sql, kept for reuse (preparing costs more than running most of
    // our queries; `ps` runs one per container). Call with mutex_ held; reset after use.
    Result<sqlite3_stmt*> prepared(std::string_view sql);

    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;
    std::recursive_mutex mutex_;
    int tx_depth_ = 0;
    std::string path_;
};

}  // namespace ctl::store
