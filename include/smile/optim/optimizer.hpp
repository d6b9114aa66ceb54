#pragma once
/// @file
/// `optimizer<B>`: the one interface every optimizer (SGD, Adam, AdamW) sits behind, so that
/// methods, checkpoints and the program never name a concrete optimizer.
///
/// What is common lives here once: attaching named parameters, per-parameter multiplier rules
/// by glob pattern ("fc.*" ×10 learning rate, "*.bias" no decay; the last matching rule wins,
/// parameters keep their layer's own multipliers when no rule matches), skipping parameters
/// without a fresh gradient (PyTorch skips parameters whose .grad is None, weight decay
/// included, and their step count does not advance), and the state's checkpoint form:
/// - tensors "<slot>.<parameter name>" (SGD: "momentum"; Adam: "exp_avg", "exp_avg_sq", as in
///   PyTorch's state_dict), created on a parameter's first update;
/// - metadata "kind" (the optimizer's name, checked on restore) and "step.<parameter name>" (how
///   many updates that parameter has had, which Adam's bias correction needs).
/// A concrete optimizer says which slots it keeps and how one parameter is updated.
///
/// Data-parallel training: the optimizer's parameters are averaged across the ranks in buckets
/// (distributed/gradient_buckets.hpp), made at the first average and listening to the session's
/// backward from then on, so that each bucket is summed as soon as backward has produced it and
/// gradients hold the mean when the model's backward returns; `step` averages whatever is still
/// a rank's own. An optimizer that has averaged is destroyed or re-attached before the
/// parameters it was attached to (its buckets hold their gradients).

#include <fnmatch.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <smile/distributed/gradient_buckets.hpp>
#include <smile/core/session.hpp>
#include <smile/distributed/parallel.hpp>
#include <smile/models/named_tensors.hpp>
#include <string>
#include <utility>
#include <vector>

namespace smile {

/// Multipliers for the parameters whose names match `pattern` (fnmatch glob).
struct parameter_rule {
    std::string pattern;
    float lr_mult = 1.0f;
    float wd_mult = 1.0f;
};

template <Backend B>
class optimizer {
public:
    using tensor_visitor = std::function<void(const std::string&, tensor<B>&)>;
    /// Returns the saved values of a state tensor, or nothing when the checkpoint lacks it.
    using tensor_lookup = std::function<std::vector<float>(const std::string&)>;

    virtual ~optimizer() { drop_buckets(); }
    optimizer() = default;
    optimizer(const optimizer&) = delete;
    optimizer& operator=(const optimizer&) = delete;

    /// "sgd", "adam" or "adamw": recorded in checkpoints and logs.
    [[nodiscard]] virtual std::string name() const = 0;
    /// The hyper-parameters as "key=value" pairs (logged with a run).
    [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> describe() const = 0;

    /// Adds a multiplier rule; rules apply in order at `attach`, later ones win.
    void add_rule(parameter_rule rule) { rules_.push_back(std::move(rule)); }

    /// Takes `model`'s parameters (in visiting order) and applies the rules to their multipliers.
    template <class Model>
    void attach(Model& model) {
        attach_parameters(parameters_of<B>(model));
    }

    /// Takes the given named parameters (e.g. only a head) and applies the rules.
    void attach_parameters(const std::vector<std::pair<std::string, parameter<B>*>>& params) {
        drop_buckets();
        entries_.clear();
        attached_.clear();
        for (const auto& [name, p] : params) {
            for (const auto& r : rules_)
                if (::fnmatch(r.pattern.c_str(), name.c_str(), 0) == 0) {
                    p->lr_mult = r.lr_mult;
                    p->wd_mult = r.wd_mult;
                }
            entries_.push_back({name, p, {}, 0});
            attached_.push_back(p);
        }
    }

    /// Makes every fresh gradient that is still a rank's own the mean over the session's ranks
    /// now (the seam; `step` calls it first). Nothing with one process. A session whose bucket
    /// size is 0 averages one tensor at a time here, after backward, without buckets.
    void average_now(session<B>& s) {
        if (!s.comm().distributed()) return;
        if (s.gradient_bucket_bytes() == 0) {
            drop_buckets();
            average_gradients(s, std::span<parameter<B>* const>(attached_));
            return;
        }
        if (!buckets_) {
            std::vector<std::pair<std::string, parameter<B>*>> named;
            for (auto& e : entries_) named.emplace_back(e.name, e.param);
            buckets_ = std::make_unique<gradient_buckets<B>>(s, named, s.gradient_bucket_bytes());
        }
        buckets_->finish(s);
        if (s.current_backward_listener() != buckets_.get()) {  // from now on, during backward
            stop_listening();
            s.set_backward_listener(buckets_.get());
            listening_ = &s;
        }
    }

    /// The buckets of data-parallel training (null before the first average with several ranks).
    [[nodiscard]] const gradient_buckets<B>* buckets() const noexcept { return buckets_.get(); }

    /// One update of every attached parameter that has a fresh gradient, at learning rate `lr`.
    /// Returns how many parameters were updated.
    std::size_t step(session<B>& s, float lr) {
        SMILE_CHECK(!entries_.empty(), name(), ": no parameters attached");
        SMILE_CHECK(std::isfinite(lr) && lr >= 0.0f, name(), ": the learning rate must be finite and non-negative, got ",
                    lr);
        // The data-parallel seam: every rank's gradients become the mean over the ranks here (most
        // of them already did when the model's backward returned), before weight decay and the
        // update, so every rank takes the same step.
        average_now(s);
        std::size_t updated = 0;
        for (auto& e : entries_) {
            parameter<B>& p = *e.param;
            if (!p.has_fresh_grad() || p.lr_mult == 0.0f) {
                p.consume_grad();
                continue;
            }
            if (e.slots.empty())
                for (std::size_t k = 0; k < slot_names().size(); ++k) e.slots.push_back(tensor<B>::zeros(s, p.shape()));
            ++e.steps;
            update(s, e, lr * p.lr_mult);
            p.consume_grad();
            ++updated;
        }
        return updated;
    }

    /// Calls f("<slot>.<param name>", tensor) for every state tensor that exists.
    void visit_state(const tensor_visitor& f) {
        const auto& slots = slot_names();
        for (auto& e : entries_)
            for (std::size_t k = 0; k < e.slots.size(); ++k) f(slots[k] + "." + e.name, e.slots[k]);
    }

    /// The state's metadata: the kind and each updated parameter's step count.
    [[nodiscard]] std::map<std::string, std::string> state_metadata() const {
        std::map<std::string, std::string> meta{{"kind", name()}};
        for (const auto& e : entries_)
            if (e.steps > 0) meta["step." + e.name] = std::to_string(e.steps);
        return meta;
    }

    /// Restores the state from a checkpoint: `meta` holds the metadata written by
    /// `state_metadata` (without a prefix; empty for a checkpoint older than the metadata, which
    /// then must be SGD's), `lookup` the tensors. A parameter whose state is saved continues as
    /// PyTorch's would; one without starts afresh. `source` names the file in errors.
    void restore_state(session<B>& s, const std::map<std::string, std::string>& meta, const tensor_lookup& lookup,
                       const std::string& source) {
        const auto kind = meta.find("kind");
        const std::string saved = kind == meta.end() ? std::string("sgd") : kind->second;
        SMILE_CHECK(saved == name(), source, ": the checkpoint holds the state of optimizer '", saved,
                    "', this run uses '", name(), "'");
        const auto& slots = slot_names();
        for (auto& e : entries_) {
            e.slots.clear();
            e.steps = 0;
            std::vector<std::vector<float>> values;
            for (const auto& slot : slots) values.push_back(lookup(slot + "." + e.name));
            std::size_t present = 0;
            for (const auto& v : values) present += !v.empty();
            if (present == 0) continue;
            SMILE_CHECK(present == slots.size(), source, ": the optimizer state of '", e.name, "' is incomplete");
            for (const auto& v : values) {
                SMILE_CHECK(v.size() == e.param->shape().size(), source, ": the optimizer state of '", e.name,
                            "' has ", v.size(), " values, the parameter ", e.param->shape().size());
                e.slots.push_back(tensor<B>::from_host(s, e.param->shape(), v));
            }
            const auto step = meta.find("step." + e.name);
            e.steps = step == meta.end() ? 1 : parse_step(step->second, e.name, source);
        }
    }

    /// Forgets the state of the parameters whose names match `pattern` (RIFLE's re-initialised head).
    void reset_state(const std::string& pattern) {
        for (auto& e : entries_)
            if (::fnmatch(pattern.c_str(), e.name.c_str(), 0) == 0) {
                e.slots.clear();
                e.steps = 0;
            }
    }

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

protected:
    struct entry {
        std::string name;
        parameter<B>* param;
        std::vector<tensor<B>> slots;  ///< one per slot name, zero-initialised on the first update
        std::int64_t steps;            ///< updates so far, this one included while `update` runs
    };

    /// The state tensors kept per parameter, in order (empty for momentum-free SGD).
    [[nodiscard]] virtual const std::vector<std::string>& slot_names() const = 0;
    /// Applies one update to `e` at the parameter's learning rate `lr` (multiplier applied).
    virtual void update(session<B>& s, entry& e, float lr) = 0;

private:
    static std::int64_t parse_step(const std::string& text, const std::string& param, const std::string& source) {
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        SMILE_CHECK(used == text.size() && v > 0, source, ": the optimizer step count of '", param, "' is '", text,
                    "', not a positive integer");
        return v;
    }

    void stop_listening() noexcept {
        if (listening_ != nullptr && listening_->current_backward_listener() == buckets_.get())
            listening_->set_backward_listener(nullptr);
        listening_ = nullptr;
    }
    void drop_buckets() noexcept {
        stop_listening();
        buckets_.reset();
    }

    std::vector<parameter_rule> rules_;
    std::vector<entry> entries_;
    std::vector<parameter<B>*> attached_;           // the entries' parameters, for the per-tensor seam
    std::unique_ptr<gradient_buckets<B>> buckets_;  // data-parallel only
    session<B>* listening_ = nullptr;               // whose backward the buckets hear
};

}  // namespace smile
