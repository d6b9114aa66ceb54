#pragma once
/// @file
/// The backend concept: what a compute backend (oneDNN on the CPU, CUDA on the GPU, the plain
/// reference used by the tests) must provide so that every generic template of smile runs on it.
///
/// A backend is a type with static operations, a `context` type (engine, stream, handles,
/// scratch memory: no global state) and three per-call-site *plan* types that cache whatever a
/// layer needs between calls (primitive descriptors, workspaces, algorithm choices).
///
/// Memory contract (shared by every operation below):
/// - Tensors are float32 and contiguous. Their *logical* shape is NCHW; their *physical* layout
///   is private to the backend. `upload`/`download` convert from/to logical NCHW order on the
///   host. Matrices ([n, c, 1, 1]) and vectors ([c, 1, 1, 1]) are laid out identically by every
///   backend, and a row (index along n) is always one contiguous block.
/// - Generic code never dereferences backend memory; `download` is the only way to the host.
/// - Operations are issued in order on the context's stream; only `download`, `dot`,
///   `softmax_cross_entropy` and `synchronize` wait for completion.
/// - Unless stated, outputs are overwritten, never accumulated into.
///
/// Generic code calls these operations through `ops<B>` (core/ops.hpp), which checks the operands
/// against this contract first; a backend may assume operands that satisfy it. Every operation is
/// a row of the op table (core/op_table.hpp).
///
/// The concept is split in parts (`BackendStorage`, `BackendMath`, `BackendDnn`,
/// `BackendOptimizer`, `BackendLinalg`) so that a compile error names the part that is missing.

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <smile/core/activation.hpp>
#include <smile/core/precision.hpp>
#include <smile/core/shape.hpp>
#include <span>
#include <string>
#include <string_view>

namespace smile {

/// How a forward pass runs.
/// - `train`: BN normalises with batch statistics and updates its running statistics; what
///   backward needs is kept.
/// - `eval`: inference primitives, BN running statistics; nothing is kept and backward is an
///   error. This is how teachers and frozen source networks run.
/// - `eval_grad`: evaluation semantics (BN running statistics, not updated) but what backward
///   needs is kept: PyTorch's `model.eval()` followed by `backward()`, i.e. fine-tuning with
///   frozen BN statistics, or gradients of an evaluated model.
enum class mode : std::uint8_t { train, eval, eval_grad };

/// True when the pass keeps activations for a backward (`train`, `eval_grad`).
[[nodiscard]] constexpr bool keeps_activations(mode m) noexcept { return m != mode::eval; }
/// True when BN normalises with batch statistics and updates its running statistics.
[[nodiscard]] constexpr bool uses_batch_statistics(mode m) noexcept { return m == mode::train; }

/// Whether a gemm operand is used transposed.
enum class transpose : bool { no = false, yes = true };

/// Non-owning mutable view of backend memory with its logical shape.
template <class B>
struct tensor_view {
    float* data = nullptr;
    shape4 shape{};
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    [[nodiscard]] bool empty() const noexcept { return data == nullptr; }
};

/// Non-owning read-only view of backend memory with its logical shape.
template <class B>
struct const_tensor_view {
    const float* data = nullptr;
    shape4 shape{};
    const_tensor_view() = default;
    const_tensor_view(const float* d, shape4 s) : data(d), shape(s) {}
    const_tensor_view(tensor_view<B> v) : data(v.data), shape(v.shape) {}  // NOLINT: widening
    [[nodiscard]] std::size_t size() const noexcept { return shape.size(); }
    [[nodiscard]] bool empty() const noexcept { return data == nullptr; }
};

/// 2-D convolution hyper-parameters. Weights are [out, in/groups, kh, kw] (PyTorch's order).
/// The input is padded with pad_h zero rows on top and pad_h + pad_h_extra at the bottom (columns
/// alike): PyTorch's padding is symmetric (extra 0); TensorFlow's "same" padding puts the odd
/// zero after the input (layers/conv2d.hpp computes it).
struct conv2d_desc {
    std::int64_t stride_h = 1;
    std::int64_t stride_w = 1;
    std::int64_t pad_h = 0;
    std::int64_t pad_w = 0;
    std::int64_t groups = 1;
    std::int64_t pad_h_extra = 0;
    std::int64_t pad_w_extra = 0;
    friend constexpr bool operator==(const conv2d_desc&, const conv2d_desc&) = default;
};

/// Pooling flavours. `average_include_padding` is PyTorch's AvgPool2d default.
enum class pool_kind : std::uint8_t { max, average_include_padding, average_exclude_padding };

/// 2-D pooling hyper-parameters (floor rounding of the output size, as PyTorch's default).
struct pool2d_desc {
    pool_kind kind = pool_kind::max;
    std::int64_t window_h = 2;
    std::int64_t window_w = 2;
    std::int64_t stride_h = 2;
    std::int64_t stride_w = 2;
    std::int64_t pad_h = 0;
    std::int64_t pad_w = 0;
    friend constexpr bool operator==(const pool2d_desc&, const pool2d_desc&) = default;
};

/// Batch normalization hyper-parameters, in PyTorch's convention:
/// running = (1 − momentum)·running + momentum·batch statistic, with the unbiased batch
/// variance for `running_var` and the biased one for normalising.
struct batch_norm_desc {
    float epsilon = 1e-5f;
    float momentum = 0.1f;
    bool fuse_relu = false;  ///< y = max(0, BN(x)); backward masks with y > 0.
    friend constexpr bool operator==(const batch_norm_desc&, const batch_norm_desc&) = default;
};

/// An evaluation-mode convolution with the batch norm that follows it folded in:
///   y = act(BN(conv(x, w) + b) [+ y]),  BN(t) = γ·(t − μ)/√(σ² + ε) + β with running μ, σ²,
/// computed as conv(x, w·s) + (b − μ)·s + β with s = γ/√(σ² + ε) per output channel, so the
/// normalisation, the residual sum and the activation cost no pass over memory of their own
/// (where the backend can fuse that activation; otherwise it runs in place after). Every kind of
/// core/activation.hpp is asked of a backend that has BackendActivations; the ResNets ask only
/// identity and ReLU.
struct conv_bn_fold {
    float epsilon = 1e-5f;
    activation_kind activation = activation_kind::identity;  ///< act, applied after the sum
    bool accumulate = false;  ///< add y's previous contents (a residual shortcut) before act
    bool refold = true;       ///< w, b, γ, β, μ or σ² changed since this plan's last folded call
};

/// One SGD update in PyTorch's convention (torch.optim.SGD):
///   d = g + weight_decay·w
///   buf = first_step ? d : momentum·buf + (1 − dampening)·d
///   d = nesterov ? d + momentum·buf : buf          (when momentum ≠ 0)
///   w = w − learning_rate·d
struct sgd_update {
    float learning_rate = 0.01f;
    float momentum = 0.0f;
    float dampening = 0.0f;
    float weight_decay = 0.0f;
    bool nesterov = false;
    bool first_step = true;
};

/// One Adam or AdamW update in PyTorch's convention (torch.optim.Adam / AdamW, amsgrad off),
/// at the parameter's step t (1 on its first update):
///   AdamW (decoupled): w = w·(1 − lr·weight_decay)          Adam: g = g + weight_decay·w
///   m = β1·m + (1 − β1)·g,   v = β2·v + (1 − β2)·g²
///   w = w − step_size·m / (√v / bias_root + ε)
/// with step_size = lr/(1 − β1ᵗ) and bias_root = √(1 − β2ᵗ), which the caller computes in
/// double precision as PyTorch does (`adam_update::at`).
struct adam_update {
    float step_size = 1e-3f;        ///< lr / (1 − β1ᵗ)
    float bias_root = 1.0f;         ///< √(1 − β2ᵗ)
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float one_minus_beta1 = 0.1f;   ///< 1 − β1 rounded once from double, as PyTorch's `alpha`
    float one_minus_beta2 = 0.001f;
    float epsilon = 1e-8f;
    float grad_decay = 0.0f;        ///< Adam's L2 term added to the gradient (0 for AdamW)
    float weight_scale = 1.0f;      ///< AdamW's 1 − lr·weight_decay applied to w first (1 for Adam)

    /// The update for step `t` (≥ 1) at learning rate `lr`. The hyper-parameters are doubles,
    /// as PyTorch's Python floats, and every derived scalar is rounded to float once.
    [[nodiscard]] static adam_update at(std::int64_t t, double lr, double beta1, double beta2, double epsilon,
                                        double weight_decay, bool decoupled) noexcept {
        adam_update u;
        u.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, double(t))));
        u.bias_root = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, double(t))));
        u.beta1 = static_cast<float>(beta1);
        u.beta2 = static_cast<float>(beta2);
        u.one_minus_beta1 = static_cast<float>(1.0 - beta1);
        u.one_minus_beta2 = static_cast<float>(1.0 - beta2);
        u.epsilon = static_cast<float>(epsilon);
        u.grad_decay = decoupled ? 0.0f : static_cast<float>(weight_decay);
        u.weight_scale = decoupled ? static_cast<float>(1.0 - lr * weight_decay) : 1.0f;
        return u;
    }
};

/// Axis-aligned box [top, top + height) × [left, left + width) on the spatial grid (CutMix).
struct spatial_box {
    std::int64_t top = 0;
    std::int64_t left = 0;
    std::int64_t height = 0;
    std::int64_t width = 0;
};

/// Output shape of a convolution of `x` by weights `w`.
[[nodiscard]] constexpr shape4 conv2d_output_shape(const shape4& x, const shape4& w,
                                                   const conv2d_desc& d) noexcept {
    return {x.n, w.n, (x.h + 2 * d.pad_h + d.pad_h_extra - w.h) / d.stride_h + 1,
            (x.w + 2 * d.pad_w + d.pad_w_extra - w.w) / d.stride_w + 1};
}

/// Output shape of a pooling of `x`.
[[nodiscard]] constexpr shape4 pool2d_output_shape(const shape4& x, const pool2d_desc& d) noexcept {
    return {x.n, x.c, (x.h + 2 * d.pad_h - d.window_h) / d.stride_h + 1,
            (x.w + 2 * d.pad_w - d.window_w) / d.stride_w + 1};
}

/// Storage: allocation, host transfer, copies and synchronisation.
template <class B>
concept BackendStorage =
    std::default_initializable<typename B::context> &&
    requires(typename B::context& ctx, tensor_view<B> v, const_tensor_view<B> cv, float* host,
             const float* chost, std::size_t n, float value, float* p) {
        { B::name } -> std::convertible_to<std::string_view>;
        { B::allocate(ctx, n) } -> std::same_as<float*>;          // uninitialised, n floats
        { B::deallocate(ctx, p, n) } noexcept;
        { B::upload(ctx, chost, v) };                             // host NCHW → v
        { B::download(ctx, cv, host) };                           // cv → host NCHW; waits
        { B::copy(ctx, cv, v) };                                  // same shape
        { B::fill(ctx, v, value) };
        { B::synchronize(ctx) };
    };

/// Element-wise, reduction and small dense operations used by layers, losses and methods.
template <class B>
concept BackendMath = requires(typename B::context& ctx, tensor_view<B> v,
                               const_tensor_view<B> cv, float a, bool flag,
                               std::span<const std::int64_t> perm, const spatial_box& box) {
    // C = alpha·op(A)·op(B) + beta·C on matrices (row-major; n = rows, c = columns).
    { B::gemm(ctx, transpose::no, transpose::yes, a, cv, cv, a, v) };
    // out = a·x + b·y; out may alias x or y.
    { B::add(ctx, a, cv, a, cv, v) };
    // out = x ⊙ y element-wise; out may alias x or y.
    { B::multiply(ctx, cv, cv, v) };
    // y[n,c,h,w] = scale[c]·x[n,c,h,w]; scale is a vector of c; y may alias x.
    { B::scale_channels(ctx, cv, cv, v) };
    // y[n,c,h,w] += bias[c].
    { B::add_channel_bias(ctx, cv, v) };
    // out[c] = Σ_{n,h,w} x[n,c,h,w] (bias gradients).
    { B::channel_sum(ctx, cv, v) };
    // y[i] = λ·x[i] + (1 − λ)·x[perm[i]] row-wise (mixup); y must not alias x.
    { B::mix_rows(ctx, a, cv, perm, v) };
    // y = x, then y[i, :, box] = x[perm[i], :, box] (CutMix); y must not alias x.
    { B::paste_box(ctx, cv, perm, box, v) };
    // Σ a_i·b_i accumulated in double; waits.
    { B::dot(ctx, cv, cv) } -> std::same_as<double>;
    // y = max(x, 0); dx = dy ⊙ [y > 0] (dx may alias dy).
    { B::relu_forward(ctx, cv, v) };
    { B::relu_backward(ctx, cv, cv, v) };
    // Row-wise softmax (flag = false) or log-softmax (flag = true) of a matrix.
    { B::softmax(ctx, cv, v, flag) };
    // Σ_rows Σ_c −t·log softmax(z); d = a·(softmax(z)·Σ_c t − t). Targets are rows of any
    // non-negative weights (one-hot, mixed, soft). Returns the sum over rows; waits.
    { B::softmax_cross_entropy(ctx, cv, cv, a, v) } -> std::same_as<double>;
    // y[n,c] = mean_{h,w} x[n,c,h,w]; dx[n,c,h,w] = dy[n,c]/(h·w).
    { B::global_avg_pool_forward(ctx, cv, v) };
    { B::global_avg_pool_backward(ctx, cv, v) };
    // [n,c,h,w] → [n, c·h·w, 1, 1] in PyTorch's flatten order, and back.
    { B::flatten_forward(ctx, cv, v) };
    { B::flatten_backward(ctx, cv, v) };
};

/// Stateful deep-learning primitives; plans are owned by the calling layer and rebuilt when
/// shapes change, so repeated calls with the same shapes allocate nothing.
template <class B>
concept BackendDnn =
    std::default_initializable<typename B::conv2d_plan> &&
    std::default_initializable<typename B::pool2d_plan> &&
    std::default_initializable<typename B::batch_norm_plan> &&
    requires(typename B::context& ctx, typename B::conv2d_plan& conv,
             typename B::pool2d_plan& pool, typename B::batch_norm_plan& bn,
             const conv2d_desc& cd, const pool2d_desc& pd, const batch_norm_desc& bd,
             const conv_bn_fold& fold, tensor_view<B> v, const_tensor_view<B> cv, mode m) {
        // (x, w, optional bias) → y.
        { B::conv2d_forward(ctx, conv, cd, cv, cv, cv, v, m) };
        // (dy, w) → dx. Requires a forward in train mode with the same shapes.
        { B::conv2d_backward_data(ctx, conv, cv, cv, v) };
        // (x, dy) → dw and optional db.
        { B::conv2d_backward_weights(ctx, conv, cv, cv, v, v) };
        // x → y; in train mode the plan keeps what backward needs (max-pool workspace).
        { B::pool2d_forward(ctx, pool, pd, cv, v, m) };
        // (x, y, dy) → dx.
        { B::pool2d_backward(ctx, pool, cv, cv, cv, v) };
        // (x, γ, β, running mean, running var) → y. Train: batch statistics, running stats
        // updated in place, statistics kept in the plan. Eval: running statistics.
        { B::batch_norm_forward(ctx, bn, bd, cv, cv, cv, v, v, v, m) };
        // (x, y, dy, γ, β) → dx, dγ, dβ.
        { B::batch_norm_backward(ctx, bn, cv, cv, cv, cv, cv, v, v, v) };
        // Evaluation only: (x, w, optional b, γ, β, μ, σ²) → y (see conv_bn_fold). A backend
        // may cache the folded weights in the plan until `refold` says they changed.
        { B::conv2d_bn_inference(ctx, conv, cd, fold, cv, cv, cv, cv, cv, cv, cv, v) };
    };

/// The fused optimizer kernels: one pass over a parameter, its gradient and its state.
template <class B>
concept BackendOptimizer = requires(typename B::context& ctx, const sgd_update& u, const adam_update& a,
                                    tensor_view<B> v, const_tensor_view<B> cv) {
    { B::sgd_step(ctx, u, v, cv, v) };      // (w, g, momentum buffer)
    { B::adam_step(ctx, a, v, cv, v, v) };  // (w, g, first moment m, second moment v)
};

/// Dense linear algebra: the thin SVD of a matrix A [m, n, 1, 1] = U·diag(S)·Vᵀ with
/// r = min(m, n): U [m, r, 1, 1], S [r, 1, 1, 1] in descending order, Vᵀ [r, n, 1, 1]
/// (BSS on the pooled features every step; Eigen on the CPU, cuSOLVER on the GPU).
template <class B>
concept BackendLinalg = requires(typename B::context& ctx, tensor_view<B> v, const_tensor_view<B> cv) {
    { B::svd(ctx, cv, v, v, v) };
};

/// Optional: the element-wise activation family (see core/activation.hpp for every kind's
/// formula and derivative). Models that use more than ReLU (MobileNet's ReLU6, EfficientNet's
/// SiLU and sigmoid gates, BERT's GELU and tanh) require it; a backend without it still runs the
/// ResNets, and the conformance tests skip its activation cases by name.
template <class B>
concept BackendActivations = requires(typename B::context& ctx, activation_kind k, tensor_view<B> v,
                                      const_tensor_view<B> cv) {
    { B::activation_forward(ctx, k, cv, v) };           // y = f(x); y may alias x
    { B::activation_backward(ctx, k, cv, cv, v) };      // (x, dy) → dx = f'(x)·dy; dx may alias dy
};

/// Optional: the broadcast scale of squeeze-excitation (a scale per sample and channel) and of
/// stochastic depth (a scale per sample). `s` is [n, c, 1, 1] or [n, 1, 1, 1]; with r the index
/// of s's row element that x[n, c, h, w] meets (c, or 0):
///   y[n, c, h, w] = s[n, r]·x[n, c, h, w]                        (y may alias x)
///   dx = s ⊙ dy (broadcast; dx may alias dy),  ds[n, r] = Σ over what s is broadcast over of dy ⊙ x
/// (ds accumulated in double, and skipped when its view is empty). EfficientNet requires it.
template <class B>
concept BackendBroadcast = requires(typename B::context& ctx, tensor_view<B> v, const_tensor_view<B> cv) {
    { B::scale_broadcast(ctx, cv, cv, v) };                   // (x, s) → y
    { B::scale_broadcast_backward(ctx, cv, cv, cv, v, v) };   // (x, s, dy) → dx, ds
};

/// Sequence tensors (text models). A tensor [batch, length, hidden] is the row-major matrix
/// [batch·length, hidden, 1, 1], one token per row (row b·length + t): every backend lays
/// matrices out alike, so no image layout is involved. Attention's per-head tensors
/// [batch, heads, length, head_size] are the matrix [batch·heads·length, head_size, 1, 1].
/// `head_split` says how the hidden columns of a token split into heads.
struct head_split {
    std::int64_t heads = 1;   ///< hidden = heads·head_size
    std::int64_t length = 1;  ///< tokens per sequence (rows per sample)
    friend constexpr bool operator==(const head_split&, const head_split&) = default;
};

/// Dropout of one call: element i (the row-major index of a matrix) is kept when
///   u_i = ⌊h(seed, offset + i)/2⁴⁰⌋ ≥ threshold,  threshold = round(p·2²⁴),
/// with h the splitmix64 output at position offset + i + 1 of the stream started at `seed`, and
/// a kept element is scaled by 1/(1 − p). The mask is a pure function of (seed, offset + i):
/// every backend, thread count and process draws the same one, backward recomputes it instead
/// of storing it, and the seed comes from the run's one rng (core/random.hpp), so runs
/// reproduce. `offset` places the matrix inside a larger one: a data-parallel rank holding rows
/// [r, r + n) of a global batch's row-major matrix passes r·columns and draws exactly the mask
/// one process draws for those rows.
struct dropout_desc {
    float probability = 0.1f;
    std::uint64_t seed = 0;
    std::uint64_t offset = 0;

    [[nodiscard]] constexpr std::uint32_t threshold() const noexcept {
        return static_cast<std::uint32_t>(double(probability) * 16777216.0 + 0.5);
    }
    /// 1/(1 − p), rounded to float once.
    [[nodiscard]] constexpr float scale() const noexcept {
        return probability >= 1.0f ? 0.0f : static_cast<float>(1.0 / (1.0 - double(probability)));
    }
    [[nodiscard]] static constexpr std::uint32_t draw(std::uint64_t seed,
                                                      std::uint64_t i) noexcept {
        std::uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        return static_cast<std::uint32_t>(z >> 40);
    }
    [[nodiscard]] constexpr bool keeps(std::uint64_t i) const noexcept {
        return draw(seed, offset + i) >= threshold();
    }
    friend constexpr bool operator==(const dropout_desc&, const dropout_desc&) = default;
};

/// Optional: the sequence operations of transformer models (BERT). Every operand is a matrix
/// (see head_split); `ids` are host integers, as mix_rows' permutation.
template <class B>
concept BackendSequence = requires(typename B::context& ctx, tensor_view<B> v,
                                   const_tensor_view<B> cv, std::int64_t count, float a,
                                   const head_split& hs, const dropout_desc& dd,
                                   std::span<const std::int64_t> ids) {
    // C_i = α·op(A_i)·op(B_i) + β·C_i for i < count, where X_i is the i-th of `count` equal
    // blocks of consecutive rows of X (attention's scores and context, per sample and head).
    {B::batched_gemm(ctx, count, transpose::no, transpose::yes, a, cv, cv, a, v)};
    // [b·length + t, h·size + j] → [(b·heads + h)·length + t, j], and back.
    {B::split_heads(ctx, hs, cv, v)};
    {B::merge_heads(ctx, hs, cv, v)};
    // y = softmax(a·x) row-wise over keys, keys with mask[b, j] = 0 excluded (probability 0);
    // rows are split into mask.rows equal blocks, block b using mask row b; an empty mask keeps
    // every key; a row whose keys are all masked is zero. Backward (y, dy) → dx =
    // a·y ⊙ (dy − Σ_j y_j·dy_j), dx may alias dy.
    {B::masked_softmax_forward(ctx, a, cv, cv, v)};
    {B::masked_softmax_backward(ctx, a, cv, cv, v)};
    // Row-wise layer norm with ε = a: y = γ ⊙ (x − μ)·r + β, r = 1/√(σ² + ε) (biased σ²); μ and r
    // go to the two [rows] vectors when they are not empty (training). Backward (x, dy, γ, μ, r)
    // → dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)) with ĝ = γ ⊙ dy, x̂ = (x − μ)·r; dγ = Σ_rows dy ⊙ x̂,
    // dβ = Σ_rows dy (both summed in double in row order).
    {B::layer_norm_forward(ctx, a, cv, cv, cv, v, v, v)};
    {B::layer_norm_backward(ctx, cv, cv, cv, cv, cv, v, v, v)};
    // y[i] = table[ids[i]] (embeddings, the [CLS] rows); backward: dtable = 0, then
    // dtable[ids[i]] += dy[i] in order of i.
    {B::gather_rows(ctx, cv, ids, v)};
    {B::gather_rows_backward(ctx, ids, cv, v)};
    // y = x ⊙ keep/(1 − p) with dropout_desc's mask; backward dx = dy ⊙ keep/(1 − p). Both may
    // alias.
    {B::dropout_forward(ctx, dd, cv, v)};
    {B::dropout_backward(ctx, dd, cv, v)};
};

/// Optional: mixed precision (core/precision.hpp). The context carries a compute precision that
/// convolutions (forward, folded evaluation, backward data and weights), `gemm` and
/// `batched_gemm` honour; every other operation, and every tensor, stays float32. Generic code
/// sets it only through `precision_scope` (core/precision_scope.hpp), around a model's forward
/// and backward, so losses and methods outside a model always compute in float32.
template <class B>
concept BackendMixedPrecision = requires(typename B::context& ctx, precision p) {
    // Sets the context's compute precision and returns the one it replaces.
    { B::set_compute_precision(ctx, p) } -> std::same_as<precision>;
    // Empty when this machine and library can compute in p; otherwise why not, in a sentence
    // (e.g. the CPU lacks bf16 instructions).
    { B::precision_refusal(ctx, p) } -> std::convertible_to<std::string>;
};

/// Optional: a backend whose allocator keeps freed blocks for reuse (the CUDA backend's caching
/// allocator) gives them back to the device. The tensor pool calls it when it has freed tensors
/// it will not need again (its first step's, once a planned arena replaces them), so that they do
/// not stay cached beside the arena; a backend that frees at once (oneDNN's) needs none.
template <class B>
concept BackendCachedMemory = requires(typename B::context& ctx) {
    { B::release_cached_memory(ctx) };
};

/// A complete backend.
template <class B>
concept Backend = BackendStorage<B> && BackendMath<B> && BackendDnn<B> && BackendOptimizer<B> && BackendLinalg<B>;

}  // namespace smile
