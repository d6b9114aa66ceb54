// Fuzz target: a safetensors file (weights, DELTA attention caches, checkpoints' container).
// Every tensor the header declares is read as floats; nothing may read out of bounds.
#include <smile/io/safetensors.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto path = smile::fuzz::scratch() / "input.safetensors";
    smile::fuzz::write_bytes(path, smile::fuzz::as_view(data, size));
    try {
        smile::io::safetensors_reader reader(path);
        double sum = 0;
        for (const auto& [name, entry] : reader.entries())
            if (entry.is_floating())
                for (float v : reader.read_floats(name)) sum += v;
        (void)sum;
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    return 0;
}
