#pragma once
/// @file
/// Ranks as threads of one process: a communicator whose collectives meet at a barrier, for
/// testing data-parallel code (synchronised batch norm, the gradient seam) without MPI.
///
/// Non-blocking all-reduces sum at once by default. `deferred` ones sum only when waited for
/// (every pending one up to the ticket, in the order they were started, as all ranks must): the
/// latest an engine may read the values, so a test sees what a gradient written after the start
/// would do.

#include <barrier>
#include <cstdlib>
#include <functional>
#include <smile/distributed/communicator.hpp>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace smile::test {

class thread_ranks {
public:
    explicit thread_ranks(int size, bool deferred = false)
        : size_(size), deferred_(deferred), meet_(size), doubles_(std::size_t(size)) {}
    /// Runs body(communicator&) on `size` threads, one rank each, and waits for them.
    void run(const std::function<void(communicator&)>& body) {
        std::vector<std::thread> threads;
        std::vector<rank_view> views;
        views.reserve(std::size_t(size_));
        for (int r = 0; r < size_; ++r) views.emplace_back(*this, r);
        for (int r = 0; r < size_; ++r)
            threads.emplace_back([&, r] { body(views[std::size_t(r)]); });
        for (auto& t : threads) t.join();
    }

private:
    class rank_view final : public communicator {
    public:
        rank_view(thread_ranks& g, int rank) : g_(g), rank_(rank) {}
        [[nodiscard]] int rank() const noexcept override { return rank_; }
        [[nodiscard]] int size() const noexcept override { return g_.size_; }
        [[nodiscard]] std::string describe() const override { return "threads"; }
        void allreduce_sum(std::span<float> v) override { reduce(v); }
        void allreduce_sum(std::span<double> v) override { reduce(v); }
        void broadcast(std::span<float> v, int root) override { share(v, root); }
        void broadcast(std::span<std::uint8_t> v, int root) override { share(v, root); }
        void allgather(std::span<const float> local, std::span<float> all) override {
            publish(local);
            std::size_t at = 0;
            for (const auto& slot : g_.doubles_)
                for (double x : slot) all[at++] = float(x);
            g_.meet_.arrive_and_wait();
        }
        void barrier() override { g_.meet_.arrive_and_wait(); }
        std::size_t start_allreduce_sum(std::span<float> v) override {
            if (!g_.deferred_) {
                reduce(v);
                return 0;
            }
            pending_.push_back(v);
            return pending_.size() - 1;
        }
        void wait(std::size_t ticket) override {
            for (; summed_ <= ticket && summed_ < pending_.size(); ++summed_) reduce(pending_[summed_]);
            if (summed_ == pending_.size()) {
                pending_.clear();
                summed_ = 0;
            }
        }

        [[noreturn]] void abort(const std::string&) override { std::abort(); }

    private:
        template <class T>
        void publish(std::span<T> v) {
            g_.doubles_[std::size_t(rank_)].assign(v.begin(), v.end());
            g_.meet_.arrive_and_wait();
        }
        template <class T>
        void reduce(std::span<T> v) {
            publish(std::span<const T>(v.data(), v.size()));
            for (std::size_t i = 0; i < v.size(); ++i) {
                double sum = 0;  // in rank order, as every rank sums
                for (const auto& slot : g_.doubles_) sum += slot[i];
                v[i] = T(sum);
            }
            g_.meet_.arrive_and_wait();
        }
        template <class T>
        void share(std::span<T> v, int root) {
            publish(std::span<const T>(v.data(), v.size()));
            const auto& from = g_.doubles_[std::size_t(root)];
            for (std::size_t i = 0; i < v.size(); ++i) v[i] = T(from[i]);
            g_.meet_.arrive_and_wait();
        }
        thread_ranks& g_;
        int rank_;
        std::vector<std::span<float>> pending_;  // deferred sums, by ticket
        std::size_t summed_ = 0;                 // of which summed
    };

    int size_;
    bool deferred_;
    std::barrier<> meet_;
    std::vector<std::vector<double>> doubles_;
};

}  // namespace smile::test
