#pragma once
/// @file
/// The model and method factories for `default_backend`, compiled once per program instead of
/// once per source file.
///
/// `make_backbone` instantiates every model family and `make_method` every method, each with
/// its layers, backward passes and optimizers: about ten seconds of a source file's compile
/// (`smile predict`'s file: 62 s with, 51 s without, GCC 12 -O3). A program of several such
/// files can compile them once:
///   - every file that calls a factory includes this header, and the build defines
///     `SMILE_FACTORIES_COMPILED_ONCE`, which turns the declarations below into explicit
///     instantiation declarations (`extern template`): the file then calls the factories
///     without instantiating them;
///   - exactly one file of the program defines `SMILE_INSTANTIATE_FACTORIES` before including
///     this header, which makes the declarations explicit instantiation definitions.
/// Without either macro the header only includes the factories, and each file instantiates what
/// it calls, as usual. smile's own tests, examples and benchmarks link the one instantiating
/// file as the static library `smile_factories` (cmake/smile_factories.cpp). docs/building.md
/// has the measurement.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <smile/default_backend.hpp>
#include <smile/methods/registry.hpp>
#include <smile/models/architecture.hpp>

#if defined(SMILE_INSTANTIATE_FACTORIES)
#define SMILE_FACTORY_INSTANCE template
#elif defined(SMILE_FACTORIES_COMPILED_ONCE)
#define SMILE_FACTORY_INSTANCE extern template
#endif

#if defined(SMILE_FACTORY_INSTANCE)
namespace smile {
SMILE_FACTORY_INSTANCE std::unique_ptr<backbone<default_backend>> make_backbone<default_backend>(
    session<default_backend>&, rng&, const architecture&);
SMILE_FACTORY_INSTANCE classifier<default_backend> make_classifier<default_backend>(
    session<default_backend>&, rng&, const architecture&, const classifier_config&);
SMILE_FACTORY_INSTANCE classifier<default_backend> make_student<default_backend>(
    session<default_backend>&, rng&, const architecture&, std::int64_t,
    const std::filesystem::path&, bool, const weight_loading&);
SMILE_FACTORY_INSTANCE classifier<default_backend> make_pretrained<default_backend>(
    session<default_backend>&, rng&, const architecture&, const std::filesystem::path&,
    const weight_loading&);
SMILE_FACTORY_INSTANCE std::unique_ptr<method<default_backend>> make_method<default_backend>(
    session<default_backend>&, rng&, const architecture&, std::int64_t,
    const std::filesystem::path&, const method_config&);
}  // namespace smile
#undef SMILE_FACTORY_INSTANCE
#endif
