#pragma once
/// @file
/// Stopping a run cleanly on SIGINT or SIGTERM: the handler only records the signal; the
/// training loop looks at it after each step, writes a checkpoint and ends with
/// `smile::interrupted`, so a Ctrl-C or a cluster's pre-emption loses at most the step in flight.
///
/// A library does not take a process's signals unasked: programs call `install_stop_signals()`
/// (the smile program does). `request_stop` raises the same flag without a signal (tests).

#include <csignal>

#include <smile/core/error.hpp>

namespace smile {

/// Thrown when a run stopped on request; `signal()` is the signal's number (0: requested).
class interrupted : public error {
public:
    interrupted(const std::string& what, int signal) : error(what), signal_(signal) {}
    [[nodiscard]] int signal() const noexcept { return signal_; }

private:
    int signal_;
};

namespace detail {
inline volatile std::sig_atomic_t stop_signal_number = 0;
inline volatile std::sig_atomic_t stop_requested_flag = 0;
extern "C" inline void record_stop_signal(int signal) {
    stop_signal_number = signal;
    stop_requested_flag = 1;
}
}  // namespace detail

/// Routes SIGINT and SIGTERM to the stop flag. A second signal of either kind, once the first
/// was seen, ends the process at once (the default action), for a run that is stuck.
inline void install_stop_signals() {
    struct sigaction action {};
    action.sa_handler = detail::record_stop_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;  // the second signal takes the default action
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

[[nodiscard]] inline bool stop_requested() noexcept { return detail::stop_requested_flag != 0; }
/// The signal that asked to stop (SIGINT, SIGTERM), 0 when `request_stop` did.
[[nodiscard]] inline int stop_signal() noexcept { return detail::stop_signal_number; }
inline void request_stop() noexcept { detail::stop_requested_flag = 1; }
inline void clear_stop_request() noexcept {
    detail::stop_requested_flag = 0;
    detail::stop_signal_number = 0;
}

}  // namespace smile
