// Weight formats, atomic writes and checkpoints.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <fstream>
#include <limits>
#include <smile/factory_instances.hpp>
#include <smile/io/checkpoint.hpp>
#include <smile/io/npy.hpp>
#include <smile/io/output_paths.hpp>
#include <smile/io/weights.hpp>
#include <smile/models/architecture.hpp>
#include <smile/optim/lr_schedule.hpp>
#include <smile/optim/make_optimizer.hpp>

#include "backends.hpp"
#include "compare.hpp"
#include "random_data.hpp"

namespace fs = std::filesystem;
using B = smile::default_backend;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("smile_test_" + std::to_string(::getpid()) + "_" +
                                            std::to_string(counter()++));
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
    static int& counter() {
        static int c = 0;
        return c;
    }
};

void write_bytes(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
}

/// A file's bytes and a part of the message that refuses it.
struct refused_file {
    std::string bytes, message;
};

/// Each file, written to `p`, is refused by the safetensors reader with its message and the path.
void check_refused(const fs::path& p, const std::vector<refused_file>& files) {
    for (const auto& f : files) {
        write_bytes(p, f.bytes);
        INFO("expecting: ", f.message);
        CHECK_THROWS_WITH_AS(smile::io::safetensors_reader{p}, doctest::Contains(f.message.c_str()),
                             smile::error);
        CHECK_THROWS_WITH_AS(smile::io::safetensors_reader{p},
                             doctest::Contains(p.string().c_str()), smile::error);
    }
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

/// A safetensors file from a raw JSON header and data bytes.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[std::size_t(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    return out + header + data;
}

}  // namespace

TEST_CASE("half precision: binary16 and bfloat16 convert exactly") {
    CHECK(smile::io::f16_to_float(0x3c00) == 1.0f);
    CHECK(smile::io::f16_to_float(0xc000) == -2.0f);
    CHECK(smile::io::f16_to_float(0x3555) == doctest::Approx(0.333251953125));
    CHECK(smile::io::f16_to_float(0x0001) == doctest::Approx(5.960464477539063e-08));  // smallest subnormal
    CHECK(smile::io::f16_to_float(0x7bff) == 65504.0f);
    CHECK(std::isinf(smile::io::f16_to_float(0x7c00)));
    CHECK(std::isnan(smile::io::f16_to_float(0x7e00)));
    CHECK(smile::io::bf16_to_float(0x3f80) == 1.0f);
    CHECK(smile::io::bf16_to_float(0x4049) == 3.140625f);
}

TEST_CASE("safetensors: round trip with metadata, F16 and BF16 read as float32") {
    temp_dir dir;
    const auto p = dir.path / "w.safetensors";
    smile::io::write_safetensors(p, {{"a", {2, 3}, {1, 2, 3, 4, 5, 6}, false, 0}, {"n", {}, {}, true, 0}},
                                 {{"k", "v"}});
    smile::io::safetensors_reader r(p);
    CHECK(r.read_floats("a") == std::vector<float>{1, 2, 3, 4, 5, 6});
    CHECK(r.entry("a").shape == std::vector<std::int64_t>{2, 3});
    CHECK(r.entry("n").dtype == "I64");
    CHECK(r.metadata().at("k") == "v");
    CHECK_THROWS_WITH_AS((void)r.read_floats("n"), doctest::Contains("tensor 'n' has dtype I64"), smile::error);
    // Half-precision tensors written by hand: 1.0 and -2.0.
    const std::string data("\x00\x3c\x00\xc0\x80\x3f\x00\xc0", 8);
    write_bytes(p, safetensors_bytes(
        R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}})", data));
    smile::io::safetensors_reader reader(p);
    CHECK(reader.read_floats("h") == std::vector<float>{1.0f, -2.0f});
    CHECK(reader.read_floats("b") == std::vector<float>{1.0f, -2.0f});
}

TEST_CASE("safetensors: every malformed file is rejected with the file and tensor named") {
    temp_dir dir;
    const auto p = dir.path / "bad.safetensors";
    const std::string four_floats(16, '\0');
    // One file a row, each on one line.
    // clang-format off
    const std::vector<refused_file> malformed{
        {"abc", "shorter than the 8-byte header length"},
        {std::string("\xff\xff\xff\x00\x00\x00\x00\x00", 8) + "{}", "exceeds the file size"},
        {safetensors_bytes("{not json", ""), "the header is not valid JSON"},
        {safetensors_bytes("[1,2]", ""), "the header is not a JSON object"},
        {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4]}})", four_floats), "tensor 'w': needs dtype, shape and data_offsets"},
        {safetensors_bytes(R"({"w":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}})", four_floats), "tensor 'w': unknown dtype Q7"},
        {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", four_floats), "negative dimension"},
        {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}})", four_floats), "fall outside the 16-byte data section"},
        {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", four_floats), "needs 12"},
        {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", four_floats), "overlaps"},
        {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", four_floats), "8 unused bytes before tensor 'w'"},
        {safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", four_floats), "8 bytes at the end of the file belong to no tensor"},
        {safetensors_bytes(R"({"__metadata__":{"a":1}})", ""), "__metadata__ value 'a' is not a string"},
    };
    // clang-format on
    check_refused(p, malformed);
    CHECK_THROWS_WITH_AS(smile::io::safetensors_reader{dir.path / "none.safetensors"},
                         doctest::Contains("cannot open"), smile::error);
}

TEST_CASE(
    "safetensors: a PyTorch checkpoint or another format is named as such, with the converter") {
    temp_dir dir;
    const auto p = dir.path / "resnet50.pth";
    const std::string payload(200, 'x');
    const std::vector<refused_file> cases{
        // torch.save since PyTorch 1.6: a zip archive (local file header, then archive/data.pkl).
        {std::string("PK\x03\x04\x00\x00\x08\x08\x00\x00", 10) + "archive/data.pkl" + payload,
         "a zip archive, not safetensors: a PyTorch checkpoint"},
        // torch.save's legacy format: PROTO 2, then the magic number as a 10-byte LONG1.
        {std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14) + payload,
         "torch.save's legacy (pickle) format, not safetensors"},
        {std::string("\x80\x04\x95\x10\x00\x00\x00\x00", 8) + payload,
         "a Python pickle, not safetensors"},
        {std::string("\x89HDF\r\n\x1a\n", 8) + payload,
         "an HDF5 file (Keras or TensorFlow weights?), not safetensors"},
        {std::string("\x93NUMPY\x01\x00", 8) + payload, "a NumPy .npy array, not safetensors"},
        {std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8) + payload,
         "a gzip-compressed file, not safetensors"},
    };
    check_refused(p, cases);
    // The PyTorch cases name the converter, with the file.
    write_bytes(p, cases[0].bytes);
    CHECK_THROWS_WITH_AS(smile::io::safetensors_reader{p},
                         doctest::Contains(("scripts/pth_to_safetensors.py " + p.string()).c_str()),
                         smile::error);
    // Through the weight loader, as `smile predict --weights resnet50.pth` reaches it.
    CHECK_THROWS_WITH_AS(smile::io::detail_weights::weight_source{p},
                         doctest::Contains("pth_to_safetensors.py"), smile::error);
    // A safetensors file whose header is only broken is not taken for another format: a header
    // length of 0x280 begins like a pickle (0x80, 0x02), but its third byte is 0.
    write_bytes(p, std::string("\x80\x02\x00\x00\x00\x00\x00\x00", 8) + std::string(0x280, ' '));
    CHECK_THROWS_WITH_AS(smile::io::safetensors_reader{p},
                         doctest::Contains("the header is not valid JSON"), smile::error);
}

TEST_CASE("npy: float32 and float64 read, truncated and foreign files rejected") {
    temp_dir dir;
    const auto p = dir.path / "a.npy";
    smile::io::write_npy(p, {2, 3}, {1, 2, 3, 4, 5, 6});
    const auto a = smile::io::read_npy(p);
    CHECK(a.shape == std::vector<std::int64_t>{2, 3});
    CHECK(a.values == std::vector<float>{1, 2, 3, 4, 5, 6});
    std::vector<std::size_t> shape{3};
    std::vector<double> d{0.5, 1.5, -2.0};
    const std::string f8 = xt::dump_npy(xt::adapt(d.data(), d.size(), xt::no_ownership(), shape));
    write_bytes(p, f8);
    CHECK(smile::io::read_npy(p).values == std::vector<float>{0.5f, 1.5f, -2.0f});
    write_bytes(p, f8.substr(0, f8.size() - 4));
    CHECK_THROWS_WITH_AS(smile::io::read_npy(p), doctest::Contains("truncated"), smile::error);
    write_bytes(p, "hello world");
    CHECK_THROWS_WITH_AS(smile::io::read_npy(p), doctest::Contains("not a .npy file"), smile::error);
}

TEST_CASE("weights: save then load round trips, missing, unexpected and wrong-shape tensors are named") {
    temp_dir dir;
    smile::session<B> s;
    smile::rng gen(1);
    auto a = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
    auto b = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
    const auto p = dir.path / "m.safetensors";
    smile::io::save_weights<B>(a, p);
    const auto report = smile::io::load_weights<B>(b, p);
    CHECK(report.missing.empty());
    for (const auto& [name, param] : smile::parameters_of<B>(b)) {
        for (const auto& [n2, pa] : smile::parameters_of<B>(a))
            if (n2 == name) CHECK(param->value.to_host() == pa->value.to_host());
    }
    // A directory of .npy files works the same way.
    const auto npy_dir = dir.path / "npy";
    fs::create_directories(npy_dir);
    for (const auto& t : smile::state_of<B>(a))
        smile::io::write_npy(npy_dir / (t.name + ".npy"), smile::torch_shape(t.value->shape(), t.torch_rank), t.value->to_host());
    CHECK(smile::io::load_weights<B>(b, npy_dir).loaded.size() == smile::state_of<B>(a).size());
    // Damaged files: one missing key, one extra key, one wrong shape.
    smile::io::safetensors_reader full(p);
    std::vector<smile::io::safetensors_record> records;
    for (const auto& [name, e] : full.entries()) {
        if (name == "layer1.0.bn1.bias") continue;
        if (e.dtype == "I64") records.push_back({name, {}, {}, true, 0});
        else records.push_back({name, e.shape, full.read_floats(name), false, 0});
    }
    records.push_back({"layer9.conv1.weight", {1}, {0.0f}, false, 0});
    const auto damaged = dir.path / "damaged.safetensors";
    smile::io::write_safetensors(damaged, records);
    CHECK_THROWS_WITH_AS(smile::io::load_weights<B>(b, damaged),
                         doctest::Contains("1 missing: layer1.0.bn1.bias; 1 unexpected: layer9.conv1.weight"),
                         smile::error);
    const auto lax = smile::io::load_weights<B>(b, damaged, {false, "fc", ""});
    CHECK(lax.missing == std::vector<std::string>{"layer1.0.bn1.bias"});
    CHECK(lax.unexpected == std::vector<std::string>{"layer9.conv1.weight"});
    auto wider = smile::make_classifier<B>(s, gen, smile::resnet18(), {5, 0});
    CHECK_THROWS_WITH_AS(smile::io::load_weights<B>(wider, p, {false, "fc", ""}),
                         doctest::Contains("conv1.weight (file conv1.weight [16,3,3,3], model [64,3,7,7])"), smile::error);
}

TEST_CASE("atomic writes: a write that fails on a full disk leaves the old file intact") {
    temp_dir dir;
    const auto p = dir.path / "checkpoint.safetensors";
    smile::io::write_safetensors(p, {{"w", {4}, {1, 2, 3, 4}, false, 0}});
    const std::string before = read_bytes(p);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // The disk is "full" after 4 KiB: the OS fails the write (EFBIG) as it would with ENOSPC.
        std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit{4096, 4096};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        try {
            smile::io::write_safetensors(p, {{"w", {100000}, std::vector<float>(100000, 7.0f), false, 0}});
        } catch (const smile::error& e) {
            const std::string message = e.what();
            ::_exit(message.find(p.string()) != std::string::npos &&
                            message.find("previous file, if any, is unchanged") != std::string::npos
                        ? 42
                        : 1);
        }
        ::_exit(2);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 42);
    CHECK(read_bytes(p) == before);
    std::size_t files = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path)) ++files;
    CHECK(files == 1);  // no temporary file left behind
    CHECK_THROWS_WITH_AS(smile::io::write_safetensors(dir.path / "no" / "such" / "dir.safetensors", {}),
                         doctest::Contains("does not exist"), smile::error);
}

namespace {

/// A short deterministic training run: batches are drawn by the run's own generator.
struct tiny_run {
    smile::session<B> s;
    smile::rng gen;
    smile::classifier<B> model;
    std::unique_ptr<smile::optimizer<B>> opt;
    smile::lr_schedule schedule{smile::schedule_kind::step, 0.05f, 8, 0.1f, {}};
    std::vector<float> images, targets;

    explicit tiny_run(std::uint64_t init_seed,
                      const smile::optimizer_options& o = smile::sgd_options{0.9f, 0.0f, 5e-4f, true})
        : gen(init_seed), model(smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {4, 3})),
          opt(smile::make_optimizer<B>(o)) {
        opt->attach(model);
        smile::rng data(77);
        images = smile::test::uniform_values(data, 32 * 3 * 8 * 8);
        for (int i = 0; i < 32; ++i)
            for (int k = 0; k < 4; ++k) targets.push_back(k == i % 4 ? 1.0f : 0.0f);
    }
    void steps(std::int64_t from, std::int64_t to) {
        for (std::int64_t k = from; k < to; ++k) {
            std::vector<float> xb, tb;
            for (int i = 0; i < 6; ++i) {
                const auto j = static_cast<std::size_t>(gen.below(32));
                xb.insert(xb.end(), images.begin() + long(j * 192), images.begin() + long((j + 1) * 192));
                tb.insert(tb.end(), targets.begin() + long(j * 4), targets.begin() + long((j + 1) * 4));
            }
            auto x = smile::tensor<B>::from_host(s, {6, 3, 8, 8}, xb);
            auto t = smile::tensor<B>::from_host(s, {6, 4, 1, 1}, tb);
            model.forward(s, x, smile::mode::train);
            smile::tensor<B> d(s, {6, 4, 1, 1}), ds(s, {6, 3, 1, 1});
            smile::ops<B>::softmax_cross_entropy(s.context(), model.logits().view(), t.view(),
                                                 1.0f / 6, d.view());
            auto st = smile::tensor<B>::filled(s, {6, 3, 1, 1}, 1.0f / 3);
            smile::ops<B>::softmax_cross_entropy(s.context(), model.source_logits().view(),
                                                 st.view(), 0.1f / 6, ds.view());
            model.backward(s, &d, &ds);
            opt->step(s, schedule.at(k));
        }
    }
    smile::io::checkpoint_content<B> content() {
        smile::io::checkpoint_content<B> c;
        c.add_model("model", model);
        c.set_optimizer(*opt);
        return c;
    }
    std::vector<std::vector<float>> state() {
        std::vector<std::vector<float>> out;
        for (const auto& t : smile::state_of<B>(model)) out.push_back(t.value->to_host());
        return out;
    }
};

}  // namespace

TEST_CASE("checkpoints: Adam and AdamW resume to the bit, and another optimizer's state is refused") {
    for (const bool decoupled : {false, true}) {
        CAPTURE(decoupled);
        const auto options = smile::optimizer_options::make_adam({0.9f, 0.99f, 1e-7f, 1e-2f, decoupled});
        temp_dir dir;
        tiny_run straight(3, options);
        straight.steps(0, 8);
        const auto path = dir.path / "adam.safetensors";
        {
            tiny_run first(3, options);
            first.steps(0, 4);
            first.content().save(path, first.gen, {4, {}});
        }
        smile::io::safetensors_reader file(path);
        CHECK(file.metadata().at("optimizer.kind") == (decoupled ? "adamw" : "adam"));
        CHECK(file.metadata().at("optimizer.step.fc.weight") == "4");
        CHECK(file.contains("optimizer.exp_avg_sq.conv1.weight"));
        tiny_run resumed(999, options);
        const auto state = resumed.content().load(resumed.s, path, resumed.gen);
        resumed.steps(state.iteration, 8);
        CHECK(resumed.state() == straight.state());

        tiny_run other(3);  // SGD
        const std::string refusal = std::string("the checkpoint holds the state of optimizer '") +
                                    (decoupled ? "adamw" : "adam") + "', this run uses 'sgd'";
        CHECK_THROWS_WITH_AS(other.content().load(other.s, path, other.gen), doctest::Contains(refusal.c_str()),
                             smile::error);
    }
}

TEST_CASE("checkpoints: N steps straight equal N/2 + save + load + N/2, to the bit") {
    temp_dir dir;
    tiny_run straight(3);
    straight.steps(0, 8);

    const auto path = dir.path / "run.safetensors";
    {
        tiny_run first(3);
        first.steps(0, 4);
        first.content().save(path, first.gen, {4, {{"method", "test"}}});
    }
    tiny_run resumed(999);  // different initialisation, overwritten by the checkpoint
    const auto state = resumed.content().load(resumed.s, path, resumed.gen);
    CHECK(state.iteration == 4);
    CHECK(state.info.at("method") == "test");
    resumed.steps(state.iteration, 8);
    CHECK(resumed.state() == straight.state());
    CHECK(resumed.gen == straight.gen);

    // A checkpoint of another architecture is rejected by name.
    smile::session<B> s;
    smile::rng g(1);
    auto other = smile::make_classifier<B>(s, g, smile::cifar_resnet(14), {4, 3});
    smile::io::checkpoint_content<B> c;
    c.add_model("model", other);
    CHECK_THROWS_WITH_AS(c.load(s, path, g), doctest::Contains("missing model.layer1.1.conv1.weight"), smile::error);
    smile::io::write_safetensors(dir.path / "plain.safetensors", {{"w", {1}, {0.0f}, false, 0}});
    CHECK_THROWS_WITH_AS(c.load(s, dir.path / "plain.safetensors", g), doctest::Contains("not a smile checkpoint"),
                         smile::error);
}

TEST_CASE("checkpoints: a process killed while writing them leaves a whole one, and the run resumes from it to the bit") {
    temp_dir dir;
    // Two real checkpoints, after 2 and after 3 steps, made here; the child only writes bytes
    // (a forked child must not touch the backend's thread pools).
    std::vector<std::string> versions;
    for (std::int64_t k : {2, 3}) {
        tiny_run run(3);
        run.steps(0, k);
        const auto p = dir.path / ("v" + std::to_string(k) + ".safetensors");
        run.content().save(p, run.gen, {k, {{"method", "test"}}});
        versions.push_back(read_bytes(p));
    }
    const auto path = dir.path / "run.safetensors";
    for (const int delay_ms : {3, 20, 60}) {
        CAPTURE(delay_ms);
        fs::remove(path);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            for (std::size_t i = 0;; ++i) smile::io::write_file_atomically(path, versions[i % 2]);
        }
        while (!fs::exists(path)) ::usleep(500);
        ::usleep(useconds_t(delay_ms) * 1000);
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        CHECK(WIFSIGNALED(status));
        const std::string now = read_bytes(path);
        CHECK((now == versions[0] || now == versions[1]));  // one whole version, never a torn one
        tiny_run resumed(999);
        const auto state = resumed.content().load(resumed.s, path, resumed.gen);
        resumed.steps(state.iteration, 5);
        tiny_run straight(3);
        straight.steps(0, 5);
        CHECK(resumed.state() == straight.state());
    }
}

TEST_CASE("npy: crafted headers are refused before anything is allocated, naming the file") {
    temp_dir dir;
    const auto p = dir.path / "crafted.npy";
    auto npy = [](const std::string& dict, const std::string& data) {
        std::string header = dict;
        header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ').push_back('\n');
        return std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) + header + data;
    };
    struct bad_case {
        std::string dict, data, message;
    };
    const std::vector<bad_case> cases{
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }", "", "more elements than fit in 64 bits"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000,), }", std::string(8, '\0'), "truncated .npy file"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "", "not a non-negative integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "", "overflows 64 bits"},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'), "unsupported .npy dtype '<i4'"},
        {"{'descr': '<f4', 'shape': (1,), }", std::string(4, '\0'), "needs descr, fortran_order and shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0'), "4 bytes after the data"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", std::string(4, '\0'), "expected True or False"},
    };
    for (const auto& c : cases) {
        write_bytes(p, npy(c.dict, c.data));
        INFO(c.dict);
        CHECK_THROWS_WITH_AS(smile::io::read_npy(p), doctest::Contains(c.message.c_str()), smile::error);
        CHECK_THROWS_WITH_AS(smile::io::read_npy(p), doctest::Contains(p.string().c_str()), smile::error);
    }
    // A header length beyond the file.
    write_bytes(p, std::string("\x93NUMPY\x01\x00\xff\xff", 10) + "{}");
    CHECK_THROWS_WITH_AS(smile::io::read_npy(p), doctest::Contains("header length 65535 exceeds"), smile::error);
    // Fortran order is transposed to C order: column-major (2, 3) data 1..6 is [[1, 3, 5], [2, 4, 6]].
    std::string data;
    for (float v : {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}) data.append(reinterpret_cast<const char*>(&v), 4);
    write_bytes(p, npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", data));
    const auto a = smile::io::read_npy(p);
    CHECK(a.shape == std::vector<std::int64_t>{2, 3});
    CHECK(a.values == std::vector<float>{1, 3, 5, 2, 4, 6});
}

TEST_CASE("safetensors: a shape whose element count overflows is refused, not read as 0 elements") {
    temp_dir dir;
    const auto p = dir.path / "overflow.safetensors";
    write_bytes(p, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", ""));
    CHECK_THROWS_WITH_AS(smile::io::safetensors_reader{p}, doctest::Contains("has more elements than fit in 64 bits"), smile::error);
    write_bytes(p, safetensors_bytes(R"({"w":{"dtype":"F64","shape":[2305843009213693952,2],"data_offsets":[0,0]}})", ""));
    CHECK_THROWS_WITH_AS(smile::io::safetensors_reader{p}, doctest::Contains("fit in 64 bits"), smile::error);
}

TEST_CASE("weights and checkpoints: non-finite values are refused with the tensor's name unless allowed") {
    temp_dir dir;
    smile::session<B> s;
    smile::rng gen(1);
    auto a = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
    auto w = smile::find_parameter<B>(a, "conv1.weight").value.to_host();
    w[3] = std::numeric_limits<float>::quiet_NaN();
    smile::find_parameter<B>(a, "conv1.weight").value.copy_from_host(w);
    const auto p = dir.path / "nan.safetensors";
    smile::io::save_weights<B>(a, p);
    auto b = smile::make_classifier<B>(s, gen, smile::cifar_resnet(8), {5, 0});
    CHECK_THROWS_WITH_AS(smile::io::load_weights<B>(b, p), doctest::Contains("tensor 'conv1.weight' holds a non-finite value (element 3"),
                         smile::error);
    smile::io::load_options allow;
    allow.allow_nonfinite = true;
    CHECK(smile::io::load_weights<B>(b, p, allow).loaded.size() > 0);
    CHECK(std::isnan(smile::find_parameter<B>(b, "conv1.weight").value.to_host()[3]));

    smile::io::checkpoint_content<B> c;
    c.add_model("model", a);
    const auto cp = dir.path / "nan-checkpoint.safetensors";
    c.save(cp, gen, {3, {}});
    smile::rng g2(2);
    const auto before = g2;
    CHECK_THROWS_WITH_AS(c.load(s, cp, g2), doctest::Contains("model.conv1.weight holds a non-finite value at element 3"), smile::error);
    CHECK(g2 == before);  // a failed load leaves the generator alone
    // Damaged metadata.
    smile::io::write_safetensors(cp, {{"model.fc.bias", {1, 5, 1, 1}, std::vector<float>(5, 0.0f), false, 0}},
                                 {{"smile.checkpoint", "1"}, {"iteration", "12x"}, {"rng", gen.state()}});
    CHECK_THROWS_WITH_AS(smile::io::parse_run_state(smile::io::safetensors_reader(cp).metadata(), cp, g2),
                         doctest::Contains("iteration '12x' is not a count"), smile::error);
}

TEST_CASE("output paths: a missing folder is created, an unwritable place is named before any work") {
    temp_dir dir;
    smile::io::check_writable(dir.path / "new" / "folder" / "c.safetensors", "--checkpoint");
    CHECK(fs::is_directory(dir.path / "new" / "folder"));
    CHECK(fs::is_empty(dir.path / "new" / "folder"));  // the probe is gone
    CHECK_THROWS_WITH_AS(smile::io::check_writable("/proc/smile-nowhere/c.safetensors", "--checkpoint"),
                         doctest::Contains("--checkpoint /proc/smile-nowhere/c.safetensors: cannot create the folder"), smile::error);
    CHECK_THROWS_WITH_AS(smile::io::check_writable(dir.path, "--log"), doctest::Contains("is a directory"), smile::error);
    smile::io::check_writable("", "--log");  // nothing asked, nothing checked
}
