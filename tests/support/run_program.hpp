#pragma once
/// @file
/// Runs the `smile` program as a user would and captures its exit status and output.

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace smile::test {

struct program_result {
    int status = -1;
    std::string output;  ///< stdout and stderr together
};

inline program_result run_smile(const std::string& arguments) {
    const std::string command = std::string(SMILE_PROGRAM) + " " + arguments + " 2>&1";
    program_result r;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return r;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), int(buffer.size()), pipe) != nullptr) r.output += buffer.data();
    const int status = ::pclose(pipe);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

inline std::size_t line_count(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace smile::test
