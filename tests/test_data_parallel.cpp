// Data-parallel building blocks with ranks as threads (support/thread_ranks.hpp): synchronised
// batch norm equals batch norm over the whole batch, and the optimizer's gradient seam averages.
#include <doctest/doctest.h>

#include <smile/core/session.hpp>
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
