#pragma once
/// @file
/// `write_file_atomically`: all or nothing.
///
/// The bytes go to a temporary file in the destination's directory, which is flushed and
/// fsync'ed, then renamed over the destination (rename is atomic on POSIX file systems) and the
/// directory is fsync'ed so the rename itself is durable. A crash, a full disk or any write
/// error leaves the previous file untouched; the error names the file and the system's reason.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <smile/core/error.hpp>

namespace smile::io {

/// Receives the bytes of a file being written; each call appends.
class byte_sink {
public:
    explicit byte_sink(std::FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
    void write(const void* data, std::size_t size) {
        if (size == 0) return;
        if (std::fwrite(data, 1, size, file_) != size)
            detail::fail("cannot write ", path_, ": ", std::strerror(errno));
    }

private:
    std::FILE* file_;
    std::string path_;
};

/// Writes `path` through `produce(sink)`, atomically (see the file comment).
inline void write_file_atomically(const std::filesystem::path& path,
                                  const std::function<void(byte_sink&)>& produce) {
    namespace fs = std::filesystem;
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        detail::fail("cannot write ", path.string(), ": directory ", dir.string(), " does not exist");
    const fs::path temporary = dir / ("." + path.filename().string() + ".tmp." + std::to_string(::getpid()));
    std::FILE* f = std::fopen(temporary.c_str(), "wb");
    if (f == nullptr)
        detail::fail("cannot write ", path.string(), ": cannot create ", temporary.string(), ": ",
                     std::strerror(errno));
    auto abandon = [&](const std::string& reason) {
        std::fclose(f);
        std::remove(temporary.c_str());
        detail::fail("cannot write ", path.string(), ": ", reason, " (the previous file, if any, is unchanged)");
    };
    try {
        byte_sink sink(f, temporary.string());
        produce(sink);
    } catch (const std::exception& e) {
        abandon(e.what());
    }
    if (std::fflush(f) != 0) abandon(std::strerror(errno));
    if (::fsync(::fileno(f)) != 0) abandon(std::strerror(errno));
    if (std::fclose(f) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temporary.c_str());
        detail::fail("cannot write ", path.string(), ": ", reason, " (the previous file, if any, is unchanged)");
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temporary.c_str());
        detail::fail("cannot write ", path.string(), ": rename failed: ", reason);
    }
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
}

/// Writes `bytes` (text or binary) to `path`, atomically.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
    write_file_atomically(path, [&](byte_sink& sink) { sink.write(bytes.data(), bytes.size()); });
}

}  // namespace smile::io
