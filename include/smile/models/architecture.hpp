#pragma once
/// @file
/// The model factory: an architecture by name (`--arch resnet50`, `mobilenet_v2`, ...), the
/// backbone it builds, and the classifier over it.
///
/// `architecture` is one family's configuration; each family's own config type converts to it,
/// so `make_classifier<B>(s, gen, smile::resnet50(), {...})` reads as before. A family that needs
/// an optional backend part (MobileNetV2 needs `BackendActivations` for ReLU6, EfficientNet also
/// `BackendBroadcast` for squeeze-excitation) is an error
/// naming the backend and the part when the backend lacks it, at run time from a name and at
/// compile time when the family's type is used directly.

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <smile/io/weights.hpp>
#include <smile/models/classifier.hpp>
#include <smile/models/efficientnet.hpp>
#include <smile/models/mobilenet_v2.hpp>
#include <smile/models/resnet.hpp>
#include <string>
#include <string_view>
#include <variant>

namespace smile {

struct architecture {
    std::variant<resnet_config, mobilenet_v2_config, efficientnet_config> config;

    architecture(resnet_config c) : config(std::move(c)) {}        // NOLINT: a family is an architecture
    architecture(mobilenet_v2_config c) : config(std::move(c)) {}  // NOLINT
    architecture(efficientnet_config c) : config(std::move(c)) {}  // NOLINT

    [[nodiscard]] const std::string& name() const {
        return std::visit([](const auto& c) -> const std::string& { return c.arch; }, config);
    }
    /// What the family calls its classifier in weight files ("fc", "classifier.1").
    [[nodiscard]] std::string head_name() const {
        return std::visit([](const auto& c) { return std::string(c.weight_head); }, config);
    }
    /// Other libraries' names for the family's tensors (io/weight_naming.hpp); none for most.
    [[nodiscard]] std::vector<weight_naming> weight_namings() const {
        if (const auto* e = std::get_if<efficientnet_config>(&config)) return efficientnet_weight_namings(*e);
        return {};
    }
    [[nodiscard]] std::int64_t in_channels() const {
        return std::visit([](const auto& c) { return c.in_channels; }, config);
    }
    void set_in_channels(std::int64_t channels) {
        std::visit([&](auto& c) { c.in_channels = channels; }, config);
    }
    /// A ResNet with the 3x3 stride-1 stem of small images (CIFAR, MNIST).
    [[nodiscard]] bool has_small_stem() const {
        const auto* r = std::get_if<resnet_config>(&config);
        return r != nullptr && r->stem == stem_kind::small;
    }
};

/// Every name `architecture_by_name` accepts, for help texts and error messages.
[[nodiscard]] inline std::string architecture_names() {
    return std::string(resnet_names()) + "; mobilenet_v2; " + efficientnet_names();
}

/// The architecture called `name`; throws listing the known names when there is none.
[[nodiscard]] inline architecture architecture_by_name(std::string_view name) {
    if (auto r = resnet_by_name(name)) return *r;
    if (name == "mobilenet_v2") return mobilenet_v2_config{};
    if (auto e = efficientnet_by_name(name)) return *e;
    detail::fail("unknown architecture '", std::string(name), "' (expected one of ", architecture_names(), ")");
}

/// What a weight file says of its architecture, and how it says it.
struct declared_architecture {
    std::string name;
    std::string because;  ///< "whose metadata names the architecture", ... (for messages)
    std::optional<std::int64_t> in_channels;  ///< metadata "in_channels", when written
    std::optional<bool> small_stem;           ///< metadata "small_stem", when written
};

/// The metadata smile writes beside a network's weights so that a reader needs no flags: the
/// architecture, its input channels and (ResNets) its stem.
[[nodiscard]] inline std::map<std::string, std::string> architecture_metadata(
    const architecture& a) {
    std::map<std::string, std::string> m{{"arch", a.name()},
                                         {"in_channels", std::to_string(a.in_channels())}};
    if (std::holds_alternative<resnet_config>(a.config))
        m["small_stem"] = a.has_small_stem() ? "true" : "false";
    return m;
}

/// The architecture the weight file at `path` declares, if it does:
/// - its metadata's "arch" (as smile writes it; in a checkpoint, "info.arch"); "padding": "tf_same"
/// beside torchvision's
///   efficientnet_bN makes it timm's tf_efficientnet_bN;
/// - without one, efficientnet_pytorch's tensor names (`_conv_stem.weight`), which only its
///   EfficientNets use: efficientnet-bN, N found from the block count and the head's width.
[[nodiscard]] inline std::optional<declared_architecture> architecture_declared_by(const std::filesystem::path& path) {
    auto m = io::metadata_of(path);
    if (m.count("smile.checkpoint") > 0) {
        // A checkpoint carries the same entries among its run information ("info.arch", ...).
        std::map<std::string, std::string> info;
        for (const auto& [k, v] : m)
            if (k.rfind("info.", 0) == 0) info[k.substr(5)] = v;
        m = std::move(info);
    }
    if (auto it = m.find("arch"); it != m.end()) {
        std::string name = it->second;
        if (auto pad = m.find("padding"); pad != m.end() && pad->second == "tf_same" && name.rfind("efficientnet_b", 0) == 0)
            name = "tf_" + name;
        declared_architecture declared{name, "whose metadata names the architecture", std::nullopt,
                                       std::nullopt};
        if (auto c = m.find("in_channels"); c != m.end()) {
            std::int64_t channels = 0;
            if (!detail::parse_index(c->second, channels) || channels < 1 || channels > 4096)
                detail::fail(path.string(), ": metadata in_channels '", c->second,
                             "' is not a channel count");
            declared.in_channels = channels;
        }
        if (auto stem = m.find("small_stem"); stem != m.end()) {
            if (stem->second != "true" && stem->second != "false")
                detail::fail(path.string(), ": metadata small_stem '", stem->second,
                             "' is neither true nor false");
            declared.small_stem = stem->second == "true";
        }
        return declared;
    }
    const io::detail_weights::weight_source source(path);
    const auto naming = detect_naming(efficientnet_weight_namings(efficientnet_config{}),
                                      [&](const std::string& n) { return source.contains(n); });
    if (!naming || naming->name != "efficientnet_pytorch") return std::nullopt;
    std::int64_t blocks = 0;
    for (const auto& n : source.names()) {
        std::int64_t k = 0;
        if (n.rfind("_blocks.", 0) == 0 && detail::parse_index(n.substr(8, n.find('.', 8) - 8), k))
            blocks = std::max(blocks, k + 1);
    }
    const std::int64_t head = source.contains("_conv_head.weight") ? source.shape("_conv_head.weight").at(0) : 0;
    for (const char* name : {"efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3", "efficientnet-b4"}) {
        const auto c = *efficientnet_by_name(name);
        std::int64_t total = 0;
        for (std::int64_t d : efficientnet_depths(c)) total += d;
        if (total == blocks && 4 * efficientnet_channels(c, efficientnet_b0_stages[6].out) == head)
            return declared_architecture{
                name, "whose efficientnet_pytorch tensor names make it the architecture",
                std::nullopt, std::nullopt};
    }
    detail::fail(path.string(), ": its tensor names are efficientnet_pytorch's, but ", blocks, " blocks and a head of ", head,
                 " channels match none of efficientnet-b0 … efficientnet-b4");
}

/// The backbone of `a`, initialised as its family does.
template <Backend B>
std::unique_ptr<backbone<B>> make_backbone(session<B>& s, rng& gen, const architecture& a) {
    return std::visit(
        [&](const auto& c) -> std::unique_ptr<backbone<B>> {
            using C = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<C, resnet_config>) {
                return wrap_backbone<B>(resnet<B>(s, gen, c));
            } else if constexpr (std::is_same_v<C, mobilenet_v2_config>) {
                if constexpr (BackendActivations<B>) {
                    return wrap_backbone<B>(mobilenet_v2<B>(s, gen, c));
                } else {
                    detail::fail(c.arch, " needs the activation family (BackendActivations: ReLU6), which the ", B::name,
                                 " backend does not provide");
                }
            } else {
                if constexpr (BackendActivations<B> && BackendBroadcast<B>) {
                    return wrap_backbone<B>(efficientnet<B>(s, gen, c));
                } else {
                    detail::fail(c.arch, " needs the activation family and the broadcast scale (BackendActivations, ",
                                 "BackendBroadcast: SiLU, squeeze-excitation), which the ", B::name, " backend does not provide");
                }
            }
        },
        a.config);
}

/// A classifier over the backbone of `a`.
template <Backend B>
classifier<B> make_classifier(session<B>& s, rng& gen, const architecture& a, const classifier_config& c) {
    return classifier<B>(s, gen, make_backbone<B>(s, gen, a), c);
}

}  // namespace smile
