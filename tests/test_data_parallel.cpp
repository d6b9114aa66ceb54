// Data-parallel building blocks with ranks as threads (support/thread_ranks.hpp): synchronised
// batch norm equals batch norm over the whole batch, and the optimizer's gradient seam averages.
#include <doctest/doctest.h>

#include <smile/core/session.hpp>
#include <smile/distributed/gradient_buckets.hpp>
#include <smile/layers/conv2d.hpp>
#include <smile/layers/linear.hpp>
#include <smile/layers/pooling.hpp>
#include <smile/layers/sequential.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/optim/make_optimizer.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "random_data.hpp"
#include "thread_ranks.hpp"

using B = smile::default_backend;
using smile::shape4;

namespace {
std::vector<float> rows_of(const std::vector<float>& v, std::int64_t begin, std::int64_t count,
                           std::int64_t row) {
    return {v.begin() + begin * row, v.begin() + (begin + count) * row};
}
}  // namespace

TEST_CASE(
    "synchronised batch norm over 2 and 3 ranks equals batch norm of the whole batch, forward and "
    "backward") {
    for (const bool fuse_relu : {false, true})
        for (const std::int64_t ranks : {2, 3}) {
            CAPTURE(fuse_relu);
            CAPTURE(ranks);
            const std::int64_t n = 6, per_rank = n / ranks, c = 3;
            const shape4 shape{n, c, 5, 4};
            const std::int64_t row = shape.row_size();
            smile::rng gen(7);
            // Not centred, not unit: the statistics matter.
            auto x = smile::test::uniform_values(gen, shape.size());
            for (auto& v : x) v = 3.0f * v + 1.5f;
            const auto dy = smile::test::uniform_values(gen, shape.size());
            const smile::batch_norm2d_options o{c, 1e-5f, 0.1f, fuse_relu};
            // One process, the whole batch.
            smile::session<B> s;
            smile::batch_norm2d<B> whole(s, o);
            whole.weight().value.copy_from_host(std::vector<float>{0.5f, -1.25f, 2.0f});
            whole.bias().value.copy_from_host(std::vector<float>{0.1f, 0.2f, -0.3f});
            auto xt = smile::tensor<B>::from_host(s, shape, x),
                 dyt = smile::tensor<B>::from_host(s, shape, dy);
            smile::tensor<B> y, dx;
            whole.forward(s, xt, y, smile::mode::train);
            whole.backward(s, dyt, &dx);
            const auto y_whole = y.to_host(), dx_whole = dx.to_host();
            const auto dgamma_whole = whole.weight().grad.to_host(),
                       dbeta_whole = whole.bias().grad.to_host();
            const auto mean_whole = whole.running_mean().to_host(),
                       var_whole = whole.running_var().to_host();
            // The ranks, each with its rows.
            const auto count = static_cast<std::size_t>(ranks);
            std::vector<std::vector<float>> y_rank(count), dx_rank(count), dgamma(count),
                dbeta(count), mean(count), var(count);
            smile::test::thread_ranks(int(ranks)).run([&](smile::communicator& comm) {
                const auto r = std::size_t(comm.rank());
                smile::session<B> rs;
                rs.set_communicator(comm);
                rs.set_sync_batch_norm(true);
                smile::batch_norm2d<B> bn(rs, o);
                bn.weight().value.copy_from_host(std::vector<float>{0.5f, -1.25f, 2.0f});
                bn.bias().value.copy_from_host(std::vector<float>{0.1f, 0.2f, -0.3f});
                const shape4 local{per_rank, c, 5, 4};
                auto xl = smile::tensor<B>::from_host(
                    rs, local, rows_of(x, comm.rank() * per_rank, per_rank, row));
                auto dyl = smile::tensor<B>::from_host(
                    rs, local, rows_of(dy, comm.rank() * per_rank, per_rank, row));
                smile::tensor<B> yl, dxl;
                bn.forward(rs, xl, yl, smile::mode::train);
                bn.backward(rs, dyl, &dxl);
                y_rank[r] = yl.to_host();
                dx_rank[r] = dxl.to_host();
                dgamma[r] = bn.weight().grad.to_host();
                dbeta[r] = bn.bias().grad.to_host();
                mean[r] = bn.running_mean().to_host();
                var[r] = bn.running_var().to_host();
            });
            std::vector<float> dgamma_sum(std::size_t(c), 0.0f), dbeta_sum(std::size_t(c), 0.0f);
            for (std::int64_t r = 0; r < ranks; ++r) {
                const auto k = std::size_t(r);
                CHECK(smile::test::max_abs_diff(
                          y_rank[k], rows_of(y_whole, r * per_rank, per_rank, row)) < 2e-5);
                CHECK(smile::test::max_abs_diff(
                          dx_rank[k], rows_of(dx_whole, r * per_rank, per_rank, row)) < 2e-5);
                CHECK(smile::test::max_abs_diff(mean[k], mean_whole) < 1e-6);
                CHECK(smile::test::max_abs_diff(var[k], var_whole) < 1e-5);
                for (std::size_t j = 0; j < std::size_t(c); ++j)
                    dgamma_sum[j] += dgamma[k][j], dbeta_sum[j] += dbeta[k][j];
            }
            // Each rank's parameter gradients are its own sums; together they are the whole
            // batch's.
            CHECK(smile::test::max_abs_diff(dgamma_sum, dgamma_whole) < 1e-4);
            CHECK(smile::test::max_abs_diff(dbeta_sum, dbeta_whole) < 1e-4);
        }
}

TEST_CASE("without synchronisation each rank normalises with its own rows' statistics") {
    const shape4 local{2, 2, 3, 3};
    std::vector<std::vector<float>> y(2);
    smile::test::thread_ranks(2).run([&](smile::communicator& comm) {
        smile::session<B> s;
        s.set_communicator(comm);  // sync_batch_norm off: PyTorch DDP's default
        smile::batch_norm2d<B> bn(s, {2});
        std::vector<float> x(local.size());
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(i % 7) + 10.0f * float(comm.rank());
        auto xt = smile::tensor<B>::from_host(s, local, x);
        smile::tensor<B> out;
        bn.forward(s, xt, out, smile::mode::train);
        y[std::size_t(comm.rank())] = out.to_host();
    });
    // The ranks' inputs differ by a constant, which their own statistics remove.
    CHECK(smile::test::max_abs_diff(y[0], y[1]) < 1e-5);
}

TEST_CASE(
    "the optimizer's gradient seam makes every rank take the step of the ranks' mean gradient") {
    std::vector<std::vector<float>> after(3);
    smile::test::thread_ranks(3).run([&](smile::communicator& comm) {
        smile::session<B> s;
        s.set_communicator(comm);
        smile::parameter<B> w(s.context(), {4, 1, 1, 1}, 1), frozen(s.context(), {2, 1, 1, 1}, 1);
        w.value.copy_from_host(std::vector<float>{1, 2, 3, 4});
        frozen.value.copy_from_host(std::vector<float>{5, 6});
        const float r = float(comm.rank());
        w.grad_for_write().copy_from_host(std::vector<float>{r, 2 * r, -r, 0.5f});
        smile::optimizer_options o;
        o.weight_decay = 0.1f;  // applied after the average, to the same weights on every rank
        o.momentum = 0.0f;
        auto opt = smile::make_optimizer<B>(o);
        opt->attach_parameters({{"w", &w}, {"frozen", &frozen}});  // `frozen` has no gradient
        opt->step(s, 0.5f);
        after[std::size_t(comm.rank())] = w.value.to_host();
    });
    // mean of r, 2r, −r, 0.5 over r = 0, 1, 2: 1, 2, −1, 0.5; w − 0.5·(ḡ + 0.1·w)
    const std::vector<float> expected{1 - 0.5f * (1 + 0.1f * 1), 2 - 0.5f * (2 + 0.1f * 2),
                                      3 - 0.5f * (-1 + 0.1f * 3), 4 - 0.5f * (0.5f + 0.1f * 4)};
    for (const auto& a : after) CHECK(smile::test::max_abs_diff(a, expected) < 1e-6);
}

namespace {
/// A small network (two convolutions with batch norm, pooling, a head) and an unused layer
/// attached to the same optimizer, whose parameters never get a gradient.
struct bucket_net {
    using net_type = smile::sequential<B, smile::conv2d<B>, smile::batch_norm2d<B>, smile::conv2d<B>,
                                       smile::batch_norm2d<B>, smile::global_avg_pool<B>, smile::linear<B>>;
    net_type net;
    smile::linear<B> spare;
    bucket_net(smile::session<B>& s, smile::rng& g)
        : net({"conv1", "bn1", "conv2", "bn2", "pool", "fc"}, smile::conv2d<B>(s, g, {3, 8, 3, 1, 1, 1, false}),
              smile::batch_norm2d<B>(s, {8, 1e-5f, 0.1f, true}), smile::conv2d<B>(s, g, {8, 8, 3, 1, 1, 1, false}),
              smile::batch_norm2d<B>(s, {8, 1e-5f, 0.1f, false}), smile::global_avg_pool<B>(),
              smile::linear<B>(s, g, {8, 5, true})),
          spare(s, g, {8, 5, true}) {}
    [[nodiscard]] std::vector<std::pair<std::string, smile::parameter<B>*>> parameters() {
        std::vector<std::pair<std::string, smile::parameter<B>*>> named;
        auto add = [&](const std::string& n, smile::parameter<B>& p) { named.emplace_back(n, &p); };
        net.visit_parameters("", add);
        spare.visit_parameters("spare", add);
        return named;
    }
};

/// Every rank's parameters after `steps` SGD steps of `bucket_net` on its half of a 4-image
/// batch, the gradients averaged by the optimizer's buckets during backward (`overlapped`) or by
/// one all-reduce per tensor after it. Also the buckets' names and their last round.
struct bucket_run {
    std::vector<std::vector<float>> weights;  // rank 0's, in parameter order
    std::vector<std::vector<std::string>> layout;
    smile::gradient_buckets<B>::round_report last;
};
bucket_run train_in_buckets(bool overlapped, bool deferred, std::size_t bucket_bytes, int steps = 3) {
    bucket_run out;
    smile::rng data(21);
    const shape4 global{4, 3, 6, 6};
    const auto images = smile::test::uniform_values(data, global.size());
    const auto d_logits = smile::test::uniform_values(data, std::size_t(4 * 5));
    smile::test::thread_ranks(2, deferred).run([&](smile::communicator& comm) {
        smile::session<B> s;
        s.set_communicator(comm);
        s.set_gradient_bucket_bytes(bucket_bytes);
        smile::rng g(11);  // the same initial network on every rank
        bucket_net m(s, g);
        const auto params = m.parameters();
        smile::optimizer_options o;
        o.momentum = 0.9f;
        auto opt = smile::make_optimizer<B>(o);
        opt->attach_parameters(params);
        const std::int64_t r = comm.rank();
        auto x = smile::tensor<B>::from_host(s, {2, 3, 6, 6}, rows_of(images, 2 * r, 2, global.row_size()));
        auto dy = smile::tensor<B>::from_host(s, {2, 5, 1, 1}, rows_of(d_logits, 2 * r, 2, 5));
        smile::tensor<B> y;
        std::vector<smile::parameter<B>*> pointers;
        for (const auto& [name, p] : params) pointers.push_back(p);
        for (int k = 0; k < steps; ++k) {
            if (!overlapped) s.set_backward_listener(nullptr);
            m.net.forward(s, x, y, smile::mode::train);
            smile::backward_scope<B> whole(s);
            m.net.backward(s, dy, nullptr);
            whole.close();
            if (!overlapped) smile::average_gradients(s, std::span<smile::parameter<B>* const>(pointers));
            opt->step(s, 0.1f);
        }
        if (comm.rank() == 0) {
            for (auto* p : pointers) out.weights.push_back(p->value.to_host());
            if (const auto* buckets = opt->buckets()) {  // none with bucket size 0
                out.layout = buckets->layout();
                out.last = buckets->last_round();
            }
        }
    });
    return out;
}
}  // namespace

TEST_CASE("gradient buckets: laid out in reverse, the first at most 1 MiB, none above its cap unless one tensor is") {
    smile::session<B> s;
    smile::rng g(3);
    bucket_net m(s, g);
    smile::parameter<B> big(s.context(), {300000, 1, 1, 1}, 1);  // 1.2 MB: a bucket of its own
    auto named = m.parameters();
    named.emplace_back("big", &big);
    const smile::gradient_buckets<B> tiny(s, named, 256);
    const auto layout = tiny.layout();
    std::vector<std::string> order;
    for (const auto& b : layout) order.insert(order.end(), b.begin(), b.end());
    std::vector<std::string> reversed;
    for (auto it = named.rbegin(); it != named.rend(); ++it) reversed.push_back(it->first);
    CHECK(order == reversed);
    // 256 bytes: 64 floats a bucket, each tensor starting at a multiple of 16 floats.
    using names = std::vector<std::string>;
    CHECK(layout == std::vector<names>{{"big"},                        // 300,000 floats: alone
                                       {"spare.bias", "spare.weight"},  // 5 → 16, + 40 ≤ 64
                                       {"fc.bias", "fc.weight"},
                                       {"bn2.bias", "bn2.weight"},      // 16 + 8; conv2's 576 would pass 64
                                       {"conv2.weight"},
                                       {"bn1.bias", "bn1.weight"},
                                       {"conv1.weight"}});
    // 25 MiB: the 1.2 MB tensor fills the 1 MiB first bucket alone, the rest share the second.
    const smile::gradient_buckets<B> usual(s, named, std::size_t(25) << 20);
    CHECK(usual.layout().size() == 2);
    CHECK(usual.layout()[0] == std::vector<std::string>{"big"});
    CHECK_THROWS_WITH_AS(smile::gradient_buckets<B>(s, named, 2), doctest::Contains("at least one value"),
                         smile::error);
    // Unless set, the size follows the communicator: 0 (one all-reduce per tensor) without
    // device collectives.
    CHECK(s.gradient_bucket_bytes() == 0);
    s.set_gradient_bucket_bytes(4096);
    CHECK(s.gradient_bucket_bytes() == 4096);
}

TEST_CASE("gradient buckets summed while backward runs give exactly the steps of one all-reduce per tensor") {
    for (const bool deferred : {false, true})
        for (const std::size_t cap : {std::size_t(256), std::size_t(25) << 20}) {
            CAPTURE(deferred);
            CAPTURE(cap);
            const auto reference = train_in_buckets(false, deferred, cap);
            const auto overlapped = train_in_buckets(true, deferred, cap);
            REQUIRE(reference.weights.size() == overlapped.weights.size());
            for (std::size_t i = 0; i < reference.weights.size(); ++i) {
                CAPTURE(i);
                CHECK(smile::test::max_abs_diff(overlapped.weights[i], reference.weights[i]) == 0.0);
            }
            // The steps moved the network: the comparison is not between two untouched copies.
            smile::session<B> s;
            smile::rng g(11);
            bucket_net fresh(s, g);
            CHECK(smile::test::max_abs_diff(reference.weights[0], fresh.parameters()[0].second->value.to_host()) > 1e-3);
            const std::size_t buckets = overlapped.layout.size();
            if (cap == 256) {
                // Every bucket but the unused layer's starts during backward, one message each.
                CHECK(overlapped.last.started_in_backward == buckets - 1);
                CHECK(overlapped.last.started_at_end == 0);
                CHECK(overlapped.last.messages == buckets - 1);
            } else {
                // One bucket, held back by the unused layer until backward's end, then summed
                // without it.
                CHECK(buckets == 1);
                CHECK(overlapped.last.started_in_backward == 0);
                CHECK(overlapped.last.started_at_end == 1);
                CHECK(overlapped.last.messages == 1);
            }
            CHECK(reference.last.started_in_backward == 0);
            // Bucket size 0: no buckets, one all-reduce per tensor at the step: the same weights.
            const auto unbucketed = train_in_buckets(true, deferred, 0);
            CHECK(unbucketed.layout.empty());
            for (std::size_t i = 0; i < reference.weights.size(); ++i)
                CHECK(smile::test::max_abs_diff(unbucketed.weights[i], reference.weights[i]) == 0.0);
        }
}

TEST_CASE("gradient buckets: a gradient that left its bucket is copied back, and one written during its sum is an error") {
    smile::test::thread_ranks(2, true).run([&](smile::communicator& comm) {
        smile::session<B> s;
        s.set_communicator(comm);
        smile::parameter<B> p(s.context(), {4, 1, 1, 1}, 1), q(s.context(), {3, 1, 1, 1}, 1);
        const float r = float(comm.rank());
        smile::gradient_buckets<B> buckets(s, {{"p", &p}, {"q", &q}}, 1 << 20);
        // Left its bucket: a new tensor of its own, fresh from a backward.
        (void)p.grad_for_write();
        p.grad = smile::tensor<B>::from_host(s, {4, 1, 1, 1}, std::vector<float>{r, 2 * r, 3, 4 * r});
        q.grad_for_write().copy_from_host(std::vector<float>{1, r, -r});
        CHECK(p.grad.owns_storage());
        buckets.finish(s);
        CHECK_FALSE(p.grad.owns_storage());
        CHECK(p.grad_averaged());
        CHECK(p.grad.to_host() == std::vector<float>{0.5f, 1.0f, 3.0f, 2.0f});
        CHECK(q.grad.to_host() == std::vector<float>{1.0f, 0.5f, -0.5f});
        p.consume_grad();
        q.consume_grad();
        // Written again after its bucket started summing (deferred: summed only at the wait).
        s.set_backward_listener(&buckets);
        smile::backward_scope<B> whole(s);
        p.grad_for_write().fill(r);
        q.grad_for_write().fill(r);
        s.gradients_written();
        CHECK(buckets.last_round().started_in_backward == 0);  // the round before
        p.grad_for_write().fill(7.0f);
        CHECK_THROWS_WITH_AS(whole.close(),
                             doctest::Contains("the gradient of 'p' was written while its bucket was being summed"),
                             smile::error);
        s.set_backward_listener(nullptr);
    });
}

TEST_CASE("a gradient averaged before the step (clipping's average_now) is not averaged again, with or without buckets") {
    for (const std::size_t cap : {std::size_t(0), std::size_t(1) << 20}) {
        CAPTURE(cap);
        std::vector<std::vector<float>> after(2);
        smile::test::thread_ranks(2).run([&](smile::communicator& comm) {
            smile::session<B> s;
            s.set_communicator(comm);
            s.set_gradient_bucket_bytes(cap);
            smile::parameter<B> w(s.context(), {2, 1, 1, 1}, 1);
            w.value.copy_from_host(std::vector<float>{1, 2});
            const float r = float(comm.rank());
            w.grad_for_write().copy_from_host(std::vector<float>{r, 3 * r});
            smile::optimizer_options o;
            o.weight_decay = 0.0f;
            o.momentum = 0.0f;
            auto opt = smile::make_optimizer<B>(o);
            opt->attach_parameters({{"w", &w}});
            opt->average_now(s);  // mean: 0.5, 1.5
            CHECK(w.grad_averaged());
            CHECK(w.grad.to_host() == std::vector<float>{0.5f, 1.5f});
            // Changed afterwards without a new backward (as clipping scales it): stays as it is.
            w.grad.copy_from_host(std::vector<float>{0.5f + r, 1.5f});
            opt->step(s, 1.0f);
            after[std::size_t(comm.rank())] = w.value.to_host();
        });
        CHECK(after[0] == std::vector<float>{0.5f, 0.5f});
        CHECK(after[1] == std::vector<float>{-0.5f, 0.5f});
    }
}

TEST_CASE("gradient buckets: a fresh gradient outlives its buckets in storage of its own, a consumed one is dropped") {
    smile::test::thread_ranks(2).run([&](smile::communicator& comm) {
        smile::session<B> s;
        s.set_communicator(comm);
        smile::parameter<B> p(s.context(), {3, 1, 1, 1}, 1), q(s.context(), {2, 1, 1, 1}, 1);
        (void)p.grad_for_write();
        (void)q.grad_for_write();
        {
            smile::gradient_buckets<B> buckets(s, {{"p", &p}, {"q", &q}}, 1 << 20);
            p.grad.copy_from_host(std::vector<float>{1, 2, 3});  // in the bucket now
            CHECK_FALSE(p.grad.owns_storage());
            q.consume_grad();
        }
        CHECK(p.grad.owns_storage());
        CHECK(p.has_fresh_grad());
        CHECK(p.grad.to_host() == std::vector<float>{1, 2, 3});
        CHECK(q.grad.empty());
    });
}
