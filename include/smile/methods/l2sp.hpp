#pragma once
/// @file
/// L²-SP (Li, Grandvalet, Davoine, ICML 2018): keep the fine-tuned weights near the pretrained
/// starting point.
///
///   L = CE + (α/2)·Σ_{p ∉ heads} ‖w_p − w_p⁰‖²  [+ (β/2)·‖W_fc‖²]
///
/// over every backbone parameter (BN γ and β included, the heads excluded), w⁰ the pretrained
/// weights, a plain sum. As the SMILE authors' runner, the optimizer's weight decay still applies
/// (α = 1e-3 CUB and Aircraft, 1e-4 Cars). The original form adds (β/2)·‖fc‖² (weight and bias)
/// and is run without weight decay (β = 0.01, α = 0.01). docs/methods.md, "l2sp".

#include <smile/methods/method.hpp>
#include <smile/methods/regularizers.hpp>

namespace smile {

struct l2sp_options {
    double alpha = 1e-3;
    double beta = 0.0;  ///< the original form's head L², 0: off
};

template <Backend B>
class l2sp_method : public method<B> {
public:
    /// The student must hold the pretrained weights: they become the anchors w⁰.
    l2sp_method(session<B>& s, rng& gen, classifier<B> student, const optimizer_options& opt, const lr_schedule& schedule,
                const l2sp_options& o)
        : method<B>(s, gen, std::move(student), opt, schedule), o_(o) {
        for (auto& [name, p] : parameters_of<B>(this->model_)) {
            if (is_head(name)) {
                heads_.push_back(p);
                continue;
            }
            anchored_.push_back({name, p, p->value.clone()});
        }
    }

    [[nodiscard]] std::string name() const override { return "l2sp"; }
    /// The penalty's gradient is the same on every rank; the seam's average keeps it.
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        const double ce = this->plain_cross_entropy(this->upload(batch), batch.labels);
        double sp = 0.0, head = 0.0;
        for (auto& a : anchored_) sp += l2_toward(s, *a.param, &a.anchor, o_.alpha);
        if (o_.beta > 0)
            for (auto* p : heads_) head += l2_toward(s, *p, nullptr, o_.beta);
        return {ce + sp + head, {{"ce", ce}, {"l2sp", sp}, {"head_l2", head}}, this->apply_update(iter)};
    }

    void add_state(io::checkpoint_content<B>& c) override {
        method<B>::add_state(c);
        for (auto& a : anchored_) c.add_tensor("anchor." + a.name, a.anchor);
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.emplace_back("l2sp_alpha", setting_text(o_.alpha));
        d.emplace_back("head_l2_beta", setting_text(o_.beta));
        return d;
    }

    /// The anchor of parameter `name` (the pretrained value), for tests.
    [[nodiscard]] const tensor<B>& anchor(const std::string& name) const {
        for (const auto& a : anchored_)
            if (a.name == name) return a.anchor;
        detail::fail("l2sp: no anchor for '", name, "'");
    }

    static bool is_head(const std::string& name) { return name.rfind("fc.", 0) == 0 || name.rfind("source_fc.", 0) == 0; }

private:
    struct anchored {
        std::string name;
        parameter<B>* param;
        tensor<B> anchor;
    };
    l2sp_options o_;
    std::vector<anchored> anchored_;
    std::vector<parameter<B>*> heads_;
};

}  // namespace smile
