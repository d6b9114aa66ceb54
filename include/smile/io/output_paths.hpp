#pragma once
/// @file
/// Checking, before a run starts, that every file it will write can be written: the folder
/// exists (or is created) and a file can be created in it. A run should not train for hours
/// and then find a missing folder, a read-only disk or a typo in a path.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <smile/core/error.hpp>

namespace smile::io {

/// Makes sure `path` can be written (creating its folder when missing); `what` names it in
/// errors ("--checkpoint", "the log"). An empty path is nothing to check.
inline void check_writable(const std::filesystem::path& path, const std::string& what) {
    namespace fs = std::filesystem;
    if (path.empty()) return;
    std::error_code ec;
    if (fs::is_directory(path, ec)) detail::fail(what, " ", path.string(), ": is a directory, not a file");
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec) detail::fail(what, " ", path.string(), ": cannot create the folder ", dir.string(), ": ", ec.message());
    } else if (!fs::is_directory(dir, ec)) {
        detail::fail(what, " ", path.string(), ": ", dir.string(), " is not a folder");
    }
    // The real test: create (and remove) a file next to it, as the atomic writer will.
    const fs::path probe = dir / ("." + path.filename().string() + ".probe." + std::to_string(::getpid()));
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) detail::fail(what, " ", path.string(), ": cannot write in ", dir.string(), ": ", std::strerror(errno));
    ::close(fd);
    ::unlink(probe.c_str());
}

}  // namespace smile::io
