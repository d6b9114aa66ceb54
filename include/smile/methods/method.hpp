#pragma once
/// @file
/// The common interface of the training methods (plain fine-tuning, mixup, CutMix, SMILE and
/// its ablations, L2-SP, DELTA, BSS, RIFLE, Co-Tuning, ...): a method owns the student model,
/// its optimizer and learning-rate schedule and any state of its own (a teacher, anchors), and
/// turns one batch into one optimizer step, reporting every loss term by name.
///
/// Methods are chosen at run time (`smile finetune --method ...`), so they share an abstract
/// base; the virtual call happens once per step, never inside the numerics.

#include <cmath>
#include <cstdio>
#include <memory>
#include <smile/core/setting_text.hpp>
#include <smile/data/loader.hpp>
#include <smile/distributed/parallel.hpp>
#include <smile/io/checkpoint.hpp>
#include <smile/losses/cross_entropy.hpp>
#include <smile/methods/method_precision.hpp>
#include <smile/mixup/mixup.hpp>
#include <smile/models/classifier.hpp>
#include <smile/optim/lr_schedule.hpp>
#include <smile/optim/make_optimizer.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace smile {

/// What one step did: the total loss, each term by name, and the learning rate used.
struct step_report {
    double loss = 0.0;
    std::vector<std::pair<std::string, double>> terms;
    double lr = 0.0;

    [[nodiscard]] double term(const std::string& name) const {
        for (const auto& [n, v] : terms)
            if (n == name) return v;
        detail::fail("step_report: no term named '", name, "'");
    }
};

/// What a method may use to prepare itself from the training data (see `method::prepare`).
struct preparation {
    data::pipeline train_transform;  ///< the training augmentation (DELTA's channel attention)
    data::pipeline eval_transform;   ///< the evaluation transform (Co-Tuning's relationship)
    std::size_t workers = 2;
};

template <Backend B>
class method {
public:
    method(session<B>& s, rng& gen, classifier<B> student, const optimizer_options& opt, const lr_schedule& schedule)
        : session_(s), rng_(gen), model_(std::move(student)), optimizer_(make_optimizer<B>(opt)), schedule_(schedule) {
        model_.set_generator(rng_);  // stochastic depth draws from the run's generator
    }
    virtual ~method() = default;
    method(const method&) = delete;
    method& operator=(const method&) = delete;

    [[nodiscard]] virtual std::string name() const = 0;

    /// One training step on `batch` at iteration `iter` (0-based).
    virtual step_report step(const data::host_batch& batch, std::int64_t iter) = 0;

    /// One-off preparation from the training data, run once before the first step (DELTA's
    /// channel attention, Co-Tuning's category relationship). The default needs nothing.
    virtual void prepare(const std::shared_ptr<const data::dataset>&, const std::vector<data::sample>&,
                         const preparation&) {}

    /// Everything a checkpoint must hold to resume this method exactly.
    virtual void add_state(io::checkpoint_content<B>& c) {
        c.add_model("model", model_);
        c.set_optimizer(*optimizer_);
    }

    /// The configuration as "key=value" pairs (printed and logged with a run).
    [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>> describe() const {
        auto settings = optimizer_->describe();
        settings.insert(settings.begin(), {"method", name()});
        precision_.describe_into(settings);
        return settings;
    }

    /// The compute precisions (core/precision.hpp) of the student and of the network that
    /// teaches or anchors it (SMILE's mean teacher, DELTA's source network), if the method has
    /// one; refused, naming which, when the backend or the machine cannot compute in one.
    void set_precision(const precision_policy& p) { precision_.apply(session_, model_, p, name()); }
    [[nodiscard]] const precision_policy& precision() const noexcept { return precision_.policy(); }
    /// Whether the method has a teacher or frozen source network (which takes p.teacher).
    [[nodiscard]] bool has_teacher() const noexcept { return precision_.has_teacher(); }

    /// True when the method's step keeps its single-process meaning over several ranks, each
    /// with its slice of the global batch (docs/distributed.md): the program refuses a
    /// data-parallel run of any other.
    [[nodiscard]] virtual bool data_parallel_ready() const { return false; }

    [[nodiscard]] classifier<B>& model() noexcept { return model_; }
    /// The target head's logits of the last forward (the training loop's accuracy).
    [[nodiscard]] const tensor<B>& logits() const { return model_.logits(); }
    [[nodiscard]] smile::optimizer<B>& optimizer() noexcept { return *optimizer_; }
    [[nodiscard]] const lr_schedule& schedule() const noexcept { return schedule_; }
    [[nodiscard]] session<B>& sess() noexcept { return session_; }

protected:
    /// Called by a method with a teacher or frozen source network, once, in its constructor: that
    /// network then takes the teacher precision.
    void register_teacher(classifier<B>& t) noexcept { precision_.register_teacher(t); }

    /// The batch images as a backend tensor (one buffer, reused every step).
    const tensor<B>& upload(const data::host_batch& batch) {
        const auto& sh = batch.images.shape();
        input_.bind(session_.context());
        input_.resize({std::int64_t(sh[0]), std::int64_t(sh[1]), std::int64_t(sh[2]), std::int64_t(sh[3])});
        input_.copy_from_host(std::span<const float>(batch.images.data(), batch.images.size()));
        return input_;
    }

    /// Plain cross-entropy of the target head on `x`, backpropagated: the fine-tuning step body.
    double plain_cross_entropy(const tensor<B>& x, const std::vector<std::int64_t>& labels) {
        model_.forward(session_, x, mode::train);
        const double ce = cross_entropy(session_, model_.logits(), one_hot(labels, model_.num_classes()), targets_, dlogits_);
        model_.backward(session_, &dlogits_, nullptr);
        return ce;
    }

    /// Applies the optimizer at the scheduled rate for `iter`; returns that rate. (Over several
    /// ranks the optimizer averages the gradients first; without synchronised batch norm each
    /// rank's running statistics follow its own slice, and rank 0's are kept, as PyTorch DDP's
    /// broadcast_buffers does.)
    double apply_update(std::int64_t iter) {
        const float lr = schedule_.at(iter);
        optimizer_->step(session_, lr);
        if (session_.comm().distributed() && !session_.sync_batch_norm())
            broadcast_buffers(session_, model_);
        return lr;
    }

    // Data-parallel steps of the methods that mix across the batch: each rank holds a slice of
    // the global batch, and a partner drawn by the permutation may live on another rank. Every
    // rank gathers the global batch, draws the same plan from the same generator, mixes the whole
    // batch and trains on its own rows of it. With one rank all of this is the batch itself.

    /// The global batch's images (every rank's slice in rank order) as a backend tensor.
    const tensor<B>& upload_global(const data::host_batch& batch) {
        return gathered(upload(batch), global_input_);
    }
    /// The global batch's labels.
    std::vector<std::int64_t> global_labels(const data::host_batch& batch) {
        communicator& c = session_.comm();
        if (!c.distributed()) return batch.labels;
        std::vector<float> mine(batch.labels.begin(), batch.labels.end()),
            all(mine.size() * std::size_t(c.size()));
        c.allgather(mine, all);  // class indices are exact in float (< 2²⁴)
        return {all.begin(), all.end()};
    }
    /// Every rank's rows of `local` in rank order (gathered into `out`; `local` itself with one
    /// rank): a teacher's outputs for the partners of this rank's rows.
    const tensor<B>& gathered(const tensor<B>& local, tensor<B>& out) {
        if (!session_.comm().distributed()) return local;
        allgather_rows(session_, local, out);
        return out;
    }
    /// This rank's `rows` rows of a global-batch tensor (copied into `out`; `global` itself with
    /// one rank).
    const tensor<B>& own_rows(const tensor<B>& global, std::int64_t rows, tensor<B>& out) {
        return smile::own_rows(session_, global, rows, out);
    }
    /// The mixed targets of this rank's rows: λ·onehot(y) + (1 − λ)·onehot(y[perm]) over the
    /// global batch's labels (the permutation indexes the global batch), then this rank's rows.
    [[nodiscard]] std::vector<float> own_mixed_targets(const data::host_batch& batch,
                                                       const mixup_plan& plan) {
        const std::int64_t rows = batch.size();
        return mixed_one_hot_rows(global_labels(batch), model_.num_classes(), plan,
                                  rows * session_.comm().rank(), rows);
    }

    session<B>& session_;
    rng& rng_;
    classifier<B> model_;
    std::unique_ptr<smile::optimizer<B>> optimizer_;
    lr_schedule schedule_;
    tensor<B> input_, targets_, dlogits_;
    tensor<B> global_input_;  // the global batch of a data-parallel step

private:
    method_precision<classifier<B>> precision_;
};

}  // namespace smile
