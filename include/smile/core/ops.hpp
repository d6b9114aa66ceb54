#pragma once
/// @file
/// `ops<B>`: the one way generic code calls a backend. Each operation checks its operands here,
/// once for every backend (shapes, aliasing, permutations, boxes), and then calls `B::` — so a
/// backend implements the arithmetic and may assume operands that satisfy the contract of
/// core/backend.hpp. What only a backend can know stays in the backend: whether a backward call
/// matches the forward its plan recorded, and limits of the library underneath (cuDNN's
/// minimum BN epsilon, int dimensions).
///
/// Every operation is looked up in the op table (core/op_table.hpp) at compile time: its name
/// in error messages is the table's, and an operation missing from the table or filed under
/// another part does not compile. Operations of a part are constrained by that part's concept,
/// so calling one on a backend without it is a compile error that names the missing part
/// (e.g. `BackendActivations`).

#include <cstddef>
#include <smile/core/backend.hpp>
#include <smile/core/op_table.hpp>
#include <smile/core/operand_checks.hpp>
#include <span>
#include <string>
#include <string_view>

namespace smile {

namespace detail {
/// The table's name of an operation of part `part`; a name that is missing from the table or
/// filed under another part there does not compile.
consteval const char* op_name(std::string_view name, backend_part part) {
    const op_entry e = table_entry(name);
    if (e.part != part)
        throw "smile: ops<B> and core/op_table.hpp file this operation under different parts";
    return e.name.data();  // the table's entries are string literals
}
}  // namespace detail

template <BackendStorage B>
struct ops {
    using context = typename B::context;
    using view = tensor_view<B>;
    using cview = const_tensor_view<B>;

    // Storage -------------------------------------------------------------------------------
    [[nodiscard]] static float* allocate(context& ctx, std::size_t n) {
        return B::allocate(ctx, n);
    }
    static void deallocate(context& ctx, float* p, std::size_t n) noexcept {
        B::deallocate(ctx, p, n);
    }
    static void upload(context& ctx, const float* host, view dst) { B::upload(ctx, host, dst); }
    static void download(context& ctx, cview src, float* host) { B::download(ctx, src, host); }
    static void copy(context& ctx, cview src, view dst) {
        constexpr const char* op = detail::op_name("copy", backend_part::storage);
        operand_checks::same(op, src.shape, dst.shape);
        B::copy(ctx, src, dst);
    }
    static void fill(context& ctx, view dst, float value) { B::fill(ctx, dst, value); }
    static void synchronize(context& ctx) { B::synchronize(ctx); }
    /// Returns cached freed blocks to the device, where the backend caches them (else nothing).
    static void release_cached_memory(context& ctx) {
        if constexpr (BackendCachedMemory<B>) B::release_cached_memory(ctx);
    }

    // Math ----------------------------------------------------------------------------------
    static void gemm(context& ctx, transpose ta, transpose tb, float alpha, cview a, cview b,
                     float beta, view c) requires BackendMath<B> {
        static_assert(detail::op_name("gemm", backend_part::math) != nullptr);
        operand_checks::gemm(ta, tb, a.shape, b.shape, c.shape);
        B::gemm(ctx, ta, tb, alpha, a, b, beta, c);
    }
    static void add(context& ctx, float a, cview x, float b, cview y,
                    view out) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("add", backend_part::math);
        operand_checks::same(op, x.shape, y.shape);
        operand_checks::same(op, x.shape, out.shape);
        B::add(ctx, a, x, b, y, out);
    }
    static void multiply(context& ctx, cview x, cview y, view out) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("multiply", backend_part::math);
        operand_checks::same(op, x.shape, y.shape);
        operand_checks::same(op, x.shape, out.shape);
        B::multiply(ctx, x, y, out);
    }
    static void scale_channels(context& ctx, cview x, cview scale, view y) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("scale_channels", backend_part::math);
        operand_checks::same(op, x.shape, y.shape);
        operand_checks::channel_vector(op, "scale", x.shape.c, scale.shape);
        B::scale_channels(ctx, x, scale, y);
    }
    static void add_channel_bias(context& ctx, cview bias, view y) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("add_channel_bias", backend_part::math);
        operand_checks::channel_vector(op, "bias", y.shape.c, bias.shape);
        B::add_channel_bias(ctx, bias, y);
    }
    static void channel_sum(context& ctx, cview x, view out) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("channel_sum", backend_part::math);
        operand_checks::channel_vector(op, "output", x.shape.c, out.shape);
        B::channel_sum(ctx, x, out);
    }
    static void mix_rows(context& ctx, float lambda, cview x, std::span<const std::int64_t> perm,
                         view y) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("mix_rows", backend_part::math);
        operand_checks::same(op, x.shape, y.shape);
        operand_checks::distinct(op, x.data, y.data);
        operand_checks::permutation(op, perm, x.shape.n);
        B::mix_rows(ctx, lambda, x, perm, y);
    }
    static void paste_box(context& ctx, cview x, std::span<const std::int64_t> perm,
                          const spatial_box& box, view y) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("paste_box", backend_part::math);
        operand_checks::same(op, x.shape, y.shape);
        operand_checks::distinct(op, x.data, y.data);
        operand_checks::permutation(op, perm, x.shape.n);
        operand_checks::box_inside(op, box, x.shape);
        B::paste_box(ctx, x, perm, box, y);
    }
    [[nodiscard]] static double dot(context& ctx, cview a, cview b) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("dot", backend_part::math);
        operand_checks::same(op, a.shape, b.shape);
        return B::dot(ctx, a, b);
    }
    static void relu_forward(context& ctx, cview x, view y) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("relu_forward", backend_part::math);
        operand_checks::same(op, x.shape, y.shape);
        B::relu_forward(ctx, x, y);
    }
    static void relu_backward(context& ctx, cview y, cview dy, view dx) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("relu_backward", backend_part::math);
        operand_checks::same(op, y.shape, dy.shape);
        operand_checks::same(op, y.shape, dx.shape);
        B::relu_backward(ctx, y, dy, dx);
    }
    static void softmax(context& ctx, cview x, view y, bool log) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("softmax", backend_part::math);
        operand_checks::matrix(op, "input", x.shape);
        operand_checks::same(op, x.shape, y.shape);
        B::softmax(ctx, x, y, log);
    }
    static double softmax_cross_entropy(context& ctx, cview logits, cview targets, float scale,
                                        view dlogits) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("softmax_cross_entropy", backend_part::math);
        operand_checks::matrix(op, "logits", logits.shape);
        operand_checks::same(op, logits.shape, targets.shape);
        operand_checks::same(op, logits.shape, dlogits.shape);
        return B::softmax_cross_entropy(ctx, logits, targets, scale, dlogits);
    }
    static void global_avg_pool_forward(context& ctx, cview x, view y) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("global_avg_pool_forward", backend_part::math);
        operand_checks::expect(op, "output", matrix_shape(x.shape.n, x.shape.c), y.shape);
        B::global_avg_pool_forward(ctx, x, y);
    }
    static void global_avg_pool_backward(context& ctx, cview dy, view dx) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("global_avg_pool_backward", backend_part::math);
        operand_checks::expect(op, "output gradient", matrix_shape(dx.shape.n, dx.shape.c),
                               dy.shape);
        B::global_avg_pool_backward(ctx, dy, dx);
    }
    static void flatten_forward(context& ctx, cview x, view y) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("flatten_forward", backend_part::math);
        operand_checks::expect(op, "output",
                               matrix_shape(x.shape.n, x.shape.c * x.shape.h * x.shape.w), y.shape);
        B::flatten_forward(ctx, x, y);
    }
    static void flatten_backward(context& ctx, cview dy, view dx) requires BackendMath<B> {
        constexpr const char* op = detail::op_name("flatten_backward", backend_part::math);
        operand_checks::expect(op, "output gradient",
                               matrix_shape(dx.shape.n, dx.shape.c * dx.shape.h * dx.shape.w),
                               dy.shape);
        B::flatten_backward(ctx, dy, dx);
    }

    // DNN -----------------------------------------------------------------------------------
    // Backward calls are checked by the backend against the forward its plan recorded. These are
    // templates over P = B so that ops<B> of a backend without plan types still compiles.
    template <class P = B>
    static void conv2d_forward(context& ctx, typename P::conv2d_plan& plan, const conv2d_desc& d,
                               cview x, cview w, cview bias, view y,
                               mode m) requires BackendDnn<P> {
        constexpr const char* op = detail::op_name("conv2d_forward", backend_part::dnn);
        operand_checks::conv2d(op, x.shape, w.shape, d);
        operand_checks::expect(op, "output", conv2d_output_shape(x.shape, w.shape, d), y.shape);
        if (!bias.empty()) operand_checks::channel_vector(op, "bias", w.shape.n, bias.shape);
        B::conv2d_forward(ctx, plan, d, x, w, bias, y, m);
    }
    template <class P = B>
    static void conv2d_backward_data(context& ctx, typename P::conv2d_plan& plan, cview dy, cview w,
                                     view dx) requires BackendDnn<P> {
        static_assert(detail::op_name("conv2d_backward_data", backend_part::dnn) != nullptr);
        B::conv2d_backward_data(ctx, plan, dy, w, dx);
    }
    template <class P = B>
    static void conv2d_backward_weights(context& ctx, typename P::conv2d_plan& plan, cview x,
                                        cview dy, view dw, view db) requires BackendDnn<P> {
        static_assert(detail::op_name("conv2d_backward_weights", backend_part::dnn) != nullptr);
        B::conv2d_backward_weights(ctx, plan, x, dy, dw, db);
    }
    template <class P = B>
    static void conv2d_bn_inference(context& ctx, typename P::conv2d_plan& plan,
                                    const conv2d_desc& d, const conv_bn_fold& f, cview x, cview w,
                                    cview bias, cview gamma, cview beta, cview mean, cview var,
                                    view y) requires BackendDnn<P> {
        constexpr const char* op = detail::op_name("conv2d_bn_inference", backend_part::dnn);
        operand_checks::conv2d(op, x.shape, w.shape, d);
        operand_checks::expect(op, "output", conv2d_output_shape(x.shape, w.shape, d), y.shape);
        if (!bias.empty()) operand_checks::channel_vector(op, "bias", w.shape.n, bias.shape);
        operand_checks::channel_vector(op, "batch-norm weight", w.shape.n, gamma.shape);
        operand_checks::channel_vector(op, "batch-norm bias", w.shape.n, beta.shape);
        operand_checks::channel_vector(op, "batch-norm running_mean", w.shape.n, mean.shape);
        operand_checks::channel_vector(op, "batch-norm running_var", w.shape.n, var.shape);
        B::conv2d_bn_inference(ctx, plan, d, f, x, w, bias, gamma, beta, mean, var, y);
    }
    template <class P = B>
    static void pool2d_forward(context& ctx, typename P::pool2d_plan& plan, const pool2d_desc& d,
                               cview x, view y, mode m) requires BackendDnn<P> {
        constexpr const char* op = detail::op_name("pool2d_forward", backend_part::dnn);
        operand_checks::pool2d(op, x.shape, d);
        operand_checks::expect(op, "output", pool2d_output_shape(x.shape, d), y.shape);
        B::pool2d_forward(ctx, plan, d, x, y, m);
    }
    template <class P = B>
    static void pool2d_backward(context& ctx, typename P::pool2d_plan& plan, cview x, cview y,
                                cview dy, view dx) requires BackendDnn<P> {
        constexpr const char* op = detail::op_name("pool2d_backward", backend_part::dnn);
        operand_checks::expect(op, "input gradient", x.shape, dx.shape);
        operand_checks::expect(op, "output gradient", y.shape, dy.shape);
        B::pool2d_backward(ctx, plan, x, y, dy, dx);
    }
    template <class P = B>
    static void batch_norm_forward(context& ctx, typename P::batch_norm_plan& plan,
                                   const batch_norm_desc& d, cview x, cview gamma, cview beta,
                                   view running_mean, view running_var, view y,
                                   mode m) requires BackendDnn<P> {
        constexpr const char* op = detail::op_name("batch_norm_forward", backend_part::dnn);
        operand_checks::expect(op, "output", x.shape, y.shape);
        operand_checks::channel_vector(op, "weight", x.shape.c, gamma.shape);
        operand_checks::channel_vector(op, "bias", x.shape.c, beta.shape);
        operand_checks::channel_vector(op, "running_mean", x.shape.c, running_mean.shape);
        operand_checks::channel_vector(op, "running_var", x.shape.c, running_var.shape);
        SMILE_CHECK(!uses_batch_statistics(m) || x.shape.n * x.shape.h * x.shape.w > 1, op,
                    ": training needs more than one value per channel, got input ", x.shape);
        B::batch_norm_forward(ctx, plan, d, x, gamma, beta, running_mean, running_var, y, m);
    }
    template <class P = B>
    static void batch_norm_backward(context& ctx, typename P::batch_norm_plan& plan, cview x,
                                    cview y, cview dy, cview gamma, cview beta, view dx,
                                    view dgamma, view dbeta) requires BackendDnn<P> {
        constexpr const char* op = detail::op_name("batch_norm_backward", backend_part::dnn);
        operand_checks::expect(op, "output gradient", x.shape, dy.shape);
        operand_checks::expect(op, "input gradient", x.shape, dx.shape);
        operand_checks::channel_vector(op, "weight", x.shape.c, gamma.shape);
        operand_checks::channel_vector(op, "bias", x.shape.c, beta.shape);
        operand_checks::channel_vector(op, "weight gradient", x.shape.c, dgamma.shape);
        operand_checks::channel_vector(op, "bias gradient", x.shape.c, dbeta.shape);
        B::batch_norm_backward(ctx, plan, x, y, dy, gamma, beta, dx, dgamma, dbeta);
    }

    // Optimizers ----------------------------------------------------------------------------
    static void sgd_step(context& ctx, const sgd_update& u, view w, cview g,
                         view buf) requires BackendOptimizer<B> {
        constexpr const char* op = detail::op_name("sgd_step", backend_part::optimizer);
        operand_checks::expect(op, "gradient", w.shape, g.shape);
        if (u.momentum != 0.0f) operand_checks::expect(op, "momentum buffer", w.shape, buf.shape);
        B::sgd_step(ctx, u, w, g, buf);
    }
    static void adam_step(context& ctx, const adam_update& u, view w, cview g, view m,
                          view v) requires BackendOptimizer<B> {
        constexpr const char* op = detail::op_name("adam_step", backend_part::optimizer);
        operand_checks::expect(op, "gradient", w.shape, g.shape);
        operand_checks::expect(op, "first moment", w.shape, m.shape);
        operand_checks::expect(op, "second moment", w.shape, v.shape);
        B::adam_step(ctx, u, w, g, m, v);
    }

    // Linear algebra ------------------------------------------------------------------------
    static void svd(context& ctx, cview a, view u, view s, view vt) requires BackendLinalg<B> {
        static_assert(detail::op_name("svd", backend_part::linalg) != nullptr);
        operand_checks::svd(a.shape, u.shape, s.shape, vt.shape);
        B::svd(ctx, a, u, s, vt);
    }

    // Optional: the activation family -------------------------------------------------------
    static void activation_forward(context& ctx, activation_kind k, cview x,
                                   view y) requires BackendActivations<B> {
        constexpr const char* op = detail::op_name("activation_forward", backend_part::activations);
        operand_checks::same(op, x.shape, y.shape);
        B::activation_forward(ctx, k, x, y);
    }
    static void activation_backward(context& ctx, activation_kind k, cview x, cview dy,
                                    view dx) requires BackendActivations<B> {
        constexpr const char* op =
            detail::op_name("activation_backward", backend_part::activations);
        operand_checks::same(op, x.shape, dy.shape);
        operand_checks::same(op, x.shape, dx.shape);
        B::activation_backward(ctx, k, x, dy, dx);
    }

    // Optional: broadcast scales ------------------------------------------------------------
    static void scale_broadcast(context& ctx, cview x, cview s,
                                view y) requires BackendBroadcast<B> {
        constexpr const char* op = detail::op_name("scale_broadcast", backend_part::broadcast);
        operand_checks::same(op, x.shape, y.shape);
        operand_checks::broadcast_scale(op, x.shape, s.shape);
        B::scale_broadcast(ctx, x, s, y);
    }
    static void scale_broadcast_backward(context& ctx, cview x, cview s, cview dy, view dx,
                                         view ds) requires BackendBroadcast<B> {
        constexpr const char* op =
            detail::op_name("scale_broadcast_backward", backend_part::broadcast);
        operand_checks::same(op, x.shape, dy.shape);
        operand_checks::same(op, x.shape, dx.shape);
        operand_checks::broadcast_scale(op, x.shape, s.shape);
        if (!ds.empty()) operand_checks::expect(op, "scale gradient", s.shape, ds.shape);
        B::scale_broadcast_backward(ctx, x, s, dy, dx, ds);
    }

    // Optional: sequence operations ---------------------------------------------------------
    static void batched_gemm(context& ctx, std::int64_t count, transpose ta, transpose tb,
                             float alpha, cview a, cview b, float beta,
                             view c) requires BackendSequence<B> {
        static_assert(detail::op_name("batched_gemm", backend_part::sequence) != nullptr);
        operand_checks::batched_gemm(count, ta, tb, a.shape, b.shape, c.shape);
        B::batched_gemm(ctx, count, ta, tb, alpha, a, b, beta, c);
    }
    static void split_heads(context& ctx, const head_split& hs, cview tokens,
                            view per_head) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("split_heads", backend_part::sequence);
        operand_checks::head_layout(op, hs, tokens.shape, per_head.shape);
        operand_checks::distinct(op, tokens.data, per_head.data);
        B::split_heads(ctx, hs, tokens, per_head);
    }
    static void merge_heads(context& ctx, const head_split& hs, cview per_head,
                            view tokens) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("merge_heads", backend_part::sequence);
        operand_checks::head_layout(op, hs, tokens.shape, per_head.shape);
        operand_checks::distinct(op, per_head.data, tokens.data);
        B::merge_heads(ctx, hs, per_head, tokens);
    }
    static void masked_softmax_forward(context& ctx, float scale, cview x, cview mask,
                                       view y) requires BackendSequence<B> {
        constexpr const char* op =
            detail::op_name("masked_softmax_forward", backend_part::sequence);
        operand_checks::matrix(op, "input", x.shape);
        operand_checks::same(op, x.shape, y.shape);
        if (!mask.empty()) {
            operand_checks::matrix(op, "mask", mask.shape);
            SMILE_CHECK(mask.shape.c == x.shape.c && x.shape.n % mask.shape.n == 0, op, ": mask ",
                        mask.shape, " does not cover the keys of scores ", x.shape,
                        " (one mask row per equal block of rows)");
        }
        B::masked_softmax_forward(ctx, scale, x, mask, y);
    }
    static void masked_softmax_backward(context& ctx, float scale, cview y, cview dy,
                                        view dx) requires BackendSequence<B> {
        constexpr const char* op =
            detail::op_name("masked_softmax_backward", backend_part::sequence);
        operand_checks::matrix(op, "output", y.shape);
        operand_checks::same(op, y.shape, dy.shape);
        operand_checks::same(op, y.shape, dx.shape);
        B::masked_softmax_backward(ctx, scale, y, dy, dx);
    }
    static void layer_norm_forward(context& ctx, float epsilon, cview x, cview gamma, cview beta,
                                   view y, view mean, view rstd) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("layer_norm_forward", backend_part::sequence);
        operand_checks::matrix(op, "input", x.shape);
        operand_checks::same(op, x.shape, y.shape);
        operand_checks::channel_vector(op, "weight", x.shape.c, gamma.shape);
        operand_checks::channel_vector(op, "bias", x.shape.c, beta.shape);
        SMILE_CHECK(mean.empty() == rstd.empty(), op,
                    ": the mean and the inverse deviation are kept together");
        if (!mean.empty()) {
            operand_checks::expect(op, "mean", vector_shape(x.shape.n), mean.shape);
            operand_checks::expect(op, "inverse deviation", vector_shape(x.shape.n), rstd.shape);
        }
        SMILE_CHECK(epsilon > 0.0f, op, ": epsilon must be positive, got ", epsilon);
        B::layer_norm_forward(ctx, epsilon, x, gamma, beta, y, mean, rstd);
    }
    static void layer_norm_backward(context& ctx, cview x, cview dy, cview gamma, cview mean,
                                    cview rstd, view dx, view dgamma,
                                    view dbeta) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("layer_norm_backward", backend_part::sequence);
        operand_checks::matrix(op, "input", x.shape);
        operand_checks::expect(op, "output gradient", x.shape, dy.shape);
        operand_checks::expect(op, "input gradient", x.shape, dx.shape);
        operand_checks::channel_vector(op, "weight", x.shape.c, gamma.shape);
        operand_checks::expect(op, "mean", vector_shape(x.shape.n), mean.shape);
        operand_checks::expect(op, "inverse deviation", vector_shape(x.shape.n), rstd.shape);
        operand_checks::channel_vector(op, "weight gradient", x.shape.c, dgamma.shape);
        operand_checks::channel_vector(op, "bias gradient", x.shape.c, dbeta.shape);
        B::layer_norm_backward(ctx, x, dy, gamma, mean, rstd, dx, dgamma, dbeta);
    }
    static void gather_rows(context& ctx, cview table, std::span<const std::int64_t> ids,
                            view y) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("gather_rows", backend_part::sequence);
        operand_checks::matrix(op, "table", table.shape);
        operand_checks::expect(op, "output",
                               matrix_shape(static_cast<std::int64_t>(ids.size()), table.shape.c),
                               y.shape);
        operand_checks::distinct(op, table.data, y.data);
        operand_checks::row_ids(op, ids, table.shape.n);
        B::gather_rows(ctx, table, ids, y);
    }
    static void gather_rows_backward(context& ctx, std::span<const std::int64_t> ids, cview dy,
                                     view dtable) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("gather_rows_backward", backend_part::sequence);
        operand_checks::matrix(op, "table gradient", dtable.shape);
        operand_checks::expect(op, "output gradient",
                               matrix_shape(static_cast<std::int64_t>(ids.size()), dtable.shape.c),
                               dy.shape);
        operand_checks::distinct(op, dy.data, dtable.data);
        operand_checks::row_ids(op, ids, dtable.shape.n);
        B::gather_rows_backward(ctx, ids, dy, dtable);
    }
    static void dropout_forward(context& ctx, const dropout_desc& d, cview x,
                                view y) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("dropout_forward", backend_part::sequence);
        operand_checks::dropout(op, d, x.shape);
        operand_checks::same(op, x.shape, y.shape);
        B::dropout_forward(ctx, d, x, y);
    }
    static void dropout_backward(context& ctx, const dropout_desc& d, cview dy,
                                 view dx) requires BackendSequence<B> {
        constexpr const char* op = detail::op_name("dropout_backward", backend_part::sequence);
        operand_checks::dropout(op, d, dy.shape);
        operand_checks::same(op, dy.shape, dx.shape);
        B::dropout_backward(ctx, d, dy, dx);
    }

    // Mixed precision (optional) --------------------------------------------------------------
    /// Sets the compute precision of convolutions and matrix products; returns the previous one.
    /// Generic code calls it through precision_scope only.
    static precision set_compute_precision(context& ctx,
                                           precision p) requires BackendMixedPrecision<B> {
        [[maybe_unused]] constexpr const char* op =
            detail::op_name("set_compute_precision", backend_part::mixed_precision);
        return B::set_compute_precision(ctx, p);
    }
    /// Empty when the backend can compute in p here, else why not (float32 is always possible).
    [[nodiscard]] static std::string precision_refusal(context& ctx, precision p) {
        [[maybe_unused]] constexpr const char* op =
            detail::op_name("precision_refusal", backend_part::mixed_precision);
        if (p == precision::f32) return {};
        if constexpr (BackendMixedPrecision<B>) {
            return std::string(B::precision_refusal(ctx, p));
        } else {
            return std::string("the ") + std::string(B::name) +
                   " backend computes in float32 only (it has no BackendMixedPrecision)";
        }
    }
};

}  // namespace smile
