#pragma once
/// @file
/// Batch Spectral Shrinkage (Chen et al., NeurIPS 2019): penalise the smallest singular values
/// of the batch's pooled-feature matrix F (n×d), which carry the features that transfer
/// negatively.
///
///   L = CE + η·Σ_{i=1..k} σ_{−i}(F)²,   η = 1e-3, k = 1
///
/// The gradient 2σ_i·u_i·v_iᵀ (regularizers.hpp) is injected at the pooled-feature tap. The SVD
/// runs on the backend (Eigen on the CPU, cuSOLVER on the GPU) every step, on the global batch's
/// features in a data-parallel run. docs/methods.md, "bss".

#include <smile/methods/method.hpp>
#include <smile/methods/regularizers.hpp>

namespace smile {

struct bss_options {
    double eta = 1e-3;
    std::int64_t k = 1;
};

/// The BSS penalty of the global batch, for image and text methods alike: over N ranks every rank
/// gathers the pooled features, takes the same SVD and keeps its own rows of the gradient, N
/// times over (the penalty is not a mean over images, and the gradient seam divides every
/// gradient by N). With one rank, `spectral_shrinkage` of the features.
template <Backend B>
class global_shrinkage {
public:
    /// The penalty of the features every rank's `features` make together.
    double operator()(session<B>& s, const tensor<B>& features, const bss_options& o) {
        const tensor<B>* all = &features;
        if (s.comm().distributed()) {
            allgather_rows(s, features, gathered_);
            all = &gathered_;
        }
        const double value = spectral_shrinkage(s, *all, o.eta, o.k, global_grad_);
        gradient_ = &own_rows(s, global_grad_, features.shape().n, own_grad_);
        if (const int ranks = s.comm().size(); ranks > 1)
            ops<B>::add(s.context(), float(ranks), own_grad_.view(), 0.0f, own_grad_.view(),
                        own_grad_.view());
        return value;
    }
    /// ∂(penalty)/∂(this rank's features), scaled as above (after a call).
    [[nodiscard]] const tensor<B>& gradient() const { return *gradient_; }

private:
    tensor<B> gathered_, global_grad_, own_grad_;
    const tensor<B>* gradient_ = nullptr;
};

template <Backend B>
class bss_method : public method<B> {
public:
    bss_method(session<B>& s, rng& gen, classifier<B> student, const optimizer_options& opt, const lr_schedule& schedule,
               const bss_options& o)
        : method<B>(s, gen, std::move(student), opt, schedule), o_(o) {
        SMILE_CHECK(o.k >= 1 && o.eta >= 0, "bss: k must be at least 1 and eta non-negative");
    }

    [[nodiscard]] std::string name() const override { return "bss"; }
    [[nodiscard]] bool data_parallel_ready() const override { return true; }

    step_report step(const data::host_batch& batch, std::int64_t iter) override {
        auto& s = this->session_;
        auto& student = this->model_;
        student.forward(s, this->upload(batch), mode::train);
        const double ce = cross_entropy(s, student.logits(), one_hot(batch.labels, student.num_classes()), this->targets_,
                                        this->dlogits_);
        const double shrinkage = shrinkage_(s, student.pooled(), o_);  // over the global batch
        student.pooled_tap().inject(s, 1.0f, shrinkage_.gradient());
        student.backward(s, &this->dlogits_, nullptr);
        return {ce + shrinkage, {{"ce", ce}, {"bss", shrinkage}}, this->apply_update(iter)};
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>> describe() const override {
        auto d = method<B>::describe();
        d.emplace_back("bss_eta", setting_text(o_.eta));
        d.emplace_back("bss_k", setting_text(o_.k));
        return d;
    }

private:
    bss_options o_;
    global_shrinkage<B> shrinkage_;
};

}  // namespace smile
