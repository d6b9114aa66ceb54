#pragma once
/// @file
/// CutMix (Yun et al., 2019), as the reference code (clovaai/CutMix-PyTorch) and the SMILE
/// authors' runner do it: λ ~ Beta(β, β); a box of sides int(W·√(1 − λ)) × int(H·√(1 − λ))
/// centred at a uniformly random pixel and clipped to the image; the box of image perm[i] is
/// pasted into image i; then λ is corrected to 1 − box area / image area. The SMILE runner uses
/// β = 0.2, probability 0.5 and no folding.

#include <algorithm>
#include <cmath>
#include <smile/core/ops.hpp>
#include <smile/mixup/mixup.hpp>

namespace smile {

struct cutmix_plan {
    mixup_plan mix;     ///< perm and the area-corrected λ
    spatial_box box;
};

/// Samples the box for images of `height`×`width` and corrects λ.
[[nodiscard]] inline cutmix_plan sample_cutmix(rng& gen, double beta, std::int64_t n, std::int64_t height,
                                               std::int64_t width) {
    cutmix_plan p;
    const double lambda = beta > 0.0 ? gen.beta(beta, beta) : 1.0;
    p.mix.perm = gen.permutation(n);
    const double cut = std::sqrt(1.0 - lambda);
    const auto cut_w = static_cast<std::int64_t>(double(width) * cut);
    const auto cut_h = static_cast<std::int64_t>(double(height) * cut);
    const std::int64_t cx = gen.integer(0, width - 1), cy = gen.integer(0, height - 1);
    const std::int64_t x1 = std::clamp<std::int64_t>(cx - cut_w / 2, 0, width);
    const std::int64_t y1 = std::clamp<std::int64_t>(cy - cut_h / 2, 0, height);
    const std::int64_t x2 = std::clamp<std::int64_t>(cx + cut_w / 2, 0, width);
    const std::int64_t y2 = std::clamp<std::int64_t>(cy + cut_h / 2, 0, height);
    p.box = {y1, x1, y2 - y1, x2 - x1};
    p.mix.lambda = 1.0 - double((x2 - x1) * (y2 - y1)) / double(width * height);
    return p;
}

/// out = x with the plan's box of x[perm[i]] pasted into image i.
template <Backend B>
void apply_cutmix(session<B>& s, const cutmix_plan& p, const tensor<B>& x, tensor<B>& out) {
    out.bind(s.context());
    out.resize(x.shape());
    if (p.box.height == 0 || p.box.width == 0) {
        ops<B>::copy(s.context(), x.view(), out.view());
        return;
    }
    ops<B>::paste_box(s.context(), x.view(), p.mix.perm, p.box, out.view());
}

}  // namespace smile
