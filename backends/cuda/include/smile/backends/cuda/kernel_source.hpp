#pragma once
/// @file
/// The CUDA C++ source of the backend's own kernels: only what no cuDNN, cuBLAS or cuSOLVER
/// call does (element-wise arithmetic with the backend concept's exact semantics, mixing rows
/// and boxes for mixup and CutMix, deterministic double-precision reductions, the fused SGD
/// update, the softmax cross-entropy with soft targets, and folding batch norm into
/// convolution weights). It is compiled at run time by NVRTC (kernels.hpp), so that smile stays
/// header-only and programs using it compile with any C++20 compiler, not only nvcc.
///
/// Conventions: NCHW float tensors, 64-bit sizes; element-wise kernels run a grid-stride loop
/// over a grid whose size depends only on the element count, and every reduction sums in double
/// in a fixed order, so results do not depend on timing.

namespace smile::cuda::detail {

inline constexpr const char* kernel_source = R"CUDA(
typedef long long i64;

#define SMILE_FOR(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// Sum (or maximum) of one double per thread over the block; blockDim.x is a power of two and
// `shared` holds blockDim.x doubles. Every thread gets the result.
__device__ double block_sum(double v, double* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    const double r = shared[0];
    __syncthreads();
    return r;
}
__device__ double block_max(double v, double* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] = fmax(shared[threadIdx.x], shared[threadIdx.x + s]);
        __syncthreads();
    }
    const double r = shared[0];
    __syncthreads();
    return r;
}

extern "C" __global__ void smile_fill(float* y, i64 n, float v) {
    SMILE_FOR(i, n) y[i] = v;
}

// out = a·x + b·y (out may alias x or y)
extern "C" __global__ void smile_axpby(float* out, float a, const float* x, float b, const float* y, i64 n) {
    SMILE_FOR(i, n) out[i] = a * x[i] + b * y[i];
}

extern "C" __global__ void smile_multiply(float* out, const float* x, const float* y, i64 n) {
    SMILE_FOR(i, n) out[i] = x[i] * y[i];
}

// y[n,c,h,w] = s[c]·x[n,c,h,w]
extern "C" __global__ void smile_scale_channels(float* y, const float* x, const float* s, i64 n, i64 c, i64 hw) {
    SMILE_FOR(i, n) y[i] = s[(i / hw) % c] * x[i];
}

// y[i] = s[i / len]·x[i]: a scale per contiguous run of `len` elements (NCHW: one per sample and
// channel with len = h·w, one per sample with len = c·h·w). y may alias x.
extern "C" __global__ void smile_scale_rows(float* y, const float* x, const float* s, i64 n, i64 len) {
    SMILE_FOR(i, n) y[i] = s[i / len] * x[i];
}

// out[r] = Σ_{i<len} a[r·len + i]·b[r·len + i] in double; one block per run r
extern "C" __global__ void smile_row_dot(float* out, const float* a, const float* b, i64 len) {
    extern __shared__ double shared[];
    const i64 r = blockIdx.x;
    double acc = 0.0;
    for (i64 i = threadIdx.x; i < len; i += blockDim.x) acc += (double)a[r * len + i] * (double)b[r * len + i];
    const double total = block_sum(acc, shared);
    if (threadIdx.x == 0) out[r] = (float)total;
}

// y[n,c,h,w] += b[c]
extern "C" __global__ void smile_add_channel_bias(float* y, const float* b, i64 n, i64 c, i64 hw) {
    SMILE_FOR(i, n) y[i] += b[(i / hw) % c];
}

// out[c] = Σ_{n,h,w} x[n,c,h,w]; one block per channel
extern "C" __global__ void smile_channel_sum(float* out, const float* x, i64 batch, i64 c, i64 hw) {
    extern __shared__ double shared[];
    const i64 ch = blockIdx.x;
    double acc = 0.0;
    for (i64 j = threadIdx.x; j < batch * hw; j += blockDim.x) {
        const i64 b = j / hw;
        acc += x[(b * c + ch) * hw + (j - b * hw)];
    }
    const double total = block_sum(acc, shared);
    if (threadIdx.x == 0) out[ch] = (float)total;
}

// y[r] = λ·x[r] + (1 − λ)·x[perm[r]], rows of `row` floats
extern "C" __global__ void smile_mix_rows(float* y, const float* x, const i64* perm, float lambda, i64 rows, i64 row) {
    const float mu = 1.0f - lambda;
    SMILE_FOR(i, rows * row) {
        const i64 r = i / row;
        y[i] = lambda * x[i] + mu * x[perm[r] * row + (i - r * row)];
    }
}

// y = x, then y[b, :, box] = x[perm[b], :, box]
extern "C" __global__ void smile_paste_box(float* y, const float* x, const i64* perm, i64 n, i64 c, i64 h, i64 w,
                                           i64 top, i64 left, i64 bh, i64 bw) {
    SMILE_FOR(i, n * c * h * w) {
        const i64 xx = i % w;
        i64 t = i / w;
        const i64 yy = t % h;
        t /= h;
        const i64 ch = t % c, b = t / c;
        const bool inside = yy >= top && yy < top + bh && xx >= left && xx < left + bw;
        const i64 src = inside ? perm[b] : b;
        y[i] = x[((src * c + ch) * h + yy) * w + xx];
    }
}

// partial[block] = Σ a·b over the block's grid-stride share, in double
extern "C" __global__ void smile_dot_partial(double* partial, const float* a, const float* b, i64 n) {
    extern __shared__ double shared[];
    double acc = 0.0;
    SMILE_FOR(i, n) acc += (double)a[i] * (double)b[i];
    const double total = block_sum(acc, shared);
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// *out = Σ partial[0..n); one block
extern "C" __global__ void smile_sum_doubles(double* out, const double* partial, i64 n) {
    extern __shared__ double shared[];
    double acc = 0.0;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) acc += partial[i];
    const double total = block_sum(acc, shared);
    if (threadIdx.x == 0) *out = total;
}

extern "C" __global__ void smile_relu_forward(float* y, const float* x, i64 n) {
    SMILE_FOR(i, n) {
        const float v = x[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

// dx = dy ⊙ [y > 0] (dx may alias dy)
extern "C" __global__ void smile_relu_backward(float* dx, const float* y, const float* dy, i64 n) {
    SMILE_FOR(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// The activation family (core/activation.hpp has every kind's formula): `kind` is the
// activation_kind value; forward y = f(x), backward dx = f'(x)·dy.
// min(max(x, lo), hi) passing NaN through, as the CPU formula and PyTorch's clamp do.
__device__ float clamp_keeping_nan(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
__device__ float activation_value(int kind, float x) {
    const float k = 0.7978845608028654f;  // √(2/π)
    switch (kind) {
        case 0: return x;
        case 1: return x > 0.0f ? x : 0.0f;
        case 2: return clamp_keeping_nan(x, 0.0f, 6.0f);
        case 3: return x / (1.0f + expf(-x));
        case 4: return 1.0f / (1.0f + expf(-x));
        case 5: return x * clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f;
        case 6: return clamp_keeping_nan(x + 3.0f, 0.0f, 6.0f) / 6.0f;
        case 7: return tanhf(x);
        case 8: return 0.5f * x * (1.0f + erff(x * 0.7071067811865476f));
        default: return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
    }
}
__device__ float activation_gradient(int kind, float x, float dy) {
    const float k = 0.7978845608028654f;
    switch (kind) {
        case 0: return dy;
        case 1: return x > 0.0f ? dy : 0.0f;
        case 2: return x > 0.0f && x < 6.0f ? dy : 0.0f;
        case 3: { const float s = 1.0f / (1.0f + expf(-x)); return dy * s * (1.0f + x * (1.0f - s)); }
        case 4: { const float s = 1.0f / (1.0f + expf(-x)); return dy * s * (1.0f - s); }
        case 5: return x < -3.0f ? 0.0f : x < 3.0f ? dy * (x / 3.0f + 0.5f) : dy;
        case 6: return x > -3.0f && x < 3.0f ? dy / 6.0f : 0.0f;
        case 7: { const float t = tanhf(x); return dy * (1.0f - t * t); }
        case 8: {
            const float cdf = 0.5f * (1.0f + erff(x * 0.7071067811865476f));
            return dy * (cdf + x * expf(-0.5f * x * x) * 0.3989422804014327f);
        }
        default: {
            const float t = tanhf(k * (x + 0.044715f * x * x * x));
            return dy * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x));
        }
    }
}
extern "C" __global__ void smile_activation_forward(float* y, const float* x, i64 n, int kind) {
    SMILE_FOR(i, n) y[i] = activation_value(kind, x[i]);
}
extern "C" __global__ void smile_activation_backward(float* dx, const float* x, const float* dy, i64 n, int kind) {
    SMILE_FOR(i, n) dx[i] = activation_gradient(kind, x[i], dy[i]);
}

// One block per row r of k logits z and target weights t:
//   loss[r] = Σ_j −t_j·log softmax(z)_j,   d_j = scale·(softmax(z)_j·Σt − t_j)
extern "C" __global__ void smile_softmax_cross_entropy(float* d, double* row_loss, const float* z, const float* t,
                                                       i64 k, float scale) {
    extern __shared__ double shared[];
    const i64 r = blockIdx.x;
    const float* zr = z + r * k;
    const float* tr = t + r * k;
    float* dr = d + r * k;
    double top = -1.0e308;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) top = fmax(top, (double)zr[j]);
    top = block_max(top, shared);
    double total = 0.0, mass = 0.0, weighted = 0.0;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) {
        const double shifted = (double)zr[j] - top;
        total += exp(shifted);
        mass += tr[j];
        if (tr[j] != 0.0f) weighted += tr[j] * shifted;
    }
    total = block_sum(total, shared);
    mass = block_sum(mass, shared);
    weighted = block_sum(weighted, shared);
    const double log_total = log(total);
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) {
        const double p = exp((double)zr[j] - top - log_total);
        dr[j] = (float)(scale * (p * mass - tr[j]));
    }
    if (threadIdx.x == 0) row_loss[r] = mass * log_total - weighted;  // Σ −t·(shifted − log_total)
}

// y[n,c] = mean_{h,w} x[n,c,h,w]
extern "C" __global__ void smile_gap_forward(float* y, const float* x, i64 nc, i64 hw) {
    SMILE_FOR(i, nc) {
        const float* p = x + i * hw;
        double acc = 0.0;
        for (i64 j = 0; j < hw; ++j) acc += p[j];
        y[i] = (float)(acc / (double)hw);
    }
}

// dx[n,c,h,w] = dy[n,c]/(h·w)
extern "C" __global__ void smile_gap_backward(float* dx, const float* dy, i64 n, i64 hw) {
    const float inv = 1.0f / (float)hw;
    SMILE_FOR(i, n) dx[i] = dy[i / hw] * inv;
}

// torch.optim.SGD, one pass over w, g and the momentum buffer
extern "C" __global__ void smile_sgd_step(float* w, const float* g, float* buf, i64 n, float lr, float momentum,
                                          float dampening, float weight_decay, int nesterov, int first) {
    SMILE_FOR(i, n) {
        float d = g[i] + weight_decay * w[i];
        if (momentum != 0.0f) {
            const float v = first ? d : momentum * buf[i] + (1.0f - dampening) * d;
            buf[i] = v;
            d = nesterov ? d + momentum * v : v;
        }
        w[i] -= lr * d;
    }
}

// torch.optim.Adam/AdamW (see adam_update), one pass over w, g and both moments
extern "C" __global__ void smile_adam_step(float* w, const float* g, float* m, float* v, i64 n, float step_size,
                                           float bias_root, float beta1, float beta2, float one_minus_beta1,
                                           float one_minus_beta2, float eps, float grad_decay, float weight_scale) {
    SMILE_FOR(i, n) {
        const float wi = w[i] * weight_scale;
        const float gi = g[i] + grad_decay * wi;
        const float a = m[i] * beta1 + one_minus_beta1 * gi;
        const float b = v[i] * beta2 + one_minus_beta2 * gi * gi;
        m[i] = a;
        v[i] = b;
        w[i] = wi - step_size * (a / (sqrtf(b) / bias_root + eps));
    }
}

// Batch norm with fixed statistics (evaluation semantics, backward): one block per channel,
// dγ = Σ g·(x − μ)/√(σ² + ε), dβ = Σ g
extern "C" __global__ void smile_bn_frozen_backward_params(float* dgamma, float* dbeta, const float* x, const float* g,
                                                           const float* mean, const float* var, float eps, i64 batch,
                                                           i64 c, i64 hw) {
    extern __shared__ double shared[];
    const i64 ch = blockIdx.x;
    const double mu = mean[ch], inv = 1.0 / sqrt((double)var[ch] + (double)eps);
    double sg = 0.0, sgx = 0.0;
    for (i64 j = threadIdx.x; j < batch * hw; j += blockDim.x) {
        const i64 b = j / hw;
        const i64 at = (b * c + ch) * hw + (j - b * hw);
        sg += g[at];
        sgx += (double)g[at] * ((double)x[at] - mu) * inv;
    }
    sg = block_sum(sg, shared);
    sgx = block_sum(sgx, shared);
    if (threadIdx.x == 0) {
        dgamma[ch] = (float)sgx;
        dbeta[ch] = (float)sg;
    }
}

// dx = g·γ/√(σ² + ε)
extern "C" __global__ void smile_bn_frozen_backward_data(float* dx, const float* g, const float* gamma,
                                                         const float* var, float eps, i64 n, i64 c, i64 hw) {
    SMILE_FOR(i, n) {
        const i64 ch = (i / hw) % c;
        dx[i] = (float)((double)g[i] * (double)gamma[ch] / sqrt((double)var[ch] + (double)eps));
    }
}

// Folds an evaluation batch norm into the convolution before it:
//   s = γ/√(σ² + ε),  w_out[o,…] = w[o,…]·s[o],  shift[o] = (b[o] − μ[o])·s[o] + β[o]
extern "C" __global__ void smile_bn_fold(float* w_out, float* shift, const float* w, const float* bias,
                                         const float* gamma, const float* beta, const float* mean, const float* var,
                                         float eps, i64 out, i64 per_out) {
    SMILE_FOR(i, out * per_out) {
        const i64 o = i / per_out;
        const double s = (double)gamma[o] / sqrt((double)var[o] + (double)eps);
        w_out[i] = w[i] * (float)s;
        if (i == o * per_out) {
            const double b = bias != 0 ? (double)bias[o] : 0.0;
            shift[o] = (float)((b - (double)mean[o]) * s + (double)beta[o]);
        }
    }
}

// y = act(y + shift[c]), act the activation_kind value `kind`
extern "C" __global__ void smile_bias_activation(float* y, const float* shift, i64 n, i64 c, i64 hw, int kind) {
    SMILE_FOR(i, n) y[i] = activation_value(kind, y[i] + shift[(i / hw) % c]);
}

// Sequence operations (core/backend.hpp, BackendSequence). Matrices are row-major.

// Token rows [b·length + t, h·size + j] ↔ per-head rows [(b·heads + h)·length + t, j]; `split`
// selects the direction. One element per thread, indexed by the per-head matrix.
extern "C" __global__ void smile_move_heads(float* to, const float* from, i64 n, i64 length, i64 heads, i64 size,
                                           int split) {
    SMILE_FOR(i, n) {
        const i64 j = i % size;
        i64 r = i / size;
        const i64 t = r % length;
        r /= length;
        const i64 h = r % heads, b = r / heads;
        const i64 token = (b * length + t) * heads * size + h * size + j;
        if (split) to[i] = from[token];
        else to[token] = from[i];
    }
}

// One block per row: y = softmax(scale·x) over the keys mask[r / per_mask] keeps (mask may be 0:
// all keys); a row with every key masked is zero.
extern "C" __global__ void smile_masked_softmax_forward(float* y, const float* x, const float* mask, i64 k,
                                                       i64 per_mask, float scale) {
    extern __shared__ double shared[];
    const i64 r = blockIdx.x;
    const float* in = x + r * k;
    const float* keep = mask != 0 ? mask + (r / per_mask) * k : 0;
    float* out = y + r * k;
    double top = -1.0e308;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x)
        if (keep == 0 || keep[j] != 0.0f) top = fmax(top, (double)(scale * in[j]));
    top = block_max(top, shared);
    if (top == -1.0e308) {
        for (i64 j = threadIdx.x; j < k; j += blockDim.x) out[j] = 0.0f;
        return;
    }
    double total = 0.0;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x)
        if (keep == 0 || keep[j] != 0.0f) total += exp((double)(scale * in[j]) - top);
    total = block_sum(total, shared);
    for (i64 j = threadIdx.x; j < k; j += blockDim.x)
        out[j] = keep != 0 && keep[j] == 0.0f ? 0.0f : (float)(exp((double)(scale * in[j]) - top) / total);
}

// One block per row: dx = scale·y ⊙ (dy − Σ y·dy); dx may alias dy (each element is read before
// its own write, and the sum is complete before any write).
extern "C" __global__ void smile_masked_softmax_backward(float* dx, const float* y, const float* dy, i64 k,
                                                        float scale) {
    extern __shared__ double shared[];
    const i64 r = blockIdx.x;
    double inner = 0.0;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) inner += (double)y[r * k + j] * (double)dy[r * k + j];
    const float dot = (float)block_sum(inner, shared);
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) dx[r * k + j] = scale * y[r * k + j] * (dy[r * k + j] - dot);
}

// One block per row: y = γ ⊙ (x − μ)·r + β; μ and r stored when the pointers are not 0.
extern "C" __global__ void smile_layer_norm_forward(float* y, float* mean, float* rstd, const float* x,
                                                   const float* gamma, const float* beta, i64 k, float eps) {
    extern __shared__ double shared[];
    const i64 r = blockIdx.x;
    const float* in = x + r * k;
    double sum = 0.0;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) sum += in[j];
    const double mu = block_sum(sum, shared) / (double)k;
    double sq = 0.0;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) sq += ((double)in[j] - mu) * ((double)in[j] - mu);
    const float inv = (float)(1.0 / sqrt(block_sum(sq, shared) / (double)k + (double)eps));
    const float m = (float)mu;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) y[r * k + j] = gamma[j] * ((in[j] - m) * inv) + beta[j];
    if (threadIdx.x == 0 && mean != 0) {
        mean[r] = m;
        rstd[r] = inv;
    }
}

// One block per row: dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)), ĝ = γ ⊙ dy, x̂ = (x − μ)·r.
extern "C" __global__ void smile_layer_norm_backward_data(float* dx, const float* x, const float* dy,
                                                         const float* gamma, const float* mean, const float* rstd,
                                                         i64 k) {
    extern __shared__ double shared[];
    const i64 r = blockIdx.x;
    const float mu = mean[r], inv = rstd[r];
    double sg = 0.0, sgx = 0.0;
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) {
        const float gh = gamma[j] * dy[r * k + j];
        sg += gh;
        sgx += (double)gh * (double)((x[r * k + j] - mu) * inv);
    }
    const float mean_g = (float)(block_sum(sg, shared) / (double)k);
    const float mean_gx = (float)(block_sum(sgx, shared) / (double)k);
    for (i64 j = threadIdx.x; j < k; j += blockDim.x) {
        const float xhat = (x[r * k + j] - mu) * inv;
        dx[r * k + j] = inv * (gamma[j] * dy[r * k + j] - mean_g - xhat * mean_gx);
    }
}

// One thread per column: dγ = Σ_rows dy ⊙ x̂, dβ = Σ_rows dy, in double, in row order.
extern "C" __global__ void smile_layer_norm_backward_params(float* dgamma, float* dbeta, const float* x,
                                                           const float* dy, const float* mean, const float* rstd,
                                                           i64 rows, i64 k) {
    SMILE_FOR(j, k) {
        double sg = 0.0, sb = 0.0;
        for (i64 r = 0; r < rows; ++r) {
            const float g = dy[r * k + j];
            sg += (double)g * (double)((x[r * k + j] - mean[r]) * rstd[r]);
            sb += g;
        }
        dgamma[j] = (float)sg;
        dbeta[j] = (float)sb;
    }
}

// y[i, j] = table[ids[i], j]
extern "C" __global__ void smile_gather_rows(float* y, const float* table, const i64* ids, i64 n, i64 k) {
    SMILE_FOR(i, n * k) y[i] = table[ids[i / k] * k + i % k];
}

// dtable[id_g, j] = Σ over the positions p of group g (in order) of dy[p, j]; `groups` holds
// order[count], starts[g + 1] and the group ids[g] one after the other. Rows of ids that occur in
// no group are zeroed before (smile_fill).
extern "C" __global__ void smile_gather_rows_backward(float* dtable, const float* dy, const i64* groups, i64 count,
                                                     i64 g, i64 k) {
    const i64* order = groups;
    const i64* starts = groups + count;
    const i64* ids = starts + g + 1;
    SMILE_FOR(i, g * k) {
        const i64 group = i / k, j = i % k;
        float acc = 0.0f;
        for (i64 p = starts[group]; p < starts[group + 1]; ++p) acc += dy[order[p] * k + j];
        dtable[ids[group] * k + j] = acc;
    }
}

// dropout_desc::draw: the top 24 bits of splitmix64 at position i + 1 of the stream at `seed`
// (the kernel passes offset + i).
__device__ unsigned int dropout_draw(unsigned long long seed, unsigned long long i) {
    unsigned long long z = seed + (i + 1ULL) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (unsigned int)(z >> 40);
}
extern "C" __global__ void smile_dropout(float* y, const float* x, i64 n, unsigned long long seed,
                                        unsigned long long offset, unsigned int threshold,
                                        float scale) {
    SMILE_FOR(i, n)
        y[i] = dropout_draw(seed, offset + (unsigned long long)i) >= threshold ? x[i] * scale : 0.0f;
}
)CUDA";

/// The kernels of kernel_source, in the order of `kernel`.
enum class kernel : int {
    fill,
    axpby,
    multiply,
    scale_channels,
    add_channel_bias,
    channel_sum,
    mix_rows,
    paste_box,
    dot_partial,
    sum_doubles,
    relu_forward,
    relu_backward,
    activation_forward,
    activation_backward,
    scale_rows,
    row_dot,
    softmax_cross_entropy,
    gap_forward,
    gap_backward,
    sgd_step,
    adam_step,
    bn_frozen_backward_params,
    bn_frozen_backward_data,
    bn_fold,
    bias_activation,
    move_heads,
    masked_softmax_forward,
    masked_softmax_backward,
    layer_norm_forward,
    layer_norm_backward_data,
    layer_norm_backward_params,
    gather_rows,
    gather_rows_backward,
    dropout,
    count
};

inline constexpr const char* kernel_names[] = {"smile_fill",
                                               "smile_axpby",
                                               "smile_multiply",
                                               "smile_scale_channels",
                                               "smile_add_channel_bias",
                                               "smile_channel_sum",
                                               "smile_mix_rows",
                                               "smile_paste_box",
                                               "smile_dot_partial",
                                               "smile_sum_doubles",
                                               "smile_relu_forward",
                                               "smile_relu_backward",
                                               "smile_activation_forward",
                                               "smile_activation_backward",
                                               "smile_scale_rows",
                                               "smile_row_dot",
                                               "smile_softmax_cross_entropy",
                                               "smile_gap_forward",
                                               "smile_gap_backward",
                                               "smile_sgd_step",
                                               "smile_adam_step",
                                               "smile_bn_frozen_backward_params",
                                               "smile_bn_frozen_backward_data",
                                               "smile_bn_fold",
                                               "smile_bias_activation",
                                               "smile_move_heads",
                                               "smile_masked_softmax_forward",
                                               "smile_masked_softmax_backward",
                                               "smile_layer_norm_forward",
                                               "smile_layer_norm_backward_data",
                                               "smile_layer_norm_backward_params",
                                               "smile_gather_rows",
                                               "smile_gather_rows_backward",
                                               "smile_dropout"};
static_assert(sizeof(kernel_names) / sizeof(kernel_names[0]) == static_cast<int>(kernel::count),
              "one name per kernel");

}  // namespace smile::cuda::detail
