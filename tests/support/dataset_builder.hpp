#pragma once
/// @file
/// Miniature copies of the official dataset layouts, with real JPEG and PNG files, written into
/// a temporary directory by the tests.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <matio.h>
#include <cstring>
#include <vector>
#include <zlib.h>

#include <smile/data/codec.hpp>

namespace smile::test {

namespace fs = std::filesystem;

struct temp_tree {
    fs::path root;
    explicit temp_tree(const std::string& tag) {
        static int counter = 0;
        root = fs::temp_directory_path() / ("smile_data_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::create_directories(root);
    }
    ~temp_tree() { fs::remove_all(root); }
};

/// An image whose pixels encode (class, index), of the given size and channels.
inline data::image pattern_image(std::int64_t w, std::int64_t h, std::int64_t c, int cls, int index) {
    data::image img(w, h, c);
    for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
            for (std::int64_t k = 0; k < c; ++k)
                img.at(y, x, k) = static_cast<std::uint8_t>((cls * 40 + index * 7 + x * 3 + y * 5 + k * 60) % 256);
    return img;
}

inline void write_text(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

/// Writes a JPEG (or PNG when the name ends in .png) of a pattern image.
inline void write_image(const fs::path& p, std::int64_t w, std::int64_t h, std::int64_t c, int cls, int index) {
    const auto img = pattern_image(w, h, c, cls, index);
    write_text(p, p.extension() == ".png" ? data::encode_png(img) : data::encode_jpeg(img, 92));
}

/// Writes gzip-compressed bytes.
inline void write_gz(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
}

inline std::string big_endian(std::uint32_t v) {
    return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

/// An ImageFolder of 3 classes × 6 PNG images of 20×18 in train/ and test/ under `root`.
inline void write_small_image_folder(const fs::path& root) {
    for (const char* split : {"train", "test"})
        for (int cls = 0; cls < 3; ++cls)
            for (int i = 0; i < 6; ++i)
                write_image(root / split / ("class" + std::to_string(cls)) / ("img" + std::to_string(i) + ".png"), 20, 18, 3, cls, i);
}

/// MAT-file writer helpers (libmatio) for the Stanford Cars devkit.
class mat_writer {
public:
    /// `compressed`: each variable zlib-compressed, as MATLAB's default (-v7) save writes it.
    /// (Compressed here, after libmatio wrote the file: libmatio 1.5.23's own compressed writer
    /// overstates character arrays' byte counts and cannot read back such a struct.)
    explicit mat_writer(const fs::path& p, bool compressed = false)
        : path_(p), mat_(Mat_CreateVer(p.c_str(), nullptr, MAT_FT_MAT5)), compressed_(compressed) {}
    ~mat_writer() {
        Mat_Close(mat_);
        if (compressed_) compress_variables(path_);
    }
    mat_writer(const mat_writer&) = delete;
    mat_writer& operator=(const mat_writer&) = delete;

    static matvar_t* string(const std::string& s) {
        std::size_t dims[2] = {1, s.size()};
        return Mat_VarCreate(nullptr, MAT_C_CHAR, MAT_T_UINT8, 2, dims, const_cast<char*>(s.data()), 0);
    }
    static matvar_t* number(double v) {
        std::size_t dims[2] = {1, 1};
        return Mat_VarCreate(nullptr, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, &v, 0);
    }
    void write_cell(const char* name, const std::vector<std::string>& items) {
        std::size_t dims[2] = {1, items.size()};
        matvar_t* cell = Mat_VarCreate(name, MAT_C_CELL, MAT_T_CELL, 2, dims, nullptr, 0);
        for (std::size_t i = 0; i < items.size(); ++i) Mat_VarSetCell(cell, int(i), string(items[i]));
        Mat_VarWrite(mat_, cell, MAT_COMPRESSION_NONE);
        Mat_VarFree(cell);
    }
    struct car {
        int x1, y1, x2, y2, cls;
        std::string fname;
    };
    void write_annotations(const std::vector<car>& cars) {
        const char* fields[] = {"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"};
        std::size_t dims[2] = {1, cars.size()};
        matvar_t* s = Mat_VarCreateStruct("annotations", 2, dims, fields, 6);
        for (std::size_t i = 0; i < cars.size(); ++i) {
            const auto& c = cars[i];
            Mat_VarSetStructFieldByName(s, "bbox_x1", i, number(c.x1));
            Mat_VarSetStructFieldByName(s, "bbox_y1", i, number(c.y1));
            Mat_VarSetStructFieldByName(s, "bbox_x2", i, number(c.x2));
            Mat_VarSetStructFieldByName(s, "bbox_y2", i, number(c.y2));
            Mat_VarSetStructFieldByName(s, "class", i, number(c.cls));
            Mat_VarSetStructFieldByName(s, "fname", i, string(c.fname));
        }
        Mat_VarWrite(mat_, s, MAT_COMPRESSION_NONE);
        Mat_VarFree(s);
    }

    /// A numeric row vector (a variable a Cars file does not have; for structure tests).
    void write_row(const char* name, std::vector<double> values) {
        std::size_t dims[2] = {1, values.size()};
        matvar_t* v = Mat_VarCreate(name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, values.data(), 0);
        Mat_VarWrite(mat_, v, MAT_COMPRESSION_NONE);
        Mat_VarFree(v);
    }

    /// Replaces each top-level element of a level-5 MAT-file (after its 128-byte header) by a
    /// miCOMPRESSED element holding it, as MATLAB writes -v7 files.
    static void compress_variables(const fs::path& path) {
        std::ifstream in(path, std::ios::binary);
        const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), {});
        in.close();
        std::vector<unsigned char> out(bytes.begin(), bytes.begin() + 128);
        for (std::size_t at = 128; at + 8 <= bytes.size();) {
            std::uint32_t length = 0;
            std::memcpy(&length, bytes.data() + at + 4, 4);
            const std::size_t element = std::min(bytes.size() - at, 8 + (std::size_t(length) + 7) / 8 * 8);
            uLongf packed_size = compressBound(uLong(element));
            std::vector<unsigned char> packed(packed_size);
            compress2(packed.data(), &packed_size, bytes.data() + at, uLong(element), Z_BEST_COMPRESSION);
            const std::uint32_t tag[2] = {15, std::uint32_t(packed_size)};  // miCOMPRESSED
            out.insert(out.end(), reinterpret_cast<const unsigned char*>(tag), reinterpret_cast<const unsigned char*>(tag) + 8);
            out.insert(out.end(), packed.begin(), packed.begin() + std::ptrdiff_t(packed_size));
            at += element;
        }
        std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
    }

private:
    fs::path path_;
    mat_t* mat_;
    bool compressed_;
};

}  // namespace smile::test
