#pragma once
/// @file
/// Files of other formats recognised by their first bytes, so that a PyTorch checkpoint (or a
/// Keras HDF5 file, a NumPy array, a gzip file) given where smile reads safetensors is named as
/// what it is, with the way to convert it, instead of being reported as a safetensors file with
/// an absurd header length ("header length 85966670672 exceeds the file size").
///
/// The signatures: zip "PK\3\4" (torch.save since PyTorch 1.6, NumPy's .npz); torch.save's
/// legacy format, a protocol-2 pickle whose first object is the long 0x1950a86a20f9469cfc6c
/// (torch/serialization.py's MAGIC_NUMBER); any other pickle "\x80" + protocol 2-5 + an opcode;
/// HDF5 "\x89HDF\r\n\x1a\n"; NumPy "\x93NUMPY"; gzip "\x1f\x8b\x08" (deflate).

#include <array>
#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <string>

namespace smile::io {

/// The converter smile ships for PyTorch checkpoints, as a user would run it.
inline constexpr const char* pth_converter = "/usr/bin/python3 scripts/pth_to_safetensors.py";

/// What a file whose first bytes are `head` is, with what to do about it, when those bytes are
/// the signature of a format smile does not read as weights; nullopt otherwise.
[[nodiscard]] inline std::optional<std::string> foreign_format(std::span<const std::byte> head,
                                                               const std::string& file) {
    auto starts_with = [&](const char* signature, std::size_t length) {
        return head.size() >= length && std::memcmp(head.data(), signature, length) == 0;
    };
    const std::string convert = std::string("convert it with ") + pth_converter + " " + file +
                                " OUT.safetensors (smile's source tree; needs python3-torch)";
    // torch.save's legacy format: PROTO 2, LONG1 of 10 bytes, the magic number little-endian.
    static constexpr char legacy_torch[] =
        "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
    if (starts_with(legacy_torch, sizeof legacy_torch - 1))
        return "a PyTorch checkpoint in torch.save's legacy (pickle) format, not safetensors: " +
               convert;
    if (starts_with("PK\x03\x04", 4))
        return "a zip archive, not safetensors: a PyTorch checkpoint (torch.save's format since "
               "PyTorch 1.6) or a "
               "NumPy .npz; for a PyTorch checkpoint, " +
               convert;
    // A pickle: PROTO 2-5, then an opcode (never 0, which a short safetensors length would give).
    if (head.size() >= 3 && head[0] == std::byte{0x80} && head[1] >= std::byte{2} &&
        head[1] <= std::byte{5} && head[2] != std::byte{0})
        return "a Python pickle, not safetensors; if it is a PyTorch checkpoint, " + convert;
    if (starts_with("\x89HDF\r\n\x1a\n", 8))
        return std::string(
            "an HDF5 file (Keras or TensorFlow weights?), not safetensors; smile reads safetensors "
            "or a "
            "directory of <tensor name>.npy files");
    if (starts_with("\x93NUMPY", 6))
        return std::string(
            "a NumPy .npy array, not safetensors; weights as .npy go in a directory of "
            "<tensor name>.npy files, given as the directory");
    if (starts_with("\x1f\x8b\x08", 3))
        return std::string("a gzip-compressed file, not safetensors; decompress it first");
    return std::nullopt;
}

}  // namespace smile::io
