#pragma once
/// @file
/// The op table: every operation of the backend concept, once, with the part of the concept it
/// belongs to. Two things are driven by it:
/// - dispatch: `ops<B>` (core/ops.hpp) looks each of its operations up here at compile time, so
///   an operation that is not in the table cannot be dispatched, and its argument checks name it
///   as the table does;
/// - conformance: tests/test_backend_ops.cpp runs every entry against the reference backend and
///   fails for an entry that has no case; an entry of an optional part that the backend under
///   test lacks is skipped by name (ggml's test-backend-ops).
/// Adding an operation is one row here, one function in `ops<B>` and in the concept part, one
/// implementation per backend and one conformance case (docs/architecture.md).

#include <array>
#include <cstddef>
#include <cstdint>
#include <smile/core/backend.hpp>
#include <string_view>

namespace smile {

/// The parts of the backend concept (core/backend.hpp). The first five are required of every
/// backend; the others are optional capabilities that the models needing them require.
enum class backend_part : std::uint8_t {
    storage,
    math,
    dnn,
    optimizer,
    linalg,
    activations,
    broadcast,
    sequence,
    mixed_precision
};

[[nodiscard]] constexpr std::string_view part_name(backend_part p) noexcept {
    switch (p) {
        case backend_part::storage:
            return "BackendStorage";
        case backend_part::math:
            return "BackendMath";
        case backend_part::dnn:
            return "BackendDnn";
        case backend_part::optimizer:
            return "BackendOptimizer";
        case backend_part::linalg:
            return "BackendLinalg";
        case backend_part::activations:
            return "BackendActivations";
        case backend_part::broadcast:
            return "BackendBroadcast";
        case backend_part::sequence:
            return "BackendSequence";
        case backend_part::mixed_precision:
            return "BackendMixedPrecision";
    }
    return "?";
}

/// True for the parts every backend must have (the `Backend` concept).
[[nodiscard]] constexpr bool is_required(backend_part p) noexcept {
    return p != backend_part::activations && p != backend_part::broadcast &&
           p != backend_part::sequence && p != backend_part::mixed_precision;
}

/// Whether backend B has part `p`, decided at compile time from the concept.
template <class B>
[[nodiscard]] constexpr bool has_part(backend_part p) noexcept {
    switch (p) {
        case backend_part::storage:
            return BackendStorage<B>;
        case backend_part::math:
            return BackendMath<B>;
        case backend_part::dnn:
            return BackendDnn<B>;
        case backend_part::optimizer:
            return BackendOptimizer<B>;
        case backend_part::linalg:
            return BackendLinalg<B>;
        case backend_part::activations:
            return BackendActivations<B>;
        case backend_part::broadcast:
            return BackendBroadcast<B>;
        case backend_part::sequence:
            return BackendSequence<B>;
        case backend_part::mixed_precision:
            return BackendMixedPrecision<B>;
    }
    return false;
}

/// One operation: its name (as in the concept, `B::name`) and its part.
struct op_entry {
    std::string_view name;
    backend_part part;
};

inline constexpr std::array op_table{
    // Storage.
    op_entry{"allocate", backend_part::storage},
    op_entry{"deallocate", backend_part::storage},
    op_entry{"upload", backend_part::storage},
    op_entry{"download", backend_part::storage},
    op_entry{"copy", backend_part::storage},
    op_entry{"fill", backend_part::storage},
    op_entry{"synchronize", backend_part::storage},
    // Math.
    op_entry{"gemm", backend_part::math},
    op_entry{"add", backend_part::math},
    op_entry{"multiply", backend_part::math},
    op_entry{"scale_channels", backend_part::math},
    op_entry{"add_channel_bias", backend_part::math},
    op_entry{"channel_sum", backend_part::math},
    op_entry{"mix_rows", backend_part::math},
    op_entry{"paste_box", backend_part::math},
    op_entry{"dot", backend_part::math},
    op_entry{"relu_forward", backend_part::math},
    op_entry{"relu_backward", backend_part::math},
    op_entry{"softmax", backend_part::math},
    op_entry{"softmax_cross_entropy", backend_part::math},
    op_entry{"global_avg_pool_forward", backend_part::math},
    op_entry{"global_avg_pool_backward", backend_part::math},
    op_entry{"flatten_forward", backend_part::math},
    op_entry{"flatten_backward", backend_part::math},
    // DNN primitives with plans.
    op_entry{"conv2d_forward", backend_part::dnn},
    op_entry{"conv2d_backward_data", backend_part::dnn},
    op_entry{"conv2d_backward_weights", backend_part::dnn},
    op_entry{"conv2d_bn_inference", backend_part::dnn},
    op_entry{"pool2d_forward", backend_part::dnn},
    op_entry{"pool2d_backward", backend_part::dnn},
    op_entry{"batch_norm_forward", backend_part::dnn},
    op_entry{"batch_norm_backward", backend_part::dnn},
    // Optimizers.
    op_entry{"sgd_step", backend_part::optimizer},
    op_entry{"adam_step", backend_part::optimizer},
    // Linear algebra.
    op_entry{"svd", backend_part::linalg},
    // Optional: the activation family.
    op_entry{"activation_forward", backend_part::activations},
    op_entry{"activation_backward", backend_part::activations},
    // Optional: broadcast scales.
    op_entry{"scale_broadcast", backend_part::broadcast},
    op_entry{"scale_broadcast_backward", backend_part::broadcast},
    // Optional: sequence operations (transformers).
    op_entry{"batched_gemm", backend_part::sequence},
    op_entry{"split_heads", backend_part::sequence},
    op_entry{"merge_heads", backend_part::sequence},
    op_entry{"masked_softmax_forward", backend_part::sequence},
    op_entry{"masked_softmax_backward", backend_part::sequence},
    op_entry{"layer_norm_forward", backend_part::sequence},
    op_entry{"layer_norm_backward", backend_part::sequence},
    op_entry{"gather_rows", backend_part::sequence},
    op_entry{"gather_rows_backward", backend_part::sequence},
    op_entry{"dropout_forward", backend_part::sequence},
    op_entry{"dropout_backward", backend_part::sequence},
    // Optional: mixed precision (the compute precision of convolutions and matrix products).
    op_entry{"set_compute_precision", backend_part::mixed_precision},
    op_entry{"precision_refusal", backend_part::mixed_precision},
};

/// The row of the operation named `name`, or op_table.size() when the table has none.
/// Compile-time lookups go by index, not by pointer: GCC 12 with -fsanitize=undefined
/// instruments a pointer into the table with a null check that constant evaluation rejects
/// ("... == 0 is not a constant expression"), which broke the sanitizer build.
[[nodiscard]] constexpr std::size_t op_index(std::string_view name) noexcept {
    for (std::size_t i = 0; i < op_table.size(); ++i)
        if (op_table[i].name == name) return i;
    return op_table.size();
}

/// The entry named `name`, or nullptr (for run-time use; compile-time code uses op_index).
[[nodiscard]] inline const op_entry* find_op(std::string_view name) noexcept {
    const std::size_t i = op_index(name);
    return i < op_table.size() ? &op_table[i] : nullptr;
}

/// The entry named `name`; a name that is not in the table does not compile (used by `ops<B>`).
[[nodiscard]] consteval op_entry table_entry(std::string_view name) {
    const std::size_t i = op_index(name);
    if (i == op_table.size())
        throw "smile: this operation is not in core/op_table.hpp";  // compile error
    return op_table[i];
}

/// Whether backend B can run the operation named `name` (false for names not in the table).
template <class B>
[[nodiscard]] constexpr bool supports(std::string_view name) noexcept {
    const std::size_t i = op_index(name);
    return i < op_table.size() && has_part<B>(op_table[i].part);
}

}  // namespace smile
