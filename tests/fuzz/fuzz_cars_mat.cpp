// Fuzz target: Stanford Cars' MAT annotations through libmatio. The input is split at
// "\nSMILE-MAT-SPLIT\n" into cars_meta.mat, cars_train_annos.mat and
// cars_test_annos_withlabels.mat (a missing piece repeats the last one).
#include <smile/data/formats/stanford_cars.hpp>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto root = smile::fuzz::scratch() / "cars";
    const auto pieces = smile::fuzz::split(smile::fuzz::as_view(data, size), "\nSMILE-MAT-SPLIT\n");
    const char* files[] = {"cars_meta.mat", "cars_train_annos.mat", "cars_test_annos_withlabels.mat"};
    for (std::size_t i = 0; i < 3; ++i) smile::fuzz::write_bytes(root / "devkit" / files[i], pieces[std::min(i, pieces.size() - 1)]);
    try {
        const auto d = smile::data::formats::read_stanford_cars(root, {true});
        for (const auto& s : d.train)
            if (s.label < 0 || s.label >= d.num_classes()) __builtin_trap();
    } catch (const smile::error& e) {
        smile::fuzz::refused(e);
    }
    return 0;
}
