// Decoding and transforms against PIL / torchvision (fixtures from make_image_fixtures.py) and
// against hand-computed pixels.
#include <doctest/doctest.h>

#include <set>

#include <smile/data/codec.hpp>
#include <smile/data/pipeline.hpp>
#include <smile/io/safetensors.hpp>

#include "dataset_builder.hpp"

using namespace smile::data;

namespace {

const std::string fixtures = SMILE_TEST_FIXTURES;

std::vector<float> pixels_of(const image& img) { return {img.pixels.begin(), img.pixels.end()}; }

image from_fixture(const smile::io::safetensors_reader& f, const std::string& key) {
    const auto& e = f.entry(key);
    image img(e.shape[1], e.shape[0], e.shape.size() == 3 ? e.shape[2] : 1);
    const auto v = f.read_floats(key);
    for (std::size_t i = 0; i < v.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(v[i]);
    return img;
}

}  // namespace

TEST_CASE("decoding: JPEG (RGB, grayscale, CMYK) and PNG equal PIL's pixels") {
    smile::io::safetensors_reader f(fixtures + "/image_fixtures.safetensors");
    for (const std::string name : {"rgb.jpg", "gray.jpg", "cmyk.jpg", "rgb.png"}) {
        const image img = read_image(fixtures + "/images/" + name);
        const auto want = f.read_floats("decoded." + name);
        INFO(name);
        CHECK(img.channels == (name == "gray.jpg" ? 1 : 3));
        CHECK(img.width == 37);
        CHECK(img.height == 23);
        CHECK(pixels_of(img) == want);
    }
}

TEST_CASE("decoding: corrupt, truncated and foreign files are errors naming the file") {
    smile::test::temp_tree dir("decode");
    const auto good = smile::data::encode_jpeg(smile::test::pattern_image(40, 30, 3, 1, 1));
    smile::test::write_text(dir.root / "truncated.jpg", good.substr(0, good.size() / 2));
    smile::test::write_text(dir.root / "garbage.jpg", std::string("\xff\xd8\xff") + std::string(200, 'x'));
    smile::test::write_text(dir.root / "text.jpg", "hello");
    const auto png = smile::data::encode_png(smile::test::pattern_image(20, 10, 1, 0, 0));
    smile::test::write_text(dir.root / "cut.png", png.substr(0, png.size() - 20));
    for (const auto& [file, message] : {std::pair{"truncated.jpg", "truncated JPEG"}, std::pair{"garbage.jpg", "cannot decode image"},
                                        std::pair{"text.jpg", "not a JPEG or PNG image"}, std::pair{"cut.png", "cannot decode image"},
                                        std::pair{"missing.jpg", "cannot open image"}}) {
        const std::string path = (dir.root / file).string();
        INFO(file);
        CHECK_THROWS_WITH_AS(read_image(path), doctest::Contains(path.c_str()), smile::error);
        CHECK_THROWS_WITH_AS(read_image(path), doctest::Contains(message), smile::error);
    }
    // Round trip of our own encoders: PNG is lossless.
    smile::test::write_text(dir.root / "ok.png", png);
    CHECK(read_image(dir.root / "ok.png").pixels == smile::test::pattern_image(20, 10, 1, 0, 0).pixels);
}

TEST_CASE("resize: PIL's bilinear resampling, bit for bit, down, up and mixed") {
    smile::io::safetensors_reader f(fixtures + "/image_fixtures.safetensors");
    const image rgb = from_fixture(f, "source.rgb");
    const image gray = from_fixture(f, "source.gray");
    for (auto [w, h] : {std::pair{7, 5}, {50, 40}, {13, 29}, {37, 11}, {37, 23}}) {
        const std::string size = std::to_string(w) + "x" + std::to_string(h);
        INFO(size);
        CHECK(pixels_of(resize(rgb, w, h)) == f.read_floats("resize.rgb." + size));
        CHECK(pixels_of(resize(gray, w, h)) == f.read_floats("resize.gray." + size));
    }
    for (int s : {16, 23, 40}) {
        INFO("Resize(", s, ")");
        const image out = resize_shorter(rgb, s);
        CHECK(out.height == f.entry("torchvision_resize.rgb." + std::to_string(s)).shape[0]);
        CHECK(pixels_of(out) == f.read_floats("torchvision_resize.rgb." + std::to_string(s)));
    }
    const image tall = from_fixture(f, "source.tall");
    CHECK(pixels_of(resize_shorter(tall, 12)) == f.read_floats("torchvision_resize.tall.12"));
}

TEST_CASE("crops, flips and normalisation equal hand-computed pixels") {
    image img(5, 4, 1);
    for (std::size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<std::uint8_t>(i);
    // CenterCrop rounds half to even: 4x5 → 2: top = round(1.0) = 1, left = round(1.5) = 2.
    CHECK(pixels_of(center_crop(img, 2)) == std::vector<float>{7, 8, 12, 13});
    image odd(7, 7, 1);
    for (std::size_t i = 0; i < odd.pixels.size(); ++i) odd.pixels[i] = static_cast<std::uint8_t>(i);
    // 7x7 → 2: round(2.5) = 2 (half to even), so the crop starts at (2, 2).
    CHECK(pixels_of(center_crop(odd, 2)) == std::vector<float>{16, 17, 23, 24});
    CHECK(python_round(0.5) == 0);
    CHECK(python_round(1.5) == 2);
    CHECK(python_round(2.5) == 2);
    CHECK(pixels_of(horizontal_flip(crop(img, 0, 0, 1, 5))) == std::vector<float>{4, 3, 2, 1, 0});
    smile::rng gen(3);
    std::set<std::pair<std::int64_t, std::int64_t>> corners;
    for (int i = 0; i < 200; ++i) {
        const image c = random_crop(img, 3, gen);
        corners.insert({c.pixels[0] / 5, c.pixels[0] % 5});  // top-left pixel value → (row, col)
    }
    CHECK(corners.size() == 2 * 3);  // rows 0..1, columns 0..2: every offset occurs
    // Normalisation: (p/255 − mean)/std in float32.
    image one(1, 1, 3);
    one.pixels = {255, 0, 128};
    float out[3];
    to_normalized_chw(one, imagenet_normalization, out);
    CHECK(out[0] == doctest::Approx((1.0f - 0.485f) / 0.229f));
    CHECK(out[1] == doctest::Approx((0.0f - 0.456f) / 0.224f));
    CHECK(out[2] == doctest::Approx((128.0f / 255.0f - 0.406f) / 0.225f));
    CHECK_THROWS_WITH_AS(crop(img, 2, 3, 3, 3), doctest::Contains("outside the 4x5 image"), smile::error);
}

TEST_CASE("random resized crop: boxes respect scale and ratio, the fallback clamps the ratio") {
    smile::rng gen(5);
    for (int i = 0; i < 500; ++i) {
        const auto b = random_resized_crop_box(300, 500, gen, {0.2, 1.0});
        REQUIRE(b.top >= 0);
        REQUIRE(b.left >= 0);
        REQUIRE(b.top + b.height <= 300);
        REQUIRE(b.left + b.width <= 500);
        const double area = double(b.width * b.height) / (300.0 * 500.0);
        CHECK(area >= 0.19);
        CHECK(area <= 1.01);
        const double ratio = double(b.width) / double(b.height);
        CHECK(ratio >= 3.0 / 4.0 * 0.97);
        CHECK(ratio <= 4.0 / 3.0 * 1.03);
    }
    // A 2x100 strip: every attempt needs a height of at least round(√(0.08·200·3/4)) = 3 > 2, so
    // torchvision falls back to the centre crop with the ratio clamped: the strip is wider than
    // 4/3, so h = 2 and w = round(2·4/3) = 3, centred: left = (100 − 3) // 2 = 48.
    const auto b = random_resized_crop_box(2, 100, gen);
    CHECK(b.height == 2);
    CHECK(b.width == 3);
    CHECK(b.top == 0);
    CHECK(b.left == 48);
}

TEST_CASE("pipelines: presets describe themselves and produce their output shape") {
    const auto cub = pipeline::preset("smile-cub-train");
    CHECK(cub.describe() == "RGB -> Resize(256) -> RandomHorizontalFlip(0.5) -> RandomCrop(224) -> "
                            "Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))");
    CHECK(pipeline::preset("smile-test").describe().rfind("RGB -> Resize((256, 256)) -> CenterCrop(224)", 0) == 0);
    CHECK(pipeline::preset("tllib-train").describe().find("RandomResizedCrop(224, scale=(0.2, 1))") != std::string::npos);
    const image gray = smile::test::pattern_image(500, 375, 1, 2, 3);  // CUB-sized grayscale
    std::vector<float> out(3 * 224 * 224);
    smile::rng gen(1);
    cub.apply(gray, gen, out.data(), "gray.jpg");  // grayscale is replicated to RGB
    const auto small = pipeline::preset("small", 28);
    std::vector<float> digit(28 * 28);
    small.apply(smile::test::pattern_image(8, 8, 1, 0, 0), gen, digit.data(), "digit");
    CHECK(small.channels() == 1);
    CHECK_THROWS_WITH_AS(pipeline::preset("fancy"), doctest::Contains("unknown transform preset 'fancy'"), smile::error);
    pipeline bad;
    bad.rgb().center_crop(224);
    CHECK_THROWS_WITH_AS(bad.apply(smile::test::pattern_image(100, 80, 3, 0, 0), gen, out.data(), "small.jpg"),
                         doctest::Contains("smaller than the 224x224 crop"), smile::error);
}

TEST_CASE("decoding: a header declaring more pixels than the limit is refused before any pixel is allocated") {
    // A real JPEG whose SOF0 frame header is patched to 65000×65000 (4.2 billion pixels).
    std::string jpeg = smile::data::encode_jpeg(smile::test::pattern_image(16, 8, 3, 1, 1));
    const auto sof = jpeg.find("\xff\xc0");
    REQUIRE(sof != std::string::npos);
    for (std::size_t at : {sof + 5, sof + 7}) {  // height, width: big-endian 16-bit
        jpeg[at] = char(0xfd);
        jpeg[at + 1] = char(0xe8);
    }
    CHECK_THROWS_WITH_AS((void)decode_image(jpeg, "bomb.jpg"), doctest::Contains("bomb.jpg: cannot decode image: the header declares 65000x65000 pixels"),
                         smile::error);
    CHECK_THROWS_WITH_AS((void)decode_image_header(jpeg, "bomb.jpg"), doctest::Contains("-pixel limit"), smile::error);
    // A PNG whose IHDR says 100000×100000, with its CRC recomputed so that only the size is wrong.
    std::string png = smile::data::encode_png(smile::test::pattern_image(4, 4, 3, 0, 0));
    const std::size_t ihdr = png.find("IHDR");
    REQUIRE(ihdr != std::string::npos);
    for (std::size_t at : {ihdr + 4, ihdr + 8}) {
        const std::uint32_t v = 100000;
        for (int b = 0; b < 4; ++b) png[at + std::size_t(b)] = char((v >> (24 - 8 * b)) & 0xff);
    }
    const auto crc = std::uint32_t(crc32(0, reinterpret_cast<const Bytef*>(png.data() + ihdr), 17));
    for (int b = 0; b < 4; ++b) png[ihdr + 17 + std::size_t(b)] = char((crc >> (24 - 8 * b)) & 0xff);
    CHECK_THROWS_WITH_AS((void)decode_image(png, "bomb.png"), doctest::Contains("the header declares 100000x100000 pixels"), smile::error);
    // Under the limit the header alone tells the size, and matches the decoded image.
    const auto good = smile::data::encode_jpeg(smile::test::pattern_image(16, 8, 1, 1, 1));
    const auto h = decode_image_header(good, "good.jpg");
    CHECK(h.width == 16);
    CHECK(h.height == 8);
    CHECK(h.channels == 1);
    CHECK_THROWS_WITH_AS((void)decode_image(good, "small-limit.jpg", 100), doctest::Contains("more than the 100-pixel limit"), smile::error);
}
