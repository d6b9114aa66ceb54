#pragma once
/// @file
/// DELTA (Li et al., ICLR 2019): keep the fine-tuned network's feature maps near those of the
/// frozen source network on the same input, weighted by channel attention.
///
///   L = CE + α·Σ_j s_j·Σ_{b,k} W_{j,k}·‖F_j(x) − F_j^src(x)‖² / (h_j·w_j)  [+ (β/2)·‖W_fc‖²]
///
/// Two flavours (algorithms.md §5, A15):
/// - smile (default, the SMILE authors' runner, used for the paper's DELTA rows): one hook on
///   the backbone's output ("layer4"; "features" for MobileNetV2), attention from the
///   convolution that makes its channels ("layer4.2.conv3"; "features.18.0"),
///   s = 1 (no c/2), α = 1e-2 CUB, 1e-3 otherwise, with the optimizer's weight decay;
/// - original: hooks on the last convolution of each resolution stage's last block (the `conv3`
///   outputs, before BN; the backbone's `stage_convs()`), s_j = c_j/2, α = 0.01 with β = 0.01
///   and no weight decay.
/// With `mixup`, the student and the source network both see the mixed input and CE becomes the
/// mixup loss: the paper's "D-SMILE + KD". The source network runs in evaluation mode.
/// docs/methods.md, "delta".

#include <functional>
#include <optional>

#include <smile/methods/channel_attention.hpp>
#include <smile/methods/regularizers.hpp>
#include <smile/mixup/mixup.hpp>

namespace smile {

struct delta_options {
    double alpha = 1e-2;
    std::string flavour = "smile";  ///< smile | original
    double beta = 0.0;              ///< head L², 0: off
    attention_options attention;
    std::string attention_path;     ///< cache file; empty: compute without caching
};

template <Backend B>
class delta_method : public method<B> {
public:
    /// `source`: the frozen pretrained network. `attention_model`: builds the pretrained
    /// backbone with a new target head, for computing the channel attention.
    delta_method(session<B>& s, rng& gen, classifier<B> student, classifier<B> source, const optimizer_options& opt,
                 const lr_schedule& schedule, const delta_options& o, std::function<classifier<B>()> attention_model,
                 std::string provenance, std::optional<mixup_options> mix = std::nullopt)
        : method<B>(s, gen, std::move(student), opt, schedule), source_(std::move(source)), o_(o), mix_(mix),
          attention_model_(std::move(attention_model)), provenance_(std::move(provenance)) {
        SMILE_CHECK(o.flavour == "smile" || o.flavour == "original", "delta: unknown flavour '", o.flavour,
                    "' (expected smile or original)");
        auto& backbone = this->model_.backbone();
        if (o.flavour == "smile") {
            hooks_.push_back({this->model_.feature_tap().name(), backbone.output_conv(), 1.0, {}});
        } else {
            for (const auto& conv : backbone.stage_convs()) hooks_.push_back({conv, conv, 0.0, {}});
        }
        for (auto& h : hooks_) {
            this->model_.find_tap(h.tap).enable();
            source_.find_tap(h.tap).enable();
        }
        this->register_teacher(source_);
    }

    [[nodiscard]] std::string name() const override { return mix_ ? "dsmile-kd" : "delta"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    void prepare(const std::shared_ptr<const data::dataset>& d, const std::vector<data::sample>& train,
                 const preparation& p) override {
        std::vector<std::string> convs;
        for (const auto& h : hooks_) convs.push_back(h.conv);
        const std::map<std::string, std::string> provenance{{"source", provenance_}, {"dataset", d->format},
                                                            {"flavour", o_.flavour}};
        // Over several ranks rank 0 alone reads or computes the attention (and writes the cache),
        // as one process, and every rank takes its values: one computation, one writer.
        std::map<std::string, std::vector<float>> attention;
        communicator& ranks = this->session_.comm();
        on_rank_zero_alone(
            this->session_, [&] {
                if (!o_.attention_path.empty() && std::filesystem::exists(o_.attention_path)) {
                    attention = load_attention(o_.attention_path, convs, provenance);
                } else {
                    auto model = attention_model_();
                    attention_options a = o_.attention;
                    a.workers = p.workers;
                    const std::uint64_t seed = a.seed.value_or(0);  // make_method fills it from the run's generator
                    attention =
                        compute_channel_attention(this->session_, model, convs, d, train, p.train_transform, a, seed);
                    if (!o_.attention_path.empty())
                        save_attention(o_.attention_path, attention, provenance);
                }
            });
        for (auto& h : hooks_) {
            std::vector<float> w = ranks.is_root() ? attention.at(h.conv) : std::vector<float>{};
            broadcast_vector(ranks, w);
            h.weights = tensor<B>::from_host(this->session_, vector_shape(std::int64_t(w.size())), w);
            if (o_.flavour == "original") h.factor = 0.5 * double(w.size());
        }
    }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& student = this->model_;
        SMILE_CHECK(!hooks_.front().weights.empty(), name(), ": the channel attention was not prepared");
        const tensor<B>* x = nullptr;
        std::vector<float> targets;
        double lambda = 1.0;
        if (mix_) {
            // Over several ranks: the global batch mixed, this rank's rows of it (method.hpp).
            const tensor<B>& global = this->upload_global(batch);
            const mixup_plan plan = sample_mixup(this->rng_, *mix_, global.shape().n);
            mix(s, plan, global, mixed_);
            x = &this->own_rows(mixed_, batch.size(), own_);
            targets = this->own_mixed_targets(batch, plan);
            lambda = plan.lambda;
        } else {
            x = &this->upload(batch);
            targets = one_hot(batch.labels, student.num_classes());
        }
        source_.forward(s, *x, mode::eval);
        student.forward(s, *x, mode::train);
        const double ce = cross_entropy(s, student.logits(), targets, this->targets_, this->dlogits_);
        // The DELTA term sums over the batch, unlike the cross-entropy's mean: over N ranks each
        // rank's term and gradient are scaled by N, so that the ranks' mean (the gradient seam, the
        // logged terms) is the global batch's sum.
        const double ranks = double(s.comm().size());
        double delta = 0.0;
        for (auto& h : hooks_) {
            delta += attention_distance(s, student.find_tap(h.tap).output(), source_.find_tap(h.tap).output(), h.weights,
                                        h.factor, grad_, static_cast<float>(o_.alpha * ranks));
            student.find_tap(h.tap).inject(s, 1.0f, grad_);
        }
        delta *= o_.alpha * ranks;
        student.backward(s, &this->dlogits_, nullptr);
        double head = 0.0;
        if (o_.beta > 0)
            for (auto& [n, p] : parameters_of<B>(student))
                if (n.rfind("fc.", 0) == 0) head += l2_toward(s, *p, nullptr, o_.beta);
        std::vector<std::pair<std::string, double>> terms{{"ce", ce}, {"delta", delta}, {"head_l2", head}};
        if (mix_) terms.emplace_back("lambda", lambda);
        return {ce + delta + head, std::move(terms), this->apply_update(iter)};
    }

    void add_state(io::checkpoint_content<B>& c) override {
        method<B>::add_state(c);
        for (auto& h : hooks_)
            if (!h.weights.empty()) c.add_tensor("attention." + h.conv, h.weights);
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.insert(d.end(), {{"delta_alpha", setting_text(o_.alpha)}, {"delta_flavour", o_.flavour},
                           {"head_l2_beta", setting_text(o_.beta)}, {"mixup", mix_ ? "true" : "false"}});
        std::string hooks;
        for (const auto& h : hooks_) hooks += (hooks.empty() ? "" : "+") + h.tap;
        d.emplace_back("delta_hooks", hooks);
        return d;
    }

    [[nodiscard]] classifier<B>& source() noexcept { return source_; }
    /// The attention weights of each hook (after `prepare`).
    [[nodiscard]] std::vector<std::vector<float>> attention() const {
        std::vector<std::vector<float>> out;
        for (const auto& h : hooks_) out.push_back(h.weights.to_host());
        return out;
    }

private:
    struct hook {
        std::string tap;   ///< where the feature maps are compared
        std::string conv;  ///< whose filters the attention was measured on
        double factor;     ///< s_j
        tensor<B> weights; ///< W_j
    };
    classifier<B> source_;
    delta_options o_;
    std::optional<mixup_options> mix_;
    std::function<classifier<B>()> attention_model_;
    std::string provenance_;
    std::vector<hook> hooks_;
    tensor<B> mixed_, own_, grad_;
};

}  // namespace smile
