#pragma once
/// @file
/// The skip of a bf16 test where this machine cannot compute in bf16 (a CPU without
/// AVX512-BF16 or AMX, the float32-only CUDA backend): reported with the backend's reason.

#include <doctest/doctest.h>

#include <smile/core/ops.hpp>
#include <smile/core/session.hpp>

namespace smile::test {

/// True, after saying why, when backend B cannot compute in bf16 here.
template <class B>
bool bf16_unavailable() {
    session<B> s;
    const std::string why = ops<B>::precision_refusal(s.context(), precision::bf16);
    if (!why.empty()) MESSAGE("skipped: bf16 is refused here: ", why);
    return !why.empty();
}

}  // namespace smile::test
