#pragma once
/// @file
/// A structural check of a MAT-file (level 5, "MATLAB 5.0 MAT-file", the format of the Stanford
/// Cars devkit) before libmatio reads it.
///
/// libmatio allocates what a variable's header claims: a cell or struct array's dimensions, a
/// sparse array's nzmax, a compressed variable's inflated content. A crafted file of a few
/// hundred bytes made it allocate more than 2 GB (found by fuzz_cars_mat). This walk reads the
/// same structure without allocating by any claim, and refuses a file in which a claim is not
/// backed by bytes actually present:
/// - every element's byte count lies within its container;
/// - a cell or struct array's elements (elements × fields for a struct) are each a tagged
///   sub-element, so there are at most (bytes left) / 8 of them;
/// - a numeric or character array has at most as many elements as bytes in its data;
/// - numbers and text are of a numeric or text data type, in whole values (libmatio reads an
///   element of another type by a size of its own reckoning);
/// - sparse arrays and objects (not in a Cars file) are refused, and so is anything at the top
///   level but non-empty variables (compressed or not);
/// - compressed variables inflate to at most `mat_limits::max_inflated` bytes in total, and
///   nesting is at most `mat_limits::max_depth` deep.
/// Then every allocation libmatio makes is proportional to the bytes of the (inflated) file.
/// Level 4 and 7.3 (HDF5) files are refused with a message naming the format.

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <smile/core/error.hpp>
#include <span>
#include <string>
#include <vector>

namespace smile::data::formats::detail_mat {

struct mat_limits {
    std::size_t max_file = std::size_t(256) << 20;      ///< bytes of the file
    std::size_t max_inflated = std::size_t(256) << 20;  ///< compressed variables, inflated, in total
    int max_depth = 16;                                 ///< cells and structs within each other
};

// Data types and array classes of the level-5 format (MATLAB's "MAT-File Format", table 1-1, 1-3).
inline constexpr std::uint32_t mi_int8 = 1, mi_int32 = 5, mi_uint32 = 6, mi_matrix = 14,
                               mi_compressed = 15;
inline constexpr std::uint32_t mx_cell = 1, mx_struct = 2, mx_char = 4, mx_sparse = 5,
                               mx_uint64 = 15;

class mat_structure_check {
public:
    mat_structure_check(std::filesystem::path path, mat_limits limits)
        : path_(std::move(path)), limits_(limits) {}

    void run() {
        const std::vector<std::uint8_t> file = read_file();
        if (file.size() < 128) fail_at(0, "shorter than the 128-byte MAT-file header");
        if (file[0] == 0 || std::memcmp(file.data(), "MATLAB", 6) != 0)
            fail_at(0, "not a MAT-file of level 5 (no \"MATLAB\" header text; level 4 files are not read)");
        if (file[126] == 'I' && file[127] == 'M')
            swap_ = false;
        else if (file[126] == 'M' && file[127] == 'I')
            swap_ = true;
        else
            fail_at(126, "the header's endian indicator is neither IM nor MI");
        const std::uint16_t version = std::uint16_t(swap_ ? (file[124] << 8) | file[125] : (file[125] << 8) | file[124]);
        if (version == 0x0200)
            fail_at(124, "a MAT-file of version 7.3 (HDF5); save it with -v7 (MATLAB) or scipy.io.savemat");
        if (version != 0x0100) fail_at(124, "unknown MAT-file version " + std::to_string(version));
        elements(std::span<const std::uint8_t>(file).subspan(128), 128, 0, true);
    }

private:
    struct element {
        std::uint32_t type = 0;
        std::span<const std::uint8_t> data;
        std::size_t offset = 0;  ///< of the data, in the file or in the inflated variable
    };

    std::filesystem::path path_;
    mat_limits limits_;
    bool swap_ = false;
    std::size_t inflated_ = 0;
    bool in_compressed_ = false;

    [[noreturn]] void fail_at(std::size_t offset, const std::string& what) const {
        detail::fail(path_.string(), in_compressed_ ? ": compressed variable, byte " : ": byte ", offset, ": ", what);
    }

    std::vector<std::uint8_t> read_file() const {
        std::ifstream in(path_, std::ios::binary);
        if (!in) detail::fail("cannot open ", path_.string());
        in.seekg(0, std::ios::end);
        const auto size = static_cast<std::uint64_t>(in.tellg());
        if (size > limits_.max_file)
            detail::fail(path_.string(), ": ", size, " bytes, more than the ", limits_.max_file,
                         " a Cars devkit file may have");
        in.seekg(0);
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
        if (!in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size())))
            detail::fail("cannot read ", path_.string());
        return bytes;
    }

    [[nodiscard]] std::uint32_t u32(const std::uint8_t* p) const {
        std::uint32_t v = 0;
        std::memcpy(&v, p, 4);
        return swap_ ? __builtin_bswap32(v) : v;
    }

    /// The next tagged element of `rest` (which begins at `offset`), advancing both past it and
    /// its padding to 8 bytes. The small format (byte count in the type word's upper half, data
    /// in the tag's second word) is understood.
    element next(std::span<const std::uint8_t>& rest, std::size_t& offset, bool padded = true) const {
        if (rest.size() < 8) fail_at(offset, "a truncated element tag");
        const std::uint32_t word = u32(rest.data());
        element e;
        e.offset = offset + 4;
        if ((word >> 16) != 0) {  // small data element: at most 4 bytes of data in the tag
            const std::size_t bytes = word >> 16;
            if (bytes > 4) fail_at(offset, "a small element of " + std::to_string(bytes) + " bytes (at most 4)");
            e.type = word & 0xffff;
            e.data = rest.subspan(4, bytes);
            rest = rest.subspan(8);
            offset += 8;
            return e;
        }
        e.type = word;
        const std::size_t bytes = u32(rest.data() + 4);
        e.offset = offset + 8;
        if (bytes > rest.size() - 8)
            fail_at(offset, "an element claims " + std::to_string(bytes) + " bytes where " +
                                std::to_string(rest.size() - 8) + " remain");
        e.data = rest.subspan(8, bytes);
        std::size_t step = 8 + bytes;
        if (padded) step = std::min(rest.size(), (step + 7) / 8 * 8);
        rest = rest.subspan(step);
        offset += step;
        return e;
    }

    /// The bytes of one value of data type `type`, or 0 for a type that is not numeric or text.
    static std::size_t value_size(std::uint32_t type) {
        switch (type) {
            case 1:
            case 2:
            case 16:
                return 1;  // int8, uint8, utf8
            case 3:
            case 4:
            case 17:
                return 2;  // int16, uint16, utf16
            case 5:
            case 6:
            case 7:
            case 18:
                return 4;  // int32, uint32, single, utf32
            case 9:
            case 12:
            case 13:
                return 8;  // double, int64, uint64
            default:
                return 0;
        }
    }

    /// The next element, which must hold numbers or text (libmatio reads an element of another
    /// type by a size of its own reckoning) in a whole number of values.
    element data_element(std::span<const std::uint8_t>& rest, std::size_t& offset) const {
        const element e = next(rest, offset);
        const std::size_t size = value_size(e.type);
        if (size == 0)
            fail_at(e.offset,
                    "data of type " + std::to_string(e.type) + " where numbers or text belong");
        if (e.data.size() % size != 0)
            fail_at(e.offset, std::to_string(e.data.size()) +
                                  " bytes of data is not a whole number of " +
                                  std::to_string(size) + "-byte values");
        return e;
    }

    /// A file's (or a compressed variable's) sequence of elements.
    void elements(std::span<const std::uint8_t> rest, std::size_t offset, int depth, bool top) {
        while (!rest.empty()) {
            if (!top) {  // inside a compressed variable: arrays end where their content does
                std::size_t used = tagged_array(rest, offset, depth, "compressed variable");
                rest = rest.subspan(used);
                offset += used;
                continue;
            }
            // Compressed elements are not padded; MATLAB writes nothing after them but the next.
            const bool compressed = rest.size() >= 8 && u32(rest.data()) == mi_compressed;
            const std::size_t tag_at = offset;
            const element e = next(rest, offset, !compressed);
            if (e.type == mi_compressed) {
                if (in_compressed_) fail_at(e.offset, "a compressed element inside another");
                const std::vector<std::uint8_t> inflated = inflate_variable(e);
                in_compressed_ = true;
                elements(inflated, 0, depth, false);
                in_compressed_ = false;
            } else if (e.type == mi_matrix && !e.data.empty()) {
                (void)matrix(e.data, e.offset, e.data.size(), depth);
            } else {
                // libmatio reads an empty variable's tag and then the bytes after it as the
                // variable (a crafted file made it calloc 67 GB, found by fuzz_cars_mat), so
                // nothing but non-empty variables may stand at the top level.
                fail_at(tag_at, e.type == mi_matrix
                                    ? std::string("an empty variable")
                                    : "a top-level element of type " + std::to_string(e.type) +
                                          ", not a variable");
            }
        }
    }

    /// A compressed variable's content, inflated within the file's budget.
    std::vector<std::uint8_t> inflate_variable(const element& e) {
        z_stream z{};
        if (inflateInit(&z) != Z_OK) detail::fail(path_.string(), ": zlib cannot start");
        z.next_in = const_cast<Bytef*>(e.data.data());
        z.avail_in = static_cast<uInt>(e.data.size());
        std::vector<std::uint8_t> out;
        int status = Z_OK;
        while (status == Z_OK) {
            const std::size_t have = out.size();
            if (inflated_ + have >= limits_.max_inflated) break;
            const std::size_t chunk =
                std::min<std::size_t>(std::size_t(1) << 20, limits_.max_inflated - inflated_ - have);
            out.resize(have + chunk);
            z.next_out = out.data() + have;
            z.avail_out = static_cast<uInt>(chunk);
            status = inflate(&z, Z_NO_FLUSH);
            out.resize(have + (chunk - z.avail_out));
        }
        const std::string message = z.msg != nullptr ? z.msg : "the stream ends early";
        inflateEnd(&z);
        if (status != Z_STREAM_END) {
            if (inflated_ + out.size() >= limits_.max_inflated)
                fail_at(e.offset, "compressed variables inflate to more than " +
                                      std::to_string(limits_.max_inflated) + " bytes");
            fail_at(e.offset, "a compressed variable that does not inflate (zlib: " + message + ")");
        }
        inflated_ += out.size();
        return out;
    }

    /// A tagged array at the start of `rest` (the bytes to its container's end); returns the
    /// bytes it takes, tag included. In an uncompressed file that is its tag's byte count,
    /// checked against the container. In a compressed variable it is what its content takes:
    /// libmatio's writer (1.5.23) overstates compressed arrays' byte counts (a character array's
    /// by its UTF-16 size) and its reader follows the content, so this walk does too.
    std::size_t tagged_array(std::span<const std::uint8_t> rest, std::size_t offset, int depth, const char* what) {
        if (!in_compressed_) {
            std::span<const std::uint8_t> after = rest;
            std::size_t at = offset;
            const element e = next(after, at);
            if (e.type != mi_matrix) fail_at(e.offset, std::string("a ") + what + " element that is not an array");
            (void)matrix(e.data, e.offset, e.data.size(), depth);
            return rest.size() - after.size();
        }
        if (rest.size() < 8) fail_at(offset, "a truncated array tag");
        if (u32(rest.data()) != mi_matrix) fail_at(offset, std::string("a ") + what + " element that is not an array");
        const std::size_t claimed = u32(rest.data() + 4);
        return 8 + matrix(rest.subspan(8), offset + 8, claimed, depth);
    }

    /// An array's content (miMATRIX: flags, dimensions, name, then what its class holds) at the
    /// start of `body`; `claimed` is its tag's byte count (0: an empty array, as MATLAB writes []
    /// in a cell). Returns the bytes the content takes.
    std::size_t matrix(std::span<const std::uint8_t> body, std::size_t offset, std::size_t claimed, int depth) {
        if (depth > limits_.max_depth)
            fail_at(offset, "cells and structs nested more than " + std::to_string(limits_.max_depth) + " deep");
        if (claimed == 0) return 0;
        std::span<const std::uint8_t> rest = body;
        const element flags = next(rest, offset);
        if (flags.type != mi_uint32 || flags.data.size() != 8) fail_at(flags.offset, "array flags are not 2 × uint32");
        const std::uint32_t flag_word = u32(flags.data.data());
        const std::uint32_t array_class = flag_word & 0xff;
        const bool complex = (flag_word & 0x800) != 0;
        const element dims = next(rest, offset);
        if (dims.type != mi_int32 || dims.data.size() < 8 || dims.data.size() % 4 != 0)
            fail_at(dims.offset, "array dimensions are not 2 or more int32");
        std::uint64_t count = 1;
        for (std::size_t k = 0; k < dims.data.size(); k += 4) {
            const auto d = static_cast<std::int32_t>(u32(dims.data.data() + k));
            if (d < 0) fail_at(dims.offset, "a negative dimension");
            if (__builtin_mul_overflow(count, std::uint64_t(d), &count)) fail_at(dims.offset, "dimensions overflow");
        }
        const element name = next(rest, offset);
        if (name.type != mi_int8) fail_at(name.offset, "an array name that is not int8 text");
        switch (array_class) {
        case mx_cell:
            sub_arrays(rest, offset, count, depth, "cell");
            break;
        case mx_struct: {
            const element length = next(rest, offset);
            if (length.type != mi_int32 || length.data.size() != 4)
                fail_at(length.offset, "a struct's field name length is not one int32");
            const std::uint32_t l = u32(length.data.data());
            const element names = next(rest, offset);
            if (l == 0 && !names.data.empty()) fail_at(names.offset, "field names of length 0");
            const std::uint64_t fields = l == 0 ? 0 : names.data.size() / l;
            std::uint64_t total = 0;
            if (__builtin_mul_overflow(count, fields, &total)) fail_at(dims.offset, "elements × fields overflow");
            sub_arrays(rest, offset, total, depth, "struct");
            break;
        }
        default: {
            // Sparse arrays and objects are not part of a Cars devkit file, and libmatio reads
            // a sparse array's parts by its own reckoning of their types (a crafted one made it
            // allocate 2.5 GB, found by fuzz_cars_mat): refused.
            if (array_class < mx_char || array_class > mx_uint64 || array_class == mx_sparse)
                fail_at(flags.offset, "array class " + std::to_string(array_class) + " (not numeric, text, cell or struct)");
            // Each stored value takes at least one byte of the real (and imaginary) part's data.
            for (int part = 0; part < (complex ? 2 : 1); ++part) {
                if (rest.empty() && count == 0) break;
                const element values = data_element(rest, offset);
                if (count > values.data.size())
                    fail_at(dims.offset, "dimensions claim " + std::to_string(count) + " values where the data holds " +
                                             std::to_string(values.data.size()) + " bytes");
            }
        }
        }
        return body.size() - rest.size();
    }

    /// `count` tagged arrays at the start of `rest`, advancing past them.
    void sub_arrays(std::span<const std::uint8_t>& rest, std::size_t& offset, std::uint64_t count, int depth,
                    const char* what) {
        if (count > rest.size() / 8)
            fail_at(offset, std::string("a ") + what + " array claims " + std::to_string(count) + " elements where " +
                                std::to_string(rest.size()) + " bytes remain");
        for (std::uint64_t k = 0; k < count; ++k) {
            const std::size_t used = tagged_array(rest, offset, depth + 1, what);
            rest = rest.subspan(used);
            offset += used;
        }
    }
};

/// Throws naming the file and the byte when `path` is not a level-5 MAT-file whose every size
/// claim is backed by its bytes (see the file comment).
inline void check_mat_structure(const std::filesystem::path& path, const mat_limits& limits = {}) {
    mat_structure_check(path, limits).run();
}

}  // namespace smile::data::formats::detail_mat
