#pragma once
/// @file
/// `plan_cache<Key, Entry>`: the few most recently used plan entries of one call site.
///
/// A layer sees a handful of shapes (training batch, evaluation batch, the last partial
/// batch); keeping one entry per shape avoids rebuilding primitives when they alternate,
/// while the bound keeps a call site from growing without limit.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace smile {

template <class Key, class Entry, std::size_t Capacity = 4>
class plan_cache {
public:
    /// The entry for `key`, built by `make()` when absent (evicting the least recently used).
    template <class Make>
    Entry& find_or_create(const Key& key, Make&& make) {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (slots_[i]->key == key) {
                std::rotate(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(i),
                            slots_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
                return slots_.front()->entry;
            }
        }
        if (slots_.size() == Capacity) slots_.pop_back();
        slots_.insert(slots_.begin(), std::make_unique<slot>(slot{key, make()}));
        return slots_.front()->entry;
    }

    [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }

private:
    struct slot {
        Key key;
        Entry entry;
    };
    std::vector<std::unique_ptr<slot>> slots_;
};

}  // namespace smile
