#pragma once
/// @file
/// NumPy .npy files through xtensor's reader and writer, with checks xtensor leaves out
/// (a truncated file, a dtype other than float32/float64) reported with the file's name.

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
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

namespace detail_npy {
template <class T>
host_array read_as(const std::string& bytes, const std::filesystem::path& path) {
    std::istringstream stream(bytes);
    auto array = xt::load_npy<T>(stream);
    if (!stream) smile::detail::fail(path.string(), ": truncated .npy file (the data is shorter than its header says)");
    const xt::xarray<T, xt::layout_type::row_major> c_order = array;
    host_array out;
    for (auto d : c_order.shape()) out.shape.push_back(static_cast<std::int64_t>(d));
    out.values.assign(c_order.begin(), c_order.end());
    return out;
}
}  // namespace detail_npy

/// Reads a float32 or float64 .npy file (any rank, C or Fortran order) as float32 in C order.
inline host_array read_npy(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) smile::detail::fail("cannot open ", path.string(), ": ", std::strerror(errno));
    std::ostringstream content;
    content << in.rdbuf();
    const std::string bytes = content.str();
    // The dtype is in the header: '<f4' float32, '<f8' float64.
    const std::size_t header_end = std::min<std::size_t>(bytes.size(), 512);
    const std::string header = bytes.substr(0, header_end);
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
        smile::detail::fail(path.string(), ": not a .npy file (bad magic bytes)");
    try {
        if (header.find("'<f4'") != std::string::npos) return detail_npy::read_as<float>(bytes, path);
        if (header.find("'<f8'") != std::string::npos) return detail_npy::read_as<double>(bytes, path);
    } catch (const smile::error&) {
        throw;
    } catch (const std::exception& e) {
        smile::detail::fail(path.string(), ": cannot read .npy: ", e.what());
    }
    smile::detail::fail(path.string(), ": unsupported .npy dtype (expected little-endian float32 '<f4' or float64 '<f8')");
}

/// Writes a float32 .npy file atomically.
inline void write_npy(const std::filesystem::path& path, const std::vector<std::int64_t>& shape,
                      const std::vector<float>& values) {
    std::vector<std::size_t> dims(shape.begin(), shape.end());
    const auto array = xt::adapt(values.data(), values.size(), xt::no_ownership(), dims);
    write_file_atomically(path, xt::dump_npy(array));
}

}  // namespace smile::io
