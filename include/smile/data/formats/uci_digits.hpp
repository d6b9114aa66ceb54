#pragma once
/// @file
/// The UCI optical-recognition handwritten digits as shipped by scikit-learn (digits.csv.gz:
/// 1,797 rows of 64 pixel values 0..16 for an 8×8 image, then the label 0..9). Pixels are
/// scaled to 0..255 (v·255/16, rounded). The data has no official split; smile's is fixed and
/// stratified enough: every fifth row (row index % 5 == 4) is a test image (359 test, 1,438
/// train).

#include <zlib.h>

#include <sstream>

#include <smile/data/dataset.hpp>
#include <smile/data/formats/text_lines.hpp>

namespace smile::data::formats {

inline dataset read_uci_digits(const std::filesystem::path& csv) {
    gzFile f = gzopen(csv.c_str(), "rb");
    if (f == nullptr) detail::fail("cannot open ", csv.string(), ": ", std::strerror(errno));
    std::string text;
    char buffer[1 << 16];
    int got = 0;
    constexpr std::size_t limit = std::size_t(64) << 20;  // the real file is 300 KB; a gzip bomb stops here
    while ((got = gzread(f, buffer, sizeof buffer)) > 0) {
        text.append(buffer, std::size_t(got));
        if (text.size() > limit) {
            gzclose(f);
            detail::fail(csv.string(), ": more than ", limit >> 20, " MB of text, not the UCI digits");
        }
    }
    const bool failed = got < 0;
    gzclose(f);
    if (failed) detail::fail(csv.string(), ": corrupt gzip data");
    auto images = std::make_shared<memory_images>();
    images->width = images->height = 8;
    images->channels = 1;
    dataset d;
    d.format = "digits";
    d.root = csv.parent_path();
    for (int c = 0; c < 10; ++c) d.classes.push_back(std::to_string(c));
    std::istringstream in(text);
    std::string line;
    std::int64_t row = 0;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (line.empty() || line == "\r") continue;
        const text_line where{number, line};
        std::vector<long long> values;
        std::stringstream fields(line);
        std::string field;
        while (std::getline(fields, field, ',')) {
            while (!field.empty() && (field.back() == '\r' || field.back() == ' ')) field.pop_back();
            values.push_back(parse_integer(csv, where, field, "value"));
        }
        if (values.size() != 65) fail_at(csv, where, "expected 65 comma-separated values (64 pixels and a label), got ", values.size());
        for (std::size_t i = 0; i < 64; ++i) {
            if (values[i] < 0 || values[i] > 16) fail_at(csv, where, "pixel value ", values[i], " is outside 0..16");
            images->pixels.push_back(static_cast<std::uint8_t>((values[i] * 255 + 8) / 16));
        }
        if (values[64] < 0 || values[64] > 9) fail_at(csv, where, "label ", values[64], " is outside 0..9");
        (row % 5 == 4 ? d.test : d.train).push_back({{}, static_cast<std::int32_t>(values[64]), std::nullopt, row, 0});
        ++row;
    }
    if (row == 0) detail::fail(csv.string(), ": no rows");
    d.memory = images;
    d.validate();
    return d;
}

}  // namespace smile::data::formats
