#pragma once
/// @file
/// torchvision's initialisation of its CNN families (ResNet, MobileNetV2, EfficientNet), one
/// place for all three: every convolution's weights ~ N(0, 2/fan_out) with fan_out = out·k²
/// (kaiming_normal, mode fan_out, ReLU gain), its bias (squeeze-excitation's) 0; every batch
/// norm γ = 1, β = 0, running statistics reset. The classifier's head is the classifier's own.

#include <cmath>
#include <type_traits>

#include <smile/core/init.hpp>
#include <smile/layers/conv2d.hpp>

namespace smile {

/// Initialises every module a family visits (`net.visit_modules(f)`: convolutions and batch norms).
template <Backend B, class Net>
void torchvision_initialise(Net& net, rng& gen) {
    net.visit_modules([&](auto& layer) {
        using L = std::decay_t<decltype(layer)>;
        if constexpr (std::is_same_v<L, conv2d<B>>) {
            const auto& o = layer.options();
            init::normal(layer.weight().value, gen, std::sqrt(2.0 / static_cast<double>(o.out_channels * o.kernel * o.kernel)));
            if (o.bias) layer.bias().value.fill(0.0f);
        } else {
            layer.reset_parameters();
        }
    });
}

}  // namespace smile
