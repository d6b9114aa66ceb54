#pragma once
/// @file
/// The backends under test: the configured one (the GPU suite in a CUDA build) and the
/// reference oracle.

#include <type_traits>

#include <smile/core/session.hpp>
#include <smile/default_backend.hpp>

#include "reference_backend.hpp"

/// Backend type list for TEST_CASE_TEMPLATE.
#define SMILE_TEST_BACKENDS smile::default_backend, smile::reference::backend

namespace smile::test {
using device = smile::default_backend;
using oracle = smile::reference::backend;

/// The backend of a session type, for generic lambdas that take `auto& session`.
template <class S>
struct backend_of;
template <class B>
struct backend_of<session<B>> {
    using type = B;
};
}  // namespace smile::test

/// BACKEND_OF(s): the backend type of session `s` inside a generic lambda.
#define BACKEND_OF(s) typename smile::test::backend_of<std::remove_reference_t<decltype(s)>>::type
