// The concepts accept the real backends and layers and reject incomplete ones, naming the part.
#include <doctest/doctest.h>

#include <smile/core/op_table.hpp>
#include <smile/core/ops.hpp>
#include <smile/layers/activation.hpp>
#include <smile/layers/batch_norm2d.hpp>
#include <smile/layers/conv2d.hpp>
#include <smile/layers/flatten.hpp>
#include <smile/layers/linear.hpp>
#include <smile/layers/pooling.hpp>
#include <smile/layers/residual.hpp>
#include <smile/layers/sequential.hpp>
#include <smile/layers/tap.hpp>

#include "backends.hpp"

namespace {

struct storage_only {
    static constexpr std::string_view name = "storage_only";
    struct context {};
    static float* allocate(context&, std::size_t n) { return new float[n]; }
    static void deallocate(context&, float* p, std::size_t) noexcept { delete[] p; }
    static void upload(context&, const float*, smile::tensor_view<storage_only>) {}
    static void download(context&, smile::const_tensor_view<storage_only>, float*) {}
    static void copy(context&, smile::const_tensor_view<storage_only>,
                     smile::tensor_view<storage_only>) {}
    static void fill(context&, smile::tensor_view<storage_only>, float) {}
    static void synchronize(context&) {}
};

struct not_a_layer {};

}  // namespace

TEST_CASE("concepts: the real backends satisfy every part") {
    using smile::test::device;
    using smile::test::oracle;
    static_assert(smile::BackendStorage<device> && smile::BackendMath<device> &&
                  smile::BackendDnn<device> && smile::BackendOptimizer<device>);
    static_assert(smile::Backend<oracle>);
    CHECK(device::name.size() > 0);
}

TEST_CASE("concepts: a backend with only storage fails exactly the other parts") {
    static_assert(smile::BackendStorage<storage_only>);
    static_assert(!smile::BackendMath<storage_only>);
    static_assert(!smile::BackendDnn<storage_only>);
    static_assert(!smile::BackendOptimizer<storage_only>);
    static_assert(!smile::Backend<storage_only>);
    static_assert(!smile::BackendCachedMemory<storage_only>);  // optional: frees at once
    CHECK(true);
}

/// Whether `ops<B>` dispatches an operation of each part to backend B.
template <class B>
concept dispatches_math = requires(typename B::context& c, smile::const_tensor_view<B> x,
                                   smile::tensor_view<B> y) {
    smile::ops<B>::add(c, 1.0f, x, 1.0f, x, y);
};
template <class B>
concept dispatches_activations = requires(typename B::context& c, smile::const_tensor_view<B> x,
                                          smile::tensor_view<B> y) {
    smile::ops<B>::activation_forward(c, smile::activation_kind::relu, x, y);
};
template <class B>
concept dispatches_storage = requires(typename B::context& c, smile::const_tensor_view<B> x,
                                      smile::tensor_view<B> y) {
    smile::ops<B>::copy(c, x, y);
};

TEST_CASE("concepts: ops<B> dispatches exactly the parts a backend has, as the op table says") {
    using smile::test::device;
    static_assert(dispatches_storage<storage_only> && !dispatches_math<storage_only>);
    static_assert(!dispatches_activations<storage_only>);
    static_assert(dispatches_storage<device> && dispatches_math<device> &&
                  dispatches_activations<device>);
    static_assert(smile::supports<storage_only>("copy") && !smile::supports<storage_only>("add"));
    static_assert(!smile::supports<storage_only>("activation_forward") &&
                  smile::supports<device>("activation_forward"));
    static_assert(!smile::supports<device>("no_such_operation"));
    static_assert(smile::table_entry("scale_broadcast").part == smile::backend_part::broadcast);
    CHECK(smile::part_name(smile::find_op("svd")->part) == "BackendLinalg");
    CHECK_FALSE(smile::is_required(smile::backend_part::activations));
}

TEST_CASE("concepts: every layer satisfies Layer and other types do not") {
    using B = smile::test::device;
    static_assert(smile::Layer<smile::conv2d<B>, B>);
    static_assert(smile::Layer<smile::batch_norm2d<B>, B>);
    static_assert(smile::Layer<smile::relu<B>, B>);
    static_assert(smile::Layer<smile::pool2d<B>, B>);
    static_assert(smile::Layer<smile::global_avg_pool<B>, B>);
    static_assert(smile::Layer<smile::linear<B>, B>);
    static_assert(smile::Layer<smile::flatten<B>, B>);
    static_assert(smile::Layer<smile::tap_layer<B>, B>);
    static_assert(smile::Layer<smile::residual_block<B>, B>);
    static_assert(smile::Layer<smile::sequential<B, smile::relu<B>, smile::flatten<B>>, B>);
    static_assert(smile::Layer<smile::stack<B, smile::residual_block<B>>, B>);
    static_assert(!smile::Layer<not_a_layer, B>);
    CHECK(true);
}
