// lmdb_env.h — small RAII wrappers over LMDB for the store's two LMDB files (store.cpp: the
// samples and entities; store_rollups.cpp: the roll-ups). Private to src/: nothing else
// includes lmdb.h.
//
// Caveats:
//  - fail() and check() throw StoreError with an operator-readable message and a hint.
//  - A write transaction's commit frees its cursors: close() them before committing.
#pragma once

#include <lmdb.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "sflow_monitor/store.h"

namespace sfm::lmdb {

inline MDB_val mval(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }
inline std::string_view sview(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

[[noreturn]] inline void fail(const std::string& dir, const char* what, int rc) {
    std::string hint;
    if (rc == MDB_MAP_FULL) hint = " (raise map-size or lower retention)";
    else if (rc == ENOSPC) hint = " (the disk is full)";
    else if (rc == EACCES) hint = " (check the data directory's permissions)";
    else if (rc == MDB_READERS_FULL) hint = " (too many concurrent readers)";
    throw StoreError(std::string("store ") + dir + ": " + what + ": " + mdb_strerror(rc) + hint);
}

inline void check(const std::string& dir, int rc, const char* what) {
    if (rc != 0) fail(dir, what, rc);
}

// ---- small RAII wrappers ---------------------------------------------------------------------

// The environment: created, sized and opened, or StoreError; closed by the destructor.
class Env {
public:
    // map_size 0: the size the store's file records (LMDB reads it when none is set).
    Env(const std::string& dir, uint64_t map_size) {
        check(dir, mdb_env_create(&env_), "create environment");
        int rc = map_size ? mdb_env_set_mapsize(env_, map_size) : 0;
        if (rc == 0) rc = mdb_env_set_maxdbs(env_, 8);
        if (rc == 0) rc = mdb_env_set_maxreaders(env_, 256);
        if (rc == 0) rc = mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0640);
        if (rc != 0) {
            mdb_env_close(env_);
            fail(dir, "open", rc);
        }
        int dead = 0;
        mdb_reader_check(env_, &dead);  // slots left by a killed process
    }
    ~Env() { mdb_env_close(env_); }
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;
    MDB_env* get() const { return env_; }
    uint64_t map_size() const {
        MDB_envinfo info;
        mdb_env_info(env_, &info);
        return info.me_mapsize;  // LMDB raises a size below what the store already uses
    }

private:
    MDB_env* env_ = nullptr;
};


// A transaction, aborted by the destructor unless committed.
class Txn {
public:
    Txn(const Env& env, bool write, const std::string& dir) : dir_(dir) {
        check(dir_, mdb_txn_begin(env.get(), nullptr, write ? 0 : MDB_RDONLY, &t_), "begin transaction");
    }
    ~Txn() {
        if (t_) mdb_txn_abort(t_);
    }
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    MDB_txn* get() const { return t_; }
    // Returns MDB_MAP_FULL instead of throwing it (the writer purges and retries).
    int commit_or_full() {
        int rc = mdb_txn_commit(t_);
        t_ = nullptr;
        if (rc != MDB_MAP_FULL) check(dir_, rc, "commit");
        return rc;
    }
    void commit() { check(dir_, commit_or_full(), "commit"); }

private:
    const std::string& dir_;
    MDB_txn* t_ = nullptr;
};

// A cursor. A write transaction's commit frees its cursors: close() them before committing.
class Cursor {
public:
    Cursor(const Txn& t, MDB_dbi d, const std::string& dir) : dir_(dir) {
        check(dir_, mdb_cursor_open(t.get(), d, &c_), "open cursor");
    }
    ~Cursor() { close(); }
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    void close() {
        if (c_) mdb_cursor_close(c_);
        c_ = nullptr;
    }
    int get(MDB_val& k, MDB_val& v, MDB_cursor_op op) { return mdb_cursor_get(c_, &k, &v, op); }
    void del(const char* what) { check(dir_, mdb_cursor_del(c_, 0), what); }
    MDB_cursor* get() const { return c_; }

private:
    const std::string& dir_;
    MDB_cursor* c_ = nullptr;
};

}  // namespace sfm::lmdb
