// Fuzz target: a checkpoint's metadata (iteration, generator state, info) inside its
// safetensors container, as `smile finetune --resume` reads it.
#include <smile/io/run_state.hpp>
#include <smile/io/safetensors.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = smile::fuzz::scratch() / "checkpoint.safetensors";
    smile::fuzz::write_bytes(path, smile::fuzz::as_view(data, size));
    try {
        smile::io::safetensors_reader reader(path);
        smile::rng generator(0);
        const auto state = smile::io::parse_run_state(reader.metadata(), path, generator);
        (void)generator.bits();
        (void)state;
        for (const auto& [name, entry] : reader.entries())
            if (entry.is_floating()) (void)reader.read_floats(name);
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    return 0;
}
