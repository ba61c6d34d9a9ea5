#pragma once
// A few read-only connections to the database, each used by one thread at a time.
//
// Why more than one: reads run on the server's network threads (drains, authentication,
// device lists), and one reader behind one mutex made every network thread wait for whichever
// read was running, the housekeeper's whole-table counts included. WAL gives each connection
// its own snapshot, so readers never wait for each other or for the writer; only for a free
// connection when every one is held.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "store/sqlite/db.hpp"

namespace pp::store::sqlite {

class ReaderPool {
  public:
    explicit ReaderPool(std::vector<std::unique_ptr<Connection>> readers);
    ReaderPool(const ReaderPool&) = delete;
    ReaderPool& operator=(const ReaderPool&) = delete;

    // One connection, given back when the lease is destroyed.
    class Lease {
      public:
        Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(other.conn_) {
            other.pool_ = nullptr;
            other.conn_ = nullptr;
        }
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease() {
            if (pool_ != nullptr) pool_->give_back(conn_);
        }
        Connection& operator*() const { return *conn_; }
        Connection* operator->() const { return conn_; }

      private:
        friend class ReaderPool;
        Lease(ReaderPool* pool, Connection* conn) : pool_(pool), conn_(conn) {}
        ReaderPool* pool_;
        Connection* conn_;
    };

    // An idle connection; waits for the first one given back when all are held.
    Lease acquire();

  private:
    void give_back(Connection* conn);

    std::vector<std::unique_ptr<Connection>> all_;
    std::mutex mu_;
    std::condition_variable returned_;
    std::vector<Connection*> idle_;  // guarded by mu_
};

}  // namespace pp::store::sqlite
