#pragma once
/// @file
/// MNIST-format IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed (zlib reads both):
/// images are magic 0x00000803, count, rows, columns, then bytes; labels 0x00000801, count,
/// then bytes; all integers big-endian. Images stay in memory (60,000 of 28×28 are 47 MB).
///
/// The header's counts are checked for overflow and the data is read in bounded chunks, so a
/// crafted header (4 billion images of 65535×65535) costs no more memory than the bytes the
/// file really holds; a file shorter or longer than its header says is an error naming it.

#include <zlib.h>

#include <smile/data/dataset.hpp>

namespace smile::data::formats {

namespace detail_idx {

class gz_file {
public:
    explicit gz_file(const std::filesystem::path& path) : path_(path), f_(gzopen(path.c_str(), "rb")) {
        if (f_ == nullptr) detail::fail("cannot open ", path.string(), ": ", std::strerror(errno));
    }
    ~gz_file() { gzclose(f_); }
    gz_file(const gz_file&) = delete;
    gz_file& operator=(const gz_file&) = delete;

    /// Reads up to `n` bytes; returns how many were read (fewer only at the end of the file).
    std::size_t read_some(void* out, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
            const int got = gzread(f_, static_cast<unsigned char*>(out) + done, chunk);
            if (got < 0) {
                int code = 0;
                const char* why = gzerror(f_, &code);
                detail::fail(path_.string(), ": cannot read IDX data: ", why != nullptr ? why : "gzip error");
            }
            if (got == 0) break;
            done += std::size_t(got);
        }
        return done;
    }
    void read(void* out, std::size_t n, const char* what) {
        const std::size_t got = read_some(out, n);
        if (got != n) detail::fail(path_.string(), ": truncated IDX file (", what, ": expected ", n, " bytes, got ", got, ")");
    }
    /// Appends exactly `n` bytes to `into`, growing it only as data arrives.
    void read_into(std::vector<std::uint8_t>& into, std::size_t n, const char* what) {
        constexpr std::size_t chunk = std::size_t(16) << 20;
        const std::size_t before = into.size();
        for (std::size_t done = 0; done < n;) {
            const std::size_t want = std::min(chunk, n - done);
            into.resize(before + done + want);
            const std::size_t got = read_some(into.data() + before + done, want);
            done += got;
            if (got < want) {
                into.resize(before);
                detail::fail(path_.string(), ": truncated IDX file (", what, ": the header promises ", n, " bytes, the file holds ",
                             done, ")");
            }
        }
    }
    /// Fails when bytes remain after what the header described.
    void expect_end() {
        unsigned char extra;
        if (read_some(&extra, 1) != 0)
            detail::fail(path_.string(), ": the IDX file is longer than its header says (data after the last item)");
    }
    std::uint32_t u32(const char* what) {
        unsigned char b[4];
        read(b, 4, what);
        return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
    }

private:
    std::filesystem::path path_;
    gzFile f_;
};

}  // namespace detail_idx

/// Reads an IDX image file into `images` (appending); returns the number of images.
inline std::int64_t read_idx_images(const std::filesystem::path& path, memory_images& images) {
    detail_idx::gz_file f(path);
    const std::uint32_t magic = f.u32("magic");
    if (magic != 0x00000803) detail::fail(path.string(), ": not an IDX image file (magic 0x", std::hex, magic, ")");
    const std::int64_t n = f.u32("count"), rows = f.u32("rows"), cols = f.u32("columns");
    if (rows == 0 || cols == 0) detail::fail(path.string(), ": IDX images of ", rows, "x", cols, " pixels");
    if (rows > max_image_pixels / cols)  // rows·cols itself may overflow (both are up to 2^32)
        detail::fail(path.string(), ": IDX images of ", rows, "x", cols, " pixels exceed the ", max_image_pixels, "-pixel limit");
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(std::size_t(n), std::size_t(rows * cols), &bytes))
        detail::fail(path.string(), ": the IDX header's size ", n, "x", rows, "x", cols, " overflows 64 bits");
    if (images.width == 0) {
        images.width = cols;
        images.height = rows;
        images.channels = 1;
    } else if (images.width != cols || images.height != rows) {
        detail::fail(path.string(), ": images are ", rows, "x", cols, ", expected ", images.height, "x", images.width);
    }
    f.read_into(images.pixels, bytes, "pixels");
    f.expect_end();
    return n;
}

inline std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path) {
    detail_idx::gz_file f(path);
    const std::uint32_t magic = f.u32("magic");
    if (magic != 0x00000801) detail::fail(path.string(), ": not an IDX label file (magic 0x", std::hex, magic, ")");
    const std::uint32_t count = f.u32("count");
    std::vector<std::uint8_t> labels;
    f.read_into(labels, count, "labels");
    f.expect_end();
    return labels;
}

/// A dataset from the four IDX files in `root`: {train,t10k}-{images-idx3,labels-idx1}-ubyte,
/// each optionally with .gz. Classes are "0".."9" unless `classes` is given.
inline dataset read_idx_dataset(const std::filesystem::path& root, const std::string& format,
                                std::vector<std::string> classes = {}) {
    auto find = [&](const std::string& stem) {
        for (const auto& name : {stem, stem + ".gz"})
            if (std::filesystem::exists(root / name)) return root / name;
        detail::fail(format, ": missing ", (root / stem).string(), "[.gz]");
    };
    auto images = std::make_shared<memory_images>();
    dataset d;
    d.format = format;
    d.root = root;
    for (const auto& [prefix, out] : {std::pair{std::string("train"), &d.train}, std::pair{std::string("t10k"), &d.test}}) {
        const auto image_file = find(prefix + "-images-idx3-ubyte");
        const std::int64_t first = images->count();
        const std::int64_t n = read_idx_images(image_file, *images);
        const auto label_file = find(prefix + "-labels-idx1-ubyte");
        const auto labels = read_idx_labels(label_file);
        if (std::int64_t(labels.size()) != n)
            detail::fail(label_file.string(), ": ", labels.size(), " labels for ", n, " images in ", image_file.string());
        for (std::int64_t i = 0; i < n; ++i) out->push_back({{}, labels[std::size_t(i)], std::nullopt, first + i, 0});
    }
    d.memory = images;
    if (classes.empty())
        for (int c = 0; c < 10; ++c) classes.push_back(std::to_string(c));
    d.classes = std::move(classes);
    d.validate();
    return d;
}

}  // namespace smile::data::formats
