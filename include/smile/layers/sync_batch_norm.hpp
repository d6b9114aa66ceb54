#pragma once
/// @file
/// Batch norm over the global batch of a data-parallel run (PyTorch's SyncBatchNorm): the
/// statistics of a training forward are those of every rank's slice together, and the backward
/// reduces its two per-channel sums across the ranks likewise. batch_norm2d uses it when its
/// session asks for synchronised batch norm and has more than one rank.
///
/// Per channel, over the M = Σ_ranks n·h·w values of the global batch:
///   μ = Σx / M,  σ² = Σ(x − μ)² / M (two passes, each one all-reduce of c values),
///   y = γ·(x − μ)/√(σ² + ε) + β  (the backend's evaluation-mode batch norm with μ, σ² as its
///   statistics, ReLU fused when asked), running statistics updated with σ²·M/(M − 1).
/// Backward, with g = dy (masked by y > 0 when ReLU is fused) and x̂ = (x − μ)/√(σ² + ε):
///   S₁ = Σ_global g,  S₂ = Σ_global g·x̂  (one all-reduce of 2c values),
///   dx = γ/√(σ² + ε)·(g − S₁/M − x̂·S₂/M),
///   dβ = Σ_local g,  dγ = Σ_local g·x̂   (the rank's own sums: the gradient seam averages them).
/// Every rank's loss is the mean over its slice, so its g is R times the global mean loss's: dx
/// and the parameter sums carry the same factor, which the seam's average over R ranks removes.
/// Statistics are combined on the host in double precision; per layer and step that is a few
/// transfers of c values.

#include <cmath>
#include <span>
#include <smile/core/ops.hpp>
#include <smile/core/session.hpp>
#include <smile/distributed/parallel.hpp>
#include <vector>

namespace smile {

template <Backend B>
class sync_batch_norm {
public:
    /// y from x with the global batch's statistics; updates the running statistics.
    void forward(session<B>& s, typename B::batch_norm_plan& plan, const batch_norm_desc& d,
                 const tensor<B>& x, const tensor<B>& gamma, const tensor<B>& beta,
                 tensor<B>& running_mean, tensor<B>& running_var, tensor<B>& y) {
        auto& ctx = s.context();
        const shape4 xs = x.shape();
        const auto c = std::size_t(xs.c);
        bind(s, c);
        // Pass 1: the mean. The count is reduced with the sums (ranks may hold uneven slices).
        ops<B>::channel_sum(ctx, x.view(), sum_.view());
        std::span<double> reduced = downloaded(ctx, sum_, 0, c + 1);
        reduced[c] = double(xs.n * xs.h * xs.w);
        s.comm().allreduce_sum(reduced);
        count_ = reduced[c];
        SMILE_CHECK(
            count_ > 1.0,
            "batch_norm2d (synchronised): training needs more than one value per channel over "
            "the global batch, got ",
            count_);
        for (std::size_t k = 0; k < c; ++k) mean_host_[k] = reduced[k] / count_;
        upload(negated_mean_, mean_host_, -1.0);
        // Pass 2: the variance about that mean.
        auto centred = s.borrow(xs);
        ops<B>::copy(ctx, x.view(), centred->view());
        ops<B>::add_channel_bias(ctx, negated_mean_.view(), centred->view());
        ops<B>::multiply(ctx, centred->view(), centred->view(), centred->view());
        ops<B>::channel_sum(ctx, centred->view(), sum_.view());
        const std::span<double> squares = downloaded(ctx, sum_, 0, c);
        s.comm().allreduce_sum(squares);
        for (std::size_t k = 0; k < c; ++k) {
            var_host_[k] = squares[k] / count_;
            invstd_host_[k] = 1.0 / std::sqrt(var_host_[k] + double(d.epsilon));
        }
        upload(mean_, mean_host_, 1.0);
        upload(var_, var_host_, 1.0);
        upload(invstd_, invstd_host_, 1.0);
        ops<B>::batch_norm_forward(ctx, plan, d, x.view(), gamma.view(), beta.view(), mean_.view(),
                                   var_.view(), y.view(), mode::eval);
        // running = (1 − momentum)·running + momentum·batch (unbiased variance).
        upload(var_, var_host_, count_ / (count_ - 1.0));
        ops<B>::add(ctx, 1.0f - d.momentum, running_mean.view(), d.momentum, mean_.view(),
                    running_mean.view());
        ops<B>::add(ctx, 1.0f - d.momentum, running_var.view(), d.momentum, var_.view(),
                    running_var.view());
    }

    /// dx (when given), dγ and dβ from dy; x and y are the forward's.
    void backward(session<B>& s, const batch_norm_desc& d, const tensor<B>& x, const tensor<B>* y,
                  const tensor<B>& dy, const tensor<B>& gamma, tensor<B>* dx, tensor<B>& dgamma,
                  tensor<B>& dbeta) {
        auto& ctx = s.context();
        const shape4 xs = x.shape();
        const auto c = std::size_t(xs.c);
        auto masked = s.borrow(xs);
        if (d.fuse_relu)
            ops<B>::relu_backward(ctx, y->view(), dy.view(), masked->view());
        else
            ops<B>::copy(ctx, dy.view(), masked->view());
        const tensor<B>& g = *masked;
        auto normalised = s.borrow(xs);  // x̂, then x̂·S₂·a/M
        ops<B>::copy(ctx, x.view(), normalised->view());
        ops<B>::add_channel_bias(ctx, negated_mean_.view(), normalised->view());
        ops<B>::scale_channels(ctx, normalised->view(), invstd_.view(), normalised->view());
        auto product = s.borrow(xs);
        ops<B>::multiply(ctx, g.view(), normalised->view(), product->view());
        // The rank's own sums are its parameter gradients.
        ops<B>::channel_sum(ctx, g.view(), dbeta.view());
        ops<B>::channel_sum(ctx, product->view(), dgamma.view());
        if (dx == nullptr) return;
        downloaded(ctx, dgamma, c, 2 * c);
        const std::span<double> sums = downloaded(ctx, dbeta, 0, 2 * c);
        s.comm().allreduce_sum(sums);
        ops<B>::download(ctx, gamma.view(), staging_.data());
        for (std::size_t k = 0; k < c; ++k) {
            const double a = double(staging_[k]) * invstd_host_[k];
            scale_host_[k] = a;
            shift_host_[k] = -a * sums[k] / count_;
            slope_host_[k] = a * sums[c + k] / count_;
        }
        upload(scale_, scale_host_, 1.0);
        upload(shift_, shift_host_, 1.0);
        upload(slope_, slope_host_, 1.0);
        // dx = a·g − a·S₁/M − x̂·(a·S₂/M)
        ops<B>::scale_channels(ctx, g.view(), scale_.view(), dx->view());
        ops<B>::add_channel_bias(ctx, shift_.view(), dx->view());
        ops<B>::scale_channels(ctx, normalised->view(), slope_.view(), normalised->view());
        ops<B>::add(ctx, 1.0f, dx->view(), -1.0f, normalised->view(), dx->view());
    }

private:
    void bind(session<B>& s, std::size_t c) {
        for (tensor<B>* t :
             {&sum_, &mean_, &negated_mean_, &var_, &invstd_, &scale_, &shift_, &slope_}) {
            t->bind(s.context());
            t->resize(vector_shape(std::int64_t(c)));
        }
        for (auto* v :
             {&mean_host_, &var_host_, &invstd_host_, &scale_host_, &shift_host_, &slope_host_})
            v->resize(c);
        staging_.resize(c);
        sums_.resize(2 * c + 1);
    }
    /// `t`'s c values, downloaded into `sums_` from place `at` on (in double precision); returns
    /// `sums_`'s first `length` places. The host buffers are the layer's own, sized once by
    /// `bind`: a step allocates nothing on the host.
    std::span<double> downloaded(typename B::context& ctx, const tensor<B>& t, std::size_t at,
                                 std::size_t length) {
        ops<B>::download(ctx, t.view(), staging_.data());
        for (std::size_t k = 0; k < t.size(); ++k) sums_[at + k] = staging_[k];
        return {sums_.data(), length};
    }
    void upload(tensor<B>& t, const std::vector<double>& values, double factor) {
        for (std::size_t k = 0; k < values.size(); ++k) staging_[k] = float(values[k] * factor);
        t.copy_from_host(staging_);
    }

    double count_ = 0.0;
    tensor<B> sum_, mean_, negated_mean_, var_, invstd_, scale_, shift_, slope_;
    std::vector<double> mean_host_, var_host_, invstd_host_, scale_host_, shift_host_, slope_host_;
    std::vector<float> staging_;
    std::vector<double> sums_;  ///< the all-reduced sums: Σx or Σ(x − μ)², and the count; S₁, S₂
};

}  // namespace smile
