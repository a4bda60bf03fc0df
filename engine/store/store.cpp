#include "engine/store/store.hpp"

#include <sqlite3.h>

#include <algorithm>

namespace ctl::store {

std::string as_string(const Value& v) {
    if (auto s = std::get_if<std::string>(&v)) return *s;
    if (auto i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    if (auto d = std::get_if<double>(&v)) return std::to_string(*d);
    return {};
}

int64_t as_int(const Value& v) {
    if (auto i = std::get_if<int64_t>(&v)) return *i;
    if (auto d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
    if (auto s = std::get_if<std::string>(&v)) {
        try {
            return std::stoll(*s);
        } catch (...) {
        }
    }
    return 0;
}

namespace {

Error db_error(sqlite3* db, std::string_view what) {
    int code = sqlite3_extended_errcode(db);
    std::string msg = std::string(what) + ": " + sqlite3_errmsg(db);
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return make_error(Errc::AlreadyExists, msg);
    }
    if ((code & 0xff) == SQLITE_CONSTRAINT) return make_error(Errc::Conflict, msg);
    if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB) return make_error(Errc::DataLoss, msg);
    if ((code & 0xff) == SQLITE_BUSY) return make_error(Errc::Unavailable, msg);
    return make_error(Errc::Internal, msg);
}

// Readies a cached statement for its next use (and ends its read transaction) on every path.
struct StmtGuard {
    sqlite3_stmt* stmt = nullptr;
    ~StmtGuard() {
        if (stmt) {
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
        }
    }
};

constexpr size_t kMaxCachedStatements = 128;  // our SQL is fixed text; this only bounds surprises

Status bind_all(sqlite3* db, sqlite3_stmt* stmt, const std::vector<Value>& params) {
    for (size_t i = 0; i < params.size(); ++i) {
        int idx = static_cast<int>(i + 1);
        int rc = std::visit(
            [&](const auto& v) -> int {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(stmt, idx);
                else if constexpr (std::is_same_v<T, int64_t>) return sqlite3_bind_int64(stmt, idx, v);
                else if constexpr (std::is_same_v<T, double>) return sqlite3_bind_double(stmt, idx, v);
                else return sqlite3_bind_text(stmt, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
            },
            params[i]);
        if (rc != SQLITE_OK) return db_error(db, "bind");
    }
    return ok();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
    std::unique_ptr<Store> store(new Store());
    store->path_ = path;
    int rc = sqlite3_open_v2(path.c_str(), &store->db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        return make_error(Errc::Internal, "open store " + path + ": " + sqlite3_errstr(rc));
    }
    sqlite3_busy_timeout(store->db_, 10000);
    // WAL with synchronous=NORMAL: every commit is atomic and survives a crash or SIGKILL of ctld
    // (the WAL is in the page cache); only a power loss may drop the last commits, never tear
    // one. FULL would fsync on every container state change, milliseconds each on the start path.
    CTL_TRY(store->exec_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
    // A quick check catches a file that is not a database before migrations touch it.
    auto check = store->query("PRAGMA quick_check");
    if (!check) return with_context(std::move(check).error(), "store " + path + " is damaged");
    if (check->empty() || as_string((*check)[0][0]) != "ok") {
        return make_error(Errc::DataLoss, "store " + path + " failed its integrity check");
    }
    CTL_TRY(store->migrate());
    return store;
}

Store::~Store() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
}

Result<sqlite3_stmt*> Store::prepared(std::string_view sql) {
    if (auto it = statements_.find(std::string(sql)); it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
        SQLITE_OK) {
        sqlite3_finalize(stmt);
        return db_error(db_, "prepare");
    }
    if (statements_.size() >= kMaxCachedStatements) {
        for (auto& [text, old] : statements_) sqlite3_finalize(old);
        statements_.clear();
    }
    statements_.emplace(std::string(sql), stmt);
    return stmt;
}

Status Store::exec_script(const char* sql) {
    std::lock_guard lock(mutex_);
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        sqlite3_free(err);
        return db_error(db_, "store " + path_);
    }
    return ok();
}

Status Store::execute(std::string_view sql, const std::vector<Value>& params) {
    std::lock_guard lock(mutex_);
    StmtGuard g;
    CTL_ASSIGN_OR_RETURN(g.stmt, prepared(sql));
    CTL_TRY(bind_all(db_, g.stmt, params));
    int rc;
    while ((rc = sqlite3_step(g.stmt)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) return db_error(db_, "execute");
    return ok();
}

Result<std::vector<Row>> Store::query(std::string_view sql, const std::vector<Value>& params) {
    std::lock_guard lock(mutex_);
    StmtGuard g;
    CTL_ASSIGN_OR_RETURN(g.stmt, prepared(sql));
    CTL_TRY(bind_all(db_, g.stmt, params));
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(g.stmt)) == SQLITE_ROW) {
        int n = sqlite3_column_count(g.stmt);
        Row row;
        row.reserve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            switch (sqlite3_column_type(g.stmt, i)) {
                case SQLITE_INTEGER: row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(g.stmt, i))); break;
                case SQLITE_FLOAT: row.emplace_back(sqlite3_column_double(g.stmt, i)); break;
                case SQLITE_NULL: row.emplace_back(nullptr); break;
                default: {
                    auto* text = reinterpret_cast<const char*>(sqlite3_column_blob(g.stmt, i));
                    int len = sqlite3_column_bytes(g.stmt, i);
                    row.emplace_back(std::string(text ? text : "", static_cast<size_t>(len)));
                }
            }
        }
        rows.push_back(std::move(row));
    }
    if (rc != SQLITE_DONE) return db_error(db_, "query");
    return rows;
}

int64_t Store::changes() {
    std::lock_guard lock(mutex_);
    return sqlite3_changes64(db_);
}

Status Store::transact(const std::function<Status()>& fn) {
    std::lock_guard lock(mutex_);
    if (tx_depth_ > 0) {
        ++tx_depth_;
        Status st = fn();
        --tx_depth_;
        return st;
    }
    CTL_TRY(exec_script("BEGIN IMMEDIATE"));
    ++tx_depth_;
    Status st = fn();
    --tx_depth_;
    if (!st) {
        (void)exec_script("ROLLBACK");
        return st;
    }
    if (auto c = exec_script("COMMIT"); !c) {
        (void)exec_script("ROLLBACK");
        return c;
    }
    return ok();
}

int Store::schema_version() {
    auto rows = query("PRAGMA user_version");
    return rows && !rows->empty() ? static_cast<int>(as_int((*rows)[0][0])) : 0;
}

Status Store::migrate() {
    int current = schema_version();
    // Modules append their migrations in schema.cpp; apply them by number whatever the order.
    auto ordered = migrations();
    std::sort(ordered.begin(), ordered.end(), [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (const auto& m : ordered) {
        if (m.version <= current) continue;
        Status st = transact([&]() -> Status {
            CTL_TRY(exec_script(m.sql));
            return exec_script(("PRAGMA user_version=" + std::to_string(m.version)).c_str());
        });
        if (!st) return with_context(std::move(st).error(), "store migration " + std::to_string(m.version));
    }
    return ok();
}

Result<std::string> Store::get_meta(const std::string& key) {
    CTL_ASSIGN_OR_RETURN(auto rows, query("SELECT value FROM meta WHERE key = ?", {key}));
    if (rows.empty()) return make_error(Errc::NotFound, "no meta key " + key);
    return as_string(rows[0][0]);
}

Status Store::set_meta(const std::string& key, const std::string& value) {
    return execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                   {key, value});
}

}  // namespace ctl::store
