#pragma once
/// @file
/// Runs the `smile` program as a user would and captures its exit status and output.

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace smile::test {

struct program_result {
    int status = -1;
    std::string output;  ///< stdout and stderr together
};

/// Runs a shell command line; its output is what it wrote to stdout (redirect stderr in it).
inline program_result run_command(const std::string& command) {
    program_result r;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return r;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), int(buffer.size()), pipe) != nullptr) r.output += buffer.data();
    const int status = ::pclose(pipe);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

inline program_result run_smile(const std::string& arguments) {
    return run_command(std::string(SMILE_PROGRAM) + " " + arguments + " 2>&1");
}

/// Starts the `smile` program in the background, its stdout and stderr going to `output`.
inline pid_t spawn_smile(const std::string& arguments, const std::string& output) {
    const std::string command = "exec " + std::string(SMILE_PROGRAM) + " " + arguments + " > " + output + " 2>&1";
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return pid;
}

/// Waits for a spawned program: its exit status, or 128 + the signal that ended it.
inline int wait_for(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

inline std::size_t line_count(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace smile::test
