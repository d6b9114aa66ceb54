#pragma once
/// @file
/// The backends under test: the configured one (the GPU suite in a CUDA build) and the
/// reference oracle.

#include <smile/default_backend.hpp>

#include "reference_backend.hpp"

/// Backend type list for TEST_CASE_TEMPLATE.
#define SMILE_TEST_BACKENDS smile::default_backend, smile::reference::backend

namespace smile::test {
using device = smile::default_backend;
using oracle = smile::reference::backend;
}  // namespace smile::test
