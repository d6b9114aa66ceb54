// Decode and augment throughput from CUB-sized JPEGs (500x375, quality 90) to 224x224 with the
// SMILE recipe, per core, and the loader's batch rate with its worker threads. Compare with
// bench_step: the loader must deliver batches faster than training consumes them.
#include <smile/data/codec.hpp>
#include <smile/data/loader.hpp>
#include <smile/data/read_dataset.hpp>

#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;

/// A textured 500x375 image (smooth gradients and edges, like a photograph for the codec).
smile::data::image photo(int seed) {
    smile::data::image img(500, 375, 3);
    for (std::int64_t y = 0; y < img.height; ++y)
        for (std::int64_t x = 0; x < img.width; ++x)
            for (std::int64_t c = 0; c < 3; ++c)
                img.at(y, x, c) = static_cast<std::uint8_t>(
                    128 + 100 * std::sin(0.02 * double(x + seed) + double(c)) * std::cos(0.03 * double(y)) +
                    ((x / 40 + y / 30 + seed) % 2) * 20);
    return img;
}

/// An ImageFolder of 96 such JPEGs in 4 classes, written once.
const fs::path& folder() {
    static const fs::path root = [] {
        const fs::path r = fs::temp_directory_path() / "smile_bench_data";
        for (int i = 0; i < 96; ++i) {
            const fs::path p = r / "train" / ("c" + std::to_string(i % 4)) / (std::to_string(i) + ".jpg");
            if (fs::exists(p)) continue;
            fs::create_directories(p.parent_path());
            std::ofstream(p, std::ios::binary) << smile::data::encode_jpeg(photo(i), 90);
        }
        fs::create_directories(r / "test" / "c0");
        return r;
    }();
    return root;
}

void decode(benchmark::State& state) {
    const std::string bytes = smile::data::encode_jpeg(photo(1), 90);
    for (auto _ : state) benchmark::DoNotOptimize(smile::data::decode_image(bytes, "bench.jpg"));
    state.SetItemsProcessed(state.iterations());
}

void decode_and_augment(benchmark::State& state) {
    const std::string bytes = smile::data::encode_jpeg(photo(1), 90);
    const auto p = smile::data::pipeline::preset(state.range(0) == 0 ? "smile-cub-train" : "smile-train");
    std::vector<float> out(3 * 224 * 224);
    smile::rng gen(1);
    for (auto _ : state) p.apply(smile::data::decode_image(bytes, "bench.jpg"), gen, out.data(), "bench.jpg");
    state.SetItemsProcessed(state.iterations());
}

void loader_batches(benchmark::State& state) {
    auto d = std::make_shared<const smile::data::dataset>(smile::data::read_dataset("imagefolder", folder()));
    smile::data::loader l(d, d->train, smile::data::pipeline::preset("smile-cub-train"),
                          {48, true, true, true, std::size_t(state.range(0)), 4, 1, false, 0});
    l.next();
    for (auto _ : state) benchmark::DoNotOptimize(l.next());
    state.SetItemsProcessed(state.iterations() * 48);
    state.counters["batches/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(decode)->Unit(benchmark::kMillisecond);
BENCHMARK(decode_and_augment)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(loader_batches)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);

BENCHMARK_MAIN();
