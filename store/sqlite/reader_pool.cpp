#include "store/sqlite/reader_pool.hpp"

namespace pp::store::sqlite {

ReaderPool::ReaderPool(std::vector<std::unique_ptr<Connection>> readers)
    : all_(std::move(readers)) {
    for (auto& c : all_) idle_.push_back(c.get());
}

ReaderPool::Lease ReaderPool::acquire() {
    std::unique_lock lock(mu_);
    returned_.wait(lock, [this] { return !idle_.empty(); });
    // The most recently returned first: its page cache is the warmest.
    Connection* c = idle_.back();
    idle_.pop_back();
    return Lease(this, c);
}

void ReaderPool::give_back(Connection* conn) {
    {
        std::lock_guard lock(mu_);
        idle_.push_back(conn);
    }
    returned_.notify_one();
}

}  // namespace pp::store::sqlite
