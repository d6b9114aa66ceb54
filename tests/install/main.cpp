// Downstream use of an installed smile: one training step of a small residual network on the
// configured backend, then a check that the loss went down.
#include <cstdio>

#include <smile/smile.hpp>

int main() {
    using B = smile::default_backend;
    smile::session<B> s;
    smile::rng gen(1);
    smile::stack<B, smile::residual_block<B>> stage;
    stage.push_back(smile::residual_block<B>(s, gen, {smile::block_kind::basic, 8, 8, 1}));
    auto net = smile::sequential<B, smile::conv2d<B>, smile::batch_norm2d<B>, decltype(stage),
                                 smile::global_avg_pool<B>, smile::linear<B>>(
        smile::conv2d<B>(s, gen, {3, 8, 3, 1, 1, 1, false}),
        smile::batch_norm2d<B>(s, {8, 1e-5f, 0.1f, true}), std::move(stage),
        smile::global_avg_pool<B>(), smile::linear<B>(s, gen, {8, 2, true}));

    std::vector<float> images(4 * 3 * 8 * 8);
    for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(gen.normal());
    auto x = smile::tensor<B>::from_host(s, {4, 3, 8, 8}, images);
    auto targets = smile::tensor<B>::from_host(s, {4, 2, 1, 1}, std::vector<float>{1, 0, 0, 1, 1, 0, 0, 1});
    smile::tensor<B> logits, dlogits(s, {4, 2, 1, 1});

    auto loss = [&] {
        net.forward(s, x, logits, smile::mode::train);
        return smile::ops<B>::softmax_cross_entropy(s.context(), logits.view(), targets.view(),
                                                    0.25f, dlogits.view()) /
               4;
    };
    const double before = loss();
    net.backward(s, dlogits, nullptr);
    net.visit_parameters("", [&](const std::string&, smile::parameter<B>& p) {
        smile::ops<B>::sgd_step(s.context(), {0.1f}, p.value.view(), p.grad.view(), p.value.view());
    });
    const double after = loss();
    std::printf("smile %s on %s: loss %.4f -> %.4f\n", SMILE_VERSION_STRING, std::string(B::name).c_str(),
                before, after);
    return after < before ? 0 : 1;
}
