#pragma once
/// @file
/// Image decoding and encoding: JPEG through libjpeg-turbo's libjpeg API, PNG through libpng's
/// simplified API. The format is recognised from the bytes, not the file name.
///
/// JPEG: grayscale files decode to 1 channel, YCbCr/RGB to 3, CMYK and YCCK (as written by
/// Photoshop, with Adobe's inverted convention) are converted to RGB. PNG: gray and gray+alpha
/// decode to 1 channel, everything else to 3; alpha is dropped, as PIL's convert("RGB") does.
/// Every failure (unreadable file, truncated or corrupt data, unknown format) is a
/// `smile::error` naming the file.
///
/// The dimensions a header declares are checked against `max_image_pixels` before any pixel
/// buffer is allocated (a 40-byte file can declare 65535×65535 pixels, 12 GB): the limit is
/// Pillow's decompression-bomb error threshold, 2 × 89,478,485 pixels.

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include <smile/data/image.hpp>

namespace smile::data {

/// The largest image decoded, in pixels (Pillow raises DecompressionBombError beyond it).
inline constexpr std::int64_t max_image_pixels = 2 * 89478485;

/// What an image header declares.
struct image_header {
    std::int64_t width = 0, height = 0, channels = 0;
};

namespace detail_codec {

inline std::string check_dimensions(std::int64_t width, std::int64_t height, std::int64_t limit) {
    if (width <= 0 || height <= 0) return "the header declares an empty image";
    if (width > limit / height)
        return "the header declares " + std::to_string(width) + "x" + std::to_string(height) + " pixels, more than the " +
               std::to_string(limit) + "-pixel limit (a decompression bomb or a corrupt header)";
    return {};
}

struct jpeg_error_manager {
    jpeg_error_mgr base;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    bool truncated;  // libjpeg pads a truncated stream with gray and only warns
};

extern "C" inline void jpeg_error_exit(j_common_ptr info) {
    auto* err = reinterpret_cast<jpeg_error_manager*>(info->err);
    (*info->err->format_message)(info, err->message);
    std::longjmp(err->jump, 1);
}

/// Warnings are ignored (PIL decodes such files too) except premature end of data.
extern "C" inline void jpeg_warning(j_common_ptr info, int level) {
    auto* err = reinterpret_cast<jpeg_error_manager*>(info->err);
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
}

/// Decodes JPEG bytes; returns an empty string on success, the reason otherwise. Kept free of
/// C++ objects with destructors between setjmp and longjmp.
inline std::string decode_jpeg_into(const unsigned char* bytes, std::size_t size, image& out, std::int64_t limit,
                                    bool header_only = false) {
    jpeg_decompress_struct info;
    jpeg_error_manager err;
    info.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_error_exit;
    err.base.emit_message = jpeg_warning;
    err.truncated = false;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&info);
        return err.message;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&info, TRUE);
    {
        // No C++ object may live across the longjmp: the message is copied into err.message.
        const std::string bad = check_dimensions(info.image_width, info.image_height, limit);
        if (!bad.empty()) {
            std::snprintf(err.message, sizeof err.message, "%s", bad.c_str());
            jpeg_destroy_decompress(&info);
            return err.message;
        }
    }
    if (header_only) {
        out.width = info.image_width;
        out.height = info.image_height;
        out.channels = info.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
        jpeg_destroy_decompress(&info);
        return {};
    }
    const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    const bool gray = info.jpeg_color_space == JCS_GRAYSCALE;
    info.out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    const int components = info.output_components;
    const std::int64_t w = info.output_width, h = info.output_height;
    out.width = w;
    out.height = h;
    out.channels = cmyk ? 3 : components;
    out.pixels.assign(static_cast<std::size_t>(w * h * out.channels), 0);
    unsigned char* row = static_cast<unsigned char*>(
        (*info.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&info), JPOOL_IMAGE,
                                  static_cast<JDIMENSION>(w * components), 1)[0]);
    while (info.output_scanline < info.output_height) {
        const std::int64_t y = info.output_scanline;
        JSAMPROW rows[1] = {row};
        jpeg_read_scanlines(&info, rows, 1);
        std::uint8_t* dst = out.pixels.data() + y * w * out.channels;
        if (!cmyk) {
            std::memcpy(dst, row, static_cast<std::size_t>(w * components));
            continue;
        }
        // Adobe CMYK is stored inverted (C' = 255 − C, K' = 255 − K). Pillow's conversion,
        // bit for bit: R = K' − muldiv255(255 − C', K'), muldiv255(a, b) = ((t >> 8) + t) >> 8
        // with t = a·b + 128.
        for (std::int64_t x = 0; x < w; ++x) {
            const int nk = row[4 * x + 3];
            for (int c = 0; c < 3; ++c) {
                const int t = (255 - row[4 * x + c]) * nk + 128;
                const int v = nk - (((t >> 8) + t) >> 8);
                dst[3 * x + c] = static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    if (err.truncated) return "truncated JPEG data (premature end of data segment)";
    return {};
}

inline std::string decode_png_into(const unsigned char* bytes, std::size_t size, image& out, std::int64_t limit,
                                   bool header_only = false) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&png, bytes, size)) return png.message;
    const bool gray = (png.format & PNG_FORMAT_FLAG_COLOR) == 0;
    if (const std::string bad = check_dimensions(png.width, png.height, limit); !bad.empty()) {
        png_image_free(&png);
        return bad;
    }
    if (header_only) {
        out.width = png.width;
        out.height = png.height;
        out.channels = gray ? 1 : 3;
        png_image_free(&png);
        return {};
    }
    png.format = gray ? PNG_FORMAT_GA : PNG_FORMAT_RGBA;  // 8-bit; alpha dropped below
    const int in_channels = gray ? 2 : 4;
    std::vector<std::uint8_t> buffer(PNG_IMAGE_SIZE(png));
    if (!png_image_finish_read(&png, nullptr, buffer.data(), 0, nullptr)) {
        const std::string reason = png.message;
        png_image_free(&png);
        return reason;
    }
    out.width = png.width;
    out.height = png.height;
    out.channels = gray ? 1 : 3;
    out.pixels.resize(static_cast<std::size_t>(out.width * out.height * out.channels));
    for (std::size_t i = 0, n = std::size_t(out.width * out.height); i < n; ++i)
        for (std::int64_t c = 0; c < out.channels; ++c)
            out.pixels[i * std::size_t(out.channels) + std::size_t(c)] = buffer[i * std::size_t(in_channels) + std::size_t(c)];
    return {};
}

}  // namespace detail_codec

namespace detail_codec {
inline image decode(std::string_view bytes, const std::string& what, std::int64_t limit, bool header_only) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
    image out;
    std::string failure;
    if (bytes.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        failure = decode_jpeg_into(b, bytes.size(), out, limit, header_only);
    } else if (bytes.size() >= 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) {
        failure = decode_png_into(b, bytes.size(), out, limit, header_only);
    } else {
        detail::fail(what, ": not a JPEG or PNG image");
    }
    if (!failure.empty()) detail::fail(what, ": cannot decode image: ", failure);
    if (out.width <= 0 || out.height <= 0) detail::fail(what, ": image has no pixels");
    return out;
}

inline std::string read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::fail("cannot open image ", path.string(), ": ", std::strerror(errno));
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (in.bad()) detail::fail("cannot read image ", path.string(), ": ", std::strerror(errno));
    return bytes;
}
}  // namespace detail_codec

/// Decodes JPEG or PNG bytes; `what` names the source in errors. Images of more than
/// `max_pixels` pixels are refused before anything is allocated.
[[nodiscard]] inline image decode_image(std::string_view bytes, const std::string& what,
                                        std::int64_t max_pixels = max_image_pixels) {
    return detail_codec::decode(bytes, what, max_pixels, false);
}

/// The dimensions in a JPEG or PNG header, checked as decode_image checks them; decodes no pixels.
[[nodiscard]] inline image_header decode_image_header(std::string_view bytes, const std::string& what,
                                                      std::int64_t max_pixels = max_image_pixels) {
    const image i = detail_codec::decode(bytes, what, max_pixels, true);
    return {i.width, i.height, i.channels};
}

/// Reads and decodes an image file.
[[nodiscard]] inline image read_image(const std::filesystem::path& path) {
    return decode_image(detail_codec::read_bytes(path), path.string());
}

/// Opens an image file and decodes its header (a cheap check that it can be read at all).
[[nodiscard]] inline image_header read_image_header(const std::filesystem::path& path) {
    return decode_image_header(detail_codec::read_bytes(path), path.string());
}

/// JPEG bytes of `img` at `quality` (tests, benchmarks and generated datasets).
[[nodiscard]] inline std::string encode_jpeg(const image& img, int quality = 90) {
    jpeg_compress_struct info;
    jpeg_error_mgr err;
    info.err = jpeg_std_error(&err);
    jpeg_create_compress(&info);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&info, &buffer, &size);
    info.image_width = static_cast<JDIMENSION>(img.width);
    info.image_height = static_cast<JDIMENSION>(img.height);
    info.input_components = static_cast<int>(img.channels);
    info.in_color_space = img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(img.pixels.data() + info.next_scanline * img.width * img.channels);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    std::string out(reinterpret_cast<char*>(buffer), size);
    std::free(buffer);
    return out;
}

/// PNG bytes of `img`.
[[nodiscard]] inline std::string encode_png(const image& img) {
    png_image png;
    std::memset(&png, 0, sizeof png);
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(img.width);
    png.height = static_cast<png_uint_32>(img.height);
    png.format = img.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    png_image_write_to_memory(&png, nullptr, &size, 0, img.pixels.data(), 0, nullptr);
    std::string out(size, '\0');
    if (!png_image_write_to_memory(&png, out.data(), &size, 0, img.pixels.data(), 0, nullptr))
        detail::fail("encode_png: ", png.message);
    out.resize(size);
    return out;
}

}  // namespace smile::data
