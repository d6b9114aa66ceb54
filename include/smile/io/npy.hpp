#pragma once
/// @file
/// NumPy .npy files (format versions 1.0, 2.0 and 3.0), float32 or float64, any rank, C or
/// Fortran order, read as float32 in C order; written as float32 through xtensor.
///
/// The header is parsed here rather than by xtensor's `load_npy`, because that reader trusts
/// it: a crafted shape whose element count overflows made it read out of bounds (a crash in
/// `smile predict`), and a huge one made it allocate before reading. Here the header is a
/// bounded dictionary literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`,
/// every dimension is checked, the element count and byte size are checked for overflow, and
/// the data length must equal what the header promises, all before anything is allocated.
/// Every error names the file.

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <smile/core/error.hpp>
#include <smile/io/atomic_file.hpp>
#include <smile/io/xtensor_compat.hpp>

namespace smile::io {

/// An array read from or written to a .npy file, C order.
struct host_array {
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};

/// What a .npy header says.
struct npy_header {
    std::string descr;                 ///< '<f4' or '<f8' (others are refused by read_npy)
    bool fortran_order = false;
    std::vector<std::int64_t> shape;
    std::size_t data_offset = 0;       ///< where the data begins
    std::size_t element_size = 0;
    std::size_t elements = 0;          ///< product of shape, checked for overflow
};

namespace detail_npy {

/// A small cursor over the header's dictionary literal; every failure names the file.
class header_cursor {
public:
    header_cursor(std::string_view text, const std::string& file) : text_(text), file_(file) {}

    void skip_space() {
        while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n')) ++at_;
    }
    bool consume(char c) {
        skip_space();
        if (at_ < text_.size() && text_[at_] == c) {
            ++at_;
            return true;
        }
        return false;
    }
    void expect(char c, const char* where) {
        if (!consume(c)) fail("expected '", c, "' ", where);
    }
    std::string quoted() {
        skip_space();
        if (at_ >= text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) fail("expected a quoted string");
        const char quote = text_[at_++];
        const auto end = text_.find(quote, at_);
        if (end == std::string_view::npos) fail("unterminated string");
        std::string out(text_.substr(at_, end - at_));
        at_ = end + 1;
        return out;
    }
    bool boolean() {
        skip_space();
        for (auto [word, value] : {std::pair{std::string_view("True"), true}, std::pair{std::string_view("False"), false}})
            if (text_.substr(at_, word.size()) == word) {
                at_ += word.size();
                return value;
            }
        fail("expected True or False");
    }
    std::int64_t dimension() {
        skip_space();
        std::int64_t v = 0;
        std::size_t digits = 0;
        while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
            const int d = text_[at_++] - '0';
            if (v > (std::numeric_limits<std::int64_t>::max() - d) / 10) fail("a dimension of the shape overflows 64 bits");
            v = v * 10 + d;
            ++digits;
        }
        if (digits == 0) fail("a dimension of the shape is not a non-negative integer");
        if (at_ < text_.size() && text_[at_] == 'L') ++at_;  // Python 2 long literals
        return v;
    }
    template <class... Pieces>
    [[noreturn]] void fail(Pieces&&... pieces) const {
        smile::detail::fail(file_, ": bad .npy header: ", std::forward<Pieces>(pieces)..., " at character ", at_,
                            " of \"", std::string(text_.substr(0, 120)), "\"");
    }

private:
    std::string_view text_;
    const std::string& file_;
    std::size_t at_ = 0;
};

}  // namespace detail_npy

/// Parses and validates the header of .npy `bytes` (the whole file), naming `file` in errors:
/// magic, version, header length, the dictionary, and that exactly elements·element_size data
/// bytes follow. Nothing is allocated from the header's numbers.
[[nodiscard]] inline npy_header parse_npy_header(std::string_view bytes, const std::string& file) {
    if (bytes.size() < 10 || bytes.substr(0, 6) != std::string_view("\x93NUMPY", 6))
        smile::detail::fail(file, ": not a .npy file (bad magic bytes)");
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(bytes[i]); };
    const int major = byte(6);
    std::size_t header_length = 0, prefix = 0;
    if (major == 1) {
        header_length = std::size_t(byte(8)) | (std::size_t(byte(9)) << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) smile::detail::fail(file, ": truncated .npy header");
        header_length = std::size_t(byte(8)) | (std::size_t(byte(9)) << 8) | (std::size_t(byte(10)) << 16) |
                        (std::size_t(byte(11)) << 24);
        prefix = 12;
    } else {
        smile::detail::fail(file, ": unsupported .npy format version ", major, " (expected 1, 2 or 3)");
    }
    if (header_length > bytes.size() - prefix)
        smile::detail::fail(file, ": truncated .npy file (header length ", header_length, " exceeds the ",
                            bytes.size() - prefix, " bytes that follow)");
    npy_header h;
    h.data_offset = prefix + header_length;
    detail_npy::header_cursor c(bytes.substr(prefix, header_length), file);
    c.expect('{', "at the start of the header");
    bool have_descr = false, have_order = false, have_shape = false;
    while (!c.consume('}')) {
        const std::string key = c.quoted();
        c.expect(':', "after a key");
        if (key == "descr") {
            h.descr = c.quoted();
            have_descr = true;
        } else if (key == "fortran_order") {
            h.fortran_order = c.boolean();
            have_order = true;
        } else if (key == "shape") {
            c.expect('(', "at the start of the shape");
            while (!c.consume(')')) {
                h.shape.push_back(c.dimension());
                if (h.shape.size() > 32) c.fail("more than 32 dimensions");
                if (!c.consume(',')) {
                    c.expect(')', "after a dimension");
                    break;
                }
            }
            have_shape = true;
        } else {
            c.fail("unknown key '", key, "'");
        }
        if (!c.consume(',')) {
            c.expect('}', "after a value");
            break;
        }
    }
    if (!have_descr || !have_order || !have_shape) c.fail("needs descr, fortran_order and shape");
    if (h.descr == "<f4" || h.descr == "=f4") {
        h.element_size = 4;
    } else if (h.descr == "<f8" || h.descr == "=f8") {
        h.element_size = 8;
    } else {
        smile::detail::fail(file, ": unsupported .npy dtype '", h.descr,
                            "' (expected little-endian float32 '<f4' or float64 '<f8')");
    }
    h.elements = 1;
    for (auto d : h.shape)
        if (__builtin_mul_overflow(h.elements, static_cast<std::size_t>(d), &h.elements))
            smile::detail::fail(file, ": the .npy shape ", [&] {
                std::string s;
                for (auto x : h.shape) s += (s.empty() ? "" : ", ") + std::to_string(x);
                return "(" + s + ")";
            }(), " has more elements than fit in 64 bits");
    std::size_t data_bytes = 0;
    if (__builtin_mul_overflow(h.elements, h.element_size, &data_bytes))
        smile::detail::fail(file, ": the .npy data size overflows 64 bits (", h.elements, " elements)");
    const std::size_t present = bytes.size() - h.data_offset;
    if (present < data_bytes)
        smile::detail::fail(file, ": truncated .npy file (the data is shorter than its header says: ", present,
                            " bytes for ", h.elements, " elements of ", h.element_size, " bytes)");
    if (present > data_bytes)
        smile::detail::fail(file, ": ", present - data_bytes, " bytes after the data that its header describes");
    return h;
}

/// Decodes .npy `bytes` (validated by parse_npy_header) into float32 in C order.
[[nodiscard]] inline host_array decode_npy(std::string_view bytes, const std::string& file) {
    const npy_header h = parse_npy_header(bytes, file);
    host_array out;
    out.shape = h.shape;
    out.values.resize(h.elements);
    const char* data = bytes.data() + h.data_offset;
    for (std::size_t i = 0; i < h.elements; ++i) {
        if (h.element_size == 4) {
            std::memcpy(&out.values[i], data + 4 * i, 4);
        } else {
            double v;
            std::memcpy(&v, data + 8 * i, 8);
            out.values[i] = static_cast<float>(v);
        }
    }
    if (h.fortran_order && h.shape.size() > 1 && h.elements > 0) {
        // Column-major storage to row-major: element (i_0, ..., i_{r-1}) is at Σ i_k·Π_{j<k} d_j
        // in the file; walk the row-major order with a running multi-index.
        const std::size_t rank = h.shape.size();
        std::vector<std::size_t> stride(rank, 1), index(rank, 0);
        for (std::size_t k = 1; k < rank; ++k) stride[k] = stride[k - 1] * std::size_t(h.shape[k - 1]);
        std::vector<float> c_order(h.elements);
        std::size_t at = 0;  // column-major offset of `index`
        for (std::size_t i = 0; i < h.elements; ++i) {
            c_order[i] = out.values[at];
            for (std::size_t k = rank; k-- > 0;) {  // increment the last index first (row-major)
                if (++index[k] < std::size_t(h.shape[k])) {
                    at += stride[k];
                    break;
                }
                at -= stride[k] * (index[k] - 1);
                index[k] = 0;
            }
        }
        out.values = std::move(c_order);
    }
    return out;
}

/// Reads a float32 or float64 .npy file (any rank, C or Fortran order) as float32 in C order.
inline host_array read_npy(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) smile::detail::fail("cannot open ", path.string(), ": ", std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    const std::string bytes = content.str();
    return decode_npy(bytes, path.string());
}

/// The shape a .npy file declares, validated against its size, without converting the data.
inline std::vector<std::int64_t> read_npy_shape(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) smile::detail::fail("cannot open ", path.string(), ": ", std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    return parse_npy_header(content.str(), path.string()).shape;
}

/// Writes a float32 .npy file atomically.
inline void write_npy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                      const std::vector<float>& values) {
    std::vector<std::size_t> dims(shape.begin(), shape.end());
    const auto array = xt::adapt(values.data(), values.size(), xt::no_ownership(), dims);
    write_file_atomically(path, xt::dump_npy(array));
}

}  // namespace smile::io
