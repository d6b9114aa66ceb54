// tensor<B>, views, the scratch pool and the session.
#include <doctest/doctest.h>

#include <numeric>

#include <smile/core/session.hpp>

#include "backends.hpp"

using smile::shape4;

TEST_CASE_TEMPLATE("tensor: upload then download returns the NCHW values", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    for (shape4 shape : {shape4{2, 3, 4, 5}, shape4{3, 7, 1, 1}, shape4{1, 1, 3, 3}, shape4{2, 16, 3, 2}}) {
        std::vector<float> values(shape.size());
        std::iota(values.begin(), values.end(), 0.0f);
        auto t = smile::tensor<B>::from_host(s, shape, values);
        CHECK(t.shape() == shape);
        CHECK(t.to_host() == values);
    }
}

TEST_CASE_TEMPLATE("tensor: clone is a deep copy and moves transfer ownership", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    auto a = smile::tensor<B>::filled(s, {2, 2, 2, 2}, 3.0f);
    auto b = a.clone();
    b.fill(5.0f);
    CHECK(a.to_host() == std::vector<float>(16, 3.0f));
    CHECK(b.to_host() == std::vector<float>(16, 5.0f));
    const float* storage = b.data();
    smile::tensor<B> c = std::move(b);
    CHECK(c.data() == storage);
    CHECK(b.empty());  // NOLINT: moved-from is empty by contract
    c = std::move(a);
    CHECK(c.to_host() == std::vector<float>(16, 3.0f));
}

TEST_CASE_TEMPLATE("tensor: resize reuses storage that is large enough", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    smile::tensor<B> t(s, {4, 8, 4, 4});
    const float* storage = t.data();
    const auto allocations = s.context().allocations;
    t.resize({2, 8, 4, 4});
    t.resize({4, 8, 4, 4});
    CHECK(t.data() == storage);
    CHECK(s.context().allocations == allocations);
    t.resize({8, 8, 4, 4});
    CHECK(s.context().allocations == allocations + 1);
}

TEST_CASE_TEMPLATE("tensor: rows are contiguous samples in every layout", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    const shape4 shape{3, 2, 2, 2};
    std::vector<float> values(shape.size());
    std::iota(values.begin(), values.end(), 0.0f);
    auto t = smile::tensor<B>::from_host(s, shape, values);
    smile::tensor<B> middle(s, {1, 2, 2, 2});
    smile::ops<B>::copy(s.context(), t.rows(1, 2), middle.view());
    CHECK(middle.to_host() == std::vector<float>(values.begin() + 8, values.begin() + 16));
}

TEST_CASE_TEMPLATE("tensor: misuse is reported with the shapes involved", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    CHECK_THROWS_WITH_AS(smile::tensor<B>(s, {2, 0, 3, 3}),
                         doctest::Contains("every dimension must be positive, got shape [2,0,3,3]"),
                         smile::error);
    auto t = smile::tensor<B>::zeros(s, {2, 3, 4, 4});
    CHECK_THROWS_WITH_AS(t.copy_from_host(std::vector<float>(5)),
                         doctest::Contains("got 5 values for shape [2,3,4,4]"), smile::error);
    CHECK_THROWS_WITH_AS((void)t.rows(1, 3), doctest::Contains("outside shape [2,3,4,4]"),
                         smile::error);
    CHECK_THROWS_WITH_AS((void)t.reshaped({2, 48, 1, 1}), doctest::Contains("memory layout"),
                         smile::error);
    auto m = smile::tensor<B>::zeros(s, {2, 6, 1, 1});
    CHECK(m.reshaped({3, 4, 1, 1}).shape == shape4{3, 4, 1, 1});
}

TEST_CASE_TEMPLATE("tensor: an aliasing tensor lives in another's storage until it outgrows it", B, SMILE_TEST_BACKENDS) {
    smile::session<B> s;
    auto owner = smile::tensor<B>::zeros(s, {8, 1, 1, 1});
    {
        auto alias = smile::tensor<B>::aliasing(s.context(), owner.rows(2, 6).data, {2, 2, 1, 1});
        CHECK_FALSE(alias.owns_storage());
        alias.fill(5.0f);
        CHECK(owner.to_host() == std::vector<float>{0, 0, 5, 5, 5, 5, 0, 0});
        alias.resize({1, 4, 1, 1});  // fits: stays
        CHECK_FALSE(alias.owns_storage());
        alias.resize({3, 3, 1, 1});  // does not: storage of its own, the owner's untouched
        CHECK(alias.owns_storage());
        alias.fill(1.0f);
        CHECK(owner.to_host() == std::vector<float>{0, 0, 5, 5, 5, 5, 0, 0});
    }  // freeing the alias leaves the owner's storage alone (the sanitizer build checks)
    auto other = smile::tensor<B>::aliasing(s.context(), owner.data(), {8, 1, 1, 1});
    smile::tensor<B> moved = std::move(other);
    CHECK_FALSE(moved.owns_storage());
    CHECK(moved.to_host() == owner.to_host());
}
