#pragma once
/// @file
/// `pipeline`: a sequence of image transforms (transforms.hpp) followed by the float
/// conversion, with presets for the published recipes:
///
/// | preset            | steps                                                            |
/// |-------------------|------------------------------------------------------------------|
/// | smile-cub-train   | RGB, Resize(256) shorter side, flip 0.5, RandomCrop(224)         |
/// | smile-cub-test    | RGB, Resize(256) shorter side, CenterCrop(224)                   |
/// | smile-train       | RGB, Resize((256, 256)), flip 0.5, RandomCrop(224)               |
/// | smile-test        | RGB, Resize((256, 256)), CenterCrop(224)                         |
/// | tllib-train       | RGB, RandomResizedCrop(224, scale (0.2, 1)), flip 0.5           |
/// | tllib-test        | RGB, Resize(256) shorter side, CenterCrop(224)                   |
/// | small             | gray, Resize((s, s)) (MNIST-family and UCI digits, s = 28)       |
///
/// The SMILE presets are the authors' `utils.transform_train/test` (keep_aspect for CUB); the
/// TLlib ones its task-adaptation defaults. 224/256 scale with the preset's size arguments.
/// RGB presets normalise with ImageNet statistics, `small` with MNIST's (0.1307, 0.3081).

#include <sstream>
#include <string>
#include <vector>

#include <smile/data/transforms.hpp>

namespace smile::data {

class pipeline {
public:
    enum class op { rgb, gray, resize_shorter, resize, center_crop, random_crop, random_resized_crop, flip };
    struct step {
        op kind;
        std::int64_t a = 0, b = 0;  // sizes
        double p = 0.5;             // flip probability
        std::array<double, 2> scale{0.08, 1.0};
        std::array<double, 2> ratio{3.0 / 4.0, 4.0 / 3.0};
    };

    pipeline& rgb() { return add({op::rgb}); }
    pipeline& gray() { return add({op::gray}); }
    pipeline& resize_shorter(std::int64_t s) { return add({op::resize_shorter, s}); }
    pipeline& resize(std::int64_t h, std::int64_t w) { return add({op::resize, h, w}); }
    pipeline& center_crop(std::int64_t s) { return add({op::center_crop, s}); }
    pipeline& random_crop(std::int64_t s) { return add({op::random_crop, s}); }
    pipeline& random_resized_crop(std::int64_t s, std::array<double, 2> scale = {0.08, 1.0},
                                  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0}) {
        return add({op::random_resized_crop, s, 0, 0.5, scale, ratio});
    }
    pipeline& flip(double p = 0.5) { return add({op::flip, 0, 0, p}); }
    pipeline& normalize(const normalization& n) {
        norm_ = n;
        return *this;
    }

    /// The image transforms (before the float conversion).
    [[nodiscard]] image transform(image img, rng& gen) const {
        for (const step& s : steps_) {
            switch (s.kind) {
                case op::rgb: img = to_rgb(img); break;
                case op::gray: img = to_gray(img); break;
                case op::resize_shorter: img = data::resize_shorter(img, s.a); break;
                case op::resize: img = data::resize(img, s.b, s.a); break;
                case op::center_crop: img = data::center_crop(img, s.a); break;
                case op::random_crop: img = data::random_crop(img, s.a, gen); break;
                case op::random_resized_crop: img = data::random_resized_crop(img, s.a, gen, s.scale, s.ratio); break;
                case op::flip:
                    if (gen.uniform() < s.p) img = horizontal_flip(img);
                    break;
            }
        }
        return img;
    }

    /// Transforms `img` and writes channels·height·width floats (CHW) at `out`; the result must
    /// have the pipeline's output shape.
    void apply(const image& img, rng& gen, float* out, const std::string& what) const {
        const image t = transform(img, gen);
        if (t.channels != channels() || t.height != height() || t.width != width())
            detail::fail(what, ": transformed image is ", t.channels, "x", t.height, "x", t.width,
                         ", the pipeline produces ", channels(), "x", height(), "x", width(),
                         " (add a resize or crop step)");
        to_normalized_chw(t, norm_, out);
    }

    /// Output channels, height and width (fixed by the last colour and size steps).
    [[nodiscard]] std::int64_t channels() const {
        std::int64_t c = 3;
        for (const auto& s : steps_) {
            if (s.kind == op::rgb) c = 3;
            if (s.kind == op::gray) c = 1;
        }
        return c;
    }
    [[nodiscard]] std::int64_t height() const { return size().first; }
    [[nodiscard]] std::int64_t width() const { return size().second; }

    /// A one-line description of the steps (printed with a run's configuration).
    [[nodiscard]] std::string describe() const {
        std::ostringstream out;
        for (std::size_t i = 0; i < steps_.size(); ++i) {
            const step& s = steps_[i];
            out << (i ? " -> " : "");
            switch (s.kind) {
                case op::rgb: out << "RGB"; break;
                case op::gray: out << "Grayscale"; break;
                case op::resize_shorter: out << "Resize(" << s.a << ")"; break;
                case op::resize: out << "Resize((" << s.a << ", " << s.b << "))"; break;
                case op::center_crop: out << "CenterCrop(" << s.a << ")"; break;
                case op::random_crop: out << "RandomCrop(" << s.a << ")"; break;
                case op::random_resized_crop:
                    out << "RandomResizedCrop(" << s.a << ", scale=(" << s.scale[0] << ", " << s.scale[1] << "))";
                    break;
                case op::flip: out << "RandomHorizontalFlip(" << s.p << ")"; break;
            }
        }
        out << " -> Normalize(mean=(" << norm_.mean[0] << ", " << norm_.mean[1] << ", " << norm_.mean[2]
            << "), std=(" << norm_.std[0] << ", " << norm_.std[1] << ", " << norm_.std[2] << "))";
        return out.str();
    }

    /// A named preset (see the file comment); `crop` and `resize_to` replace 224 and 256.
    static pipeline preset(const std::string& name, std::int64_t crop = 224, std::int64_t resize_to = 256) {
        pipeline p;
        if (name == "smile-cub-train") return p.rgb().resize_shorter(resize_to).flip().random_crop(crop).normalize(imagenet_normalization);
        if (name == "smile-cub-test") return p.rgb().resize_shorter(resize_to).center_crop(crop).normalize(imagenet_normalization);
        if (name == "smile-train") return p.rgb().resize(resize_to, resize_to).flip().random_crop(crop).normalize(imagenet_normalization);
        if (name == "smile-test") return p.rgb().resize(resize_to, resize_to).center_crop(crop).normalize(imagenet_normalization);
        if (name == "tllib-train") return p.rgb().random_resized_crop(crop, {0.2, 1.0}).flip().normalize(imagenet_normalization);
        if (name == "tllib-test") return p.rgb().resize_shorter(resize_to).center_crop(crop).normalize(imagenet_normalization);
        if (name == "small") return p.gray().resize(crop, crop).normalize({{0.1307f, 0.1307f, 0.1307f}, {0.3081f, 0.3081f, 0.3081f}});
        detail::fail("unknown transform preset '", name,
                     "' (expected smile-cub-train, smile-cub-test, smile-train, smile-test, tllib-train, tllib-test, small)");
    }

private:
    pipeline& add(step s) {
        steps_.push_back(s);
        return *this;
    }
    [[nodiscard]] std::pair<std::int64_t, std::int64_t> size() const {
        std::pair<std::int64_t, std::int64_t> hw{0, 0};
        for (const auto& s : steps_) {
            if (s.kind == op::resize) hw = {s.a, s.b};
            if (s.kind == op::center_crop || s.kind == op::random_crop || s.kind == op::random_resized_crop) hw = {s.a, s.a};
        }
        SMILE_CHECK(hw.first > 0, "pipeline: no step fixes the output size (add a resize or crop)");
        return hw;
    }

    std::vector<step> steps_;
    normalization norm_ = imagenet_normalization;
};

}  // namespace smile::data
