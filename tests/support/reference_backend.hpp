#pragma once
/// @file
/// `smile::reference::backend`: the test oracle. Plain loops over NCHW memory with double
/// accumulation, written straight from each operation's definition and sharing no code with
/// the real backends. It stores NCHW while oneDNN stores NHWC, so the conformance tests also
/// catch layout mistakes in `upload`/`download`. Slow by design; used only by tests.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <smile/core/backend.hpp>
#include <smile/core/error.hpp>
#include <smile/io/half.hpp>
#include <smile/linalg/svd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smile::reference {

struct backend;
using view = tensor_view<backend>;
using cview = const_tensor_view<backend>;

struct context {
    std::size_t allocations = 0;
    precision compute = precision::f32;
};

/// What a training forward remembers for backward, shared by the three plan kinds.
struct conv2d_plan {
    shape4 x, w;
    conv2d_desc desc;
    bool trained = false;
};
struct pool2d_plan {
    shape4 x;
    pool2d_desc desc;
    std::vector<std::int64_t> argmax;  // max pooling: flat input index of each output
    bool trained = false;
};
struct batch_norm_plan {
    shape4 x;
    batch_norm_desc desc;
    std::vector<double> mean, inv_std;
    bool trained = false;
    bool global_stats = false;  // eval_grad: statistics are constants for backward
};

namespace detail {
/// An operand as a computation at precision `p` sees it: itself at float32; at bf16 a copy (in
/// `storage`) with every value rounded to the nearest bfloat16. That is the whole definition of
/// bf16 compute (core/precision.hpp): the arithmetic after it is the float32 one, in double here.
inline cview at_precision(precision p, cview v, std::vector<float>& storage) {
    if (p == precision::f32 || v.empty()) return v;
    storage.assign(v.data, v.data + v.size());
    for (float& e : storage) e = io::round_to_bf16(e);
    return {storage.data(), v.shape};
}

inline std::size_t at(const shape4& s, std::int64_t n, std::int64_t c, std::int64_t h,
                      std::int64_t w) {
    return static_cast<std::size_t>(((n * s.c + c) * s.h + h) * s.w + w);
}
}  // namespace detail

struct backend {
    static constexpr std::string_view name = "reference";
    static constexpr bool host_memory = true;  // host memory, size() floats per tensor
    using context = reference::context;
    using conv2d_plan = reference::conv2d_plan;
    using pool2d_plan = reference::pool2d_plan;
    using batch_norm_plan = reference::batch_norm_plan;

    static float* allocate(context& ctx, std::size_t n) {
        ++ctx.allocations;
        return new float[n];
    }
    static void deallocate(context&, float* p, std::size_t) noexcept { delete[] p; }
    static void upload(context&, const float* host, view dst) {
        std::memcpy(dst.data, host, dst.size() * sizeof(float));
    }
    static void download(context&, cview src, float* host) {
        std::memcpy(host, src.data, src.size() * sizeof(float));
    }
    static void copy(context&, cview src, view dst) {
        std::memmove(dst.data, src.data, src.size() * sizeof(float));
    }
    static void fill(context&, view dst, float v) { std::fill_n(dst.data, dst.size(), v); }
    static void synchronize(context&) {}

    static void gemm(context& ctx, transpose ta, transpose tb, float alpha, cview a_in, cview b_in,
                     float beta, view c) {
        std::vector<float> a_low, b_low;
        const cview a = detail::at_precision(ctx.compute, a_in, a_low),
                    b = detail::at_precision(ctx.compute, b_in, b_low);
        const bool tra = ta == transpose::yes, trb = tb == transpose::yes;
        const std::int64_t m = tra ? a.shape.c : a.shape.n, k = tra ? a.shape.n : a.shape.c;
        const std::int64_t n = trb ? b.shape.n : b.shape.c;
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                double acc = 0.0;
                for (std::int64_t p = 0; p < k; ++p) {
                    const double av = tra ? a.data[p * a.shape.c + i] : a.data[i * a.shape.c + p];
                    const double bv = trb ? b.data[j * b.shape.c + p] : b.data[p * b.shape.c + j];
                    acc += av * bv;
                }
                float& out = c.data[i * n + j];
                out = static_cast<float>(alpha * acc + (beta == 0.0f ? 0.0 : beta * out));
            }
    }
    static void add(context&, float a, cview x, float b, cview y, view out) {
        for (std::size_t i = 0; i < x.size(); ++i)
            out.data[i] = static_cast<float>(double(a) * x.data[i] + double(b) * y.data[i]);
    }
    static void multiply(context&, cview x, cview y, view out) {
        for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = x.data[i] * y.data[i];
    }
    static void scale_channels(context&, cview x, cview s, view y) {
        const auto& sh = x.shape;
        for (std::int64_t n = 0; n < sh.n; ++n)
            for (std::int64_t c = 0; c < sh.c; ++c)
                for (std::int64_t h = 0; h < sh.h; ++h)
                    for (std::int64_t w = 0; w < sh.w; ++w)
                        y.data[detail::at(sh, n, c, h, w)] =
                            s.data[c] * x.data[detail::at(sh, n, c, h, w)];
    }
    static void add_channel_bias(context&, cview bias, view y) {
        const auto& sh = y.shape;
        for (std::int64_t n = 0; n < sh.n; ++n)
            for (std::int64_t c = 0; c < sh.c; ++c)
                for (std::int64_t p = 0; p < sh.h * sh.w; ++p)
                    y.data[static_cast<std::size_t>((n * sh.c + c) * sh.h * sh.w + p)] +=
                        bias.data[c];
    }
    static void channel_sum(context&, cview x, view out) {
        const auto& sh = x.shape;
        for (std::int64_t c = 0; c < sh.c; ++c) {
            double acc = 0.0;
            for (std::int64_t n = 0; n < sh.n; ++n)
                for (std::int64_t p = 0; p < sh.h * sh.w; ++p)
                    acc += x.data[static_cast<std::size_t>((n * sh.c + c) * sh.h * sh.w + p)];
            out.data[c] = static_cast<float>(acc);
        }
    }
    static void mix_rows(context&, float lambda, cview x, std::span<const std::int64_t> perm,
                         view y) {
        const std::size_t row = x.shape.row_size();
        for (std::size_t i = 0; i < perm.size(); ++i)
            for (std::size_t k = 0; k < row; ++k)
                y.data[i * row + k] =
                    static_cast<float>(double(lambda) * x.data[i * row + k] +
                                       (1.0 - double(lambda)) *
                                           x.data[static_cast<std::size_t>(perm[i]) * row + k]);
    }
    static void paste_box(context&, cview x, std::span<const std::int64_t> perm,
                          const spatial_box& box, view y) {
        const auto& sh = x.shape;
        for (std::int64_t n = 0; n < sh.n; ++n)
            for (std::int64_t c = 0; c < sh.c; ++c)
                for (std::int64_t h = 0; h < sh.h; ++h)
                    for (std::int64_t w = 0; w < sh.w; ++w) {
                        const bool inside = h >= box.top && h < box.top + box.height &&
                                            w >= box.left && w < box.left + box.width;
                        const std::int64_t src = inside ? perm[static_cast<std::size_t>(n)] : n;
                        y.data[detail::at(sh, n, c, h, w)] = x.data[detail::at(sh, src, c, h, w)];
                    }
    }
    static double dot(context&, cview a, cview b) {
        double acc = 0.0;
        for (std::size_t i = 0; i < a.size(); ++i) acc += double(a.data[i]) * b.data[i];
        return acc;
    }
    static void relu_forward(context&, cview x, view y) {
        for (std::size_t i = 0; i < x.size(); ++i) y.data[i] = std::max(x.data[i], 0.0f);
    }
    static void relu_backward(context&, cview y, cview dy, view dx) {
        for (std::size_t i = 0; i < y.size(); ++i) dx.data[i] = y.data[i] > 0.0f ? dy.data[i] : 0.0f;
    }
    static void softmax(context&, cview x, view y, bool log) {
        const std::int64_t k = x.shape.c;
        for (std::int64_t r = 0; r < x.shape.n; ++r) {
            const float* z = x.data + r * k;
            double top = *std::max_element(z, z + k), total = 0.0;
            for (std::int64_t j = 0; j < k; ++j) total += std::exp(z[j] - top);
            for (std::int64_t j = 0; j < k; ++j) {
                const double lp = z[j] - top - std::log(total);
                y.data[r * k + j] = static_cast<float>(log ? lp : std::exp(lp));
            }
        }
    }
    static double softmax_cross_entropy(context&, cview z, cview t, float scale, view d) {
        const std::int64_t k = z.shape.c;
        double loss = 0.0;
        for (std::int64_t r = 0; r < z.shape.n; ++r) {
            const float* zr = z.data + r * k;
            const float* tr = t.data + r * k;
            double top = *std::max_element(zr, zr + k), total = 0.0, mass = 0.0;
            for (std::int64_t j = 0; j < k; ++j) total += std::exp(zr[j] - top);
            for (std::int64_t j = 0; j < k; ++j) {
                const double lp = zr[j] - top - std::log(total);
                loss -= tr[j] * lp;
                mass += tr[j];
            }
            for (std::int64_t j = 0; j < k; ++j) {
                const double p = std::exp(zr[j] - top - std::log(total));
                d.data[r * k + j] = static_cast<float>(scale * (p * mass - tr[j]));
            }
        }
        return loss;
    }
    static void global_avg_pool_forward(context&, cview x, view y) {
        const auto& s = x.shape;
        for (std::int64_t n = 0; n < s.n; ++n)
            for (std::int64_t c = 0; c < s.c; ++c) {
                double acc = 0.0;
                for (std::int64_t p = 0; p < s.h * s.w; ++p)
                    acc += x.data[static_cast<std::size_t>((n * s.c + c) * s.h * s.w + p)];
                y.data[n * s.c + c] = static_cast<float>(acc / double(s.h * s.w));
            }
    }
    static void global_avg_pool_backward(context&, cview dy, view dx) {
        const auto& s = dx.shape;
        for (std::int64_t n = 0; n < s.n; ++n)
            for (std::int64_t c = 0; c < s.c; ++c)
                for (std::int64_t p = 0; p < s.h * s.w; ++p)
                    dx.data[static_cast<std::size_t>((n * s.c + c) * s.h * s.w + p)] =
                        static_cast<float>(dy.data[n * s.c + c] / double(s.h * s.w));
    }
    static void flatten_forward(context&, cview x, view y) {
        std::memcpy(y.data, x.data, x.size() * sizeof(float));
    }
    static void flatten_backward(context&, cview dy, view dx) {
        std::memcpy(dx.data, dy.data, dy.size() * sizeof(float));
    }

    static void conv2d_forward(context& ctx, conv2d_plan& plan, const conv2d_desc& d, cview x_in,
                               cview w_in, cview bias, view y, mode m) {
        std::vector<float> x_low, w_low;
        const cview x = detail::at_precision(ctx.compute, x_in, x_low),
                    w = detail::at_precision(ctx.compute, w_in, w_low);
        const auto &xs = x.shape, &ws = w.shape, &ys = y.shape;
        const std::int64_t out_per_group = ws.n / d.groups;
        for (std::int64_t n = 0; n < xs.n; ++n)
            for (std::int64_t o = 0; o < ws.n; ++o) {
                const std::int64_t g = o / out_per_group;
                for (std::int64_t oy = 0; oy < ys.h; ++oy)
                    for (std::int64_t ox = 0; ox < ys.w; ++ox) {
                        double acc = bias.empty() ? 0.0 : bias.data[o];
                        for (std::int64_t i = 0; i < ws.c; ++i)
                            for (std::int64_t ky = 0; ky < ws.h; ++ky)
                                for (std::int64_t kx = 0; kx < ws.w; ++kx) {
                                    const std::int64_t iy = oy * d.stride_h - d.pad_h + ky;
                                    const std::int64_t ix = ox * d.stride_w - d.pad_w + kx;
                                    if (iy < 0 || iy >= xs.h || ix < 0 || ix >= xs.w) continue;
                                    acc += double(x.data[detail::at(xs, n, g * ws.c + i, iy, ix)]) *
                                           w.data[detail::at(ws, o, i, ky, kx)];
                                }
                        y.data[detail::at(ys, n, o, oy, ox)] = static_cast<float>(acc);
                    }
            }
        plan = {xs, ws, d, keeps_activations(m)};
    }
    /// The unfolded definition: conv, then BN with running statistics, the sum and the ReLU,
    /// each in double (the oracle for the backends' folded version).
    static void conv2d_bn_inference(context& ctx, conv2d_plan& plan, const conv2d_desc& d, const conv_bn_fold& f,
                                    cview x, cview w, cview bias, cview gamma, cview beta, cview mean, cview var,
                                    view y) {
        if (ctx.compute == precision::bf16)
            return folded_bf16(ctx, plan, d, f, x, w, bias, gamma, beta, mean, var, y);
        std::vector<float> t(y.size());
        conv2d_forward(ctx, plan, d, x, w, bias, view{t.data(), y.shape}, mode::eval);
        const auto& s = y.shape;
        for (std::int64_t n = 0; n < s.n; ++n)
            for (std::int64_t c = 0; c < s.c; ++c)
                for (std::int64_t p = 0; p < s.h * s.w; ++p) {
                    const auto i = static_cast<std::size_t>((n * s.c + c) * s.h * s.w + p);
                    double v = gamma.data[c] * (double(t[i]) - mean.data[c]) / std::sqrt(double(var.data[c]) + f.epsilon) +
                               beta.data[c];
                    if (f.accumulate) v += y.data[i];
                    v = activation_value(f.activation, v);
                    y.data[i] = static_cast<float>(v);
                }
    }
    static void conv2d_backward_data(context& ctx, conv2d_plan& plan, cview dy_in, cview w_in,
                                     view dx) {
        SMILE_CHECK(plan.trained, "reference conv2d: backward without a training forward");
        std::vector<float> dy_low, w_low;
        const cview dy = detail::at_precision(ctx.compute, dy_in, dy_low),
                    w = detail::at_precision(ctx.compute, w_in, w_low);
        const auto& d = plan.desc;
        const auto &xs = plan.x, &ws = w.shape, &ys = dy.shape;
        std::vector<double> acc(xs.size(), 0.0);
        const std::int64_t out_per_group = ws.n / d.groups;
        for (std::int64_t n = 0; n < ys.n; ++n)
            for (std::int64_t o = 0; o < ws.n; ++o)
                for (std::int64_t oy = 0; oy < ys.h; ++oy)
                    for (std::int64_t ox = 0; ox < ys.w; ++ox) {
                        const double g = dy.data[detail::at(ys, n, o, oy, ox)];
                        for (std::int64_t i = 0; i < ws.c; ++i)
                            for (std::int64_t ky = 0; ky < ws.h; ++ky)
                                for (std::int64_t kx = 0; kx < ws.w; ++kx) {
                                    const std::int64_t iy = oy * d.stride_h - d.pad_h + ky;
                                    const std::int64_t ix = ox * d.stride_w - d.pad_w + kx;
                                    if (iy < 0 || iy >= xs.h || ix < 0 || ix >= xs.w) continue;
                                    acc[detail::at(xs, n, (o / out_per_group) * ws.c + i, iy, ix)] +=
                                        g * w.data[detail::at(ws, o, i, ky, kx)];
                                }
                    }
        for (std::size_t i = 0; i < acc.size(); ++i) dx.data[i] = static_cast<float>(acc[i]);
    }
    static void conv2d_backward_weights(context& ctx, conv2d_plan& plan, cview x_in, cview dy_in,
                                        view dw, view db) {
        SMILE_CHECK(plan.trained, "reference conv2d: backward without a training forward");
        std::vector<float> x_low, dy_low;
        const cview x = detail::at_precision(ctx.compute, x_in, x_low),
                    dy = detail::at_precision(ctx.compute, dy_in, dy_low);
        const auto& d = plan.desc;
        const auto &xs = x.shape, &ws = dw.shape, &ys = dy.shape;
        const std::int64_t out_per_group = ws.n / d.groups;
        for (std::int64_t o = 0; o < ws.n; ++o) {
            const std::int64_t g = o / out_per_group;
            for (std::int64_t i = 0; i < ws.c; ++i)
                for (std::int64_t ky = 0; ky < ws.h; ++ky)
                    for (std::int64_t kx = 0; kx < ws.w; ++kx) {
                        double acc = 0.0;
                        for (std::int64_t n = 0; n < ys.n; ++n)
                            for (std::int64_t oy = 0; oy < ys.h; ++oy)
                                for (std::int64_t ox = 0; ox < ys.w; ++ox) {
                                    const std::int64_t iy = oy * d.stride_h - d.pad_h + ky;
                                    const std::int64_t ix = ox * d.stride_w - d.pad_w + kx;
                                    if (iy < 0 || iy >= xs.h || ix < 0 || ix >= xs.w) continue;
                                    acc += double(dy.data[detail::at(ys, n, o, oy, ox)]) *
                                           x.data[detail::at(xs, n, g * ws.c + i, iy, ix)];
                                }
                        dw.data[detail::at(ws, o, i, ky, kx)] = static_cast<float>(acc);
                    }
            if (!db.empty()) {
                double acc = 0.0;
                for (std::int64_t n = 0; n < ys.n; ++n)
                    for (std::int64_t p = 0; p < ys.h * ys.w; ++p)
                        acc += dy.data[static_cast<std::size_t>((n * ys.c + o) * ys.h * ys.w + p)];
                db.data[o] = static_cast<float>(acc);
            }
        }
    }

    static void pool2d_forward(context&, pool2d_plan& plan, const pool2d_desc& d, cview x, view y,
                               mode m) {
        const auto &xs = x.shape, &ys = y.shape;
        plan.x = xs;
        plan.desc = d;
        plan.trained = keeps_activations(m);
        plan.argmax.assign(ys.size(), -1);
        for (std::int64_t n = 0; n < xs.n; ++n)
            for (std::int64_t c = 0; c < xs.c; ++c)
                for (std::int64_t oy = 0; oy < ys.h; ++oy)
                    for (std::int64_t ox = 0; ox < ys.w; ++ox) {
                        double best = -std::numeric_limits<double>::infinity(), acc = 0.0;
                        std::int64_t best_index = -1, valid = 0;
                        for (std::int64_t ky = 0; ky < d.window_h; ++ky)
                            for (std::int64_t kx = 0; kx < d.window_w; ++kx) {
                                const std::int64_t iy = oy * d.stride_h - d.pad_h + ky;
                                const std::int64_t ix = ox * d.stride_w - d.pad_w + kx;
                                if (iy < 0 || iy >= xs.h || ix < 0 || ix >= xs.w) continue;
                                const auto idx = static_cast<std::int64_t>(detail::at(xs, n, c, iy, ix));
                                const double v = x.data[idx];
                                ++valid;
                                acc += v;
                                if (v > best) {
                                    best = v;
                                    best_index = idx;
                                }
                            }
                        const auto out = detail::at(ys, n, c, oy, ox);
                        if (d.kind == pool_kind::max) {
                            y.data[out] = static_cast<float>(best);
                            plan.argmax[out] = best_index;
                        } else {
                            const double count = d.kind == pool_kind::average_include_padding
                                                     ? double(d.window_h * d.window_w)
                                                     : double(valid);
                            y.data[out] = static_cast<float>(acc / count);
                        }
                    }
    }
    static void pool2d_backward(context&, pool2d_plan& plan, cview x, cview, cview dy, view dx) {
        SMILE_CHECK(plan.trained, "reference pool2d: backward without a training forward");
        const auto& d = plan.desc;
        const auto &xs = x.shape, &ys = dy.shape;
        std::vector<double> acc(xs.size(), 0.0);
        for (std::int64_t n = 0; n < ys.n; ++n)
            for (std::int64_t c = 0; c < ys.c; ++c)
                for (std::int64_t oy = 0; oy < ys.h; ++oy)
                    for (std::int64_t ox = 0; ox < ys.w; ++ox) {
                        const auto out = detail::at(ys, n, c, oy, ox);
                        if (d.kind == pool_kind::max) {
                            acc[static_cast<std::size_t>(plan.argmax[out])] += dy.data[out];
                            continue;
                        }
                        std::int64_t valid = 0;
                        for (int pass = 0; pass < 2; ++pass)
                            for (std::int64_t ky = 0; ky < d.window_h; ++ky)
                                for (std::int64_t kx = 0; kx < d.window_w; ++kx) {
                                    const std::int64_t iy = oy * d.stride_h - d.pad_h + ky;
                                    const std::int64_t ix = ox * d.stride_w - d.pad_w + kx;
                                    if (iy < 0 || iy >= xs.h || ix < 0 || ix >= xs.w) continue;
                                    if (pass == 0) {
                                        ++valid;
                                        continue;
                                    }
                                    const double count =
                                        d.kind == pool_kind::average_include_padding
                                            ? double(d.window_h * d.window_w)
                                            : double(valid);
                                    acc[detail::at(xs, n, c, iy, ix)] += dy.data[out] / count;
                                }
                    }
        for (std::size_t i = 0; i < acc.size(); ++i) dx.data[i] = static_cast<float>(acc[i]);
    }

    static void batch_norm_forward(context&, batch_norm_plan& plan, const batch_norm_desc& d,
                                   cview x, cview gamma, cview beta, view rm, view rv, view y,
                                   mode m) {
        const auto& s = x.shape;
        const std::int64_t count = s.n * s.h * s.w, hw = s.h * s.w;
        plan.x = s;
        plan.desc = d;
        plan.trained = keeps_activations(m);
        plan.global_stats = !uses_batch_statistics(m);
        plan.mean.assign(static_cast<std::size_t>(s.c), 0.0);
        plan.inv_std.assign(static_cast<std::size_t>(s.c), 0.0);
        for (std::int64_t c = 0; c < s.c; ++c) {
            double mean = rm.data[c], var = rv.data[c];
            if (uses_batch_statistics(m)) {
                double sum = 0.0, sq = 0.0;
                for (std::int64_t n = 0; n < s.n; ++n)
                    for (std::int64_t p = 0; p < hw; ++p)
                        sum += x.data[static_cast<std::size_t>((n * s.c + c) * hw + p)];
                mean = sum / double(count);
                for (std::int64_t n = 0; n < s.n; ++n)
                    for (std::int64_t p = 0; p < hw; ++p) {
                        const double v = x.data[static_cast<std::size_t>((n * s.c + c) * hw + p)] - mean;
                        sq += v * v;
                    }
                var = sq / double(count);
                rm.data[c] = static_cast<float>((1.0 - d.momentum) * rm.data[c] + d.momentum * mean);
                rv.data[c] = static_cast<float>((1.0 - d.momentum) * rv.data[c] +
                                                d.momentum * var * double(count) / double(count - 1));
            }
            const double inv = 1.0 / std::sqrt(var + d.epsilon);
            plan.mean[static_cast<std::size_t>(c)] = mean;
            plan.inv_std[static_cast<std::size_t>(c)] = inv;
            for (std::int64_t n = 0; n < s.n; ++n)
                for (std::int64_t p = 0; p < hw; ++p) {
                    const auto i = static_cast<std::size_t>((n * s.c + c) * hw + p);
                    double v = gamma.data[c] * (x.data[i] - mean) * inv + beta.data[c];
                    if (d.fuse_relu) v = std::max(v, 0.0);
                    y.data[i] = static_cast<float>(v);
                }
        }
    }
    static void batch_norm_backward(context&, batch_norm_plan& plan, cview x, cview y, cview dy,
                                    cview gamma, cview, view dx, view dgamma, view dbeta) {
        SMILE_CHECK(plan.trained, "reference batch_norm: backward without a training forward");
        const auto& s = x.shape;
        const std::int64_t hw = s.h * s.w;
        const double count = double(s.n * hw);
        for (std::int64_t c = 0; c < s.c; ++c) {
            const double mean = plan.mean[static_cast<std::size_t>(c)];
            const double inv = plan.inv_std[static_cast<std::size_t>(c)];
            auto grad = [&](std::size_t i) {
                return plan.desc.fuse_relu && y.data[i] <= 0.0f ? 0.0 : double(dy.data[i]);
            };
            double sum_g = 0.0, sum_gx = 0.0;
            for (std::int64_t n = 0; n < s.n; ++n)
                for (std::int64_t p = 0; p < hw; ++p) {
                    const auto i = static_cast<std::size_t>((n * s.c + c) * hw + p);
                    sum_g += grad(i);
                    sum_gx += grad(i) * (x.data[i] - mean) * inv;
                }
            dbeta.data[c] = static_cast<float>(sum_g);
            dgamma.data[c] = static_cast<float>(sum_gx);
            for (std::int64_t n = 0; n < s.n; ++n)
                for (std::int64_t p = 0; p < hw; ++p) {
                    const auto i = static_cast<std::size_t>((n * s.c + c) * hw + p);
                    const double xhat = (x.data[i] - mean) * inv;
                    // With running statistics μ and σ do not depend on x.
                    const double centred = plan.global_stats
                                               ? grad(i)
                                               : grad(i) - sum_g / count - xhat * sum_gx / count;
                    dx.data[i] = static_cast<float>(gamma.data[c] * inv * centred);
                }
        }
    }

    /// One-sided Jacobi SVD (a different algorithm from the oneDNN backend's); a template for
    /// compile time, as the oneDNN backend's.
    template <class Context>
    static void svd(Context&, cview a, view u, view s, view vt) {
        linalg::thin_svd(a.data, a.shape.n, a.shape.c, u.data, s.data, vt.data, linalg::svd_algorithm::jacobi);
    }

    static void sgd_step(context&, const sgd_update& u, view w, cview g, view buf) {
        for (std::size_t i = 0; i < w.size(); ++i) {
            double d = double(g.data[i]) + double(u.weight_decay) * w.data[i];
            if (u.momentum != 0.0f) {
                const double v = u.first_step ? d
                                              : double(u.momentum) * buf.data[i] +
                                                    (1.0 - double(u.dampening)) * d;
                buf.data[i] = static_cast<float>(v);
                d = u.nesterov ? d + double(u.momentum) * v : v;
            }
            w.data[i] = static_cast<float>(w.data[i] - double(u.learning_rate) * d);
        }
    }

    /// The activation family in double precision, written from the formulas independently of
    /// core/activation.hpp's float code.
    static double activation_value(activation_kind k, double x) {
        const double s = 1.0 / (1.0 + std::exp(-x));
        const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
        switch (k) {
            case activation_kind::identity: return x;
            case activation_kind::relu: return std::max(x, 0.0);
            case activation_kind::relu6: return std::clamp(x, 0.0, 6.0);
            case activation_kind::silu: return x * s;
            case activation_kind::sigmoid: return s;
            case activation_kind::hardswish: return x * std::clamp(x + 3.0, 0.0, 6.0) / 6.0;
            case activation_kind::hardsigmoid: return std::clamp(x + 3.0, 0.0, 6.0) / 6.0;
            case activation_kind::tanh: return std::tanh(x);
            case activation_kind::gelu_erf: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
            case activation_kind::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(u));
        }
        return 0.0;
    }
    static double activation_derivative(activation_kind k, double x) {
        const double s = 1.0 / (1.0 + std::exp(-x));
        const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
        switch (k) {
            case activation_kind::identity: return 1.0;
            case activation_kind::relu: return x > 0.0 ? 1.0 : 0.0;
            case activation_kind::relu6: return x > 0.0 && x < 6.0 ? 1.0 : 0.0;
            case activation_kind::silu: return s + x * s * (1.0 - s);
            case activation_kind::sigmoid: return s * (1.0 - s);
            case activation_kind::hardswish: return x < -3.0 ? 0.0 : x < 3.0 ? (2.0 * x + 3.0) / 6.0 : 1.0;
            case activation_kind::hardsigmoid: return x > -3.0 && x < 3.0 ? 1.0 / 6.0 : 0.0;
            case activation_kind::tanh: return 1.0 / (std::cosh(x) * std::cosh(x));
            case activation_kind::gelu_erf:
                return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-x * x / 2.0) / std::sqrt(2.0 * M_PI);
            case activation_kind::gelu_tanh: {
                const double sech2 = 1.0 / (std::cosh(u) * std::cosh(u));
                return 0.5 * (1.0 + std::tanh(u)) +
                       0.5 * x * sech2 * std::sqrt(2.0 / M_PI) * (1.0 + 3.0 * 0.044715 * x * x);
            }
        }
        return 0.0;
    }
    static void activation_forward(context&, activation_kind k, cview x, view y) {
        for (std::size_t i = 0; i < x.size(); ++i) y.data[i] = static_cast<float>(activation_value(k, x.data[i]));
    }
    static void activation_backward(context&, activation_kind k, cview x, cview dy, view dx) {
        for (std::size_t i = 0; i < x.size(); ++i)
            dx.data[i] = static_cast<float>(activation_derivative(k, x.data[i]) * double(dy.data[i]));
    }

    /// The broadcast scale, from the definition: s[n, c or 0] meets x[n, c, h, w].
    static void scale_broadcast(context&, cview x, cview s, view y) {
        const auto& sh = x.shape;
        for (std::int64_t n = 0; n < sh.n; ++n)
            for (std::int64_t c = 0; c < sh.c; ++c)
                for (std::int64_t h = 0; h < sh.h; ++h)
                    for (std::int64_t w = 0; w < sh.w; ++w) {
                        const auto i = detail::at(sh, n, c, h, w);
                        y.data[i] = static_cast<float>(double(s.data[n * s.shape.c + (s.shape.c == 1 ? 0 : c)]) * x.data[i]);
                    }
    }
    static void scale_broadcast_backward(context&, cview x, cview s, cview dy, view dx, view ds) {
        const auto& sh = x.shape;
        std::vector<double> acc(s.size(), 0.0);
        for (std::int64_t n = 0; n < sh.n; ++n)
            for (std::int64_t c = 0; c < sh.c; ++c)
                for (std::int64_t h = 0; h < sh.h; ++h)
                    for (std::int64_t w = 0; w < sh.w; ++w) {
                        const auto i = detail::at(sh, n, c, h, w);
                        const auto r = static_cast<std::size_t>(n * s.shape.c + (s.shape.c == 1 ? 0 : c));
                        acc[r] += double(dy.data[i]) * x.data[i];
                        dx.data[i] = static_cast<float>(double(s.data[r]) * dy.data[i]);
                    }
        if (!ds.empty())
            for (std::size_t r = 0; r < acc.size(); ++r) ds.data[r] = static_cast<float>(acc[r]);
    }

    /// Adam/AdamW in double precision, from the formula (not PyTorch's float order).
    static void adam_step(context&, const adam_update& u, view w, cview g, view m, view v) {
        for (std::size_t i = 0; i < w.size(); ++i) {
            const double wi = double(w.data[i]) * u.weight_scale;
            const double gi = double(g.data[i]) + double(u.grad_decay) * wi;
            const double a = double(u.beta1) * m.data[i] + double(u.one_minus_beta1) * gi;
            const double b = double(u.beta2) * v.data[i] + double(u.one_minus_beta2) * gi * gi;
            m.data[i] = static_cast<float>(a);
            v.data[i] = static_cast<float>(b);
            w.data[i] = static_cast<float>(wi - double(u.step_size) * a / (std::sqrt(b) / u.bias_root + u.epsilon));
        }
    }

    // Sequence operations, from their definitions in double.
    static void batched_gemm(context& ctx, std::int64_t count, transpose ta, transpose tb,
                             float alpha, cview a, cview b, float beta, view c) {
        const shape4 as = matrix_shape(a.shape.n / count, a.shape.c),
                     bs = matrix_shape(b.shape.n / count, b.shape.c),
                     cs = matrix_shape(c.shape.n / count, c.shape.c);
        for (std::int64_t i = 0; i < count; ++i)
            gemm(ctx, ta, tb, alpha, cview{a.data + i * as.size(), as},
                 cview{b.data + i * bs.size(), bs}, beta, view{c.data + i * cs.size(), cs});
    }
    static void split_heads(context&, const head_split& hs, cview x, view y) {
        const std::int64_t batch = x.shape.n / hs.length, size = x.shape.c / hs.heads;
        for (std::int64_t b = 0; b < batch; ++b)
            for (std::int64_t h = 0; h < hs.heads; ++h)
                for (std::int64_t t = 0; t < hs.length; ++t)
                    for (std::int64_t j = 0; j < size; ++j)
                        y.data[((b * hs.heads + h) * hs.length + t) * size + j] =
                            x.data[(b * hs.length + t) * x.shape.c + h * size + j];
    }
    static void merge_heads(context&, const head_split& hs, cview y, view x) {
        const std::int64_t batch = x.shape.n / hs.length, size = x.shape.c / hs.heads;
        for (std::int64_t b = 0; b < batch; ++b)
            for (std::int64_t h = 0; h < hs.heads; ++h)
                for (std::int64_t t = 0; t < hs.length; ++t)
                    for (std::int64_t j = 0; j < size; ++j)
                        x.data[(b * hs.length + t) * x.shape.c + h * size + j] =
                            y.data[((b * hs.heads + h) * hs.length + t) * size + j];
    }
    static void masked_softmax_forward(context&, float scale, cview x, cview mask, view y) {
        const std::int64_t k = x.shape.c,
                           per_mask = mask.empty() ? x.shape.n : x.shape.n / mask.shape.n;
        for (std::int64_t r = 0; r < x.shape.n; ++r) {
            const float* keep = mask.empty() ? nullptr : mask.data + (r / per_mask) * k;
            double top = -std::numeric_limits<double>::infinity(), total = 0.0;
            for (std::int64_t j = 0; j < k; ++j)
                if (keep == nullptr || keep[j] != 0.0f)
                    top = std::max(top, double(scale) * x.data[r * k + j]);
            for (std::int64_t j = 0; j < k; ++j)
                if (keep == nullptr || keep[j] != 0.0f)
                    total += std::exp(double(scale) * x.data[r * k + j] - top);
            for (std::int64_t j = 0; j < k; ++j)
                y.data[r * k + j] =
                    keep != nullptr && keep[j] == 0.0f
                        ? 0.0f
                        : static_cast<float>(std::exp(double(scale) * x.data[r * k + j] - top) /
                                             total);
        }
    }
    static void masked_softmax_backward(context&, float scale, cview y, cview dy, view dx) {
        const std::int64_t k = y.shape.c;
        for (std::int64_t r = 0; r < y.shape.n; ++r) {
            double inner = 0.0;
            for (std::int64_t j = 0; j < k; ++j)
                inner += double(y.data[r * k + j]) * dy.data[r * k + j];
            for (std::int64_t j = 0; j < k; ++j)
                dx.data[r * k + j] = static_cast<float>(double(scale) * y.data[r * k + j] *
                                                        (dy.data[r * k + j] - inner));
        }
    }
    static void layer_norm_forward(context&, float eps, cview x, cview gamma, cview beta, view y,
                                   view mean, view rstd) {
        const std::int64_t k = x.shape.c;
        for (std::int64_t r = 0; r < x.shape.n; ++r) {
            double mu = 0.0, var = 0.0;
            for (std::int64_t j = 0; j < k; ++j) mu += x.data[r * k + j];
            mu /= double(k);
            for (std::int64_t j = 0; j < k; ++j)
                var += (x.data[r * k + j] - mu) * (x.data[r * k + j] - mu);
            const double inv = 1.0 / std::sqrt(var / double(k) + eps);
            for (std::int64_t j = 0; j < k; ++j)
                y.data[r * k + j] = static_cast<float>(
                    gamma.data[j] * (x.data[r * k + j] - mu) * inv + beta.data[j]);
            if (!mean.empty()) {
                mean.data[r] = static_cast<float>(mu);
                rstd.data[r] = static_cast<float>(inv);
            }
        }
    }
    static void layer_norm_backward(context&, cview x, cview dy, cview gamma, cview mean,
                                    cview rstd, view dx, view dgamma, view dbeta) {
        const std::int64_t k = x.shape.c;
        std::vector<double> dg(static_cast<std::size_t>(k), 0.0),
            db(static_cast<std::size_t>(k), 0.0);
        for (std::int64_t r = 0; r < x.shape.n; ++r) {
            const double mu = mean.data[r], inv = rstd.data[r];
            double mean_g = 0.0, mean_gx = 0.0;
            for (std::int64_t j = 0; j < k; ++j) {
                const double xhat = (x.data[r * k + j] - mu) * inv,
                             g = double(gamma.data[j]) * dy.data[r * k + j];
                mean_g += g / double(k);
                mean_gx += g * xhat / double(k);
                dg[std::size_t(j)] += double(dy.data[r * k + j]) * xhat;
                db[std::size_t(j)] += dy.data[r * k + j];
            }
            for (std::int64_t j = 0; j < k; ++j) {
                const double xhat = (x.data[r * k + j] - mu) * inv,
                             g = double(gamma.data[j]) * dy.data[r * k + j];
                dx.data[r * k + j] = static_cast<float>(inv * (g - mean_g - xhat * mean_gx));
            }
        }
        for (std::int64_t j = 0; j < k; ++j) {
            dgamma.data[j] = static_cast<float>(dg[std::size_t(j)]);
            dbeta.data[j] = static_cast<float>(db[std::size_t(j)]);
        }
    }
    static void gather_rows(context&, cview table, std::span<const std::int64_t> ids, view y) {
        const std::int64_t k = table.shape.c;
        for (std::size_t i = 0; i < ids.size(); ++i)
            for (std::int64_t j = 0; j < k; ++j)
                y.data[std::int64_t(i) * k + j] = table.data[ids[i] * k + j];
    }
    static void gather_rows_backward(context&, std::span<const std::int64_t> ids, cview dy,
                                     view dtable) {
        const std::int64_t k = dtable.shape.c;
        std::vector<double> acc(dtable.size(), 0.0);
        for (std::size_t i = 0; i < ids.size(); ++i)
            for (std::int64_t j = 0; j < k; ++j)
                acc[std::size_t(ids[i] * k + j)] += dy.data[std::int64_t(i) * k + j];
        for (std::size_t i = 0; i < acc.size(); ++i) dtable.data[i] = static_cast<float>(acc[i]);
    }
    static void dropout_forward(context&, const dropout_desc& d, cview x, view y) {
        for (std::size_t i = 0; i < x.size(); ++i)
            y.data[i] = d.keeps(i) ? x.data[i] * d.scale() : 0.0f;
    }
    static void dropout_backward(context& ctx, const dropout_desc& d, cview dy, view dx) {
        dropout_forward(ctx, d, dy, dx);
    }

    // Mixed precision: bf16 is rounding the operands (detail::at_precision), so it runs anywhere.
    static precision set_compute_precision(context& ctx, precision p) {
        const precision previous = ctx.compute;
        ctx.compute = p;
        return previous;
    }
    static std::string precision_refusal(context&, precision) { return {}; }

private:
    /// The folded evaluation convolution at bf16: the backends fold BN into the weights in
    /// float32 (w·s, s = γ/√(σ² + ε) per output channel) and round the folded weights, so this
    /// is conv(x, w·s) at bf16 + the shift (b − μ)·s + β, then the sum and the activation.
    static void folded_bf16(context& ctx, conv2d_plan& plan, const conv2d_desc& d,
                            const conv_bn_fold& f, cview x, cview w, cview bias, cview gamma,
                            cview beta, cview mean, cview var, view y) {
        const std::int64_t out = w.shape.n, per_out = std::int64_t(w.size()) / out;
        std::vector<float> folded(w.size()), shift(static_cast<std::size_t>(out));
        for (std::int64_t o = 0; o < out; ++o) {
            const double scale =
                double(gamma.data[o]) / std::sqrt(double(var.data[o]) + double(f.epsilon));
            shift[std::size_t(o)] = static_cast<float>(
                ((bias.empty() ? 0.0 : double(bias.data[o])) - mean.data[o]) * scale +
                beta.data[o]);
            for (std::int64_t i = 0; i < per_out; ++i)
                folded[std::size_t(o * per_out + i)] =
                    w.data[o * per_out + i] * static_cast<float>(scale);
        }
        std::vector<float> t(y.size());
        conv2d_forward(ctx, plan, d, x, cview{folded.data(), w.shape},
                       cview{shift.data(), vector_shape(out)}, view{t.data(), y.shape}, mode::eval);
        for (std::size_t i = 0; i < t.size(); ++i) {
            double v = t[i];
            if (f.accumulate) v += y.data[i];
            y.data[i] = static_cast<float>(activation_value(f.activation, v));
        }
    }
};

static_assert(Backend<backend>);
static_assert(BackendActivations<backend>);
static_assert(BackendSequence<backend>);
static_assert(BackendMixedPrecision<backend>);

}  // namespace smile::reference
