#pragma once
/// @file
/// Max and average pooling on cuDNN (floor output size, as PyTorch; average with or without the
/// padded elements in the count). Max pooling uses cuDNN's deterministic mode, whose backward
/// routes each gradient to one maximum as the forward chose it.

#include <smile/backends/cuda/launch.hpp>
#include <smile/core/error.hpp>
#include <smile/core/plan_cache.hpp>
#include <smile/core/shape.hpp>

namespace smile::cuda {

namespace detail {

struct pool_key {
    shape4 x;
    pool2d_desc desc;
    friend bool operator==(const pool_key&, const pool_key&) = default;
};

struct pool_entry {
    pool_key key;
    pooling_descriptor pool;
    tensor_descriptor x, y;
};

inline cudnnPoolingMode_t pooling_mode(pool_kind k) {
    switch (k) {
        case pool_kind::max: return CUDNN_POOLING_MAX_DETERMINISTIC;
        case pool_kind::average_include_padding: return CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
        case pool_kind::average_exclude_padding: return CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    }
    ::smile::detail::fail("cuda pool2d: unknown pooling kind");
}

}  // namespace detail

class pool2d_plan {
public:
    detail::pool_entry& entry(const detail::pool_key& key, mode m) {
        auto& e = cache_.find_or_create(key, [&] {
            detail::pool_entry made{key, {}, detail::tensor_of(key.x), detail::tensor_of(pool2d_output_shape(key.x, key.desc))};
            const auto& d = key.desc;
            SMILE_CUDA(cudnnSetPooling2dDescriptor(made.pool, detail::pooling_mode(d.kind), CUDNN_NOT_PROPAGATE_NAN,
                                                   detail::to_int(d.window_h, "window"), detail::to_int(d.window_w, "window"),
                                                   detail::to_int(d.pad_h, "pad"), detail::to_int(d.pad_w, "pad"),
                                                   detail::to_int(d.stride_h, "stride"),
                                                   detail::to_int(d.stride_w, "stride")));
            return made;
        });
        last_ = keeps_activations(m) ? &e : nullptr;
        return e;
    }
    detail::pool_entry& last() {
        SMILE_CHECK(last_ != nullptr, "cuda pool2d: backward needs a preceding forward in training mode");
        return *last_;
    }

private:
    plan_cache<detail::pool_key, detail::pool_entry> cache_;
    detail::pool_entry* last_ = nullptr;
};

namespace detail {

inline void pool2d_forward(context& ctx, pool2d_plan& plan, const pool2d_desc& d, cview x, view y,
                           mode m) {
    auto& e = plan.entry({x.shape, d}, m);
    const float one = 1.0f, zero = 0.0f;
    SMILE_CUDA(cudnnPoolingForward(ctx.dnn, e.pool, &one, e.x, x.data, &zero, e.y, y.data));
}

inline void pool2d_backward(context& ctx, pool2d_plan& plan, cview x, cview y, cview dy, view dx) {
    auto& e = plan.last();
    check_shape("pool2d input", e.key.x, x.shape);
    check_shape("pool2d input gradient", e.key.x, dx.shape);
    check_shape("pool2d output gradient", pool2d_output_shape(e.key.x, e.key.desc), dy.shape);
    check_shape("pool2d output", dy.shape, y.shape);
    const float one = 1.0f, zero = 0.0f;
    SMILE_CUDA(cudnnPoolingBackward(ctx.dnn, e.pool, &one, e.y, y.data, e.y, dy.data, e.x, x.data, &zero, e.x, dx.data));
}

}  // namespace detail
}  // namespace smile::cuda
