#pragma once
/// @file
/// EfficientNet's tensors under efficientnet_pytorch's and timm's names. torchvision's are
/// canonical; per block, torchvision numbers the units it has (`block.J`), so J means another
/// unit in the first stage (no expansion) than in the others:
///
/// | torchvision (expanding / stage 1)  | efficientnet_pytorch 0.6.1     | timm (expanding / stage 1)  |
/// |------------------------------------|--------------------------------|-----------------------------|
/// | features.0.0 / .0.1                | _conv_stem / _bn0              | conv_stem / bn1             |
/// | features.S.B                       | _blocks.K (K counts all blocks)| blocks.(S−1).B              |
/// | block.0.0 / 0.1 (expansion)        | _expand_conv / _bn0            | conv_pw / bn1               |
/// | block.1.0 / 1.1, stage 1: block.0  | _depthwise_conv / _bn1         | conv_dw / bn2, stage 1: bn1 |
/// | block.2.fc1, .fc2, stage 1: block.1| _se_reduce, _se_expand         | se.conv_reduce, .conv_expand|
/// | block.3.0 / 3.1, stage 1: block.2  | _project_conv / _bn2           | conv_pwl / bn3, stage 1: conv_pw / bn2 |
/// | features.8.0 / .8.1                | _conv_head / _bn1              | conv_head / bn2             |
/// | classifier.1                       | _fc                            | classifier                  |

#include <cstdint>
#include <string>
#include <vector>

#include <smile/io/weight_naming.hpp>
#include <smile/models/efficientnet_config.hpp>

namespace smile {

namespace detail {

/// A canonical EfficientNet name split into where it sits: the stem, the head, or unit `role`
/// (0 expansion, 1 depthwise, 2 squeeze-excitation, 3 projection) of block `block` of stage
/// `stage` (1…7), with `part` the unit's member ("0" conv, "1" BN, "fc1", "fc2") and `rest`
/// the tensor ("weight", "running_mean", ...).
struct efficientnet_place {
    enum { stem, head, unit, other } where = other;
    std::int64_t stage = 0, block = 0, role = 0;
    std::string part, rest;
};

inline std::vector<std::string> split_dots(const std::string& name) {
    std::vector<std::string> out(1);
    for (char ch : name) {
        if (ch == '.') {
            out.emplace_back();
        } else {
            out.back() += ch;
        }
    }
    return out;
}

inline bool parse_index(const std::string& s, std::int64_t& v) {
    if (s.empty() || s.size() > 6) return false;
    v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') return false;
        v = v * 10 + (ch - '0');
    }
    return true;
}

inline efficientnet_place place_of(const std::string& name) {
    const auto t = split_dots(name);
    efficientnet_place p;
    std::int64_t level = 0;
    if (t.size() < 4 || t[0] != "features" || !parse_index(t[1], level)) return p;
    auto join_from = [&](std::size_t i) {
        std::string r;
        for (; i < t.size(); ++i) r += (r.empty() ? "" : ".") + t[i];
        return r;
    };
    const auto stages = static_cast<std::int64_t>(std::size(efficientnet_b0_stages));
    if (level == 0 || level == stages + 1) {
        p.where = level == 0 ? efficientnet_place::stem : efficientnet_place::head;
        p.part = t[2];
        p.rest = join_from(3);
        return p;
    }
    std::int64_t unit = 0;
    if (level > stages || t.size() < 7 || t[3] != "block" || !parse_index(t[2], p.block) || !parse_index(t[4], unit))
        return p;
    p.where = efficientnet_place::unit;
    p.stage = level;
    const bool expands = efficientnet_b0_stages[level - 1].expand != 1;
    p.role = unit + (expands ? 0 : 1);
    p.part = t[5];
    p.rest = join_from(6);
    return p;
}

}  // namespace detail

/// efficientnet_pytorch's and timm's namings of `c`'s tensors.
[[nodiscard]] inline std::vector<weight_naming> efficientnet_weight_namings(const efficientnet_config& c) {
    std::vector<std::int64_t> first_block;  // flat index of each stage's first block
    std::int64_t k = 0;
    for (std::int64_t d : efficientnet_depths(c)) {
        first_block.push_back(k);
        k += d;
    }
    auto efficientnet_pytorch = [first_block](const std::string& name) -> std::string {
        const auto p = detail::place_of(name);
        const bool bn = p.part == "1";
        switch (p.where) {
        case detail::efficientnet_place::stem: return (bn ? "_bn0." : "_conv_stem.") + p.rest;
        case detail::efficientnet_place::head: return (bn ? "_bn1." : "_conv_head.") + p.rest;
        case detail::efficientnet_place::unit: {
            const std::string block = "_blocks." + std::to_string(first_block[p.stage - 1] + p.block) + ".";
            static const char* const convs[] = {"_expand_conv.", "_depthwise_conv.", "", "_project_conv."};
            static const char* const norms[] = {"_bn0.", "_bn1.", "", "_bn2."};
            if (p.role == 2) return block + (p.part == "fc1" ? "_se_reduce." : "_se_expand.") + p.rest;
            return block + (bn ? norms[p.role] : convs[p.role]) + p.rest;
        }
        default: return name;
        }
    };
    auto timm = [](const std::string& name) -> std::string {
        const auto p = detail::place_of(name);
        const bool bn = p.part == "1";
        switch (p.where) {
        case detail::efficientnet_place::stem: return (bn ? "bn1." : "conv_stem.") + p.rest;
        case detail::efficientnet_place::head: return (bn ? "bn2." : "conv_head.") + p.rest;
        case detail::efficientnet_place::unit: {
            const std::string block = "blocks." + std::to_string(p.stage - 1) + "." + std::to_string(p.block) + ".";
            if (p.role == 2) return block + (p.part == "fc1" ? "se.conv_reduce." : "se.conv_expand.") + p.rest;
            // timm's blocks without expansion (DepthwiseSeparableConv) number their norms from 1
            // and call the projection conv_pw.
            const bool expands = efficientnet_b0_stages[p.stage - 1].expand != 1;
            static const char* const convs[] = {"conv_pw.", "conv_dw.", "", "conv_pwl."};
            static const char* const norms[] = {"bn1.", "bn2.", "", "bn3."};
            if (!expands) return block + (p.role == 1 ? (bn ? "bn1." : "conv_dw.") : (bn ? "bn2." : "conv_pw.")) + p.rest;
            return block + (bn ? norms[p.role] : convs[p.role]) + p.rest;
        }
        default: return name;
        }
    };
    // The SMILE authors' bundled efficientnet_pytorch renames `_fc` to `fc` (algorithms.md §1.1).
    return {{"efficientnet_pytorch", "_conv_stem.weight", {"_fc", "fc"}, efficientnet_pytorch},
            {"timm", "conv_stem.weight", {"classifier"}, timm}};
}

}  // namespace smile
