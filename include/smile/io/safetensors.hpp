#pragma once
/// @file
/// safetensors, the weight format of the Hugging Face hub and timm: an 8-byte little-endian
/// header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, optional
/// "__metadata__": {string: string}}, then the tensor bytes.
///
/// The reader maps the file read-only and validates everything before any tensor is read:
/// the header length against the file size, the JSON, each dtype and shape, and that the
/// offsets tile the data section exactly (in bounds, sized dtype·numel, no overlap, no hole),
/// so no read can go past the buffer. Every error names the file and, where there is one, the
/// tensor. Element counts and byte sizes are checked for overflow (a crafted shape cannot pass
/// as "0 elements"). F32, F64, F16 and BF16 tensors read as float32; integer tensors are accepted (as
/// PyTorch's `num_batches_tracked`) but cannot be read as floats.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <smile/core/error.hpp>
#include <smile/io/atomic_file.hpp>
#include <smile/io/foreign_format.hpp>
#include <smile/io/half.hpp>
#include <string>
#include <vector>

namespace smile::io {

/// Where one tensor lies in the data section.
struct safetensors_entry {
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::size_t begin = 0, end = 0;  ///< byte range in the data section
    [[nodiscard]] std::size_t numel() const {
        std::size_t n = 1;
        for (auto d : shape) n *= static_cast<std::size_t>(d);
        return n;
    }
    [[nodiscard]] bool is_floating() const {
        return dtype == "F32" || dtype == "F64" || dtype == "F16" || dtype == "BF16";
    }
};

/// Bytes per element of a safetensors dtype, 0 when unknown.
[[nodiscard]] inline std::size_t dtype_size(const std::string& dtype) {
    static const std::map<std::string, std::size_t> sizes{
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
        {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},  {"BOOL", 1}};
    const auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
}

class safetensors_reader {
public:
    explicit safetensors_reader(std::filesystem::path path) : path_(std::move(path)) {
        map_file();
        try {
            parse_header();
        } catch (...) {
            unmap();
            throw;
        }
    }
    safetensors_reader(const safetensors_reader&) = delete;
    safetensors_reader& operator=(const safetensors_reader&) = delete;
    ~safetensors_reader() { unmap(); }

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] const std::map<std::string, safetensors_entry>& entries() const noexcept { return entries_; }
    [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
    [[nodiscard]] bool contains(const std::string& name) const { return entries_.count(name) > 0; }

    [[nodiscard]] const safetensors_entry& entry(const std::string& name) const {
        const auto it = entries_.find(name);
        if (it == entries_.end()) detail::fail(path_.string(), ": no tensor named '", name, "'");
        return it->second;
    }

    /// The tensor's values as float32, converted from F32/F64/F16/BF16.
    [[nodiscard]] std::vector<float> read_floats(const std::string& name) const {
        const auto& e = entry(name);
        if (!e.is_floating())
            detail::fail(path_.string(), ": tensor '", name, "' has dtype ", e.dtype,
                         ", not a floating-point type");
        const std::byte* p = data_ + e.begin;
        std::vector<float> out(e.numel());
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (e.dtype == "F32") {
                std::memcpy(&out[i], p + 4 * i, 4);
            } else if (e.dtype == "F64") {
                double v;
                std::memcpy(&v, p + 8 * i, 8);
                out[i] = static_cast<float>(v);
            } else {
                std::uint16_t v;
                std::memcpy(&v, p + 2 * i, 2);
                out[i] = e.dtype == "F16" ? f16_to_float(v) : bf16_to_float(v);
            }
        }
        return out;
    }

    /// The tensor's values as 64-bit integers, converted from I64/I32/U8 (token ids, labels).
    [[nodiscard]] std::vector<std::int64_t> read_integers(const std::string& name) const {
        const auto& e = entry(name);
        if (e.dtype != "I64" && e.dtype != "I32" && e.dtype != "U8")
            detail::fail(path_.string(), ": tensor '", name, "' has dtype ", e.dtype,
                         ", not an integer type");
        const std::byte* p = data_ + e.begin;
        std::vector<std::int64_t> out(e.numel());
        for (std::size_t i = 0; i < out.size(); ++i) {
            if (e.dtype == "I64") {
                std::memcpy(&out[i], p + 8 * i, 8);
            } else if (e.dtype == "I32") {
                std::int32_t v;
                std::memcpy(&v, p + 4 * i, 4);
                out[i] = v;
            } else {
                out[i] = static_cast<std::int64_t>(static_cast<std::uint8_t>(p[i]));
            }
        }
        return out;
    }

private:
    void map_file() {
        fd_ = ::open(path_.c_str(), O_RDONLY);
        if (fd_ < 0) detail::fail("cannot open ", path_.string(), ": ", std::strerror(errno));
        struct stat st{};
        if (::fstat(fd_, &st) != 0) {
            ::close(fd_);
            detail::fail("cannot stat ", path_.string(), ": ", std::strerror(errno));
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ < 8) {
            ::close(fd_);
            detail::fail(path_.string(), ": not a safetensors file (", size_, " bytes, shorter than the 8-byte header length)");
        }
        void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
        if (m == MAP_FAILED) {
            ::close(fd_);
            detail::fail("cannot map ", path_.string(), ": ", std::strerror(errno));
        }
        bytes_ = static_cast<const std::byte*>(m);
    }

    void unmap() noexcept {
        if (bytes_ != nullptr) ::munmap(const_cast<std::byte*>(bytes_), size_);
        if (fd_ >= 0) ::close(fd_);
        bytes_ = nullptr;
        fd_ = -1;
    }

    void parse_header() {
        std::uint64_t header_size = 0;
        for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | std::to_integer<std::uint64_t>(bytes_[i]);
        // A file of another format (a PyTorch checkpoint, most often) is named as such where
        // its first bytes make no safetensors header; only there, so a valid file never is.
        auto refuse_foreign = [&] {
            if (auto what =
                    foreign_format({bytes_, std::min<std::size_t>(size_, 64)}, path_.string()))
                detail::fail(path_.string(), ": ", *what);
        };
        if (header_size > size_ - 8) {
            refuse_foreign();
            detail::fail(path_.string(), ": header length ", header_size, " exceeds the file size ", size_,
                         " (truncated or not a safetensors file)");
        }
        if (header_size > (std::uint64_t{100} << 20)) {
            refuse_foreign();
            detail::fail(path_.string(), ": header length ", header_size, " exceeds the 100 MB limit");
        }
        const char* text = reinterpret_cast<const char*>(bytes_ + 8);
        nlohmann::json header;
        try {
            header = nlohmann::json::parse(text, text + header_size);
        } catch (const nlohmann::json::exception& e) {
            refuse_foreign();
            detail::fail(path_.string(), ": the header is not valid JSON: ", e.what());
        }
        if (!header.is_object()) detail::fail(path_.string(), ": the header is not a JSON object");
        data_ = bytes_ + 8 + header_size;
        const std::size_t data_size = size_ - 8 - static_cast<std::size_t>(header_size);
        for (const auto& [name, value] : header.items()) {
            if (name == "__metadata__") {
                if (!value.is_object()) detail::fail(path_.string(), ": __metadata__ is not an object");
                for (const auto& [k, v] : value.items()) {
                    if (!v.is_string()) detail::fail(path_.string(), ": __metadata__ value '", k, "' is not a string");
                    metadata_[k] = v.get<std::string>();
                }
                continue;
            }
            entries_[name] = parse_entry(name, value, data_size);
        }
        check_tiling(data_size);
    }

    safetensors_entry parse_entry(const std::string& name, const nlohmann::json& v, std::size_t data_size) const {
        auto bad = [&](const std::string& why) {
            detail::fail(path_.string(), ": tensor '", name, "': ", why);
        };
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            bad("needs dtype, shape and data_offsets");
        safetensors_entry e;
        if (!v["dtype"].is_string()) bad("dtype is not a string");
        e.dtype = v["dtype"].get<std::string>();
        const std::size_t width = dtype_size(e.dtype);
        if (width == 0) bad("unknown dtype " + e.dtype);
        if (!v["shape"].is_array()) bad("shape is not an array");
        if (v["shape"].size() > 32) bad("shape has more than 32 dimensions");
        for (const auto& d : v["shape"]) {
            if (!d.is_number_integer() || d.get<std::int64_t>() < 0) bad("shape has a non-integer or negative dimension");
            e.shape.push_back(d.get<std::int64_t>());
        }
        std::size_t numel = 1, bytes = 0;
        for (auto d : e.shape)
            if (__builtin_mul_overflow(numel, static_cast<std::size_t>(d), &numel))
                bad("shape " + shape_text(e.shape) + " has more elements than fit in 64 bits");
        if (__builtin_mul_overflow(numel, width, &bytes))
            bad("shape " + shape_text(e.shape) + " of " + e.dtype + " needs more bytes than fit in 64 bits");
        const auto& off = v["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            bad("data_offsets must be two non-negative integers");
        e.begin = off[0].get<std::size_t>();
        e.end = off[1].get<std::size_t>();
        if (e.begin > e.end || e.end > data_size)
            bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] fall outside the " + std::to_string(data_size) + "-byte data section");
        if (e.end - e.begin != bytes)
            bad("data_offsets span " + std::to_string(e.end - e.begin) + " bytes but " + e.dtype + " of " +
                std::to_string(numel) + " elements needs " + std::to_string(bytes));
        return e;
    }

    static std::string shape_text(const std::vector<std::int64_t>& shape) {
        std::string s;
        for (auto d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
        return "[" + s + "]";
    }

    void check_tiling(std::size_t data_size) const {
        std::vector<std::pair<std::size_t, std::string>> starts;
        for (const auto& [name, e] : entries_)
            if (e.end > e.begin) starts.emplace_back(e.begin, name);
        std::sort(starts.begin(), starts.end());
        std::size_t at = 0;
        for (const auto& [begin, name] : starts) {
            if (begin < at) detail::fail(path_.string(), ": tensor '", name, "' overlaps the tensor before it");
            if (begin > at) detail::fail(path_.string(), ": ", begin - at, " unused bytes before tensor '", name, "'");
            at = entries_.at(name).end;
        }
        if (at != data_size)
            detail::fail(path_.string(), ": ", data_size - at, " bytes at the end of the file belong to no tensor");
    }

    std::filesystem::path path_;
    int fd_ = -1;
    std::size_t size_ = 0;
    const std::byte* bytes_ = nullptr;
    const std::byte* data_ = nullptr;
    std::map<std::string, safetensors_entry> entries_;
    std::map<std::string, std::string> metadata_;
};

/// One tensor to write: float32 values, or a single int64 (PyTorch's num_batches_tracked).
struct safetensors_record {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> values;     ///< F32 data (numel = product of shape)
    bool int64_scalar = false;     ///< write one I64 zero-dimensional value instead
    std::int64_t int64_value = 0;
};

/// Writes a safetensors file atomically (see atomic_file.hpp).
inline void write_safetensors(const std::filesystem::path& path, const std::vector<safetensors_record>& records,
                              const std::map<std::string, std::string>& metadata = {}) {
    nlohmann::json header = nlohmann::json::object();
    std::size_t offset = 0;
    for (const auto& r : records) {
        std::size_t numel = 1;
        for (auto d : r.shape) numel *= static_cast<std::size_t>(d);
        const std::size_t bytes = r.int64_scalar ? 8 : r.values.size() * 4;
        if (!r.int64_scalar && r.values.size() != numel)
            detail::fail("write_safetensors ", path.string(), ": tensor '", r.name, "' has ", r.values.size(),
                         " values for ", numel, " elements");
        if (header.contains(r.name)) detail::fail("write_safetensors ", path.string(), ": duplicate tensor '", r.name, "'");
        header[r.name] = {{"dtype", r.int64_scalar ? "I64" : "F32"},
                          {"shape", r.shape},
                          {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data section 8-byte aligned
    write_file_atomically(path, [&](byte_sink& sink) {
        unsigned char length[8];
        std::uint64_t n = text.size();
        for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(n >> (8 * i));
        sink.write(length, 8);
        sink.write(text.data(), text.size());
        for (const auto& r : records) {
            if (r.int64_scalar) {
                sink.write(&r.int64_value, 8);
            } else {
                sink.write(r.values.data(), r.values.size() * 4);
            }
        }
    });
}

}  // namespace smile::io
