#pragma once
/// @file
/// The library's one exception type and its always-on checks.
///
/// Every failure a user can cause (a bad shape, a corrupt file, an unknown option, a NaN loss)
/// surfaces as a `smile::error` whose message names the tensor, file or option involved, so that
/// the message alone is enough to find the problem.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace smile {

/// The exception thrown for every user-visible failure.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

/// Builds a message from streamable pieces and throws it as a `smile::error`.
template <class... Pieces>
[[noreturn]] void fail(Pieces&&... pieces) {
    std::ostringstream message;
    (message << ... << std::forward<Pieces>(pieces));
    throw error(message.str());
}

}  // namespace detail
}  // namespace smile

/// Always-on check: throws `smile::error` built from the remaining arguments when `condition`
/// is false. Kept on in release builds because a wrong shape silently produces wrong numbers.
#define SMILE_CHECK(condition, ...)                 \
    do {                                            \
        if (!(condition)) {                         \
            ::smile::detail::fail(__VA_ARGS__);     \
        }                                           \
    } while (false)
