// Convolution forward / backward on the ResNet-50 layer shapes at batch 48 (224² input):
// smile's conv2d layer on the configured backend, and (oneDNN build) the raw oneDNN
// primitives with the same layouts (NHWC activations, weights in the primitive's own format,
// no reorders), so the difference is exactly what the library adds.
#include <smile/default_backend.hpp>
#include <smile/layers/conv2d.hpp>

#include "bench_support.hpp"

namespace {

using B = smile::default_backend;

struct conv_shape {
    const char* where;
    std::int64_t in, out, kernel, stride, size;  // size: input height = width
};

// Every distinct convolution of torchvision's ResNet-50 (v1.5) at 224².
constexpr conv_shape resnet50_convs[] = {
    {"conv1", 3, 64, 7, 2, 224},
    {"layer1.conv1a", 64, 64, 1, 1, 56},        {"layer1.conv1", 256, 64, 1, 1, 56},
    {"layer1.conv2", 64, 64, 3, 1, 56},         {"layer1.conv3", 64, 256, 1, 1, 56},
    {"layer1.down", 64, 256, 1, 1, 56},
    {"layer2.0.conv1", 256, 128, 1, 1, 56},     {"layer2.0.conv2", 128, 128, 3, 2, 56},
    {"layer2.conv1", 512, 128, 1, 1, 28},       {"layer2.conv2", 128, 128, 3, 1, 28},
    {"layer2.conv3", 128, 512, 1, 1, 28},       {"layer2.down", 256, 512, 1, 2, 56},
    {"layer3.0.conv1", 512, 256, 1, 1, 28},     {"layer3.0.conv2", 256, 256, 3, 2, 28},
    {"layer3.conv1", 1024, 256, 1, 1, 14},      {"layer3.conv2", 256, 256, 3, 1, 14},
    {"layer3.conv3", 256, 1024, 1, 1, 14},      {"layer3.down", 512, 1024, 1, 2, 28},
    {"layer4.0.conv1", 1024, 512, 1, 1, 14},    {"layer4.0.conv2", 512, 512, 3, 2, 14},
    {"layer4.conv1", 2048, 512, 1, 1, 7},       {"layer4.conv2", 512, 512, 3, 1, 7},
    {"layer4.conv3", 512, 2048, 1, 1, 7},       {"layer4.down", 1024, 2048, 1, 2, 14},
};
constexpr std::int64_t batch = 48;

double conv_flops(const conv_shape& c) {
    const std::int64_t o = (c.size + 2 * (c.kernel / 2) - c.kernel) / c.stride + 1;
    return 2.0 * batch * c.out * o * o * c.in * c.kernel * c.kernel;
}

enum class pass { forward, backward };

void smile_conv(benchmark::State& state, conv_shape c, pass p) {
    smile::session<B> s;
    smile::rng gen(1);
    smile::conv2d<B> conv(s, gen, {c.in, c.out, c.kernel, c.stride, c.kernel / 2, 1, false});
    auto x = smile::tensor<B>::filled(s, {batch, c.in, c.size, c.size}, 0.5f);
    smile::tensor<B> y, dx;
    conv.forward(s, x, y, smile::mode::train);
    auto dy = smile::tensor<B>::filled(s, y.shape(), 0.25f);
    const bool data_gradient = c.in != 3;  // a network never needs the image gradient
    conv.backward(s, dy, data_gradient ? &dx : nullptr);
    s.synchronize();
    smile::bench::steady_state_probe probe(s.context().allocations);
    for (auto _ : state) {
        if (p == pass::forward)
            conv.forward(s, x, y, smile::mode::train);
        else
            conv.backward(s, dy, data_gradient ? &dx : nullptr);
        s.synchronize();
    }
    probe.report(state, s.context().allocations);
    smile::bench::report_flops(state, conv_flops(c) * (p == pass::backward && data_gradient ? 2 : 1));
}

}  // namespace

#if defined(SMILE_BACKEND_ONEDNN)
#include <oneapi/dnnl/dnnl.hpp>

#include <smile/backends/onednn/compat.hpp>

namespace {

/// The same primitives without the library: NHWC tensors, weights already in the primitive's
/// format, one scratchpad, no reorders.
void raw_onednn_conv(benchmark::State& state, conv_shape c, pass p) {
    using namespace dnnl;
    using tag = memory::format_tag;
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    const std::int64_t o = (c.size + 2 * (c.kernel / 2) - c.kernel) / c.stride + 1;
    const memory::dims strides{c.stride, c.stride}, pad{c.kernel / 2, c.kernel / 2};
    memory::desc x_md({batch, c.in, c.size, c.size}, memory::data_type::f32, tag::nhwc);
    memory::desc y_md({batch, c.out, o, o}, memory::data_type::f32, tag::nhwc);
    memory::desc w_any({c.out, c.in, c.kernel, c.kernel}, memory::data_type::f32, tag::any);
    const auto attr = smile::onednn::compat::user_scratchpad();
    auto fwd_pd = smile::onednn::compat::conv_forward(eng, prop_kind::forward_training, x_md, w_any,
                                                      nullptr, y_md, strides, pad, pad, attr);
    auto bwd_d_pd = smile::onednn::compat::conv_backward_data(eng, x_md, w_any, y_md, strides, pad, pad, fwd_pd, attr);
    auto bwd_w_pd = smile::onednn::compat::conv_backward_weights(eng, x_md, w_any, nullptr, y_md, strides,
                                                                 pad, pad, fwd_pd, attr);
    auto filled = [&](const memory::desc& md) {
        memory m(md, eng);
        auto* values = static_cast<float*>(m.get_data_handle());
        for (std::size_t i = 0; i < md.get_size() / 4; ++i) values[i] = 0.5f;
        return m;
    };
    memory x = filled(x_md), y = filled(y_md), dy = filled(y_md), dx = filled(x_md);
    memory w = filled(fwd_pd.weights_desc()), wb = filled(bwd_d_pd.weights_desc());
    memory dw = filled(bwd_w_pd.diff_weights_desc());
    memory sp_f = memory(fwd_pd.scratchpad_desc(), eng), sp_d = memory(bwd_d_pd.scratchpad_desc(), eng),
           sp_w = memory(bwd_w_pd.scratchpad_desc(), eng);
    convolution_forward fwd(fwd_pd);
    convolution_backward_data bwd_d(bwd_d_pd);
    convolution_backward_weights bwd_w(bwd_w_pd);
    const bool data_gradient = c.in != 3;
    auto run = [&] {
        if (p == pass::forward) {
            fwd.execute(strm, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y},
                               {DNNL_ARG_SCRATCHPAD, sp_f}});
        } else {
            bwd_w.execute(strm, {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw},
                                 {DNNL_ARG_SCRATCHPAD, sp_w}});
            if (data_gradient)
                bwd_d.execute(strm, {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, dx},
                                     {DNNL_ARG_SCRATCHPAD, sp_d}});
        }
        strm.wait();
    };
    run();
    for (auto _ : state) run();
    smile::bench::report_flops(state, conv_flops(c) * (p == pass::backward && data_gradient ? 2 : 1));
}

}  // namespace
#endif

int main(int argc, char** argv) {
    for (const auto& c : resnet50_convs) {
        const std::string name = std::string(c.where) + "/" + std::to_string(c.in) + "x" +
                                 std::to_string(c.out) + "k" + std::to_string(c.kernel) + "s" +
                                 std::to_string(c.stride) + "@" + std::to_string(c.size);
        for (pass p : {pass::forward, pass::backward}) {
            const char* pn = p == pass::forward ? "fwd" : "bwd";
            benchmark::RegisterBenchmark(("smile/" + std::string(pn) + "/" + name).c_str(), smile_conv, c, p)
                ->Unit(benchmark::kMillisecond)->UseRealTime();
#if defined(SMILE_BACKEND_ONEDNN)
            benchmark::RegisterBenchmark(("onednn/" + std::string(pn) + "/" + name).c_str(), raw_onednn_conv, c, p)
                ->Unit(benchmark::kMillisecond)->UseRealTime();
#endif
        }
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
