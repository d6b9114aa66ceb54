#pragma once
/// @file
/// Checkpoints: one safetensors file holding everything a run needs to continue exactly —
/// the model's parameters and buffers, the optimizer's state (moments, step counts), any extra tensors a
/// method owns (a mean teacher, L2-SP anchors), the generator state and the iteration — written
/// atomically, so a crash or a full disk never replaces a good checkpoint with a torn one.
///
/// Tensor names are "<group>.<name>" ("model.conv1.weight", "optimizer.momentum.fc.bias",
/// "optimizer.exp_avg.fc.bias", "teacher.layer1.0.bn1.running_mean"); shapes are smile's
/// logical [n, c, h, w]. The metadata carries "smile.checkpoint" = "1", "iteration", "rng",
/// the optimizer's "optimizer.kind" and "optimizer.step.<parameter>" counts, and free-form
/// "info.*" entries.
/// Resuming from a checkpoint continues the same run bit for bit on the same backend.

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <smile/core/random.hpp>
#include <smile/io/nonfinite.hpp>
#include <smile/io/run_state.hpp>
#include <smile/io/safetensors.hpp>
#include <smile/optim/optimizer.hpp>

namespace smile::io {

/// The tensors of a checkpoint, by group: attach the model, the optimizer and extras.
template <Backend B>
class checkpoint_content {
public:
    /// Every parameter and buffer of `model` under `group`.
    template <class Model>
    void add_model(const std::string& group, Model& model) {
        for (const auto& t : state_of<B>(model)) tensors_.emplace_back(group + "." + t.name, t.value);
    }
    /// One extra tensor (a method's state).
    void add_tensor(const std::string& name, tensor<B>& t) { tensors_.emplace_back(name, &t); }
    void set_optimizer(optimizer<B>& opt) { optimizer_ = &opt; }

    /// Calls f(name, tensor) for every tensor the checkpoint holds: the models' and the
    /// method's, then the optimizer's state (data-parallel runs broadcast them from rank 0).
    template <class F>
    void visit_tensors(F&& f) {
        for (auto& [name, t] : tensors_) f(name, *t);
        if (optimizer_ != nullptr)
            optimizer_->visit_state([&](const std::string& name, tensor<B>& t) { f(name, t); });
    }

    void save(const std::filesystem::path& path, const rng& generator, const run_state& state) {
        std::vector<safetensors_record> records;
        auto add = [&](const std::string& name, tensor<B>& t) {
            SMILE_CHECK(!t.empty(), "save_checkpoint ", path.string(), ": tensor '", name, "' is empty");
            const shape4& s = t.shape();
            records.push_back({name, {s.n, s.c, s.h, s.w}, t.to_host(), false, 0});
        };
        for (auto& [name, t] : tensors_) add(name, *t);
        if (optimizer_ != nullptr)
            optimizer_->visit_state([&](const std::string& name, tensor<B>& t) { add("optimizer." + name, t); });
        std::map<std::string, std::string> meta{{"smile.checkpoint", "1"},
                                                {"iteration", std::to_string(state.iteration)},
                                                {"rng", generator.state()}};
        if (optimizer_ != nullptr)
            for (const auto& [k, v] : optimizer_->state_metadata()) meta["optimizer." + k] = v;
        for (const auto& [k, v] : state.info) meta["info." + k] = v;
        write_safetensors(path, records, meta);
    }

    /// Restores every attached tensor (each must be present with its exact shape), the optimizer
    /// state and the generator; returns the iteration and info.
    run_state load(session<B>& s, const std::filesystem::path& path, rng& generator) {
        safetensors_reader file(path);
        const auto& meta = file.metadata();
        rng restored = generator;  // the caller's generator changes only when everything loaded
        run_state state = parse_run_state(meta, path, restored);
        std::vector<std::string> problems;
        for (auto& [name, t] : tensors_) {
            if (!file.contains(name)) {
                problems.push_back("missing " + name);
                continue;
            }
            const auto& e = file.entry(name);
            const shape4& sh = t->shape();
            if (e.shape != std::vector<std::int64_t>{sh.n, sh.c, sh.h, sh.w}) {
                problems.push_back(name + " has shape " + shape_string(e.shape) + ", expected " + sh.str());
                continue;
            }
            const std::vector<float> values = file.read_floats(name);
            if (const auto bad = first_nonfinite_index(values))
                problems.push_back(name + " holds a non-finite value at element " + std::to_string(*bad));
            t->copy_from_host(values);
        }
        if (!problems.empty()) {
            std::string all;
            for (std::size_t i = 0; i < problems.size() && i < 8; ++i) all += (i ? "; " : "") + problems[i];
            smile::detail::fail(path.string(), ": checkpoint does not match the run: ", all,
                                problems.size() > 8 ? "; ..." : "");
        }
        if (optimizer_ != nullptr) {
            std::map<std::string, std::string> optimizer_meta;
            for (const auto& [k, v] : meta)
                if (k.rfind("optimizer.", 0) == 0) optimizer_meta[k.substr(10)] = v;
            optimizer_->restore_state(
                s, optimizer_meta,
                [&](const std::string& name) {
                    const std::string key = "optimizer." + name;
                    if (!file.contains(key)) return std::vector<float>{};
                    std::vector<float> values = file.read_floats(key);
                    if (const auto bad = first_nonfinite_index(values))
                        smile::detail::fail(path.string(), ": checkpoint tensor '", key,
                                            "' holds a non-finite value at element ", *bad);
                    return values;
                },
                path.string());
        }
        generator = restored;
        return state;
    }

private:
    std::vector<std::pair<std::string, tensor<B>*>> tensors_;
    optimizer<B>* optimizer_ = nullptr;
};

}  // namespace smile::io
